import { sql, type Kysely } from 'kysely';
import type { LakeBatchFile, Tables } from '../adapters/db/tables.ts';
import type { EventType, LakeEvent } from '../domain/analytics/event-types.ts';

/**
 * The lake writer's SQL: claiming pending events into a batch, reading a
 * batch's members, marking it written (events exported) or failed, sending a
 * dead batch's events to the dead letters, and pruning. Every step that
 * changes more than one row is one transaction.
 */

type Db = Kysely<Tables>;

/** A claimed batch. Sequence numbers are bigints (they name files). */
export interface Batch {
  id: number;
  firstSeq: bigint;
  lastSeq: bigint;
  events: number;
  attempts: number;
}

/** An outbox row as the writer reads it. */
export interface OutboxEvent {
  seq: bigint;
  payloadHash: string;
  event: LakeEvent;
}

/** A dead letter just written, summed per app (for the counter, the log and the alert). */
export interface NewDeadLetters {
  app: string;
  count: number;
  reason: 'rejected' | 'max_attempts' | 'conflict';
  firstEventId: string;
}

/** What a dead letter's `event` column holds: the event as it would be written, plus its payload hash. */
export function deadLetterEvent(e: OutboxEvent): Record<string, unknown> {
  return {
    eventId: e.event.eventId,
    app: e.event.app,
    type: e.event.type,
    source: e.event.source,
    occurredAt: e.event.occurredAt.toISOString(),
    receivedAt: e.event.receivedAt.toISOString(),
    learner: e.event.learner,
    sessionId: e.event.sessionId,
    properties: e.event.properties,
    seq: e.seq.toString(),
    payloadHash: e.payloadHash,
  };
}

const toBatch = (r: { id: number | string; first_seq: number | string; last_seq: number | string; events: number; attempts: number }): Batch => ({
  id: Number(r.id),
  firstSeq: BigInt(r.first_seq),
  lastSeq: BigInt(r.last_seq),
  events: Number(r.events),
  attempts: Number(r.attempts),
});

/** Unclaimed events: how many (counted up to `cap`) and when the first (by seq) was received. */
export async function pendingEvents(db: Db, cap: number): Promise<{ count: number; oldestReceivedAt: Date | null }> {
  const { rows } = await sql<{ n: number | string; oldest: Date | null }>`
    select (select count(*) from (select 1 from kidslearn.lake_events where batch_id is null limit ${cap}) p) as n,
           (select received_at from kidslearn.lake_events where batch_id is null order by seq limit 1) as oldest`.execute(db);
  return { count: Number(rows[0]!.n), oldestReceivedAt: rows[0]!.oldest };
}

/** Events acknowledged but not yet in the lake: packed, unclaimed, and the members of claimed batches (dead ones excluded). */
export async function backlog(db: Db): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`
    select (select count(*) from kidslearn.lake_events where batch_id is null)
         + (select coalesce(sum(events), 0) from kidslearn.lake_event_packs)
         + (select coalesce(sum(events), 0) from kidslearn.lake_batches where state = 'claimed') as n`.execute(db);
  return Number(rows[0]!.n);
}

/**
 * Claims up to `limit` unclaimed events, in sequence order, into a new batch:
 * one statement (so one transaction) inserts the batch and sets the members'
 * batch_id. Undefined when nothing is pending.
 */
export async function claimBatch(db: Db, limit: number): Promise<Batch | undefined> {
  const { rows } = await sql<{ id: number | string; first_seq: number | string; last_seq: number | string; events: number; attempts: number }>`
    with picked as (
      select seq from kidslearn.lake_events where batch_id is null and exported_at is null order by seq limit ${limit} for update skip locked
    ), batch as (
      insert into kidslearn.lake_batches (first_seq, last_seq, events)
      select min(seq), max(seq), count(*) from picked having count(*) > 0
      returning id, first_seq, last_seq, events, attempts
    ), claimed as (
      update kidslearn.lake_events e set batch_id = batch.id from batch where e.seq in (select seq from picked) returning e.seq
    )
    select batch.*, (select count(*) from claimed) as claimed from batch`.execute(db);
  return rows[0] ? toBatch(rows[0]) : undefined;
}

