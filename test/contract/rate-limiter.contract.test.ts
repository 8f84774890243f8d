import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { RateLimitRule, RateLimiter } from '../../src/adapters/rate-limit/rate-limiter.ts';
import { openRedisRateLimiter } from '../../src/adapters/rate-limit/redis-rate-limiter.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { rateLimiterBackends } from '../support/servers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A rule with a name of its own, so tests never share counters. */
function rule(points: number, windowSeconds = 60, name = `t-${randomBytes(3).toString('hex')}`): RateLimitRule {
  return { name, points, windowSeconds };
}

/** The rate-limiter port's contract, run on every adapter. */
for (const backend of await rateLimiterBackends()) {
  describe(`rate-limiter contract: ${backend.name}`, { skip: backend.skip }, () => {
    let limiter: RateLimiter;
    let url: string | undefined;
    let prefix: string | undefined;
    let dispose: () => Promise<void>;
    before(async () => {
      ({ limiter, url, prefix, dispose } = await backend.open());
    });
    after(async () => dispose());

    it('reports its kind', () => {
      assert.equal(limiter.kind, backend.name);
    });

    it('allows up to `points` hits, counting `remaining` down, then refuses with a Retry-After within the window', async () => {
      const r = rule(3, 30);
      assert.deepEqual(await limiter.consume(r, 'ip-1'), { allowed: true, remaining: 2, retryAfterSeconds: 0 });
      assert.deepEqual(await limiter.consume(r, 'ip-1'), { allowed: true, remaining: 1, retryAfterSeconds: 0 });
      assert.deepEqual(await limiter.consume(r, 'ip-1'), { allowed: true, remaining: 0, retryAfterSeconds: 0 });
      for (let i = 0; i < 3; i++) {
        const refused = await limiter.consume(r, 'ip-1');
        assert.equal(refused.allowed, false);
        assert.equal(refused.remaining, 0);
        assert.ok(Number.isInteger(refused.retryAfterSeconds), `whole seconds, got ${refused.retryAfterSeconds}`);
        assert.ok(refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 30, `1..30, got ${refused.retryAfterSeconds}`);
      }
    });

    it('counts different keys independently', async () => {
      const r = rule(1);
      assert.equal((await limiter.consume(r, 'a')).allowed, true);
      assert.equal((await limiter.consume(r, 'a')).allowed, false);
      assert.equal((await limiter.consume(r, 'b')).allowed, true);
      // Keys that look like parts of other keys, or contain the separator.
      assert.equal((await limiter.consume(r, 'a:b')).allowed, true);
      assert.equal((await limiter.consume(r, '::1')).allowed, true);
      assert.equal((await limiter.consume(r, '::1:x')).allowed, true);
      assert.equal((await limiter.consume(r, 'ünï ✓')).allowed, true);
      assert.equal((await limiter.consume(r, 'ünï ✓')).allowed, false);
    });

    it('counts different rules independently for the same key', async () => {
      const strict = rule(1);
      const loose = rule(5);
      assert.equal((await limiter.consume(strict, 'same-key')).allowed, true);
      assert.equal((await limiter.consume(strict, 'same-key')).allowed, false);
      assert.deepEqual(await limiter.consume(loose, 'same-key'), { allowed: true, remaining: 4, retryAfterSeconds: 0 });
    });

    it('starts a fresh window once the window has passed', async () => {
      const r = rule(2, 1);
      await limiter.consume(r, 'k');
      await limiter.consume(r, 'k');
      const refused = await limiter.consume(r, 'k');
      assert.equal(refused.allowed, false);
      assert.equal(refused.retryAfterSeconds, 1);
      await sleep(1100);
      assert.deepEqual(await limiter.consume(r, 'k'), { allowed: true, remaining: 1, retryAfterSeconds: 0 });
    });

    it('forgets a key on reset, and only that key', async () => {
      const r = rule(1);
      await limiter.consume(r, 'user-1');
      await limiter.consume(r, 'user-2');
      assert.equal((await limiter.consume(r, 'user-1')).allowed, false);
      await limiter.reset(r, 'user-1');
      await limiter.reset(r, 'never-seen');
      assert.deepEqual(await limiter.consume(r, 'user-1'), { allowed: true, remaining: 0, retryAfterSeconds: 0 });
      assert.equal((await limiter.consume(r, 'user-2')).allowed, false);
    });

    it('allows exactly `points` of many concurrent hits', async () => {
      const r = rule(5);
      const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.consume(r, 'burst')));
      assert.equal(decisions.filter((d) => d.allowed).length, 5);
      assert.deepEqual(decisions.filter((d) => d.allowed).map((d) => d.remaining).sort(), [0, 1, 2, 3, 4]);
    });

    it('rejects malformed rules and a name reused with other limits', async () => {
      await assert.rejects(limiter.consume({ name: 'has:colon', points: 1, windowSeconds: 1 }, 'k'), TypeError);
      await assert.rejects(limiter.consume({ name: '', points: 1, windowSeconds: 1 }, 'k'), TypeError);
      await assert.rejects(limiter.consume(rule(0), 'k'), TypeError);
      await assert.rejects(limiter.consume(rule(1.5), 'k'), TypeError);
      await assert.rejects(limiter.consume(rule(1, 0), 'k'), TypeError);
      const r = rule(3, 10);
      await limiter.consume(r, 'k');
      await assert.rejects(limiter.consume({ ...r, points: 4 }, 'k'), /already used/);
      await assert.rejects(limiter.reset({ ...r, windowSeconds: 11 }, 'k'), /already used/);
      assert.equal((await limiter.consume({ ...r }, 'k')).remaining, 1);
    });

    if (backend.name === 'redis') {
      it('keeps its counters under `${keyPrefix}rl:<rule>:<key>` with an expiry', async () => {
        const r = rule(3, 30);
        await limiter.consume(r, 'layout');
        const raw = new Redis(url!, { maxRetriesPerRequest: 1 });
        try {
          const key = `${prefix!}rl:${r.name}:layout`;
          assert.equal(await raw.get(key), '1');
          const ttl = await raw.pttl(key);
          assert.ok(ttl > 0 && ttl <= 30_000, `pttl ${ttl}`);
        } finally {
          raw.disconnect();
        }
      });

      it('shares counts between two limiters on the same Redis and prefix', async () => {
        const other = await openRedisRateLimiter({ url: url!, keyPrefix: prefix!, timeoutMs: 1000 });
        try {
          const r = rule(3);
          assert.equal((await limiter.consume(r, 'shared')).remaining, 2);
          assert.equal((await other.consume(r, 'shared')).remaining, 1);
          assert.equal((await limiter.consume(r, 'shared')).remaining, 0);
          assert.equal((await other.consume(r, 'shared')).allowed, false);
          await other.reset(r, 'shared');
          assert.equal((await limiter.consume(r, 'shared')).remaining, 2);
        } finally {
          await other.close();
        }
      });

      it('does not share counts across key prefixes', async () => {
        const other = await openRedisRateLimiter({ url: url!, keyPrefix: `${prefix!}other:`, timeoutMs: 1000 });
        try {
          const r = rule(1);
          assert.equal((await limiter.consume(r, 'k')).allowed, true);
          assert.equal((await other.consume(r, 'k')).allowed, true);
          await other.reset(r, 'k');
        } finally {
          await other.close();
        }
      });

      it('does not fail open when Redis is unreachable: counts in this process instead, quickly and without throwing', async () => {
        const errors: string[] = [];
        const started = performance.now();
        const down = await openRedisRateLimiter({
          url: 'redis://:secret@127.0.0.1:1',
          keyPrefix: 'kidslearn-test:unreachable:',
          timeoutMs: 200,
          onError: (error, operation) => errors.push(`${operation}: ${error instanceof Error ? error.message : String(error)}`),
        });
        try {
          const r = rule(2, 30);
          assert.deepEqual(await down.consume(r, 'k'), { allowed: true, remaining: 1, retryAfterSeconds: 0 });
          assert.deepEqual(await down.consume(r, 'k'), { allowed: true, remaining: 0, retryAfterSeconds: 0 });
          const refused = await down.consume(r, 'k');
          assert.equal(refused.allowed, false);
          assert.ok(refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 30, `Retry-After ${refused.retryAfterSeconds}`);
          assert.equal((await down.consume(r, 'other')).allowed, true, 'keys stay independent in the fallback');
          await down.reset(r, 'k');
          assert.deepEqual(await down.consume(r, 'k'), { allowed: true, remaining: 1, retryAfterSeconds: 0 }, 'reset reaches the fallback');
          const elapsed = performance.now() - started;
          assert.ok(elapsed < 1000, `took ${Math.round(elapsed)} ms`);
          assert.ok(errors.some((e) => e.startsWith('connect:')), errors.join('\n'));
          assert.equal(errors.filter((e) => e.startsWith('consume:')).length, 5);
          assert.ok(errors.some((e) => e.startsWith('reset:')), errors.join('\n'));
          assert.ok(!errors.some((e) => e.includes('secret')), 'the password must not reach error messages');
          await assert.rejects(down.consume({ name: 'bad:name', points: 1, windowSeconds: 1 }, 'k'), TypeError, 'malformed rules still throw while down');
        } finally {
          await down.close();
        }
      });

      it('falls back within timeoutMs when Redis stops answering mid-connection, and counts in Redis again once it is back', async () => {
        const proxy = await startFaultProxy(url!);
        let failures = 0;
        const slow = await openRedisRateLimiter({ url: proxy.wrap(url!), keyPrefix: prefix!, timeoutMs: 200, onError: () => failures++ });
        const raw = new Redis(url!, { maxRetriesPerRequest: 1 });
        try {
          const r = rule(2);
          assert.deepEqual(await slow.consume(r, 'stall'), { allowed: true, remaining: 1, retryAfterSeconds: 0 });
          proxy.set('blackhole');
          const started = performance.now();
          // The fallback starts counting from nothing: what Redis holds is out of reach.
          assert.deepEqual(await slow.consume(r, 'stall'), { allowed: true, remaining: 1, retryAfterSeconds: 0 });
          assert.deepEqual(await slow.consume(r, 'stall'), { allowed: true, remaining: 0, retryAfterSeconds: 0 });
          assert.equal((await slow.consume(r, 'stall')).allowed, false);
          const elapsed = performance.now() - started;
          assert.ok(elapsed < 1000, `took ${Math.round(elapsed)} ms`);
          assert.equal(failures, 3);
          assert.equal(await raw.get(`${prefix!}rl:${r.name}:stall`), '1', 'nothing reached Redis during the stall');

          proxy.set('pass');
          const deadline = performance.now() + 4000;
          let decision = await slow.consume(r, 'stall');
          while (failures > 3 && performance.now() < deadline && (await raw.get(`${prefix!}rl:${r.name}:stall`)) === '1') {
            await sleep(100);
            decision = await slow.consume(r, 'stall');
          }
          assert.equal(await raw.get(`${prefix!}rl:${r.name}:stall`), '2', 'counting is back in Redis');
          assert.deepEqual(decision, { allowed: true, remaining: 0, retryAfterSeconds: 0 });
        } finally {
          raw.disconnect();
          await slow.close();
          await proxy.close();
        }
      });
    }
  });
}
