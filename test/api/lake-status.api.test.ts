import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.ts';
import { openPgliteDatabase } from '../../src/adapters/db/pglite.ts';
import type { Database } from '../../src/adapters/db/database.ts';
import { createTestApp, type TestApp } from '../support/app-fixture.ts';
import { insertEvents, testEvent } from '../support/lake.ts';

/**
 * `GET /admin/lake/status`: an admin sees their own app's lake (from the
 * database and the configured directory store), never another app's; other
 * roles get 403.
 */
describe('GET /admin/lake/status', () => {
  let database: Database;
  let t: TestApp;
  before(async () => {
    database = await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: 10_000 });
    t = await createTestApp({ database, cache: createMemoryCache({ maxEntries: 100 }) });
    await t.container.apps.create('alpha', 'Alpha');
    await t.container.apps.create('beta', 'Beta');
  });
  after(async () => {
    await t.container.close();
  });

  it("answers the token's app's backlog, last flush, dead letters, files and bytes", async () => {
    await insertEvents(database, [testEvent('alpha', new Date('2026-11-20T10:00:00Z')), testEvent('alpha', new Date('2026-11-19T10:00:00Z')), testEvent('beta', new Date('2026-11-20T10:00:00Z'))]);
    // The writer on the container's own store (the directory under the data dir).
    const writer = t.container.lakeWriter();
    assert.equal((await writer.flushNow()).events, 3);
    await writer.stop(1000);
    const received = new Date('2026-12-01T08:00:00.000Z');
    await insertEvents(database, [testEvent('alpha', new Date('2026-11-21T10:00:00Z'))], received);
    const files = await t.container.lakeStore.list('events/app=alpha/');
    assert.equal(files.length, 2);

    const res = await t.request('/admin/lake/status', { token: await t.token('alpha', 'admin') });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.match(String(body.lastFlushAt), /^\d{4}-\d{2}-\d{2}T/);
    assert.deepEqual({ ...body, lastFlushAt: 'x' }, { backlog: 1, oldestPendingAt: received.toISOString(), lastFlushAt: 'x', lastFlushEvents: 2, deadLetters: 0, files: 2, bytes: files.reduce((s, f) => s + f.size, 0) });

    const beta = (await (await t.request('/admin/lake/status', { token: await t.token('beta', 'admin') })).json()) as Record<string, unknown>;
    assert.deepEqual([beta.backlog, beta.lastFlushEvents, beta.files], [0, 1, 1]);

    const teacher = await t.request('/admin/lake/status', { token: await t.token('alpha', 'teacher') });
    assert.equal(teacher.status, 403);
  });
});
