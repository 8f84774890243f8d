import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Cache } from '../../src/adapters/cache/cache.ts';
import type { Database } from '../../src/adapters/db/database.ts';
import { openPgliteDatabase } from '../../src/adapters/db/pglite.ts';
import { loadConfig } from '../../src/config/config.ts';
import { generatePrivateJwk, importSigningKey } from '../../src/features/auth/signing-keys.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createContainer, type Container } from '../../src/wiring/container.ts';
import { createFixtureApp, createTestApp, testEmbedder, type TestApp } from '../support/app-fixture.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { cacheBackends, REDIS_URL } from '../support/servers.ts';

/**
 * Finding 3 of issue 9 in-process: the app built by `createContainer` from a
 * configuration whose REDIS_URL points through a fault proxy, so the cache and
 * the rate limiter are the ones production wires. Redis is unreachable at
 * start; then it comes back, stalls, and resets.
 */
const CACHE_TIMEOUT_MS = 300;
const AUTH_PER_MINUTE = 10;
const APP = 'redisfaults';
const LESSON = 'count-k';
const SLACK_MS = 600;

const redis = (await cacheBackends()).find((b) => b.name === 'redis')!;

interface ErrorJson {
  error: { code: string; message: string; details?: { retryAfterSeconds?: number } };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('Redis faults between the app and Redis', { skip: redis.skip, timeout: 120_000 }, () => {
  let proxy: FaultProxy;
  let database: Database;
  let container: Container;
  let app: ReturnType<typeof createHttpApp>;
  let token: string;
  let startMs: number;
  let config: ReturnType<typeof loadConfig>;
  let signingKey: Awaited<ReturnType<typeof importSigningKey>>;
  const prefix = `kidslearn-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
  const warnings: string[] = [];

  const request = (pathname: string, init: RequestInit = {}) => Promise.resolve(app.request(pathname, init));
  const readLesson = async () => {
    const started = performance.now();
    const res = await request(`/api/lessons/${LESSON}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { id: string; title: string };
    return { status: res.status, cache: res.headers.get('x-cache'), body, ms: performance.now() - started };
  };
  const health = async () => {
    const res = await request('/health');
    return { status: res.status, body: (await res.json()) as { status: string; cache: { status: string; kind: string }; database: { status: string } } };
  };
  /** Polls /health until the cache is up again. */
  const cacheBack = async (withinMs: number) => {
    const deadline = performance.now() + withinMs;
    for (;;) {
      const h = await health();
      if (h.body.cache.status === 'up' || performance.now() > deadline) return h;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  /** Waits until the lessons service has replayed the invalidations that failed while Redis was down. */
  const replayed = async (withinMs: number) => {
    const deadline = performance.now() + withinMs;
    while (container.lessons.hasPendingInvalidations(APP) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(container.lessons.hasPendingInvalidations(APP), false, 'the invalidations were replayed once Redis was back');
  };
  const login = (password: string, ip: string) =>
    request('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-app-id': APP, 'x-forwarded-for': ip },
      body: JSON.stringify({ email: 'ann@example.com', password }),
    });

  before(async () => {
    proxy = await startFaultProxy(REDIS_URL);
    // Unreachable from the first connection attempt on.
    proxy.set('reset');
    config = loadConfig(
      {
        KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-fault-')),
        SEED_DEMO_APPS: 'false',
        PASSWORD_SCRYPT_LOG_N: '12',
        PASSWORD_SCRYPT_P: '1',
        RATE_LIMIT_AUTH_PER_MINUTE: String(AUTH_PER_MINUTE),
        RATE_LIMIT_API_PER_MINUTE: '100000',
        TRUST_PROXY: 'true',
        REDIS_URL: proxy.wrap(REDIS_URL),
        REDIS_KEY_PREFIX: prefix,
        CACHE_TIMEOUT_MS: String(CACHE_TIMEOUT_MS),
      },
      { envFile: null },
    );
    database = await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: 10_000 });
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          warnings.push(...chunk.toString('utf8').split('\n').filter(Boolean));
          cb();
        },
      }),
    });
    const started = performance.now();
    signingKey = await importSigningKey(await generatePrivateJwk());
    container = await createContainer(config, { embedder: testEmbedder(), database, logger, signingKey });
    startMs = performance.now() - started;
    app = createHttpApp(container);
    await createFixtureApp(container, APP);
    token = await container.tokens.issue({ sub: 'guardian-1', app: APP, role: 'guardian' }, 900);
    const reg = await request('/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-app-id': APP, 'x-forwarded-for': '10.0.0.1' },
      body: JSON.stringify({ email: 'ann@example.com', password: 'correct horse battery staple', role: 'guardian' }),
    });
    assert.ok(reg.status < 300, `register answered ${reg.status}`);
  });

  after(async () => {
    await container?.close();
    await proxy?.close();
    const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length) await raw.del(...keys);
    } finally {
      raw.disconnect();
    }
  });

  it('starts with Redis unreachable, degraded: /health answers 200 with the cache down', async (tc) => {
    assert.ok(startMs < 2000 + SLACK_MS, `createContainer took ${Math.round(startMs)} ms`);
    assert.equal(container.cache.kind, 'redis');
    assert.equal(container.rateLimiter.kind, 'redis');
    const h = await health();
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'degraded');
    assert.deepEqual({ status: h.body.cache.status, kind: h.body.cache.kind }, { status: 'down', kind: 'redis' });
    assert.equal(h.body.database.status, 'up');
    assert.ok(warnings.some((l) => l.includes('Redis unreachable at start')), 'the start says why it is degraded');
    tc.diagnostic(`started in ${Math.round(startMs)} ms with Redis unreachable`);
  });

  it('serves lessons from the database within a few ms of the database path while Redis is down (no command waits)', async (tc) => {
    // The database path, measured over the same database with a cache that always misses.
    const missing: Cache = {
      kind: 'memory',
      get: async () => undefined,
      set: async () => {},
      add: async () => false,
      delete: async () => {},
      ping: async () => {},
      onReady: () => () => {},
      close: async () => {},
    };
    const control: TestApp = await createTestApp({ database, cache: missing, signingKey: undefined });
    const controlToken = await control.token(APP, 'guardian');
    const down: number[] = [];
    const dbPath: number[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        // Interleaved, so load on the machine weighs on both alike.
        const r = await readLesson();
        assert.equal(r.status, 200);
        assert.equal(r.cache, 'MISS');
        assert.equal(r.body.title, `${APP} ${LESSON}`);
        assert.ok(r.ms < CACHE_TIMEOUT_MS, `a read took ${Math.round(r.ms)} ms: it waited for Redis`);
        down.push(r.ms);
        const started = performance.now();
        const c = await control.request(`/api/lessons/${LESSON}`, { token: controlToken });
        assert.equal(c.status, 200);
        await c.text();
        dbPath.push(performance.now() - started);
      }
    } finally {
      await control.container.rateLimiter.close();
    }
    tc.diagnostic(`lesson read, Redis down: median ${median(down).toFixed(2)} ms; database path: median ${median(dbPath).toFixed(2)} ms`);
    assert.ok(median(down) <= median(dbPath) + 5, `Redis down ${median(down).toFixed(2)} ms vs database path ${median(dbPath).toFixed(2)} ms`);
  });

  it('finding 3: with Redis down, 14 wrong passwords in a row → 429 after the limit (the in-process fallback counts)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) {
      const res = await login('wrong password!', '10.0.0.2');
      const body = (await res.json()) as ErrorJson;
      statuses.push(res.status);
      if (i < AUTH_PER_MINUTE) {
        assert.equal(res.status, 401, `attempt ${i + 1}`);
        assert.equal(body.error.code, 'invalid_credentials');
      } else {
        assert.equal(res.status, 429, `attempt ${i + 1}`);
        assert.equal(body.error.code, 'rate_limited');
        const retry = Number(res.headers.get('retry-after'));
        assert.ok(retry >= 1 && retry <= 15 * 60, `Retry-After ${retry}`); // the per-(account, client) window is 15 minutes
      }
    }
    assert.deepEqual(statuses, [...Array(AUTH_PER_MINUTE).fill(401), ...Array(14 - AUTH_PER_MINUTE).fill(429)]);
    assert.ok(warnings.some((l) => l.includes('counting in this process')), 'the fallback is logged');
  });

  it('reconnects in the background once Redis is back: /health ok, lessons cached in Redis, limits shared again', async (tc) => {
    proxy.set('pass');
    const started = performance.now();
    const h = await cacheBack(4000);
    tc.diagnostic(`cache up ${Math.round(performance.now() - started)} ms after Redis came back`);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    assert.equal(h.body.cache.status, 'up');
    // The lessons written at start (cache down) are invalidated again on reconnect; until then reads skip the cache.
    await replayed(2000);
    await readLesson();
    const hit = await readLesson();
    assert.equal(hit.status, 200);
    assert.equal(hit.cache, 'HIT');
    assert.equal(hit.body.title, `${APP} ${LESSON}`);
    const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      assert.ok(await raw.exists(`${prefix}lesson:${APP}:${LESSON}`), 'the lesson is cached in Redis');
      // The rate limiter has a Redis connection of its own, which may come back a moment after the cache's:
      // sign-in attempts are counted in Redis again within a few seconds.
      let counted: string | null = null;
      for (let i = 0; i < 30 && counted === null; i++) {
        const res = await login('wrong password!', '10.0.0.9');
        assert.equal(res.status, 401);
        counted = await raw.get(`${prefix}rl:auth-ip:10.0.0.9`);
        if (counted === null) await sleep(100);
      }
      assert.ok(counted !== null && Number(counted) >= 1, 'the hits are counted in Redis again');
    } finally {
      raw.disconnect();
    }
  });

  it('Redis stalls (black hole): one read waits at most the cache timeout, the next ones fail over at once; recovery after', async (tc) => {
    await readLesson();
    proxy.set('blackhole');
    try {
      const first = await readLesson();
      assert.equal(first.status, 200);
      assert.equal(first.body.title, `${APP} ${LESSON}`);
      assert.ok(first.ms <= 2 * CACHE_TIMEOUT_MS + SLACK_MS, `first read during the stall took ${Math.round(first.ms)} ms`);
      const rest: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await readLesson();
        assert.equal(r.status, 200);
        assert.equal(r.body.title, `${APP} ${LESSON}`);
        rest.push(r.ms);
      }
      tc.diagnostic(`stall: first read ${Math.round(first.ms)} ms, then median ${median(rest).toFixed(2)} ms, max ${Math.max(...rest).toFixed(1)} ms`);
      assert.ok(Math.max(...rest) < CACHE_TIMEOUT_MS, `reads after the first kept waiting: ${rest.map(Math.round).join(', ')} ms`);
      const h = await health();
      assert.equal(h.status, 200);
      assert.equal(h.body.cache.status, 'down');
    } finally {
      proxy.set('pass');
    }
    const h = await cacheBack(4000);
    assert.equal(h.body.cache.status, 'up');
  });

  it('Redis resets its connections: reads and sign-in limits carry on, then reconnect', async () => {
    proxy.set('reset');
    try {
      for (let i = 0; i < 5; i++) {
        const r = await readLesson();
        assert.equal(r.status, 200);
        assert.equal(r.body.title, `${APP} ${LESSON}`);
        assert.ok(r.ms < CACHE_TIMEOUT_MS, `read took ${Math.round(r.ms)} ms`);
      }
      const statuses: number[] = [];
      for (let i = 0; i < AUTH_PER_MINUTE + 1; i++) statuses.push((await login('wrong password!', '10.0.0.3')).status);
      assert.equal(statuses.at(-1), 429);
    } finally {
      proxy.set('pass');
    }
    const h = await cacheBack(4000);
    assert.equal(h.body.status, 'ok');
  });

  it('a lesson unpublished while Redis is down is gone once Redis is back: lesson 404, not in the catalogue, its items not answerable (the failed invalidation is replayed)', async (tc) => {
    const lessonId = `${APP}-only`;
    const itemId = `${lessonId}-q1`;
    const admin = await container.tokens.issue({ sub: 'admin-1', app: APP, role: 'admin' }, 900);
    const ben = await container.accounts.register(APP, { email: 'ben@example.com', password: 'correct horse battery', role: 'guardian' });
    const guardian = { sub: ben.id, app: APP, role: 'guardian' as const, exp: Math.floor(Date.now() / 1000) + 3600 };
    const childId = (await container.children.create(guardian, { nickname: 'Mia', grade: 1 })).id;
    const { accessToken: child } = await container.children.startDeviceSession(guardian, childId);
    let n = 0;
    // A second process on the same database and Redis, which never sees the write fail.
    const other = await createContainer(config, { embedder: testEmbedder(), database, logger: createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) }), signingKey, skipMigrations: true });
    const otherApp = createHttpApp(other);
    tc.after(async () => {
      // Not other.close(): that would close the shared database.
      await other.cache.close();
      await other.rateLimiter.close();
    });
    const answerIn = (a: ReturnType<typeof createHttpApp>) =>
      Promise.resolve(
        a.request('/api/progress', {
          method: 'POST',
          headers: { authorization: `Bearer ${child}`, 'content-type': 'application/json' },
          body: JSON.stringify({ answers: [{ childId, itemId, response: 5, durationMs: 3000, answeredAt: new Date().toISOString(), clientEventId: `unpub-${++n}` }] }),
        }),
      );
    const lessonIn = (a: ReturnType<typeof createHttpApp>) => Promise.resolve(a.request(`/api/lessons/${lessonId}`, { headers: { authorization: `Bearer ${token}` } }));
    const answer = () =>
      request('/api/progress', {
        method: 'POST',
        headers: { authorization: `Bearer ${child}`, 'content-type': 'application/json' },
        body: JSON.stringify({ answers: [{ childId, itemId, response: 5, durationMs: 3000, answeredAt: new Date().toISOString(), clientEventId: `unpub-${++n}` }] }),
      });
    const lesson = () => request(`/api/lessons/${lessonId}`, { headers: { authorization: `Bearer ${token}` } });
    const catalogue = async () => {
      const res = await request('/api/lessons?limit=50', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      return { cache: res.headers.get('x-cache'), ids: ((await res.json()) as { items: { id: string }[] }).items.map((l) => l.id) };
    };

    // Warm every cache: the lesson and the catalogue in Redis, the answer key in this process.
    assert.equal((await cacheBack(4000)).body.cache.status, 'up');
    await lesson();
    assert.equal((await lesson()).headers.get('x-cache'), 'HIT');
    await catalogue();
    const warm = await catalogue();
    assert.equal(warm.cache, 'HIT');
    assert.ok(warm.ids.includes(lessonId));
    const first = await answer();
    assert.equal(first.status, 200, await first.text());
    assert.equal((await answer()).status, 200);
    assert.equal((await lessonIn(otherApp)).headers.get('x-cache'), 'HIT', 'the other process reads the shared cache');
    assert.equal((await answerIn(otherApp)).status, 200);
    assert.equal((await answerIn(otherApp)).status, 200); // its answer key is now copied in that process

    proxy.set('reset');
    try {
      const { id: _id, ...authored } = await container.lessons.getForAdmin(APP, lessonId);
      const put = await request(`/admin/lessons/${lessonId}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...authored, published: false }),
      });
      assert.equal(put.status, 200, 'the write succeeds: the database is fine');
      assert.ok(container.lessons.hasPendingInvalidations(APP), 'the failed invalidation is remembered');
      assert.ok(warnings.some((l) => l.includes('cache invalidation failed')));
      assert.equal((await lesson()).status, 404, 'this process serves the database while Redis is down');
    } finally {
      proxy.set('pass');
    }
    const started = performance.now();
    assert.equal((await cacheBack(4000)).body.cache.status, 'up');
    // The replay runs on reconnect; allow it a moment, well under any TTL.
    await replayed(3000);
    tc.diagnostic(`invalidation replayed ${Math.round(performance.now() - started)} ms after Redis came back`);

    const read = await lesson();
    assert.equal(read.status, 404);
    assert.equal(((await read.json()) as ErrorJson).error.code, 'lesson_not_found');
    const after = await catalogue();
    assert.ok(!after.ids.includes(lessonId), `the catalogue still lists ${lessonId} (${after.cache})`);
    const res = await answer();
    const text = await res.text();
    assert.equal(res.status, 404, text);
    assert.equal((JSON.parse(text) as ErrorJson).error.code, 'item_not_found');
    assert.ok(!text.includes('correctAnswer'), text);
    // The other process, which never saw the write fail: the replay reached it through Redis.
    assert.equal((await lessonIn(otherApp)).status, 404, 'the other process still serves the unpublished lesson');
    const otherAnswer = await answerIn(otherApp);
    const otherText = await otherAnswer.text();
    assert.equal(otherAnswer.status, 404, otherText);
    assert.ok(!otherText.includes('correctAnswer'), otherText);
    const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      assert.equal(await raw.get(`${prefix}lesson:${APP}:${lessonId}`), '\u0000gone', 'Redis holds the tombstone, for every process');
    } finally {
      raw.disconnect();
    }
  });
});
