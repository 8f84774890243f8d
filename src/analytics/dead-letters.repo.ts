import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Tables } from '../adapters/db/tables.ts';

/**
 * The lake's dead letters (`kidslearn.lake_dead_letters`): listing, redrive
 * and purge, for the CLI and the status route.
 *
 * Redrive puts a dead letter's event back as a NEW pending outbox row (a new
 * seq), exactly once: one transaction sets `redriven_at` (only where it is
 * still null) and inserts the event, so a second redrive of the same letter
 * does nothing. For `max_attempts` and `rejected` letters the event's old
 * outbox row (kept for dedup, never exported) is replaced. A `conflict`
 * letter (the same event id sent again with a different payload) never
 * overwrites the original event: it is redriven under a derived event id
 * (a UUID from the letter's id and the original event id), so both end up
 * in the lake and the derived id says where it came from.
 */

type Db = Kysely<Tables>;

export interface DeadLetter {
  id: number;
  app: string;
  eventId: string;
  seq: string | null;
  type: string;
  reason: 'conflict' | 'rejected' | 'max_attempts';
  detail: string | null;
  attempts: number;
  createdAt: Date;
  redrivenAt: Date | null;
}

/** Which letters a command means: ids, or an app, or all; `includeRedriven` for listing. */
export interface DeadLetterFilter {
  ids?: readonly number[];
  app?: string;
  olderThanDays?: number;
}

const toLetter = (r: {
  id: number | string;
  app: string;
  event_id: string;
  seq: number | string | null;
  type: string;
  reason: DeadLetter['reason'];
  detail: string | null;
  attempts: number;
  created_at: Date;
  redriven_at: Date | null;
}): DeadLetter => ({
  id: Number(r.id),
  app: r.app,
  eventId: r.event_id,
  seq: r.seq === null ? null : String(r.seq),
  type: r.type,
  reason: r.reason,
  detail: r.detail,
  attempts: r.attempts,
  createdAt: r.created_at,
  redrivenAt: r.redriven_at,
});

/** Dead letters, oldest first (redriven ones too, marked). */
export async function listDeadLetters(db: Db, filter: DeadLetterFilter & { limit: number }): Promise<DeadLetter[]> {
  let q = db.selectFrom('kidslearn.lake_dead_letters').select(['id', 'app', 'event_id', 'seq', 'type', 'reason', 'detail', 'attempts', 'created_at', 'redriven_at']);
  if (filter.app) q = q.where('app', '=', filter.app);
  if (filter.ids?.length) q = q.where('id', 'in', filter.ids.map(String));
  const rows = await q.orderBy('id').limit(filter.limit).execute();
  return rows.map(toLetter);
}

/** Dead letters not redriven, for one app (status). */
export async function countDeadLetters(db: Db, app: string): Promise<number> {
  const row = await db
    .selectFrom('kidslearn.lake_dead_letters')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('app', '=', app)
    .where('redriven_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A stable UUID (version 8 layout) for a redriven conflict: never the original event's id. */
export function derivedEventId(eventId: string, letterId: number): string {
  const h = createHash('sha256').update(`redrive:${letterId}:${eventId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const payloadHashOf = (e: Record<string, unknown>) =>
  createHash('sha256').update(JSON.stringify({ type: e.type, occurredAt: e.occurredAt, learner: e.learner ?? null, sessionId: e.sessionId ?? null, properties: e.properties })).digest('hex');

/**
 * Redrives the matching letters not yet redriven, each in its own
 * transaction. Returns the letters redriven now (id → the event id it was
 * queued under).
 */
export async function redriveDeadLetters(db: Db, filter: DeadLetterFilter): Promise<{ id: number; app: string; eventId: string }[]> {
  let q = db.selectFrom('kidslearn.lake_dead_letters').select('id').where('redriven_at', 'is', null);
  if (filter.app) q = q.where('app', '=', filter.app);
  if (filter.ids?.length) q = q.where('id', 'in', filter.ids.map(String));
  const candidates = await q.orderBy('id').execute();
  const done: { id: number; app: string; eventId: string }[] = [];
  for (const { id } of candidates) {
    const redriven = await db.transaction().execute(async (trx) => {
      const letter = await trx
        .updateTable('kidslearn.lake_dead_letters')
        .set({ redriven_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('redriven_at', 'is', null)
        .returning(['id', 'app', 'event_id', 'reason', 'event'])
        .executeTakeFirst();
      if (!letter) return undefined;
      const e = (typeof letter.event === 'string' ? JSON.parse(letter.event) : letter.event) as Record<string, unknown>;
      const eventId = letter.reason === 'conflict' ? derivedEventId(letter.event_id, Number(letter.id)) : letter.event_id;
      if (letter.reason !== 'conflict') {
        // The old row (in a dead batch, or rejected from a written one) frees its (app, event_id) slot.
        await sql`
          delete from kidslearn.lake_events e where e.app = ${letter.app} and e.event_id = ${letter.event_id} and e.exported_at is null
            and e.batch_id in (select id from kidslearn.lake_batches where state <> 'claimed')`.execute(trx);
      }
      const inserted = await trx
        .insertInto('kidslearn.lake_events')
        .values({
          app: letter.app,
          event_id: eventId,
          type: String(e.type),
          source: e.source === 'server' ? 'server' : 'app',
          occurred_at: new Date(String(e.occurredAt)),
          received_at: new Date(String(e.receivedAt ?? new Date().toISOString())),
          learner: (e.learner as string | null | undefined) ?? null,
          session_id: (e.sessionId as string | null | undefined) ?? null,
          properties: JSON.stringify(e.properties ?? {}),
          payload_hash: typeof e.payloadHash === 'string' && letter.reason !== 'conflict' ? e.payloadHash : payloadHashOf(e),
        })
        .onConflict((oc) => oc.columns(['app', 'event_id']).doNothing())
        .returning('seq')
        .executeTakeFirst();
      return { id: Number(letter.id), app: letter.app, eventId, inserted: inserted !== undefined };
    });
    if (redriven) done.push({ id: redriven.id, app: redriven.app, eventId: redriven.eventId });
  }
  return done;
}

/** Deletes matching letters (redriven or not); `olderThanDays` by creation time. Returns how many. */
export async function purgeDeadLetters(db: Db, filter: DeadLetterFilter): Promise<number> {
  let q = db.deleteFrom('kidslearn.lake_dead_letters');
  if (filter.app) q = q.where('app', '=', filter.app);
  if (filter.ids?.length) q = q.where('id', 'in', filter.ids.map(String));
  if (filter.olderThanDays !== undefined) q = q.where('created_at', '<', new Date(Date.now() - filter.olderThanDays * 86_400_000));
  const r = await q.executeTakeFirst();
  return Number(r.numDeletedRows);
}
