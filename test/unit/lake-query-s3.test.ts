import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from '../../src/adapters/blobs/blob-store.ts';
import { createS3BlobStore } from '../../src/adapters/blobs/s3-blob-store.ts';
import { LakeQueryEngine, rowObjects } from '../../src/analytics/lake-query.ts';
import { partitionPrefix } from '../../src/analytics/lake-layout.ts';
import { runReport } from '../../src/analytics/reports.ts';
import { startS3Server, type S3Server } from '../support/s3-server.ts';
import { tempLakeDir, writeLakeEvents } from '../support/lake-files.ts';

/**
 * The query engine over the real S3 adapter (s3rver): files written as the
 * writer writes them are uploaded under a prefix, listed by month, fetched
 * into the local cache once and queried; compaction manifests on S3 apply.
 */
describe('lake query over S3 (s3rver)', () => {
  let s3: S3Server;
  let store: BlobStore;
  let engine: LakeQueryEngine;
  const local = tempLakeDir();
  const cache = tempLakeDir('kidslearn-lake-cache-');
  let fetched = 0;

  before(async () => {
    s3 = await startS3Server();
    const inner = createS3BlobStore({ bucket: s3.bucket, prefix: 'analytics-lake/', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials, timeoutMs: 10_000 });
    store = { ...inner, kind: inner.kind, location: inner.location, getFile: (key, file) => (fetched++, inner.getFile(key, file)) };
    const keys = [
      ...(await writeLakeEvents(local.dir, 'alpha', [
        { type: 'answer_recorded', at: '2026-10-31T08:00:00Z', learner: 'l_a', properties: { itemId: 'i', lessonId: 'l', conceptId: 'adding', correct: true, durationMs: 1, mastery: 0.5 } },
        { type: 'answer_recorded', at: '2026-11-01T08:00:00Z', learner: 'l_a', properties: { itemId: 'i', lessonId: 'l', conceptId: 'adding', correct: false, durationMs: 1, mastery: 0.4 } },
        { type: 'answer_recorded', at: '2026-11-01T09:00:00Z', learner: 'l_b', properties: { itemId: 'i', lessonId: 'l', conceptId: 'adding', correct: true, durationMs: 1, mastery: 0.9 } },
      ])),
      ...(await writeLakeEvents(local.dir, 'beta', [{ type: 'lesson_start', at: '2026-11-01T08:00:00Z', learner: 'l_z', properties: { lessonId: 'x' } }])),
    ];
    for (const key of keys) await store.putFile(key, path.join(local.dir, ...key.split('/')));
    engine = new LakeQueryEngine({ store, cacheDir: cache.dir, timeoutMs: 20_000 });
  });
  after(async () => {
    await engine?.close();
    await store?.close();
    await s3?.close();
    local.dispose();
    cache.dispose();
  });

  it('fetches only the range’s files, once, and reports from them', async () => {
    const body = await runReport(engine, 'accuracy', { app: 'alpha', from: '2026-11-01', to: '2026-11-01' }, { masteryThreshold: 0.95 });
    assert.deepEqual(body.rows, [{ day: '2026-11-01', conceptId: 'adding', answers: 2, correct: 1, accuracy: 0.5 }]);
    assert.equal(fetched, 1, "only alpha's 2026-11-01 file was downloaded");
    const again = await runReport(engine, 'accuracy', { app: 'alpha', from: '2026-11-01', to: '2026-11-01' }, { masteryThreshold: 0.95 });
    assert.deepEqual(again.rows, body.rows);
    assert.equal(fetched, 1, 'served from the cache');
    assert.equal(readdirSync(path.join(cache.dir, ...partitionPrefix('alpha', '2026-11-01').split('/'))).length, 1);
  });

  it('free-form SQL over the whole lake lists every file and honours a manifest whose target exists', async () => {
    assert.deepEqual(rowObjects(await engine.query('SELECT app, count(*) AS n FROM events GROUP BY app ORDER BY app', { freeForm: true })), [
      { app: 'alpha', n: 3n },
      { app: 'beta', n: 1n },
    ]);
    // A compaction of beta's day that copied its one source (as the writer would) and is half done.
    const [source] = (await store.list(partitionPrefix('beta', '2026-11-01'))).map((b) => b.key);
    const target = source!.replace(/\.parquet$/, '.c.parquet');
    const sourceFile = path.join(local.dir, ...source!.split('/'));
    await store.putBytes(`${partitionPrefix('beta', '2026-11-01')}_compaction-${source!.split('/').at(-1)!.replace('.parquet', '')}.json`, new TextEncoder().encode(JSON.stringify({ target, sources: [source] })));
    await store.putFile(target, sourceFile);
    const result = await engine.query("SELECT count(*) AS n FROM events WHERE app = 'beta'", { freeForm: true });
    assert.deepEqual(rowObjects(result), [{ n: 1n }]);
  });
});
