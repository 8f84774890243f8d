import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cache } from '../../src/adapters/cache/cache.ts';
import { cacheBackends } from '../support/servers.ts';

/** The cache port's contract, run on every adapter. */
for (const backend of await cacheBackends()) {
  describe(`cache contract: ${backend.name}`, { skip: backend.skip }, () => {
    let cache: Cache;
    let dispose: () => Promise<void>;
    before(async () => {
      ({ cache, dispose } = await backend.open());
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
  });
}
