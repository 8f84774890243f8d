import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openLakeDuckDB } from './duckdb.ts';
import type { BlobInfo, BlobStore } from '../adapters/blobs/blob-store.ts';
import { LEARNER_KEY_PATTERN } from '../domain/analytics/pseudonym.ts';
import { LAKE_EVENTS_PREFIX, parseEventObjectKey } from './lake-layout.ts';
import { hasLearnerColumn, LAKE_ROLLUPS_PREFIX, parseRollupKey } from './lake-rollups.ts';

/**
 * Removes learners' rows from every Parquet file of an app's lake: each file
 * holding one of them is rewritten without those rows (to the same key, so
 * names and the other rows stay as they were) or deleted when nothing else
 * is left. Files are replaced atomically by the blob store, so a query sees
 * a file before or after, never half. Idempotent: running it again finds
 * nothing. On S3 every file of the app is fetched to be scanned (erasure is
 * rare; see docs/operations.md for how long it takes).
 *
 * Rollups (lake-rollups.ts) go first, so that a crash before the event files
 * are rewritten leaves hits to find on the retry: the rollup files holding
 * the learners' keys are rewritten the same way, and the rollups aggregated
 * over learners (no key to remove) are deleted for every day the learners
 * had events; reports read those days raw until the next build.
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
  const rollups = (await store.list(`${LAKE_ROLLUPS_PREFIX}app=${app}/`)).filter((f) => parseRollupKey(f.key));
  const keyed = rollups.filter((f) => hasLearnerColumn(parseRollupKey(f.key)!.kind));
  result.filesScanned = files.length + keyed.length;
  if (files.length === 0 && keyed.length === 0) return result;
  const work = await mkdtemp(path.join(tmpdir(), 'kidslearn-erase-'));
  const instance = await openLakeDuckDB();
  const duck = await instance.connect();
  const inList = learners.map((l) => `'${l}'`).join(', ');
  let downloaded = 0;
  /** The files among `blobs` holding one of the learners, with how many rows (each scanned once, from a local copy on S3). */
  const hitsIn = async (blobs: readonly BlobInfo[]): Promise<{ key: string; source: string; rows: number }[]> => {
    if (blobs.length === 0) return [];
    const local = new Map<string, string>();
    for (const f of blobs) {
      if (store.localRoot) local.set(f.key, path.join(store.localRoot, f.key));
      else {
        const file = path.join(work, `in-${downloaded++}.parquet`);
        await store.getFile(f.key, file);
        local.set(f.key, file);
      }
    }
    const keyOfPath = new Map([...local].map(([k, p]) => [p, k]));
    const hits = await duck.runAndReadAll(
      `select filename, count(*)::integer as n from read_parquet([${[...local.values()].map(literal).join(', ')}], filename = true, hive_partitioning = false, union_by_name = true)
       where learner in (${inList}) group by filename`,
    );
    return hits.getRows().map(([filename, n]) => {
      const key = keyOfPath.get(String(filename));
      if (!key) throw new Error(`DuckDB named a file that was not asked for: ${String(filename)}`);
      return { key, source: local.get(key)!, rows: Number(n) };
    });
  };
  /** Rewrites each hit file without the learners' rows (same key), or deletes it when nothing else is left. */
  const rewrite = async (hits: readonly { key: string; source: string; rows: number }[], orderBy: string) => {
    for (const [i, hit] of hits.entries()) {
      const out = path.join(work, `out-${i}.parquet`);
      const kept = await duck.runAndReadAll(`select count(*)::integer from read_parquet(${literal(hit.source)}, hive_partitioning = false) where learner is null or learner not in (${inList})`);
      if (Number(kept.getRows()[0]![0]) === 0) {
        await store.delete([hit.key]);
        result.filesDeleted++;
      } else {
        await duck.run(
          `copy (select * from read_parquet(${literal(hit.source)}, hive_partitioning = false) where learner is null or learner not in (${inList}) ${orderBy})
           to ${literal(out)} (format parquet, compression zstd)`,
        );
        await store.putFile(hit.key, out);
        result.filesRewritten++;
      }
    }
  };
  try {
    const eventHits = await hitsIn(files);
    // Rollups first: aggregated ones of the days the learners appear in, then those holding their keys.
    const days = new Set(eventHits.map((h) => parseEventObjectKey(h.key)?.day));
    const aggregated = rollups.filter((f) => !hasLearnerColumn(parseRollupKey(f.key)!.kind) && days.has(parseRollupKey(f.key)!.day)).map((f) => f.key);
    if (aggregated.length) {
      await store.delete(aggregated);
      result.filesDeleted += aggregated.length;
    }
    await rewrite(await hitsIn(keyed), '');
    await rewrite(eventHits, 'order by seq');
    for (const hit of eventHits) result.rowsRemoved += hit.rows;
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
