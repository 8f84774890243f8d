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
  // Checked before every command: while disconnected the call fails here, at
  // the cost of one comparison, instead of inside the client (which would
  // reject too, without an offline queue, but only after building the command).
  const connected = () => {
    if (!redisReady(redis)) throw new AppError('unavailable', 'cache_unavailable', `Cache is disconnected (${redis.status})`);
  };
  return {
    kind: 'redis',
    async get(key) {
      connected();
      return (await redis.get(key)) ?? undefined;
    },
    async set(key, value, ttlSeconds) {
      connected();
      await redis.set(key, value, 'EX', ttlSeconds);
    },
    async add(key, value, ttlSeconds) {
      connected();
      return (await redis.set(key, value, 'EX', ttlSeconds, 'NX')) === 'OK';
    },
    async delete(...keys) {
      connected();
      if (keys.length) await redis.del(...keys);
    },
    async ping(timeoutMs) {
      connected();
      await withTimeout(redis.ping(), timeoutMs, () => new AppError('unavailable', 'cache_unavailable', 'Cache did not answer in time'));
    },
    onReady(listener) {
      // ioredis emits 'ready' after every (re)connection's handshake, when
      // commands are accepted again. A listener that throws must not reach
      // the client's event loop.
      const onReady = () => {
        try {
          listener();
        } catch {
          // The listener reports its own failures.
        }
      };
      redis.on('ready', onReady);
      return () => {
        redis.off('ready', onReady);
      };
    },
    async close() {
      await closeRedisConnection(redis, options.timeoutMs);
    },
  };
}
