import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database } from '../../src/adapters/db/database.ts';
import type { JobQueue, QueueHealth } from '../../src/adapters/jobs/job-queue.ts';
import { createEngineHttpApp } from '../../src/engine/engine-server.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

/** The engine's /health: 503 when the database or the queue does not answer, naming which. */
function app(options: { dbUp: boolean; queue: () => Promise<QueueHealth> }) {
  const database = { kind: 'postgres', ping: async () => (options.dbUp ? undefined : Promise.reject(new Error('connection refused'))) } as unknown as Database;
  const queue = { kind: 'pg-boss', health: options.queue } as unknown as JobQueue;
  return createEngineHttpApp({ database, queue, metrics: createMetrics(() => ({ total: 0, idle: 0, waiting: 0 }), { defaultMetrics: false }), version: 'test' });
}

describe('engine /health', () => {
  it('200 when both answer', async () => {
    const res = await app({ dbUp: true, queue: async () => ({ ok: true }) }).request('/health');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; database: { status: string }; queue: { status: string } };
    assert.deepEqual([body.status, body.database.status, body.queue.status], ['ok', 'up', 'up']);
  });

  it('503 naming the queue when it is down, and when it does not answer within 1 s', async () => {
    for (const queue of [async (): Promise<QueueHealth> => ({ ok: false, reason: 'stopped' }), () => new Promise<QueueHealth>(() => {})]) {
      const res = await app({ dbUp: true, queue }).request('/health');
      assert.equal(res.status, 503);
      const body = (await res.json()) as { status: string; database: { status: string }; queue: { status: string } };
      assert.deepEqual([body.status, body.database.status, body.queue.status], ['down', 'up', 'down']);
    }
  });

  it('503 naming the database when it is down', async () => {
    const res = await app({ dbUp: false, queue: async () => ({ ok: true }) }).request('/health');
    assert.equal(res.status, 503);
    const body = (await res.json()) as { status: string; database: { status: string }; queue: { status: string } };
    assert.deepEqual([body.status, body.database.status, body.queue.status], ['down', 'down', 'up']);
  });
});
