import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { isSyncRateLimiter, type RateLimitDecision, type RateLimiter, type RateLimitRule } from '../../adapters/rate-limit/rate-limiter.ts';
import { AppError } from '../../domain/errors.ts';
import type { AppEnv } from '../context.ts';

/** 429 `rate_limited` with the details `Retry-After` is built from, unless `decision` allows the hit. */
function enforce(decision: RateLimitDecision, rule: RateLimitRule): void {
  if (decision.allowed) return;
  throw new AppError('rate_limited', 'rate_limited', `Too many requests; try again in ${decision.retryAfterSeconds} s`, {
    details: { limit: rule.points, windowSeconds: rule.windowSeconds, retryAfterSeconds: decision.retryAfterSeconds },
  });
}

/**
 * Counts one hit of `key` under `rule`; 429 `rate_limited` with `Retry-After`
 * once over the limit. An in-process limiter decides at once (nothing to
 * await, `undefined` is returned); a shared one returns a promise.
 */
export function enforceLimit(limiter: RateLimiter, rule: RateLimitRule, key: string): Promise<void> | undefined {
  if (isSyncRateLimiter(limiter)) {
    enforce(limiter.consumeNow(rule, key), rule);
    return undefined;
  }
  return limiter.consume(rule, key).then((decision) => enforce(decision, rule));
}

/** Middleware form of {@link enforceLimit}; requests without a key are not counted. */
export function rateLimit(limiter: RateLimiter, rule: RateLimitRule, keyOf: (c: Context<AppEnv>) => string | undefined) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = keyOf(c);
    if (key !== undefined) await enforceLimit(limiter, rule, key);
    await next();
  });
}
