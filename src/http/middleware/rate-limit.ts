import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { RateLimiter, RateLimitRule } from '../../adapters/rate-limit/rate-limiter.ts';
import { AppError } from '../../domain/errors.ts';
import type { AppEnv } from '../context.ts';

/** Counts one hit of `key` under `rule`; 429 `rate_limited` with `Retry-After` once over the limit. */
export async function enforceLimit(limiter: RateLimiter, rule: RateLimitRule, key: string): Promise<void> {
  const decision = await limiter.consume(rule, key);
  if (decision.allowed) return;
  throw new AppError('rate_limited', 'rate_limited', `Too many requests; try again in ${decision.retryAfterSeconds} s`, {
    details: { limit: rule.points, windowSeconds: rule.windowSeconds, retryAfterSeconds: decision.retryAfterSeconds },
  });
}

/** Middleware form of {@link enforceLimit}; requests without a key are not counted. */
export function rateLimit(limiter: RateLimiter, rule: RateLimitRule, keyOf: (c: Context<AppEnv>) => string | undefined) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = keyOf(c);
    if (key !== undefined) await enforceLimit(limiter, rule, key);
    await next();
  });
}
