/**
 * The cache port: string values with a TTL. Values are serialised JSON so a
 * hit can be sent to the client without re-encoding. The in-process adapter
 * serves one process; the Redis adapter is shared, so a `delete` there
 * invalidates every process at once.
 */
export interface Cache {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Sets `key` only when it holds nothing; returns whether it was set. */
  add(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  delete(...keys: string[]): Promise<void>;
  /** Resolves when the cache answers within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  /**
   * Calls `listener` each time the cache becomes usable again after it was
   * not (Redis: every reconnect), so callers can replay writes that failed
   * meanwhile. The in-process cache never fails and never calls it. Returns
   * a function that removes the listener.
   */
  onReady(listener: () => void): () => void;
  close(): Promise<void>;
}
