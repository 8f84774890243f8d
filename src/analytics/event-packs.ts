import { sql, type Kysely, type Transaction } from 'kysely';
import type { Tables } from '../adapters/db/tables.ts';
import type { OutboxEvent } from './event-outbox.ts';

/**
 * Event packs (`kidslearn.lake_event_packs`, control migration 7): the
 * answer path stores the `answer_recorded` events of one answer-write
 * statement as one row, a JSON array, in that same statement, instead of one
 * outbox row per event (a row per event with its unique and pending index
 * entries doubled the WAL of an answer and cost the database more than the
 * answer itself). A pack is unpacked into `kidslearn.lake_events` by one
 * statement that deletes it and inserts its events (`on conflict (app,
 * event_id) do nothing`), so every packed event lands in the outbox exactly
 * once, whoever unpacks it and whenever a process dies. The lake writer
 * unpacks before each claim; a child's export and erasure, the backlog count
 * and `lake status` unpack or count packs first, so no reader of the outbox
 * misses a packed event.
 *
 * Packed events are server events with ids derived from their records (the
 * answers table already refuses a repeat), no session, and the pack's
 * receive time.
 */

type Db = Kysely<Tables> | Transaction<Tables>;

/** Packs unpacked per statement: bounds one unpack's rows (a pack holds at most one statement's answers, ≤ 1,000). */
export const UNPACK_PACKS_PER_STATEMENT = 50;

/** One event of a pack as JSON text: what {@link unpackEventPacks} reads back with `jsonb_to_recordset`. */
export function packedEventJson(e: OutboxEvent): string {
  return `{"eventId":${JSON.stringify(e.eventId)},"type":${JSON.stringify(e.type)},"occurredAt":${JSON.stringify(e.occurredAt.toISOString())},"learner":${JSON.stringify(e.learner)},"payloadHash":${JSON.stringify(e.payloadHash)},"properties":${e.propertiesJson}}`;
}

/**
 * Unpacks up to `limit` packs (oldest first) into `kidslearn.lake_events`,
 * in one statement; returns how many packs and events it moved. Run it until
 * `packs` is 0 to empty the table. By default packs another transaction is
 * unpacking are skipped (the lake writer); with `app` and `wait`, only that
 * app's packs, waiting for such a transaction to end (an erasure: the events
 * it moves are then committed rows its next statement sees).
 */
export async function unpackEventPacks(db: Db, options: { limit?: number; app?: string; wait?: boolean } = {}): Promise<{ packs: number; events: number }> {
  const limit = options.limit ?? UNPACK_PACKS_PER_STATEMENT;
  const scope = options.app === undefined ? sql`` : sql`where app = ${options.app}`;
  const lock = options.wait ? sql`for update` : sql`for update skip locked`;
  const r = await sql<{ packs: number | string; events: number | string }>`
    with taken as (
      delete from kidslearn.lake_event_packs
      where id in (select id from kidslearn.lake_event_packs ${scope} order by id limit ${limit} ${lock})
      returning id, app, received_at, events, body
    ), ins as (
      insert into kidslearn.lake_events (app, event_id, type, source, occurred_at, received_at, learner, session_id, properties, payload_hash)
      select t.app, e.event_id, e.type, 'server', e.occurred_at, t.received_at, e.learner, null, e.properties, e.payload_hash
      from taken t
      cross join lateral rows from (
        jsonb_to_recordset(t.body::jsonb) as ("eventId" uuid, type text, "occurredAt" timestamptz, learner text, "payloadHash" text, properties jsonb)
      ) with ordinality as e(event_id, type, occurred_at, learner, payload_hash, properties, n)
      order by t.id, e.n
      on conflict (app, event_id) do nothing
      returning 1
    )
    select (select count(*) from taken) as packs, (select coalesce(sum(events), 0) from taken) as events`.execute(db);
  const row = r.rows[0];
  return { packs: Number(row?.packs ?? 0), events: Number(row?.events ?? 0) };
}

/** Unpacks every pack there is (each statement its own transaction unless `db` is one). */
export async function unpackAllEventPacks(db: Db): Promise<number> {
  let events = 0;
  for (;;) {
    const moved = await unpackEventPacks(db);
    events += moved.events;
    if (moved.packs === 0) return events;
  }
}

/** Unpacks every pack of `app`, waiting for any another transaction is unpacking (see {@link unpackEventPacks}). */
export async function unpackAppEventPacks(db: Db, app: string): Promise<number> {
  let events = 0;
  for (;;) {
    const moved = await unpackEventPacks(db, { app, wait: true });
    events += moved.events;
    if (moved.packs === 0) return events;
  }
}

/** A packed event as a child's export reads it (the columns of an outbox row). */
export interface PackedEventRow {
  event_id: string;
  type: string;
  source: 'server';
  occurred_at: Date;
  received_at: Date;
  session_id: null;
  properties: unknown;
}

/** The events of one learner still in packs of `app`, oldest first. */
export async function packedEventsOf(db: Db, app: string, learner: string): Promise<PackedEventRow[]> {
  const needle = `"learner":${JSON.stringify(learner)}`;
  const rows = await db
    .selectFrom('kidslearn.lake_event_packs')
    .select(['received_at', 'body'])
    .where('app', '=', app)
    .where(sql<boolean>`strpos(body, ${needle}) > 0`)
    .orderBy('id')
    .execute();
  const out: PackedEventRow[] = [];
  for (const r of rows) {
    for (const e of JSON.parse(r.body) as { eventId: string; type: string; occurredAt: string; learner: string | null; properties: unknown }[]) {
      if (e.learner !== learner) continue;
      out.push({ event_id: e.eventId, type: e.type, source: 'server', occurred_at: new Date(e.occurredAt), received_at: r.received_at, session_id: null, properties: e.properties });
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
