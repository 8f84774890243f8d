import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { allowedDecision, checkRule, refusedDecision, type RateLimitRule, type RateLimiter } from './rate-limiter.ts';

/**
 * In-process rate limiter (the embedded default): counts for this process
 * only. Memory is bounded by time rather than by a count: rate-limiter-flexible
 * keeps one entry per live key and deletes it with an unref'd timer when its
 * window ends, so it holds at most the distinct keys hit within the longest
 * window.
 */
export function createMemoryRateLimiter(): RateLimiter {
  const rules = new Map<string, RateLimitRule>();
  const limiters = new Map<string, RateLimiterMemory>();

  function limiterFor(rule: RateLimitRule): RateLimiterMemory {
    checkRule(rule, rules);
    let limiter = limiters.get(rule.name);
    if (!limiter) {
      limiter = new RateLimiterMemory({ keyPrefix: `rl:${rule.name}`, points: rule.points, duration: rule.windowSeconds });
      rules.set(rule.name, { ...rule });
      limiters.set(rule.name, limiter);
    }
    return limiter;
  }

  return {
    kind: 'memory',
    async consume(rule, key) {
      const limiter = limiterFor(rule);
      try {
        const res = await limiter.consume(key);
        return allowedDecision(res.remainingPoints);
      } catch (error) {
        // The library rejects with a RateLimiterRes when the limit is reached.
        if (error instanceof RateLimiterRes) return refusedDecision(rule, error.msBeforeNext);
        throw error;
      }
    },
    async reset(rule, key) {
      await limiterFor(rule).delete(key);
    },
    async close() {
      // Deleting each entry also clears its expiry timer.
      for (const limiter of limiters.values()) {
        for (const entry of limiter.dump().storage) await limiter.delete(entry.key);
      }
      limiters.clear();
      rules.clear();
    },
  };
}
