import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database } from '../../src/adapters/db/database.ts';
import { createLakeHttpApp } from '../../src/analytics/lake-server.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { MemoryBlobStore } from '../support/memory-blob-store.ts';

/** The lake writer's /health: 503 when the database or the blob store does not answer, naming which; /metrics; nothing else. */
function app(options: { dbUp: boolean; storeUp: boolean }) {
  const database = { kind: 'postgres', ping: async () => (options.dbUp ? undefined : Promise.reject(new Error('connection refused'))) } as unknown as Database;
  const store = new MemoryBlobStore();
  if (!options.storeUp) store.ping = () => Promise.reject(new Error('unreachable'));
  return createLakeHttpApp({ database, store, metrics: createMetrics(() => ({ total: 0, idle: 0, waiting: 0 }), { defaultMetrics: false }), version: 'test' });
}

type Health = { status: string; version: string; database: { status: string; kind: string }; blobStore: { status: string; kind: string } };

describe('lake writer /health and /metrics', () => {
  for (const [dbUp, storeUp, status] of [[true, true, 200], [true, false, 503], [false, true, 503]] as const) {
    it(`${status} with the database ${dbUp ? 'up' : 'down'} and the store ${storeUp ? 'up' : 'down'}`, async () => {
      const res = await app({ dbUp, storeUp }).request('/health');
      assert.equal(res.status, status);
      const body = (await res.json()) as Health;
      assert.deepEqual(
        [body.status, body.version, body.database.status, body.database.kind, body.blobStore.status],
        [status === 200 ? 'ok' : 'down', 'test', dbUp ? 'up' : 'down', 'postgres', storeUp ? 'up' : 'down'],
      );
    });
  }

  it('serves the Prometheus registry, and 404 elsewhere', async () => {
    const a = app({ dbUp: true, storeUp: true });
    const metrics = await a.request('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /kidslearn_lake_backlog/);
    const other = await a.request('/api/events');
    assert.equal(other.status, 404);
    assert.match(((await other.json()) as { error: { message: string } }).error.message, /lake writer serves \/health and \/metrics only/);
  });
});
