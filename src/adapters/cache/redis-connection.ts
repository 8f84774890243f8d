import { Redis } from 'ioredis';
import { withTimeout } from '../db/database.ts';

/** What the Redis adapters (cache, rate limiter) need to open their connection. */
export interface RedisConnectionOptions {
  url: string;
  /** Prepended to every key by the client. */
  keyPrefix: string;
  /** Bound on every command, in milliseconds; also how long a silent socket is trusted. */
  timeoutMs: number;
  /** Told (never awaited) when the first connection attempt failed; the client keeps trying in the background. */
  onConnectError?: (error: unknown) => void;
}

/**
 * Opens an ioredis client that never makes a request wait for Redis to come
 * back, and never stops the process from starting:
 *
 * - `enableOfflineQueue: false`: while disconnected a command fails at once
 *   ("Stream isn't writeable…") instead of waiting in a queue for the
 *   command timeout; callers fall back (cache miss, in-process limiter).
 * - `maxRetriesPerRequest: 0`: a command in flight when the connection drops
 *   fails at once instead of being resent after a reconnect.
 * - `socketTimeout`: a connection that stops answering (a black-holed
 *   network, a frozen server) is destroyed after `timeoutMs` of silence, so
 *   it stops taking commands and the reconnect loop takes over; without it
 *   every request would wait out `commandTimeout` for as long as the stall lasts.
 * - `retryStrategy` never gives up: after an outage the client reconnects by
 *   itself, at most 2 s after Redis is back.
 * - The first connection is awaited for at most the connect timeout; if it
 *   fails the client is returned anyway (degraded) and keeps reconnecting.
 */
export async function openRedisConnection(options: RedisConnectionOptions): Promise<Redis> {
  const connectTimeoutMs = Math.max(options.timeoutMs, 2000);
  const redis = new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    commandTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    lazyConnect: true,
  });
  redis.on('error', () => {
    // Every failure also reaches the command that met it (and /health);
    // an unhandled 'error' event would kill the process.
  });
  try {
    await withTimeout(redis.connect(), connectTimeoutMs, () => new Error(`Redis at ${redactUrl(options.url)} did not answer within ${connectTimeoutMs} ms`));
  } catch (error) {
    try {
      options.onConnectError?.(error);
    } catch {
      // A failing reporter must not stop the start.
    }
  }
  return redis;
}

/** Whether `redis` can take a command now (connected and past its handshake). */
export function redisReady(redis: Redis): boolean {
  return redis.status === 'ready';
}

/** Closes `redis` within `timeoutMs`: QUIT when connected, otherwise (or if QUIT stalls) drop the socket and stop reconnecting. */
export async function closeRedisConnection(redis: Redis, timeoutMs: number): Promise<void> {
  if (!redisReady(redis)) {
    redis.disconnect();
    return;
  }
  await withTimeout(redis.quit(), timeoutMs, () => new Error('Redis QUIT took too long')).catch(() => redis.disconnect());
}

/** Hides credentials in a connection URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
