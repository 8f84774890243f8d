import { AppError } from '../../domain/errors.ts';
import { withTimeout } from '../db/database.ts';
import type { Cache } from './cache.ts';
import { closeRedisConnection, openRedisConnection, redisReady } from './redis-connection.ts';

export { redactUrl } from './redis-connection.ts';

/**
 * Redis cache. Redis is optional at run time: opening never fails (if Redis
 * cannot be reached the cache starts disconnected, `/health` reports it
 * down, and the client reconnects in the background), and while it is
 * disconnected every call rejects at once without touching the network
 * (see {@link openRedisConnection}), so callers that treat a failure as a
 * miss fall back to the database at the database's speed. A call in flight
 * when Redis stalls waits at most `timeoutMs`.
 */
export async function openRedisCache(options: { url: string; keyPrefix: string; timeoutMs: number; onConnectError?: (error: unknown) => void }): Promise<Cache> {
  const redis = await openRedisConnection(options);
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
      const unavailable = () => new AppError('unavailable', 'cache_unavailable', redisReady(redis) ? 'Cache did not answer in time' : `Cache is disconnected (${redis.status})`);
      if (!redisReady(redis)) throw unavailable();
      await withTimeout(redis.ping(), timeoutMs, unavailable);
    },
    async close() {
      await closeRedisConnection(redis, options.timeoutMs);
    },
  };
}
