import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import type { EventType, LakeEvent } from '../../src/domain/analytics/event-types.ts';
import { eventObjectKey, LAKE_COLUMNS, lakeRow, utcDay, type LakeRow } from '../../src/analytics/lake-layout.ts';

/** What a test says about an event; the rest is filled in. */
export interface TestEvent {
  type: EventType;
  at: string | Date;
  learner?: string | null;
  sessionId?: string | null;
  properties?: Record<string, unknown>;
  source?: 'app' | 'server';
}

let seqCounter = 0n;

/** A full LakeEvent from a short description (the app's own source for server types). */
export function lakeEvent(app: string, e: TestEvent): LakeEvent {
  const occurredAt = new Date(e.at);
  const server = ['answer_recorded', 'lesson_recorded', 'plan_requested', 'plan_ready', 'plan_failed'].includes(e.type);
  return {
    eventId: randomUUID(),
    app,
    type: e.type,
    source: e.source ?? (server ? 'server' : 'app'),
    occurredAt,
    receivedAt: occurredAt,
    learner: e.learner ?? null,
    sessionId: e.sessionId ?? null,
    properties: e.properties ?? {},
  };
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

function literal(value: LakeRow[keyof LakeRow], type: string): string {
  if (value === null) return `NULL::${type}`;
  if (value instanceof Date) return `TIMESTAMP ${sqlString(value.toISOString().replace('T', ' ').replace('Z', ''))}`;
  if (typeof value === 'string') return sqlString(value);
  return `${String(value)}::${type}`;
}

/**
 * Writes events to the lake under `root`, the way the writer does: one zstd
 * Parquet file per (app, UTC day) at `eventObjectKey(app, day, firstSeq,
 * lastSeq)`, the columns of LAKE_COLUMNS, rows made by `lakeRow`. Returns
 * the keys written. Sequence numbers are unique in the test process.
 */
export async function writeLakeEvents(root: string, app: string, events: readonly TestEvent[]): Promise<string[]> {
  const byDay = new Map<string, LakeRow[]>();
  for (const e of events) {
    const row = lakeRow(++seqCounter, lakeEvent(app, e));
    const day = utcDay(row.occurred_at);
    byDay.set(day, [...(byDay.get(day) ?? []), row]);
  }
  const keys: string[] = [];
  for (const [day, rows] of byDay) {
    keys.push(await writeLakeFile(root, eventObjectKey(app, day, rows[0]!.seq, rows.at(-1)!.seq), rows));
  }
  return keys;
}

/** Writes `rows` as one lake file at `key` under `root` (zstd, LAKE_COLUMNS). */
export async function writeLakeFile(root: string, key: string, rows: readonly LakeRow[]): Promise<string> {
  const target = path.join(root, ...key.split('/'));
  mkdirSync(path.dirname(target), { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const select = rows
      .map((row) => `SELECT ${LAKE_COLUMNS.map(([name, type]) => `${literal(row[name], type)} AS ${name}`).join(', ')}`)
      .join(' UNION ALL ');
    await connection.run(`COPY (${select}) TO ${sqlString(target)} (FORMAT parquet, COMPRESSION zstd)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return key;
}

/** A fresh temporary lake directory; `dispose` removes it. */
export function tempLakeDir(prefix = 'kidslearn-lake-'): { dir: string; dispose(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