/** Claimed batches due for a (re)try, oldest first; `all` ignores their backoff. */
export async function dueBatches(db: Db, options: { now: Date; all?: boolean; limit: number }): Promise<Batch[]> {
  let q = db.selectFrom('kidslearn.lake_batches').select(['id', 'first_seq', 'last_seq', 'events', 'attempts']).where('state', '=', 'claimed');
  if (!options.all) q = q.where('next_attempt_at', '<=', options.now);
  const rows = await q.orderBy('id').limit(options.limit).execute();
  return rows.map(toBatch);
}

/** Claimed batches (for compaction: files in their ranges may still be rewritten). */
export async function claimedRanges(db: Db): Promise<{ firstSeq: bigint; lastSeq: bigint }[]> {
  const rows = await db.selectFrom('kidslearn.lake_batches').select(['first_seq', 'last_seq']).where('state', '=', 'claimed').execute();
  return rows.map((r) => ({ firstSeq: BigInt(r.first_seq), lastSeq: BigInt(r.last_seq) }));
}

/** A batch's members not yet exported, in sequence order. */
export async function batchMembers(db: Db, batchId: number): Promise<OutboxEvent[]> {
  const rows = await db
    .selectFrom('kidslearn.lake_events')
    .selectAll()
    .where('batch_id', '=', batchId)
    .where('exported_at', 'is', null)
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({
    seq: BigInt(r.seq),
    payloadHash: r.payload_hash,
    event: {
      eventId: r.event_id,
      app: r.app,
      type: r.type as EventType,
      source: r.source,
      occurredAt: new Date(r.occurred_at),
      receivedAt: new Date(r.received_at),
      learner: r.learner,
      sessionId: r.session_id,
      properties: (typeof r.properties === 'string' ? JSON.parse(r.properties) : r.properties) as Record<string, unknown>,
    },
  }));
}

/**
 * After every file of the batch is stored: in one transaction, the members
 * are marked exported (except `rejected` ones, which go to the dead letters
 * instead), the batch becomes `written` with its files, and the writer's
 * last flush is recorded. A batch no longer `claimed` (another writer
 * finished it) is left alone: returns false.
 */
export async function markWritten(
  db: Db,
  batchId: number,
  files: LakeBatchFile[],
  rejected: { event: OutboxEvent; detail: string }[],
): Promise<{ written: boolean; exported: number; deadLetters: NewDeadLetters[] }> {
  return db.transaction().execute(async (trx) => {
    const batch = await trx.selectFrom('kidslearn.lake_batches').select(['state', 'attempts']).where('id', '=', batchId).forUpdate().executeTakeFirst();
    if (!batch || batch.state !== 'claimed') return { written: false, exported: 0, deadLetters: [] };
    const rejectedSeqs = rejected.map((r) => r.event.seq.toString());
    // Once in the lake, an outbox row keeps only what deduplication needs (app, event id, payload
    // hash) until it is pruned: no learner key, session or properties stay in the database, so a
    // child's erasure and export find the child's outbox rows among the pending ones alone.
    let update = trx
      .updateTable('kidslearn.lake_events')
      .set({ exported_at: sql<Date>`now()`, learner: null, session_id: null, properties: '{}' })
      .where('batch_id', '=', batchId)
      .where('exported_at', 'is', null);
    if (rejectedSeqs.length) update = update.where('seq', 'not in', rejectedSeqs);
    const result = await update.executeTakeFirst();
    const deadLetters = await insertDeadLetters(trx, rejected.map((r) => ({ ...r, reason: 'rejected' as const, attempts: batch.attempts + 1 })));
    const exported = Number(result.numUpdatedRows);
    await trx
      .updateTable('kidslearn.lake_batches')
      .set({ state: 'written', files: JSON.stringify(files), written_at: sql<Date>`now()`, last_error: null })
      .where('id', '=', batchId)
      .execute();
    await trx.updateTable('kidslearn.lake_writer_state').set({ last_flush_at: sql<Date>`now()`, last_flush_events: exported }).where('id', '=', 1).execute();
    return { written: true, exported, deadLetters };
  });
}

/** One failed attempt: attempts + 1, the next try not before `nextAttemptAt`. Returns the attempts so far. */
export async function recordFailure(db: Db, batchId: number, error: string, nextAttemptAt: Date): Promise<number> {
  const row = await db
    .updateTable('kidslearn.lake_batches')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: nextAttemptAt, last_error: error.slice(0, 1000) }))
    .where('id', '=', batchId)
    .where('state', '=', 'claimed')
    .returning('attempts')
    .executeTakeFirst();
  return row?.attempts ?? 0;
}

