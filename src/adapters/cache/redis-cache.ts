import { Redis } from 'ioredis';
import { AppError } from '../../domain/errors.ts';
import { withTimeout } from '../db/database.ts';
import type { Cache } from './cache.ts';

/**
 * Redis cache. Every command is bounded by `commandTimeout`; the connection
 * does not queue commands while offline, so an outage fails fast and callers
 * fall back to the database instead of hanging.
 */
export async function openRedisCache(options: { url: string; keyPrefix: string; timeoutMs: number }): Promise<Cache> {
  const redis = new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    commandTimeout: options.timeoutMs,
    connectTimeout: Math.max(options.timeoutMs, 2000),
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    lazyConnect: true,
  });
  redis.on('error', () => {
    // Reported through failed commands and /health; ioredis reconnects by itself.
  });
  await withTimeout(redis.connect(), Math.max(options.timeoutMs, 2000), () => new Error(`Redis at ${redactUrl(options.url)} did not answer`));
  return {
    kind: 'redis',
    async get(key) {
      return (await redis.get(key)) ?? undefined;
    },
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, 'EX', ttlSeconds);
    },
    async add(key, value, ttlSeconds) {
      return (await redis.set(key, value, 'EX', ttlSeconds, 'NX')) === 'OK';
    },
    async delete(...keys) {
      if (keys.length) await redis.del(...keys);
    },
    async ping(timeoutMs) {
      await withTimeout(redis.ping(), timeoutMs, () => new AppError('unavailable', 'cache_unavailable', 'Cache did not answer in time'));
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Hides credentials in a connection URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
