import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { openLakeDuckDB } from '../../src/analytics/duckdb.ts';
import type { BlobStore } from '../../src/adapters/blobs/blob-store.ts';
import type { Database } from '../../src/adapters/db/database.ts';
import type { FlushResult } from '../../src/analytics/lake-writer.ts';
import type { Container } from '../../src/wiring/container.ts';
import { liveEventFiles } from '../../src/analytics/lake-files.ts';
import { sqlString } from '../../src/analytics/parquet-writer.ts';

/** An outbox row for a test: a valid event of `type` unless `properties` say otherwise. */
export interface TestEvent {
  app: string;
  eventId: string;
  type: string;
  source: 'app' | 'server';
  occurredAt: Date;
  learner: string | null;
  sessionId: string | null;
  properties: Record<string, unknown>;
}

const DEFAULTS: Record<string, { source: 'app' | 'server'; properties: Record<string, unknown> }> = {
  answer_recorded: { source: 'server', properties: { itemId: 'add-1-q1', lessonId: 'add-1', conceptId: 'adding', correct: true, durationMs: 4200, mastery: 0.62 } },
  session_end: { source: 'app', properties: { durationSeconds: 95, screens: 4 } },
  lesson_recorded: { source: 'server', properties: { lessonId: 'add-1', secondsSpent: 30 } },
  screen_view: { source: 'app', properties: { screen: 'home' } },
};

/** A test event of `type` (answer_recorded by default) for `app`, at `occurredAt`. */
export function testEvent(app: string, occurredAt: Date, overrides: Partial<TestEvent> = {}): TestEvent {
  const type = overrides.type ?? 'answer_recorded';
  const d = DEFAULTS[type] ?? { source: 'app' as const, properties: {} };
  return { app, eventId: randomUUID(), type, source: d.source, occurredAt, learner: 'l_testlearner000000000a', sessionId: null, properties: d.properties, ...overrides };
}

/** Inserts events into the outbox as ingest does (pending: no batch). Returns them with their seq, in order. */
export async function insertEvents(database: Database, events: readonly TestEvent[], receivedAt?: Date): Promise<(TestEvent & { seq: bigint })[]> {
  const out: (TestEvent & { seq: bigint })[] = [];
  for (const e of events) {
    const row = await database.db
      .insertInto('kidslearn.lake_events')
      .values({
        app: e.app,
        event_id: e.eventId,
        type: e.type,
        source: e.source,
        occurred_at: e.occurredAt,
        ...(receivedAt ? { received_at: receivedAt } : {}),
        learner: e.learner,
        session_id: e.sessionId,
        properties: JSON.stringify(e.properties),
        payload_hash: `hash-${e.eventId}`,
      })
      .returning('seq')
      .executeTakeFirstOrThrow();
    out.push({ ...e, seq: BigInt(row.seq) });
  }
  return out;
}

/** Reads lake files with DuckDB, as a query would (compaction manifests applied). */
export class LakeReader {
  #instance: DuckDBInstance | undefined;
  #connection: DuckDBConnection | undefined;
  readonly #dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-lake-read-'));
  #n = 0;

  async #conn(): Promise<DuckDBConnection> {
    this.#instance ??= await openLakeDuckDB();
    this.#connection ??= await this.#instance.connect();
    return this.#connection;
  }

  /** Every row of the live files of the lake or of one app (`app`), by seq, with `_file` (the key) added; timestamps as ISO strings. */
  async rows(store: BlobStore, app?: string): Promise<Record<string, unknown>[]> {
    const live = await liveEventFiles(store, app ? { app } : {});
    if (!live.length) return [];
    const files: string[] = [];
    const keyOf = new Map<string, string>();
    for (const b of live) {
      const file = path.join(this.#dir, `${++this.#n}.parquet`);
      writeFileSync(file, (await store.getBytes(b.key))!);
      files.push(file);
      keyOf.set(file, b.key);
    }
    const c = await this.#conn();
    const r = await c.runAndReadAll(
      `select * exclude (occurred_at, received_at, filename), strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%g') as occurred_at, strftime(received_at, '%Y-%m-%dT%H:%M:%S.%g') as received_at, filename as _file
       from read_parquet([${files.map(sqlString).join(', ')}], filename = true, hive_partitioning = false) order by seq`,
    );
    return r.getRowObjectsJson().map((row) => ({ ...row, _file: keyOf.get(String(row._file)) }));
  }

  /** Every rollup file of an app (rollups/app=<app>/…): its key and the learner keys it holds (none for kinds aggregated over learners). */
  async rollupFiles(store: BlobStore, app: string): Promise<{ key: string; learners: string[] }[]> {
    const c = await this.#conn();
    const out: { key: string; learners: string[] }[] = [];
    for (const b of await store.list(`rollups/app=${app}/`)) {
      const file = path.join(this.#dir, `${++this.#n}.parquet`);
      writeFileSync(file, (await store.getBytes(b.key))!);
      const columns = (await c.runAndReadAll(`select column_name from (describe select * from read_parquet(${sqlString(file)}, hive_partitioning = false))`)).getRows().map((r) => String(r[0]));
      const learners = columns.includes('learner')
        ? (await c.runAndReadAll(`select distinct learner from read_parquet(${sqlString(file)}, hive_partitioning = false) where learner is not null`)).getRows().map((r) => String(r[0]))
        : [];
      out.push({ key: b.key, learners });
    }
    return out;
  }

  /** The column types of a lake file. */
  async schema(store: BlobStore, key: string): Promise<{ name: string; type: string }[]> {
    const file = path.join(this.#dir, `${++this.#n}.parquet`);
    writeFileSync(file, (await store.getBytes(key))!);
    const c = await this.#conn();
    const r = await c.runAndReadAll(`select column_name as name, column_type as type from (describe select * from read_parquet(${sqlString(file)}, hive_partitioning = false))`);
    return r.getRowObjectsJson() as { name: string; type: string }[];
  }

  close(): void {
    this.#connection?.closeSync();
    this.#instance?.closeSync();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** One forced flush of a new lake writer of `container` (packs unpacked, every pending event written), then the writer stopped. */
export async function flushLakeOnce(container: Container): Promise<FlushResult> {
  const writer = container.lakeWriter();
  try {
    return await writer.flushNow();
  } finally {
    await writer.stop(1000);
  }
}
