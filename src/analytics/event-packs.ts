import { sql, type Kysely, type Transaction } from 'kysely';
import type { Tables } from '../adapters/db/tables.ts';
import type { LakeEvent } from '../domain/analytics/event-types.ts';
import { appendEvents, type OutboxEvent } from './event-outbox.ts';
import { decodeEventsMessage, EVENTS_MESSAGE_HEAD, EVENTS_MESSAGE_TAIL, eventMessageJson } from './event-messages.ts';

/**
 * Event packs (`kidslearn.lake_event_packs`, control migration 7): events
 * stored as one row per write instead of one outbox row per event, then
 * unpacked into the outbox (`kidslearn.lake_events`) by the lake writer.
 *
 * A row per event in the outbox — a heap row with jsonb, its primary key,
 * the unique (app, event_id) index on random UUIDs and the pending index —
 * costs PostgreSQL about 14 µs of CPU and 700 bytes of WAL per event; a pack
 * costs about 1 µs and 210 bytes per event (lz4-compressed where the server
 * has it). Two writers pack:
 * - the answer path, always: an answer-write statement stores its
 *   `answer_recorded` events as one pack in the same statement;
 * - `POST /api/events` with `EVENT_QUEUE=packed`: a request's events as one
 *   pack, committed before the 202 (analytics/event-sink.ts).
 *
 * A pack's body is an events message (`{"v":1,"events":[…]}`, the format of
 * the SQS events queue, analytics/event-messages.ts). Unpacking takes packs
 * in id order, decodes them and appends their events with
 * {@link appendEvents} in one transaction that also deletes the packs: each
 * event lands once (a repeated id is a duplicate, the same id with another
 * payload a conflict and a dead letter, exactly as in a request), whoever
 * unpacks and whenever a process dies. The lake writer unpacks at the start
 * of each cycle; an erasure unpacks its app's packs in its transaction; an
 * export reads packs; the backlog counts packed events.
 *
 * A pack that cannot be decoded (a body written by a newer version, read by
 * an older one after a rollback) is set aside: marked `unreadable` with the
 * error, skipped by later unpacks (so it never blocks the packs behind it)
 * and still counted in the backlog; a lake writer clears the marks when it
 * starts ({@link retryUnreadablePacks}), so the version that can read them
 * does. An erasure deletes the set-aside packs that hold the child's key.
 */

type Db = Kysely<Tables> | Transaction<Tables>;

/** Packs unpacked per transaction: a pack holds at most one request or answer-write statement (≤ 1,000 events). */
export const UNPACK_PACKS_PER_STATEMENT = 50;

/** The body of a pack holding `events` (in order). */
export function packBody(events: readonly LakeEvent[]): string {
  return EVENTS_MESSAGE_HEAD + events.map(eventMessageJson).join(',') + EVENTS_MESSAGE_TAIL;
}

/** Stores `events` (all of one app) as one pack; in the caller's transaction when `db` is one. */
export async function insertPack(db: Db, app: string, events: readonly LakeEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.insertInto('kidslearn.lake_event_packs').values({ app, events: events.length, body: packBody(events) }).execute();
}

/** What one unpack did. `conflicts` per app, for the dead-letter alerts. */
export interface UnpackResult {
  packs: number;
  events: number;
  accepted: number;
  duplicates: number;
  conflicts: { app: string; count: number; firstEventId: string }[];
  /** Packs that could not be decoded: set aside (marked `unreadable`, still counted in the backlog), each logged by the caller. */
  unreadable: { id: string; error: unknown }[];
}

/**
 * Unpacks up to `limit` packs (oldest first) into the outbox, in one
 * transaction (the caller's when `db` is one). By default packs another
 * transaction holds are skipped (the lake writer); with `app` and `wait`,
 * only that app's packs, waiting for such a transaction to end (an erasure:
 * the events it moves are then committed rows that its next statement sees).
 * A pack that cannot be decoded is marked `unreadable` and skipped from then on.
 */
