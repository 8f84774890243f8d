import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cache } from '../../src/adapters/cache/cache.ts';
import { openRedisCache } from '../../src/adapters/cache/redis-cache.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { cacheBackends } from '../support/servers.ts';

/** The cache port's contract, run on every adapter. */
for (const backend of await cacheBackends()) {
  describe(`cache contract: ${backend.name}`, { skip: backend.skip }, () => {
    let cache: Cache;
    let url: string | undefined;
    let prefix: string | undefined;
    let dispose: () => Promise<void>;
    before(async () => {
      ({ cache, url, prefix, dispose } = await backend.open());
    });
    after(async () => dispose());

    it('stores, reads and deletes strings', async () => {
      assert.equal(await cache.get('k1'), undefined);
      await cache.set('k1', '{"a":1}', 60);
      await cache.set('k2', 'two', 60);
      assert.equal(await cache.get('k1'), '{"a":1}');
      await cache.delete('k1', 'k2', 'never-set');
      assert.equal(await cache.get('k1'), undefined);
      assert.equal(await cache.get('k2'), undefined);
      await cache.delete();
    });

    it('overwrites with set, but add only fills an empty key', async () => {
      await cache.set('k3', 'first', 60);
      await cache.set('k3', 'second', 60);
      assert.equal(await cache.get('k3'), 'second');
      assert.equal(await cache.add('k3', 'third', 60), false);
      assert.equal(await cache.get('k3'), 'second');
      assert.equal(await cache.add('k4', 'fresh', 60), true);
      assert.equal(await cache.get('k4'), 'fresh');
    });

    it('expires entries after their TTL', async () => {
      await cache.set('short', 'x', 1);
      assert.equal(await cache.get('short'), 'x');
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(await cache.get('short'), undefined);
      assert.equal(await cache.add('short', 'y', 60), true);
    });

    it('keeps unicode and large values intact', async () => {
      const value = JSON.stringify({ text: 'ünïcødé ✓ 😀', big: 'x'.repeat(200_000) });
      await cache.set('big', value, 60);
      assert.equal(await cache.get('big'), value);
    });

    it('answers ping within the timeout, and refuses it once it cannot answer', async () => {
      const started = performance.now();
      assert.equal(await cache.ping(1000), undefined);
      assert.ok(performance.now() - started < 1000, 'answered within the timeout');
      if (backend.name === 'redis') {
        // A cache that cannot reach its server must say so, or /health reports a dead Redis as up.
        const other = await backend.open();
        await other.cache.close();
        await assert.rejects(other.cache.ping(200));
        await other.dispose();
      }
    });

    it('onReady returns a function that removes the listener', () => {
      const off = cache.onReady(() => {});
      assert.equal(typeof off, 'function');
      off();
    });

    if (backend.name === 'redis') {
      it('opens while Redis is unreachable, and then every call fails at once while disconnected and ping says cache_unavailable', async () => {
        const started = performance.now();
        const down = await openRedisCache({ url: 'redis://:secret@127.0.0.1:1', keyPrefix: 'kidslearn-test:unreachable:', timeoutMs: 500 });
        try {
          const calls: [string, () => Promise<unknown>][] = [
            ['get', () => down.get('k')],
            ['set', () => down.set('k', 'v', 60)],
            ['add', () => down.add('k', 'v', 60)],
            ['delete', () => down.delete('k')],
          ];
          for (const [name, call] of calls) {
            const t0 = performance.now();
            await assert.rejects(call(), Error, `${name} must reject`);
            assert.ok(performance.now() - t0 < 50, `${name} waited ${Math.round(performance.now() - t0)} ms`);
          }
          await assert.rejects(down.ping(1000), (e: Error & { code?: string }) => e.code === 'cache_unavailable' && !e.message.includes('secret'));
          assert.ok(performance.now() - started < 1500, `took ${Math.round(performance.now() - started)} ms`);
        } finally {
          await down.close();
        }
      });

      it('after a stall, fails fast until Redis answers again, then serves again', async () => {
        const proxy = await startFaultProxy(url!);
        const stalled = await openRedisCache({ url: proxy.wrap(url!), keyPrefix: prefix!, timeoutMs: 200 });
        let readyCalls = 0;
        let readyAt = 0;
        const offReady = stalled.onReady(() => {
          readyCalls++;
          readyAt = performance.now();
        });
        try {
          await stalled.set('stall', 'before', 60);
          proxy.set('blackhole');
          const t0 = performance.now();
          await assert.rejects(stalled.get('stall'));
          const first = performance.now() - t0;
          assert.ok(first < 200 + 300, `the call in flight waited ${Math.round(first)} ms`);
          const t1 = performance.now();
          await assert.rejects(stalled.get('stall'));
          assert.ok(performance.now() - t1 < 50, `the next call waited ${Math.round(performance.now() - t1)} ms`);
          proxy.set('pass');
          const deadline = performance.now() + 4000;
          let value: string | undefined;
          while (performance.now() < deadline) {
            value = await stalled.get('stall').catch(() => undefined);
            if (value !== undefined) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          assert.equal(value, 'before');
          await stalled.ping(1000);
          // Callers replay what failed meanwhile from this hook: it must fire on the reconnect, before commands succeed again.
          assert.equal(readyCalls, 1, 'onReady fires once on the reconnect');
          assert.ok(readyAt > t1);
          offReady();
        } finally {
          offReady();
          await stalled.close();
          await proxy.close();
        }
      });
    }
  });
}
