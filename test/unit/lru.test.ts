import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lruCache } from '../../src/adapters/cache/lru.ts';

describe('lruCache', () => {
  it('holds at most maxEntries and evicts the least recently used, whatever the values are', () => {
    const cache = lruCache<string, string>(3);
    cache.set('a', 'a long value that must not count as more than one entry');
    cache.set('b', '');
    cache.set('c', 'x');
    assert.equal(cache.get('a'), 'a long value that must not count as more than one entry'); // a is now the most recently used
    cache.set('d', 'y');
    assert.deepEqual([...cache.keys()], ['d', 'a', 'c']);
    assert.equal(cache.has('b'), false);
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, String(i));
    assert.equal(cache.size, 3);
    assert.deepEqual([...cache.entries()], [['k99', '99'], ['k98', '98'], ['k97', '97']]);
  });

  it('passes the other options on (ttl)', () => {
    let now = 1000;
    const cache = lruCache<string, number>(10, { ttl: 50, ttlResolution: 0, perf: { now: () => now } });
    cache.set('a', 1);
    now += 49;
    assert.equal(cache.get('a'), 1);
    now += 2;
    assert.equal(cache.get('a'), undefined);
  });

  it('allocates nothing up front: a 10-million-entry bound is as cheap to create as a small one', () => {
    const started = performance.now();
    const big = lruCache<string, string>(10_000_000);
    assert.ok(performance.now() - started < 50, 'created in under 50 ms');
    big.set('a', 'b');
    assert.equal(big.get('a'), 'b');
  });
});
