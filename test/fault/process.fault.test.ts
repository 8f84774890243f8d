import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.ts';
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import { generatePrivateJwk, importSigningKey } from '../../src/features/auth/signing-keys.ts';
import { createFixtureApp, createTestApp } from '../support/app-fixture.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { guardianWithChild } from '../support/mail.ts';
import { cacheBackends, createThrowawayDatabase, databaseBackends, REDIS_URL } from '../support/servers.ts';

/**
 * Findings 1 and 3 of issue 9 on the real server process (`node
 * src/runtimes/node-server.ts`, as `npm start` runs it): what killed the
 * process must now leave it serving. PostgreSQL and Redis are both reached
 * through fault proxies; Redis is unreachable from the start.
 */
const APP = 'procfaults';
const PASSWORD = 'correct horse battery staple';
const AUTH_PER_MINUTE = 10;

const postgres = (await databaseBackends()).find((b) => b.name === 'postgres')!;
const redis = (await cacheBackends()).find((b) => b.name === 'redis')!;

interface ErrorJson {
  error: { code: string; message: string };
}

/** Starts the server and resolves with its URL once it listens. */
function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['src/runtimes/node-server.ts'], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${output}`)), 30_000);
    const seen = (d: Buffer) => {
      output += d.toString();
      const m = /running at (http:\/\/localhost:\d+)/.exec(output) ?? /"url":"(http:\/\/localhost:\d+)"/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => output });
      }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
}

describe('the real server process under database and Redis faults', { skip: postgres.skip || redis.skip, timeout: 120_000 }, () => {
  let pgProxy: FaultProxy;
  let redisProxy: FaultProxy;
  let server: Awaited<ReturnType<typeof startServer>>;
  let drop: () => Promise<void>;
  let guardian: string;
  let childId: string;
  const prefix = `kidslearn-test:${process.pid}:${randomBytes(4).toString('hex')}:`;

  const listChildren = async () => {
    const res = await fetch(`${server.url}/api/children`, { headers: { authorization: `Bearer ${guardian}` } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as ErrorJson & { items?: { id: string; nickname: string }[] } };
  };
  const alive = () => server.child.exitCode === null && server.child.signalCode === null;

  before(async () => {
    const db = await createThrowawayDatabase();
    drop = db.drop;
    // Prepare the data directly (not through the proxies), with the key the server will sign with.
    const jwk = await generatePrivateJwk();
    const direct = await openPostgresDatabase({ url: db.url, poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
    const t = await createTestApp({ database: direct, cache: createMemoryCache({ maxEntries: 100 }), signingKey: await importSigningKey(jwk) });
    try {
      await createFixtureApp(t.container, APP);
      ({ guardian, childId } = await guardianWithChild(t, APP, 'ann@example.com', PASSWORD, 'Mia'));
    } finally {
      await t.container.close();
    }
    pgProxy = await startFaultProxy(db.url);
    redisProxy = await startFaultProxy(REDIS_URL);
    redisProxy.set('reset');
    server = await startServer({
      KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-fault-')),
      LOG_LEVEL: 'info',
      SEED_DEMO_APPS: 'false',
      JWT_PRIVATE_KEY: JSON.stringify(jwk),
      DATABASE_URL: pgProxy.wrap(db.url),
      DATABASE_POOL_SIZE: '3',
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      // Longer than the 1 s the reproduction waits, so the close, not a timeout, ends the query.
      DATABASE_STATEMENT_TIMEOUT_MS: '3000',
      REDIS_URL: redisProxy.wrap(REDIS_URL),
      REDIS_KEY_PREFIX: prefix,
      CACHE_TIMEOUT_MS: '300',
      RATE_LIMIT_AUTH_PER_MINUTE: String(AUTH_PER_MINUTE),
      PASSWORD_SCRYPT_LOG_N: '12',
      PASSWORD_SCRYPT_P: '1',
    });
  });

  after(async () => {
    if (server && alive()) {
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (alive()) server.child.kill('SIGKILL');
    }
    await pgProxy?.close();
    await redisProxy?.close();
    await drop?.();
    const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length) await raw.del(...keys);
    } finally {
      raw.disconnect();
    }
  });

  it('starts with REDIS_URL set and Redis unreachable, and says so on /health (200, degraded)', async () => {
    assert.ok(alive());
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; cache: { status: string; kind: string } };
    assert.equal(body.status, 'degraded');
    assert.deepEqual(body.cache, { ...body.cache, status: 'down', kind: 'redis' });
    assert.match(server.output(), /Redis unreachable at start/);
  });

  it('finding 3: 14 wrong passwords in a row with Redis down → 429 appears after the limit', async () => {
    const statuses: number[] = [];
    const codes: string[] = [];
    for (let i = 0; i < 14; i++) {
      const res = await fetch(`${server.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-app-id': APP },
        body: JSON.stringify({ email: 'ann@example.com', password: `wrong password ${i}` }),
      });
      statuses.push(res.status);
      codes.push(((await res.json()) as ErrorJson).error.code);
    }
    assert.deepEqual(statuses, [...Array(AUTH_PER_MINUTE).fill(401), ...Array(14 - AUTH_PER_MINUTE).fill(429)]);
    assert.deepEqual(codes, [...Array(AUTH_PER_MINUTE).fill('invalid_credentials'), ...Array(14 - AUTH_PER_MINUTE).fill('rate_limited')]);
  });

  it('finding 1, three times: proxy frozen, GET /api/children, proxied sockets closed after 1 s → 503, process alive, serving goes on', async () => {
    for (let round = 1; round <= 3; round++) {
      const ok = await listChildren();
      assert.equal(ok.status, 200, `round ${round}: ${JSON.stringify(ok.body)}`);
      pgProxy.set('blackhole');
      const inFlight = listChildren();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      pgProxy.closeConnections();
      const r = await inFlight;
      pgProxy.set('pass');
      assert.equal(r.status, 503, `round ${round}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'database_unavailable');
      assert.equal(r.retryAfter, '2');
      // Give an unhandled 'error' event time to kill the process.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(alive(), `round ${round}: the server exited:\n${server.output()}`);
      const again = await listChildren();
      assert.equal(again.status, 200, `round ${round}: ${JSON.stringify(again.body)}`);
      assert.deepEqual(
        again.body.items?.map((c) => [c.id, c.nickname]),
        [[childId, 'Mia']],
      );
    }
    assert.doesNotMatch(server.output(), /Unhandled 'error' event|uncaughtException|Connection terminated unexpectedly\n\s+at/);
  });

  it('reconnects to Redis in the background once it is reachable (/health ok)', async () => {
    redisProxy.set('pass');
    const deadline = performance.now() + 5000;
    let body: { status: string; cache: { status: string } } | undefined;
    while (performance.now() < deadline) {
      body = (await (await fetch(`${server.url}/health`)).json()) as typeof body;
      if (body!.cache.status === 'up') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(body?.status, 'ok');
    assert.equal(body?.cache.status, 'up');
    assert.ok(alive());
  });
});
