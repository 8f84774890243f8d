import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadDuckDB } from './duckdb.ts';
import type { BlobStore } from '../adapters/blobs/blob-store.ts';
import { LEARNER_KEY_PATTERN } from '../domain/analytics/pseudonym.ts';
import { LAKE_EVENTS_PREFIX } from './lake-layout.ts';

/**
 * Removes learners' rows from every Parquet file of an app's lake: each file
 * holding one of them is rewritten without those rows (to the same key, so
 * names and the other rows stay as they were) or deleted when nothing else
 * is left. Files are replaced atomically by the blob store, so a query sees
 * a file before or after, never half. Idempotent: running it again finds
 * nothing. On S3 every file of the app is fetched to be scanned (erasure is
 * rare; see docs/operations.md for how long it takes).
 */
export interface LakeErasureResult {
  filesScanned: number;
  filesRewritten: number;
  filesDeleted: number;
  rowsRemoved: number;
}

export async function eraseLearnersFromLake(store: BlobStore, app: string, learners: readonly string[]): Promise<LakeErasureResult> {
  const result: LakeErasureResult = { filesScanned: 0, filesRewritten: 0, filesDeleted: 0, rowsRemoved: 0 };
  for (const l of learners) if (!LEARNER_KEY_PATTERN.test(l)) throw new Error(`not a learner key: ${l}`);
  if (learners.length === 0) return result;
  const files = (await store.list(`${LAKE_EVENTS_PREFIX}app=${app}/`)).filter((f) => f.key.endsWith('.parquet'));
  result.filesScanned = files.length;
  if (files.length === 0) return result;
  const work = await mkdtemp(path.join(tmpdir(), 'kidslearn-erase-'));
  const { DuckDBInstance } = await loadDuckDB();
  const instance = await DuckDBInstance.create(':memory:');
  const duck = await instance.connect();
  try {
    const local = new Map<string, string>();
    for (const [i, f] of files.entries()) {
      if (store.localRoot) local.set(f.key, path.join(store.localRoot, f.key));
      else {
        const file = path.join(work, `in-${i}.parquet`);
        await store.getFile(f.key, file);
        local.set(f.key, file);
      }
    }
    const keyOfPath = new Map([...local].map(([k, p]) => [p, k]));
    const inList = learners.map((l) => `'${l}'`).join(', ');
    const hits = await duck.runAndReadAll(
      `select filename, count(*)::integer as n from read_parquet([${[...local.values()].map(literal).join(', ')}], filename = true, hive_partitioning = false)
       where learner in (${inList}) group by filename`,
    );
    for (const [i, [filename, n]] of hits.getRows().entries()) {
      const key = keyOfPath.get(String(filename));
      if (!key) throw new Error(`DuckDB named a file that was not asked for: ${String(filename)}`);
      const source = local.get(key)!;
      const out = path.join(work, `out-${i}.parquet`);
      const kept = await duck.runAndReadAll(`select count(*)::integer from read_parquet(${literal(source)}, hive_partitioning = false) where learner is null or learner not in (${inList})`);
      if (Number(kept.getRows()[0]![0]) === 0) {
        await store.delete([key]);
        result.filesDeleted++;
      } else {
        await duck.run(
          `copy (select * from read_parquet(${literal(source)}, hive_partitioning = false) where learner is null or learner not in (${inList}) order by seq)
           to ${literal(out)} (format parquet, compression zstd)`,
        );
        await store.putFile(key, out);
        result.filesRewritten++;
      }
      result.rowsRemoved += Number(n);
    }
    return result;
  } finally {
    duck.closeSync();
    instance.closeSync();
    await rm(work, { recursive: true, force: true });
  }
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
