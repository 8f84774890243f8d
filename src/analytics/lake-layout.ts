import type { LakeEvent } from '../domain/analytics/event-types.ts';

/**
 * The lake's layout, shared by the writer, the query engine, erasure,
 * compaction and the Athena table definition:
 *
 *   events/app=<app>/year=YYYY/month=MM/day=DD/<firstSeq>-<lastSeq>.parquet
 *
 * partitioned by the UTC date the event occurred (late events land in their
 * own day), zstd Parquet, one fixed set of columns for every event type. The
 * partition columns (app, year, month, day) live in the path only (Hive
 * style), as Athena's partition projection expects.
 */

export const LAKE_EVENTS_PREFIX = 'events/';

/** Sequence numbers in file names are zero-padded, so names sort in sequence order. */
const SEQ_DIGITS = 20;

/** The Parquet columns, in file order, with their DuckDB types. */
export const LAKE_COLUMNS = [
  ['seq', 'BIGINT'],
  ['event_id', 'VARCHAR'],
  ['type', 'VARCHAR'],
  ['source', 'VARCHAR'],
  ['occurred_at', 'TIMESTAMP'],
  ['received_at', 'TIMESTAMP'],
  ['learner', 'VARCHAR'],
  ['session_id', 'VARCHAR'],
  ['lesson_id', 'VARCHAR'],
  ['concept_id', 'VARCHAR'],
  ['item_id', 'VARCHAR'],
  ['correct', 'BOOLEAN'],
  ['duration_ms', 'INTEGER'],
  ['mastery', 'DOUBLE'],
  ['properties', 'VARCHAR'],
] as const;

export type LakeColumn = (typeof LAKE_COLUMNS)[number][0];

/** The partition columns from the path, with their types. */
export const LAKE_PARTITION_COLUMNS = [
  ['app', 'VARCHAR'],
  ['year', 'INTEGER'],
  ['month', 'INTEGER'],
  ['day', 'INTEGER'],
] as const;

/** One row of a lake file (timestamps in UTC). */
export interface LakeRow {
  seq: bigint;
  event_id: string;
  type: string;
  source: 'app' | 'server';
  occurred_at: Date;
  received_at: Date;
  learner: string | null;
  session_id: string | null;
  lesson_id: string | null;
  concept_id: string | null;
  item_id: string | null;
  correct: boolean | null;
  duration_ms: number | null;
  mastery: number | null;
  properties: string;
}

/** The UTC day (`YYYY-MM-DD`) an instant falls on: the event's partition. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The partition folder of an app's day: `events/app=<app>/year=YYYY/month=MM/day=DD/`. */
export function partitionPrefix(app: string, day: string): string {
  const [year, month, date] = day.split('-');
  return `${LAKE_EVENTS_PREFIX}app=${app}/year=${year}/month=${month}/day=${date}/`;
}

/** The object key of the file holding a batch's events of one app and day (deterministic: a rewrite replaces it). */
export function eventObjectKey(app: string, day: string, firstSeq: bigint | number, lastSeq: bigint | number): string {
  return `${partitionPrefix(app, day)}${pad(firstSeq)}-${pad(lastSeq)}.parquet`;
}

const KEY_PATTERN = /^events\/app=([a-z][a-z0-9_]{1,30})\/year=(\d{4})\/month=(\d{2})\/day=(\d{2})\/(\d{20})-(\d{20})(?:\.([a-z0-9]+))?\.parquet$/;

/** What an object key says: the app, the day, the sequence range, and a kind suffix (`c` for compacted files) if any. */
export interface ParsedEventKey {
  app: string;
  day: string;
  firstSeq: bigint;
  lastSeq: bigint;
  suffix: string | undefined;
}

export function parseEventObjectKey(key: string): ParsedEventKey | undefined {
  const m = KEY_PATTERN.exec(key);
  if (!m) return undefined;
  return { app: m[1]!, day: `${m[2]}-${m[3]}-${m[4]}`, firstSeq: BigInt(m[5]!), lastSeq: BigInt(m[6]!), suffix: m[7] };
}

function pad(seq: bigint | number): string {
  return BigInt(seq).toString().padStart(SEQ_DIGITS, '0');
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The lake row of an event: common properties copied to typed columns so reports need no JSON parsing. */
export function lakeRow(seq: bigint | number, event: LakeEvent): LakeRow {
  const p = event.properties;
  const durationMs =
    typeof p.durationMs === 'number' ? p.durationMs
    : typeof p.durationSeconds === 'number' ? p.durationSeconds * 1000
    : typeof p.secondsSpent === 'number' ? p.secondsSpent * 1000
    : null;
  return {
    seq: BigInt(seq),
    event_id: event.eventId,
    type: event.type,
    source: event.source,
    occurred_at: event.occurredAt,
    received_at: event.receivedAt,
    learner: event.learner,
    session_id: event.sessionId,
    lesson_id: str(p.lessonId),
    concept_id: str(p.conceptId),
    item_id: str(p.itemId),
    correct: typeof p.correct === 'boolean' ? p.correct : null,
    duration_ms: durationMs === null ? null : Math.round(Math.min(durationMs, 2_147_483_647)),
    mastery: typeof p.mastery === 'number' ? p.mastery : null,
    properties: JSON.stringify(p),
  };
}
