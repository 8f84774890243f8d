import pg from 'pg';
import { pgConnectionOptions, type PostgresAuth } from './connection.ts';

/**
 * "Only one of these runs at a time" across processes. On a PostgreSQL
 * server: a session advisory lock held on a dedicated connection, so it is
 * released the moment the holder's process dies (even `kill -9`: the server
 * sees the socket close) and a successor can take over. On embedded PGlite
 * the process is alone with its database anyway, so the lock is always held.
 */
export interface SingletonLock {
  /** Takes the lock if free (true), or confirms this process holds it; false when another process holds it. Never waits. */
  acquire(): Promise<boolean>;
  /** Gives the lock up (closes the dedicated connection). */
  release(): Promise<void>;
}

/** The embedded database's lock: always held. */
export function processLocalLock(): SingletonLock {
  return { acquire: async () => true, release: async () => {} };
}

/**
 * A session advisory lock `key` on its own connection to `url`. A dropped
 * connection loses the lock; the next `acquire` opens a new connection and
 * tries again. Every call is bounded by `timeoutMs`.
 */
export function advisoryLock(options: { url: string; auth?: PostgresAuth | undefined; key: number; timeoutMs: number; applicationName?: string }): SingletonLock {
  let client: pg.Client | undefined;
  let held = false;
  const drop = () => {
    const c = client;
    client = undefined;
    held = false;
    c?.end().catch(() => {});
  };
  return {
    async acquire() {
      if (held && client) return true;
      if (!client) {
        const c = new pg.Client({
          ...pgConnectionOptions({ url: options.url, auth: options.auth, connectTimeoutMs: options.timeoutMs }),
          connectionTimeoutMillis: options.timeoutMs,
          query_timeout: options.timeoutMs,
          application_name: options.applicationName ?? 'kidslearn-lake-writer',
        });
        c.on('error', () => {
          if (client === c) drop();
        });
        c.on('end', () => {
          if (client === c) drop();
        });
        try {
          await c.connect();
        } catch {
          await c.end().catch(() => {});
          return false;
        }
        client = c;
      }
      try {
        const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [options.key]);
        held = rows[0]?.locked === true;
        return held;
      } catch {
        drop();
        return false;
      }
    },
    async release() {
      const c = client;
      client = undefined;
      held = false;
      if (c) await c.end().catch(() => {});
    },
  };
}
