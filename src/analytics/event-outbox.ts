import { hash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../adapters/db/database.ts';
import { PREPARED } from '../adapters/db/database.ts';
import type { Tables } from '../adapters/db/tables.ts';
import type { LakeEvent } from '../domain/analytics/event-types.ts';

/**
 * The outbox of acknowledged analytics events (`kidslearn.lake_events`):
 * the API appends, the lake writer claims and exports. An event id is
 * stored once per app: a retry of the same event is a duplicate
 * (acknowledged, not stored again); the same id with another payload is a
 * conflict, kept as a dead letter, never overwriting what was stored.
 */

type Db = Kysely<Tables> | Transaction<Tables>;

/** An event ready for the outbox: the event, its properties as canonical JSON (what is stored) and the digest of what identifies its payload. */
export interface OutboxEvent extends LakeEvent {
  propertiesJson: string;
  payloadHash: string;
}

/** What became of each appended event, in input order. */
export type AppendOutcome = 'accepted' | 'duplicate' | 'conflict';

/** JSON with object keys sorted at every level (undefined members left out, as JSON.stringify does), so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const o = value as Record<string, unknown>;
  // Default sort: UTF-16 code unit order, the same on every platform.
  const keys = Object.keys(o).sort();
  let out = '{';
  for (const k of keys) {
    const v = o[k];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/**
 * The payload digest of an event: sha256 (hex) of the canonical JSON of its
 * type, occurredAt (ISO), learner key, session id and properties. The
 * receive time, source and app are not part of it: a retry received later
 * is the same event.
 */
export function payloadHash(e: Pick<LakeEvent, 'type' | 'occurredAt' | 'learner' | 'sessionId' | 'properties'>, propertiesJson = canonicalJson(e.properties)): string {
  // canonicalJson of {type, occurredAt, learner, sessionId, properties}, its keys written in sorted order directly (the answer path is hot).
  const text = `{"learner":${JSON.stringify(e.learner ?? null)},"occurredAt":${JSON.stringify(e.occurredAt.toISOString())},"properties":${propertiesJson},"sessionId":${JSON.stringify(e.sessionId ?? null)},"type":${JSON.stringify(e.type)}}`;
  return hash('sha256', text, 'hex');
}

/** The event ready for the outbox: its canonical properties text and payload digest computed once. */
export function withPayloadHash(e: LakeEvent): OutboxEvent {
  const propertiesJson = canonicalJson(e.properties);
  return { ...e, propertiesJson, payloadHash: payloadHash(e, propertiesJson) };
}

/**
 * A deterministic UUID (version 5 layout, SHA-256 based) from a name, so an
 * event the server derives from a record (an answer's `answer_recorded`)
 * gets the same id however often the record is retried.
 */
export function deterministicUuid(name: string): string {
  const b = hash('sha256', name, 'buffer').subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** An event's fields as JSON values (instants as ISO strings): what a queued message carries. */
export function eventFields(e: LakeEvent) {
  return {
    eventId: e.eventId,
    app: e.app,
    type: e.type,
    source: e.source,
    occurredAt: e.occurredAt.toISOString(),
    receivedAt: e.receivedAt.toISOString(),
    learner: e.learner,
    sessionId: e.sessionId,
    properties: e.properties,
  };
}

/** The event as a dead letter keeps it (what would have been written). */
function eventJson(e: OutboxEvent): string {
  return JSON.stringify({ ...eventFields(e), payloadHash: e.payloadHash });
}

/**
 * Appends events in one insert statement (columns as arrays, unnested, so
 * the text is the same for any batch and is prepared once), then sorts out
 * the ids that were already there: the stored digest equal → duplicate,
 * different → conflict, with a dead letter (`reason 'conflict'`, the event
 * as sent) and the stored event left as it was. An id repeated within the
 * batch is compared with its first occurrence the same way. Pass the
 * caller's transaction to make it part of a larger write.
 */
export async function appendEvents(db: Db, events: readonly OutboxEvent[]): Promise<AppendOutcome[]> {
  if (events.length === 0) return [];
  const key = (e: OutboxEvent) => `${e.app}\u0000${e.eventId}`;
  const first = new Map<string, OutboxEvent>();
  for (const e of events) if (!first.has(key(e))) first.set(key(e), e);
  const rows = [...first.values()];
  const inserted = await sql<{ app: string; event_id: string }>`${sql.raw(PREPARED)}
    insert into kidslearn.lake_events (app, event_id, type, source, occurred_at, received_at, learner, session_id, properties, payload_hash)
    select * from unnest(
      ${rows.map((e) => e.app)}::text[], ${rows.map((e) => e.eventId)}::uuid[], ${rows.map((e) => e.type)}::text[], ${rows.map((e) => e.source)}::text[],
      ${rows.map((e) => e.occurredAt.toISOString())}::timestamptz[], ${rows.map((e) => e.receivedAt.toISOString())}::timestamptz[],
      ${rows.map((e) => e.learner)}::text[], ${rows.map((e) => e.sessionId)}::text[], ${rows.map((e) => e.propertiesJson)}::jsonb[],
      ${rows.map((e) => e.payloadHash)}::text[])
    on conflict (app, event_id) do nothing
    returning app, event_id`.execute(db);
  const fresh = new Set(inserted.rows.map((r) => `${r.app}\u0000${r.event_id}`));
  // What is stored under each id that was not new: its digest (read back, in the caller's transaction).
  const stored = new Map<string, string>();
  const old = rows.filter((e) => !fresh.has(key(e)));
  if (old.length > 0) {
    const found = await sql<{ app: string; event_id: string; payload_hash: string }>`
      select e.app, e.event_id, e.payload_hash from kidslearn.lake_events e
      join unnest(${old.map((e) => e.app)}::text[], ${old.map((e) => e.eventId)}::uuid[]) as k(app, event_id) on e.app = k.app and e.event_id = k.event_id`.execute(db);
    for (const r of found.rows) stored.set(`${r.app}\u0000${r.event_id}`, r.payload_hash);
  }
  const outcomes: AppendOutcome[] = [];
  const conflicts: OutboxEvent[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    const k = key(e);
    const firstTime = !seen.has(k);
    seen.add(k);
    let outcome: AppendOutcome;
    if (firstTime && fresh.has(k)) outcome = 'accepted';
    else {
      // A repeat of a new id compares with the first occurrence (now stored); an old id, with what was stored.
      const against = fresh.has(k) ? first.get(k)!.payloadHash : stored.get(k);
      outcome = against === e.payloadHash ? 'duplicate' : 'conflict';
    }
    if (outcome === 'conflict') conflicts.push(e);
    outcomes.push(outcome);
  }
  if (conflicts.length > 0) {
    await db
      .insertInto('kidslearn.lake_dead_letters')
      .values(
        conflicts.map((e) => ({
          app: e.app,
          event_id: e.eventId,
          type: e.type,
          learner: e.learner,
          reason: 'conflict' as const,
          detail: 'The event id is already stored with a different payload; the stored event was kept',
          event: eventJson(e),
        })),
      )
      .execute();
  }
  return outcomes;
}

/** How long a backlog count is reused in this process. */
export const BACKLOG_CACHE_MS = 1000;

/**
 * The outbox's backlog (events not exported yet), for the ingest limit
 * (`LAKE_MAX_BACKLOG`) and the lake status. Counted at most once per
 * {@link BACKLOG_CACHE_MS} per process and scope (concurrent callers share
 * one count), so a busy ingest costs one count a second, not one per
 * request. `cap`: stop counting there (the limit only needs to know
 * whether it is over).
 */
export class EventOutbox {
  readonly #db: Database;
  readonly #cacheMs: number;
  readonly #now: () => number;
  readonly #counts = new Map<string, { at: number; value: Promise<number> }>();

  constructor(deps: { db: Database; cacheMs?: number; now?: () => number }) {
    this.#db = deps.db;
    this.#cacheMs = deps.cacheMs ?? BACKLOG_CACHE_MS;
    this.#now = deps.now ?? Date.now;
  }

  /** See {@link appendEvents}. */
  append(db: Db, events: readonly OutboxEvent[]): Promise<AppendOutcome[]> {
    return appendEvents(db, events);
  }

  /** Drops the cached counts, so the next {@link backlog} counts again (tests, and right after an export). */
  forgetBacklog(): void {
    this.#counts.clear();
  }

  /** Events not exported yet (of one app, or of all), counted up to `cap` when given. */
  backlog(app?: string, cap?: number): Promise<number> {
    const scope = `${app ?? ''}\u0000${cap ?? ''}`;
    const now = this.#now();
    const hit = this.#counts.get(scope);
    if (hit && now - hit.at < this.#cacheMs) return hit.value;
    const value = countBacklog(this.#db.db, app, cap);
    this.#counts.set(scope, { at: now, value });
    // A failed count is not reused.
    value.catch(() => {
      if (this.#counts.get(scope)?.value === value) this.#counts.delete(scope);
    });
    return value;
  }
}

/**
 * Events not in the lake yet, of one app or all: outbox rows with
 * `exported_at is null` (counted up to `cap` + 1 when given) plus the events
 * waiting in packs (analytics/event-packs.ts).
 */
export async function countBacklog(db: Db, app?: string, cap?: number): Promise<number> {
  const where = app === undefined ? sql`exported_at is null` : sql`exported_at is null and app = ${app}`;
  const inner = cap === undefined ? sql`select 1 from kidslearn.lake_events where ${where}` : sql`select 1 from kidslearn.lake_events where ${where} limit ${cap + 1}`;
  const packed = app === undefined ? sql`select coalesce(sum(events), 0) from kidslearn.lake_event_packs` : sql`select coalesce(sum(events), 0) from kidslearn.lake_event_packs where app = ${app}`;
  const r = await sql<{ n: number | string }>`select (select count(*) from (${inner}) pending) + (${packed}) as n`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * Runs `write` and, when `wrote(result)` says it changed something, appends
 * `events` in the same transaction: the caller's when `db` is one, else a
 * new one. Without events it is just `write(db)`. For records written
 * rarely (plans); hot paths put the insert into their own statement.
 */
export async function writeWithEvents<T>(db: Db, events: readonly OutboxEvent[] | undefined, write: (db: Db) => Promise<T>, wrote: (result: T) => boolean): Promise<T> {
  if (!events || events.length === 0) return write(db);
  const run = async (trx: Db) => {
    const result = await write(trx);
    if (wrote(result)) await appendEvents(trx, events);
    return result;
  };
  return db.isTransaction ? run(db) : (db as Kysely<Tables>).transaction().execute(run);
}

/** Removes events not claimed by the lake writer yet (a record written with them was taken back in a later transaction). */
export async function withdrawPendingEvents(db: Db, app: string, eventIds: readonly string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await db.deleteFrom('kidslearn.lake_events').where('app', '=', app).where('event_id', 'in', eventIds).where('batch_id', 'is', null).execute();
}
