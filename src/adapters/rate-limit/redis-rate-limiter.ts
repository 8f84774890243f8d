import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { closeRedisConnection, openRedisConnection, redisReady } from '../cache/redis-connection.ts';
import { withTimeout } from '../db/database.ts';
import { createMemoryRateLimiter } from './memory-rate-limiter.ts';
import { allowedDecision, checkRule, refusedDecision, type RateLimitDecision, type RateLimitRule, type RateLimiter } from './rate-limiter.ts';

export interface RedisRateLimiterOptions {
  url: string;
  /** Prepended to every key; counters live under `${keyPrefix}rl:<rule>:<key>`. */
  keyPrefix: string;
  /** Bound on every Redis call, in milliseconds. */
  timeoutMs: number;
  /**
   * Called (never awaited) for every Redis failure, after which the hit was
   * counted in this process instead. The limiter logs nothing itself; wiring
   * may log or count.
   */
  onError?: (error: unknown, operation: 'connect' | 'consume' | 'reset') => void;
}

/**
 * Redis rate limiter: counts are shared by every process on the same Redis
 * and key prefix (rate-limiter-flexible's atomic INCR + expiry Lua script).
 *
 * It does NOT fail open. When Redis is down, slow or refuses a command, the
 * hit is counted by an in-process limiter with the same rules instead (what
 * rate-limiter-flexible calls an insurance limiter; ours is the project's own
 * in-process adapter, so both stores share one fixed-window semantics), and
 * only `onError` hears of it. A sign-in limit that vanished with Redis would
 * let anyone guess passwords as fast as they can send them. During an outage
 * each process counts alone (N processes allow up to N times the limit), and
 * when Redis is back counting continues there from what Redis holds: hits
 * counted in the fallback are not copied over.
 *
 * Nothing waits for Redis: while it is disconnected no command is sent (see
 * `openRedisConnection`), and a call in flight when Redis stalls waits at
 * most `timeoutMs` before falling back. Opening never fails either: if Redis
 * cannot be reached the client keeps reconnecting in the background.
 */
export async function openRedisRateLimiter(options: RedisRateLimiterOptions): Promise<RateLimiter> {
  const { timeoutMs, onError } = options;
  const report = (error: unknown, operation: 'connect' | 'consume' | 'reset') => {
    try {
      onError?.(error, operation);
    } catch {
      // A failing reporter must not turn the fallback into a failure.
    }
  };
  const redis = await openRedisConnection({ url: options.url, keyPrefix: options.keyPrefix, timeoutMs, onConnectError: (error) => report(error, 'connect') });
  const fallback = createMemoryRateLimiter();

  const timeoutError = (operation: string) => () => new Error(`Redis rate limiter ${operation} took longer than ${timeoutMs} ms`);
  const rules = new Map<string, RateLimitRule>();
  const limiters = new Map<string, RateLimiterRedis>();

  function limiterFor(rule: RateLimitRule): RateLimiterRedis {
    checkRule(rule, rules);
    let limiter = limiters.get(rule.name);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `rl:${rule.name}`,
        points: rule.points,
        duration: rule.windowSeconds,
        // Fail at once, without touching Redis, while the connection is down.
        rejectIfRedisNotReady: true,
      });
      rules.set(rule.name, { ...rule });
      limiters.set(rule.name, limiter);
    }
    return limiter;
  }

  return {
    kind: 'redis',
    async consume(rule, key): Promise<RateLimitDecision> {
      const limiter = limiterFor(rule);
      if (!redisReady(redis)) {
        report(new Error(`Redis is not connected (${redis.status})`), 'consume');
        return fallback.consumeNow(rule, key);
      }
      try {
        const res = await withTimeout(limiter.consume(key), timeoutMs, timeoutError('consume'));
        return allowedDecision(res.remainingPoints);
      } catch (error) {
        // The library rejects with a RateLimiterRes when the limit is reached,
        // and with an Error when Redis failed.
        if (error instanceof RateLimiterRes) return refusedDecision(rule, error.msBeforeNext);
        report(error, 'consume');
        return fallback.consumeNow(rule, key);
      }
    },
    async reset(rule, key) {
      const limiter = limiterFor(rule);
      // The fallback may hold hits from an outage: forget those too.
      await fallback.reset(rule, key);
      if (!redisReady(redis)) {
        report(new Error(`Redis is not connected (${redis.status})`), 'reset');
        return;
      }
      try {
        await withTimeout(limiter.delete(key), timeoutMs, timeoutError('reset'));
      } catch (error) {
        report(error, 'reset');
      }
    },
    async close() {
      limiters.clear();
      rules.clear();
      await fallback.close();
      await closeRedisConnection(redis, timeoutMs);
    },
  };
}
