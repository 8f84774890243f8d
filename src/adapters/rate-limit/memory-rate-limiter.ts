import { allowedDecision, checkRule, refusedDecision, type RateLimitDecision, type RateLimitRule, type SyncRateLimiter } from './rate-limiter.ts';

/** One key's window: hits counted so far and when (epoch ms) the window ends. */
interface Window {
  hits: number;
  endsAt: number;
}

/** The counters of one rule. */
interface RuleState {
  rule: RateLimitRule;
  windowMs: number;
  windows: Map<string, Window>;
  /** When expired windows are next swept out (epoch ms). */
  sweepAt: number;
}

/**
 * In-process rate limiter (the embedded default): fixed windows per rule and
 * key, counted for this process only, the window starting at a key's first
 * hit (the same semantics as the Redis adapter). A plain Map per rule with
 * lazy expiry: an expired window is replaced on the key's next hit, and once
 * per window length all expired windows of the rule are swept out, so memory
 * holds at most the distinct keys hit within the last two windows of that
 * rule. No timers: nothing to clear and nothing keeps the process alive.
 */
export function createMemoryRateLimiter(): SyncRateLimiter {
  const rules = new Map<string, RateLimitRule>();
  const states = new Map<string, RuleState>();
  // The same rule object is passed on every request: remember its state.
  let lastRule: RateLimitRule | undefined;
  let lastState: RuleState | undefined;

  function stateFor(rule: RateLimitRule): RuleState {
    if (rule === lastRule && lastState!.rule.points === rule.points && lastState!.windowMs === rule.windowSeconds * 1000) return lastState!;
    checkRule(rule, rules);
    let state = states.get(rule.name);
    if (!state) {
      const windowMs = rule.windowSeconds * 1000;
      const copy = { ...rule };
      state = { rule: copy, windowMs, windows: new Map(), sweepAt: Date.now() + windowMs };
      rules.set(rule.name, copy);
      states.set(rule.name, state);
    }
    lastRule = rule;
    lastState = state;
    return state;
  }

  function sweep(state: RuleState, now: number): void {
    for (const [key, window] of state.windows) if (window.endsAt <= now) state.windows.delete(key);
    state.sweepAt = now + state.windowMs;
  }

  function consumeNow(rule: RateLimitRule, key: string): RateLimitDecision {
    const state = stateFor(rule);
    const now = Date.now();
    if (now >= state.sweepAt) sweep(state, now);
    let window = state.windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      window = { hits: 1, endsAt: now + state.windowMs };
      state.windows.set(key, window);
    } else if (window.hits <= state.rule.points) {
      // Counting stops one past the limit: a refused key cannot overflow.
      window.hits++;
    }
    const points = state.rule.points;
    return window.hits <= points ? allowedDecision(points - window.hits) : refusedDecision(state.rule, window.endsAt - now);
  }

  return {
    kind: 'memory',
    consumeNow,
    async consume(rule, key) {
      return consumeNow(rule, key);
    },
    async reset(rule, key) {
      stateFor(rule).windows.delete(key);
    },
    async close() {
      states.clear();
      rules.clear();
      lastRule = undefined;
      lastState = undefined;
    },
  };
}