export async function unpackEventPacks(db: Db, options: { limit?: number; app?: string; wait?: boolean } = {}): Promise<UnpackResult> {
  const limit = options.limit ?? UNPACK_PACKS_PER_STATEMENT;
  const scope = options.app === undefined ? sql`where unreadable is null` : sql`where app = ${options.app} and unreadable is null`;
  const lock = options.wait ? sql`for update` : sql`for update skip locked`;
  const run = async (trx: Db): Promise<UnpackResult> => {
    const result: UnpackResult = { packs: 0, events: 0, accepted: 0, duplicates: 0, conflicts: [], unreadable: [] };
    const taken = await sql<{ id: string | number; body: string }>`
      select id, body from kidslearn.lake_event_packs ${scope} order by id limit ${limit} ${lock}`.execute(trx);
    if (taken.rows.length === 0) return result;
    const events: OutboxEvent[] = [];
    const done: string[] = [];
    for (const row of taken.rows) {
      try {
        events.push(...decodeEventsMessage(row.body));
        done.push(String(row.id));
      } catch (error) {
        result.unreadable.push({ id: String(row.id), error });
      }
    }
    for (const u of result.unreadable) {
      const reason = (u.error instanceof Error ? u.error.message : String(u.error)).slice(0, 500) || 'unreadable';
      await sql`update kidslearn.lake_event_packs set unreadable = ${reason} where id = ${u.id}::bigint`.execute(trx);
    }
    if (done.length === 0) return result;
    await sql`delete from kidslearn.lake_event_packs where id = any(${done}::bigint[])`.execute(trx);
    const outcomes = await appendEvents(trx, events);
    const conflicts = new Map<string, { app: string; count: number; firstEventId: string }>();
    outcomes.forEach((outcome, i) => {
      if (outcome === 'accepted') result.accepted++;
      else if (outcome === 'duplicate') result.duplicates++;
      else {
        const e = events[i]!;
        const c = conflicts.get(e.app) ?? { app: e.app, count: 0, firstEventId: e.eventId };
        c.count++;
        conflicts.set(e.app, c);
      }
    });
    result.packs = done.length;
    result.events = events.length;
    result.conflicts = [...conflicts.values()];
    return result;
  };
  return db.isTransaction ? run(db) : (db as Kysely<Tables>).transaction().execute(run);
}

/** Unpacks every readable pack (of one app, waiting for packs another transaction holds, when `app` is given); returns the events moved. */
export async function unpackAllEventPacks(db: Db, app?: string): Promise<number> {
  let events = 0;
  for (;;) {
    const moved = await unpackEventPacks(db, app === undefined ? {} : { app, wait: true });
    events += moved.events;
    if (moved.packs === 0 && moved.unreadable.length === 0) return events;
  }
}

/** Clears the `unreadable` marks (a lake writer starting: this version may read them); returns how many packs get another try. */
export async function retryUnreadablePacks(db: Db): Promise<number> {
  const r = await db.updateTable('kidslearn.lake_event_packs').set({ unreadable: null }).where('unreadable', 'is not', null).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * Deletes the set-aside packs of `app` whose body holds `learner` (an
 * erasure: they cannot be decoded to remove only the child's events, so the
 * whole pack goes). Returns the packs and events deleted.
 */
export async function deleteUnreadablePacksOf(db: Db, app: string, learner: string): Promise<{ packs: number; events: number }> {
  const rows = await db
    .deleteFrom('kidslearn.lake_event_packs')
    .where('app', '=', app)
    .where('unreadable', 'is not', null)
    .where(sql<boolean>`strpos(body, ${learner}) > 0`)
    .returning(['events'])
    .execute();
  return { packs: rows.length, events: rows.reduce((n, r) => n + r.events, 0) };
}

/** A packed event as a child's export reads it (the columns of an outbox row). */
export interface PackedEventRow {
  event_id: string;
  type: string;
  source: 'app' | 'server';
  occurred_at: Date;
  received_at: Date;
  session_id: string | null;
  properties: unknown;
}

/** The events of one learner still in packs of `app`, oldest pack first. */
export async function packedEventsOf(db: Db, app: string, learner: string): Promise<PackedEventRow[]> {
  const needle = `"learner":${JSON.stringify(learner)}`;
  const rows = await db
    .selectFrom('kidslearn.lake_event_packs')
    .select(['body'])
    .where('app', '=', app)
    .where('unreadable', 'is', null)
    .where(sql<boolean>`strpos(body, ${needle}) > 0`)
    .orderBy('id')
    .execute();
  const out: PackedEventRow[] = [];
  for (const r of rows) {
    let events: OutboxEvent[];
    try {
      events = decodeEventsMessage(r.body);
    } catch {
      continue; // not readable by this version: set aside by the next unpack, never half-exported
    }
    for (const e of events) {
      if (e.learner !== learner || e.app !== app) continue;
      out.push({ event_id: e.eventId, type: e.type, source: e.source, occurred_at: e.occurredAt, received_at: e.receivedAt, session_id: e.sessionId, properties: e.properties });
    }
  }
  return out;
}

/** Events waiting in packs (of one app, or of all). */
export async function packedEventCount(db: Db, app?: string): Promise<number> {
  const q = db.selectFrom('kidslearn.lake_event_packs').select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('events'), sql<number>`0`).as('n'));
  const r = await (app === undefined ? q : q.where('app', '=', app)).executeTakeFirst();
  return Number(r?.n ?? 0);
}