/**
 * A batch past its attempts: in one transaction its unexported members are
 * copied to the dead letters (reason `max_attempts`) and the batch becomes
 * `dead`, so it is never tried again. The members keep their rows (and so
 * their dedup slot) with `exported_at` null.
 */
export async function killBatch(db: Db, batchId: number): Promise<NewDeadLetters[]> {
  return db.transaction().execute(async (trx) => {
    const batch = await trx.selectFrom('kidslearn.lake_batches').select(['state', 'attempts', 'last_error']).where('id', '=', batchId).forUpdate().executeTakeFirst();
    if (!batch || batch.state !== 'claimed') return [];
    const members = await batchMembers(trx, batchId);
    const dead = await insertDeadLetters(
      trx,
      members.map((event) => ({ event, detail: batch.last_error ?? 'failed', reason: 'max_attempts' as const, attempts: batch.attempts })),
    );
    await trx.updateTable('kidslearn.lake_batches').set({ state: 'dead' }).where('id', '=', batchId).execute();
    return dead;
  });
}

async function insertDeadLetters(
  trx: Db,
  letters: { event: OutboxEvent; detail: string; reason: 'rejected' | 'max_attempts'; attempts: number }[],
): Promise<NewDeadLetters[]> {
  const byApp = new Map<string, NewDeadLetters>();
  for (let i = 0; i < letters.length; i += 500) {
    const chunk = letters.slice(i, i + 500);
    await trx
      .insertInto('kidslearn.lake_dead_letters')
      .values(
        chunk.map((l) => ({
          app: l.event.event.app,
          event_id: l.event.event.eventId,
          seq: l.event.seq.toString(),
          type: l.event.event.type,
          learner: l.event.event.learner,
          reason: l.reason,
          detail: l.detail.slice(0, 1000),
          attempts: l.attempts,
          event: JSON.stringify(deadLetterEvent(l.event)),
        })),
      )
      .execute();
  }
  for (const l of letters) {
    const app = l.event.event.app;
    const entry = byApp.get(`${app} ${l.reason}`) ?? { app, count: 0, reason: l.reason, firstEventId: l.event.event.eventId };
    entry.count++;
    byApp.set(`${app} ${l.reason}`, entry);
  }
  return [...byApp.values()];
}

/**
 * Deletes what the dedup window no longer needs, `chunk` rows per statement:
 * exported events received before `cutoff`, events of dead batches (their
 * dead letters keep a copy) and finished batches no event refers to.
 * Returns the events and batches deleted.
 */
export async function prune(db: Db, cutoff: Date, chunk: number): Promise<{ events: number; batches: number }> {
  let events = 0;
  for (;;) {
    const r = await sql`
      delete from kidslearn.lake_events where seq in (
        select seq from kidslearn.lake_events where exported_at is not null and received_at < ${cutoff} limit ${chunk})`.execute(db);
    const n = Number(r.numAffectedRows ?? 0);
    events += n;
    if (n < chunk) break;
  }
  for (;;) {
    const r = await sql`
      delete from kidslearn.lake_events where seq in (
        select e.seq from kidslearn.lake_events e join kidslearn.lake_batches b on b.id = e.batch_id
        where e.exported_at is null and b.state <> 'claimed' and e.received_at < ${cutoff} limit ${chunk})`.execute(db);
    const n = Number(r.numAffectedRows ?? 0);
    events += n;
    if (n < chunk) break;
  }
  const b = await sql`
    delete from kidslearn.lake_batches b where b.state <> 'claimed' and b.created_at < ${cutoff}
      and not exists (select 1 from kidslearn.lake_events e where e.batch_id = b.id)`.execute(db);
  return { events, batches: Number(b.numAffectedRows ?? 0) };
}

/** The writer's last flush (any app). */
export async function lastFlush(db: Db): Promise<{ at: Date | null; events: number }> {
  const row = await db.selectFrom('kidslearn.lake_writer_state').select(['last_flush_at', 'last_flush_events']).where('id', '=', 1).executeTakeFirst();
  return { at: row?.last_flush_at ?? null, events: row?.last_flush_events ?? 0 };
}
