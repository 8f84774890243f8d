import { lruCache } from './lru.ts';
import type { Cache } from './cache.ts';

/** In-process LRU cache (the embedded default). Bounded by entry count. */
export function createMemoryCache(options: { maxEntries: number }): Cache {
  const lru = lruCache<string, string>(options.maxEntries);
  return {
    kind: 'memory',
    async get(key) {
      return lru.get(key);
    },
    async set(key, value, ttlSeconds) {
      lru.set(key, value, { ttl: ttlSeconds * 1000 });
    },
    async add(key, value, ttlSeconds) {
      if (lru.has(key)) return false;
      lru.set(key, value, { ttl: ttlSeconds * 1000 });
      return true;
    },
    async delete(...keys) {
      for (const k of keys) lru.delete(k);
    },
    async ping() {},
    // Never unavailable, so never "ready again".
    onReady() {
      return () => {};
    },
    async close() {
      lru.clear();
    },
  };
}
