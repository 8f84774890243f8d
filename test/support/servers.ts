import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { Database } from '../../src/adapters/db/database.ts';
import { openPgliteDatabase } from '../../src/adapters/db/pglite.ts';
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import type { Cache } from '../../src/adapters/cache/cache.ts';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.ts';
import { openRedisCache } from '../../src/adapters/cache/redis-cache.ts';
import type { RateLimiter } from '../../src/adapters/rate-limit/rate-limiter.ts';
import { createMemoryRateLimiter } from '../../src/adapters/rate-limit/memory-rate-limiter.ts';
import { openRedisRateLimiter } from '../../src/adapters/rate-limit/redis-rate-limiter.ts';

/**
 * The real servers tests run against besides the embedded defaults. When one
 * cannot be reached its tests are skipped with the reason printed, except
 * with CI=true, where an unreachable server fails the run.
 */
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** A way to open a fresh, empty database for one test suite. */
export interface DatabaseBackend {
  name: 'pglite' | 'postgres';
  /** Set when the server is unreachable outside CI: the reason to skip. */
  skip: string | false;
  open(): Promise<{ database: Database; url?: string; dispose(): Promise<void> }>;
}

/** A way to open a fresh, empty cache for one test suite. */
export interface CacheBackend {
  name: 'memory' | 'redis';
  skip: string | false;
  open(): Promise<{ cache: Cache; url?: string; prefix?: string; dispose(): Promise<void> }>;
}

async function reachable(check: () => Promise<void>, what: string): Promise<string | false> {
  try {
    await check();
    return false;
  } catch (error) {
    const reason = `${what} unreachable: ${error instanceof Error ? error.message : String(error)}`;
    if (IN_CI) throw new Error(`${reason} (CI=true: tests that need it fail instead of skipping)`, { cause: error });
    console.log(`# SKIP ${reason}`);
    return reason;
  }
}

let pgStatus: Promise<string | false> | undefined;
let redisStatus: Promise<string | false> | undefined;

function postgresStatus(): Promise<string | false> {
  pgStatus ??= reachable(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.end();
  }, `PostgreSQL at ${POSTGRES_URL}`);
  return pgStatus;
}

function redisReachable(): Promise<string | false> {
  redisStatus ??= reachable(async () => {
    const r = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
    } finally {
      r.disconnect();
    }
  }, `Redis at ${REDIS_URL}`);
  return redisStatus;
}

/** Creates a throwaway database on the server and returns its URL and a dropper. */
export async function createThrowawayDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `kidslearn_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Every database backend; PostgreSQL is probed once per process. */
export async function databaseBackends(): Promise<DatabaseBackend[]> {
  return [
    {
      name: 'pglite',
      skip: false,
      async open() {
        const database = await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: 10_000 });
        return { database, dispose: () => database.close() };
      },
    },
    {
      name: 'postgres',
      skip: await postgresStatus(),
      async open() {
        const db = await createThrowawayDatabase();
        const database = await openPostgresDatabase({ url: db.url, poolSize: 5, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
        return {
          database,
          url: db.url,
          async dispose() {
            await database.close();
            await db.drop();
          },
        };
      },
    },
  ];
}

/** Every cache backend; Redis runs under a unique key prefix that is deleted afterwards. */
export async function cacheBackends(): Promise<CacheBackend[]> {
  return [
    {
      name: 'memory',
      skip: false,
      async open() {
        const cache = createMemoryCache({ maxEntries: 1000 });
        return { cache, dispose: () => cache.close() };
      },
    },
    {
      name: 'redis',
      skip: await redisReachable(),
      async open() {
        const prefix = `kidslearn-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
        const cache = await openRedisCache({ url: REDIS_URL, keyPrefix: prefix, timeoutMs: 1000 });
        return {
          cache,
          url: REDIS_URL,
          prefix,
          async dispose() {
            await cache.close();
            await deleteRedisPrefix(prefix);
          },
        };
      },
    },
  ];
}

async function deleteRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** A database and a cache opened together: the two stacks API and end-to-end tests run on. */
export interface Stack {
  name: string;
  skip: string | false;
  open(): Promise<{ database: Database; cache: Cache; databaseUrl?: string; redisUrl?: string; redisPrefix?: string; dispose(): Promise<void> }>;
}

/** Embedded (PGlite + in-process cache) and servers (PostgreSQL + Redis). */
export async function stacks(): Promise<Stack[]> {
  const [pglite, postgres] = await databaseBackends();
  const [memory, redis] = await cacheBackends();
  const combine = (name: string, d: DatabaseBackend, c: CacheBackend): Stack => ({
    name,
    skip: d.skip || c.skip,
    async open() {
      const db = await d.open();
      const cache = await c.open();
      return {
        database: db.database,
        cache: cache.cache,
        ...(db.url ? { databaseUrl: db.url } : {}),
        ...(cache.url ? { redisUrl: cache.url, redisPrefix: cache.prefix! } : {}),
        async dispose() {
          await Promise.allSettled([db.dispose(), cache.dispose()]);
        },
      };
    },
  });
  return [combine('embedded (PGlite + memory cache)', pglite!, memory!), combine('servers (PostgreSQL + Redis)', postgres!, redis!)];
}

/** A way to open a fresh rate limiter for one test suite. */
export interface RateLimiterBackend {
  name: 'memory' | 'redis';
  skip: string | false;
  /** For Redis, `url` and `prefix` let a test open a second limiter on the same counters. */
  open(): Promise<{ limiter: RateLimiter; url?: string; prefix?: string; dispose(): Promise<void> }>;
}

/** Every rate-limiter backend; Redis runs under a unique key prefix that is deleted afterwards. */
export async function rateLimiterBackends(): Promise<RateLimiterBackend[]> {
  return [
    {
      name: 'memory',
      skip: false,
      async open() {
        const limiter = createMemoryRateLimiter();
        return { limiter, dispose: () => limiter.close() };
      },
    },
    {
      name: 'redis',
      skip: await redisReachable(),
      async open() {
        const prefix = `kidslearn-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
        const limiter = await openRedisRateLimiter({ url: REDIS_URL, keyPrefix: prefix, timeoutMs: 1000 });
        return {
          limiter,
          url: REDIS_URL,
          prefix,
          async dispose() {
            await limiter.close();
            await deleteRedisPrefix(prefix);
          },
        };
      },
    },
  ];
}
