import { LRUCache } from 'lru-cache';

/** What {@link lruCache} takes: lru-cache's options, except how the bound is expressed. */
export type LruOptions<K extends NonNullable<unknown>, V extends NonNullable<unknown>> = Omit<LRUCache.Options<K, V, unknown>, 'max' | 'maxSize' | 'sizeCalculation' | 'maxEntrySize'>;

/**
 * An in-process LRU cache holding at most `maxEntries` entries, evicting the
 * least recently used, like lru-cache with `max`, but without allocating for
 * every entry up front: with `max`, lru-cache creates its key, value and link
 * arrays (and the TTL arrays) at full size in the constructor, ~100 ms CPU
 * for the process's caches (50,000–100,000 entries each), which a Lambda
 * cold start paid before its first request. Bounded by `maxSize` with every
 * entry of size 1 instead, the arrays grow with use; eviction order and TTL
 * behaviour are the same.
 */
export function lruCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(maxEntries: number, options: LruOptions<K, V> = {}): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...options, maxSize: maxEntries, sizeCalculation: () => 1 } as LRUCache.Options<K, V, unknown>);
}
