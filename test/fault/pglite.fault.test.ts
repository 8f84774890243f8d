import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.ts';
import type { Database } from '../../src/adapters/db/database.ts';
import { openPgliteDatabase } from '../../src/adapters/db/pglite.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';

/**
 * The embedded database's stall: PGlite has one connection, and a request
 * that cannot get it within the acquire timeout must answer like a stalled
 * server database (503 `database_unavailable` with `Retry-After`), not 500.
 */
const ACQUIRE_TIMEOUT_MS = 200;
const APP = 'pglitefaults';

describe('PGlite: a request that cannot get the single connection in time', { timeout: 120_000 }, () => {
  let database: Database;
  let t: TestApp;
  let guardian: string;
  let release: (() => void) | undefined;

  before(async () => {
    database = await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS });
    t = await createTestApp({ database, cache: createMemoryCache({ maxEntries: 100 }) });
    await createFixtureApp(t.container, APP);
    guardian = await t.token(APP, 'guardian');
  });

  after(async () => {
    // A failed test must not leave the single connection held (closing would wait for it).
    release?.();
    await t?.container.close();
  });

  it('answers 503 database_unavailable with Retry-After after the acquire timeout, and serves once the connection is free', { timeout: 5000 }, async () => {
    // Warm the app registry, so the request below waits on the database for the lessons only.
    assert.equal((await t.request('/api/lessons?limit=1', { token: guardian })).status, 200);
    const held = database.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      await new Promise<void>((resolve) => (release = resolve));
    });
    try {
      // The catalogue of another subject is not cached: it needs the database.
      const started = performance.now();
      const res = await t.request('/api/lessons/read-1', { token: guardian });
      const ms = performance.now() - started;
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, 503, JSON.stringify(body));
      assert.equal(body.error.code, 'database_unavailable');
      assert.equal(res.headers.get('retry-after'), '2');
      assert.ok(ms >= ACQUIRE_TIMEOUT_MS - 20 && ms < ACQUIRE_TIMEOUT_MS + 500, `answered after ${Math.round(ms)} ms`);
    } finally {
      release?.();
      await held;
    }
    const res = await t.request('/api/lessons/read-1', { token: guardian });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { title: string }).title, `${APP} read-1`);
  });
});
