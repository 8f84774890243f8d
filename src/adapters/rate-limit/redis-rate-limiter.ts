import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { redactUrl } from '../cache/redis-cache.ts';
import { withTimeout } from '../db/database.ts';
import { allowedDecision, checkRule, refusedDecision, type RateLimitDecision, type RateLimitRule, type RateLimiter } from './rate-limiter.ts';

export interface RedisRateLimiterOptions {
  url: string;
  /** Prepended to every key; counters live under `${keyPrefix}rl:<rule>:<key>`. */
  keyPrefix: string;
  /** Bound on every Redis call, in milliseconds. */
  timeoutMs: number;
  /**
   * Called (never awaited) when Redis failed or timed out and the limiter
   * failed open. The limiter logs nothing itself; wiring may log or count.
   */
  onError?: (error: unknown, operation: 'connect' | 'consume' | 'reset') => void;
}

/**
 * Redis rate limiter: counts are shared by every process on the same Redis
 * and key prefix (rate-limiter-flexible's atomic INCR + expiry Lua script).
 *
 * It FAILS OPEN. When Redis is down, slow or refuses a command, `consume`
 * resolves `{ allowed: true, remaining: rule.points, retryAfterSeconds: 0 }`
 * (nothing was counted, as far as we know) and `reset` resolves; neither
 * throws, and only `onError` hears of it. The limits are abuse protection,
 * and children being able to use the app beats strictness during an outage.
 * Commands are never queued while disconnected, so an outage costs no
 * latency; a call that is in flight when Redis stalls waits at most
 * `timeoutMs`. Opening never fails either: if Redis cannot be reached within
 * the connect timeout the client keeps reconnecting in the background.
 */
export async function openRedisRateLimiter(options: RedisRateLimiterOptions): Promise<RateLimiter> {
  const { timeoutMs, onError } = options;
  const connectTimeoutMs = Math.max(timeoutMs, 2000);
  const redis = new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    commandTimeout: timeoutMs,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  redis.on('error', () => {
    // Reported through failed calls (fail open + onError); ioredis reconnects by itself.
  });
  const report = (error: unknown, operation: 'connect' | 'consume' | 'reset') => {
    try {
      onError?.(error, operation);
    } catch {
      // A failing reporter must not turn fail-open into a failure.
    }
  };
  try {
    await withTimeout(redis.connect(), connectTimeoutMs, () => new Error(`Redis at ${redactUrl(options.url)} did not answer`));
  } catch (error) {
    report(error, 'connect');
  }

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
      try {
        const res = await withTimeout(limiter.consume(key), timeoutMs, timeoutError('consume'));
        return allowedDecision(res.remainingPoints);
      } catch (error) {
        // The library rejects with a RateLimiterRes when the limit is reached,
        // and with an Error when Redis failed.
        if (error instanceof RateLimiterRes) return refusedDecision(rule, error.msBeforeNext);
        report(error, 'consume');
        return allowedDecision(rule.points);
      }
    },
    async reset(rule, key) {
      const limiter = limiterFor(rule);
      try {
        await withTimeout(limiter.delete(key), timeoutMs, timeoutError('reset'));
      } catch (error) {
        report(error, 'reset');
      }
    },
    async close() {
      limiters.clear();
      rules.clear();
      await withTimeout(redis.quit(), timeoutMs, timeoutError('quit')).catch(() => redis.disconnect());
    },
  };
}
