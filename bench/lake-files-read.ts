import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createBlobStore } from '../src/adapters/blobs/create-blob-store.ts';
import { liveEventFiles } from '../src/analytics/lake-files.ts';

/** Parquet files under `<lakeDir>/events` (every file, compaction manifests not applied), relative paths. */
export async function parquetFiles(lakeDir: string): Promise<string[]> {
  const root = path.join(lakeDir, 'events');
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((e) => e.endsWith('.parquet') && !path.basename(e).startsWith('_')).map((e) => path.join(root, e));
}

/** A DuckDB connection for reading lake files; close it when done. */
export async function openDuck(): Promise<{ eventIds(files: readonly string[]): Promise<string[]>; close(): void }> {
  const instance = await DuckDBInstance.create(':memory:');
  const duck = await instance.connect();
  return {
    async eventIds(files) {
      if (files.length === 0) return [];
      const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
      const reader = await duck.runAndReadAll(`select event_id from read_parquet([${list}], hive_partitioning = false)`);
      return reader.getRows().map((r) => String(r[0]));
    },
    close() {
      duck.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * The lake as a reader sees it (compaction manifests applied, as
 * `liveEventFiles` does): every row's event id, with DuckDB's own
 * count(*) and count(distinct event_id).
 */
export async function lakeContents(lakeDir: string): Promise<{ files: number; rows: number; distinct: number; ids: string[] }> {
  const store = createBlobStore({ kind: 'directory', dir: lakeDir });
  try {
    const live = await liveEventFiles(store, {});
    const files = live.map((b) => path.join(lakeDir, b.key));
    const instance = await DuckDBInstance.create(':memory:');
    const duck = await instance.connect();
    try {
      if (files.length === 0) return { files: 0, rows: 0, distinct: 0, ids: [] };
      const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
      await duck.run(`create table lake as select event_id from read_parquet([${list}], hive_partitioning = false)`);
      const counts = (await duck.runAndReadAll('select count(*)::bigint, count(distinct event_id)::bigint from lake')).getRows()[0]!;
      const ids = (await duck.runAndReadAll('select event_id from lake')).getRows().map((r) => String(r[0]));
      return { files: files.length, rows: Number(counts[0]), distinct: Number(counts[1]), ids };
    } finally {
      duck.closeSync();
      instance.closeSync();
    }
  } finally {
    await store.close();
  }
}
