/**
 * The rate-limiter port: fixed windows of `points` hits per `windowSeconds`,
 * counted per rule and key (the window starts at a key's first hit). The
 * in-process adapter counts for one process; the Redis adapter is shared, so
 * every process sees the same counts. The Redis adapter uses rate-limiter-flexible; the in-process one is a
 * synchronous fixed-window map (cheaper on the hot path, measured).
 */
export interface RateLimitRule {
  /** Names the counter, e.g. 'auth-ip'. Letters, digits, '.', '_' and '-' only; one name, one limit. */
  name: string;
  /** Hits allowed per window; a whole number >= 1. */
  points: number;
  /** Window length in whole seconds >= 1. */
  windowSeconds: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Hits still allowed in the current window (0 when refused). */
  remaining: number;
  /** 0 when allowed; whole seconds >= 1 (at most the window) when refused, for `Retry-After`. */
  retryAfterSeconds: number;
}

/** Counts hits per rule and key; see the module comment for the semantics every adapter shares. */
export interface RateLimiter {
  readonly kind: 'memory' | 'redis';
  /** Counts one hit of `key` under `rule` and says whether it is within the limit. */
  consume(rule: RateLimitRule, key: string): Promise<RateLimitDecision>;
  /** Forgets the hits of `key` under `rule` (e.g. after a successful sign-in). */
  reset(rule: RateLimitRule, key: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A limiter that can decide without waiting (the in-process one). The HTTP
 * layer calls {@link SyncRateLimiter.consumeNow} when it is there, so a
 * request pays neither a Promise nor a turn of the microtask queue for it.
 */
export interface SyncRateLimiter extends RateLimiter {
  /** {@link RateLimiter.consume}, answered at once; throws (TypeError) on a malformed rule. */
  consumeNow(rule: RateLimitRule, key: string): RateLimitDecision;
}

/** Whether `limiter` decides synchronously (see {@link SyncRateLimiter}). */
export function isSyncRateLimiter(limiter: RateLimiter): limiter is SyncRateLimiter {
  return typeof (limiter as Partial<SyncRateLimiter>).consumeNow === 'function';
}

const RULE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Throws on a malformed rule, or on a rule whose name was already used with
 * other limits (`known` holds the rules seen so far, by name). Rule names
 * cannot contain ':', so `rl:<name>:<key>` never collides across rules.
 */
export function checkRule(rule: RateLimitRule, known: ReadonlyMap<string, RateLimitRule>): void {
  if (!RULE_NAME.test(rule.name)) throw new TypeError(`Rate-limit rule name ${JSON.stringify(rule.name)} must match ${RULE_NAME}`);
  if (!Number.isInteger(rule.points) || rule.points < 1) throw new TypeError(`Rate-limit rule ${rule.name}: points must be a whole number >= 1`);
  if (!Number.isInteger(rule.windowSeconds) || rule.windowSeconds < 1) {
    throw new TypeError(`Rate-limit rule ${rule.name}: windowSeconds must be a whole number >= 1`);
  }
  const seen = known.get(rule.name);
  if (seen && (seen.points !== rule.points || seen.windowSeconds !== rule.windowSeconds)) {
    throw new TypeError(`Rate-limit rule ${rule.name} is already used with ${seen.points} per ${seen.windowSeconds}s`);
  }
}

/** The decision for a hit the store accepted. */
export function allowedDecision(remainingPoints: number): RateLimitDecision {
  return { allowed: true, remaining: Math.max(0, remainingPoints), retryAfterSeconds: 0 };
}

/** The decision for a hit over the limit; `msBeforeNext` is the store's time left in the window. */
export function refusedDecision(rule: RateLimitRule, msBeforeNext: number): RateLimitDecision {
  const seconds = msBeforeNext > 0 ? Math.ceil(msBeforeNext / 1000) : rule.windowSeconds;
  return { allowed: false, remaining: 0, retryAfterSeconds: Math.min(rule.windowSeconds, Math.max(1, seconds)) };
}
