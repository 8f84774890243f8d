import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { pgConnectionOptions, type PostgresAuth } from './connection.ts';
import { databaseUnavailable, PREPARED, withTimeout, type Database } from './database.ts';
import type { Tables } from './tables.ts';

/**
 * A PostgreSQL server through a `pg` pool. Timeouts: `connectionTimeoutMillis`
 * bounds waiting for a connection, `statement_timeout` makes the server cancel
 * long statements, and `query_timeout` bounds the client side (network).
 * Whatever the network does, the process survives: every client has an
 * `error` listener from the moment the pool creates it, a client whose
 * connection failed is destroyed instead of going back to the pool, and the
 * caller gets 503 `database_unavailable` (see {@link toDatabaseError}).
 */
export async function openPostgresDatabase(options: {
  url: string;
  /** Password in the URL (default) or an RDS IAM auth token per new connection (adapters/db/connection.ts). */
  auth?: PostgresAuth | undefined;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName?: string;
}): Promise<Database> {
  const pool = new pg.Pool({
    ...pgConnectionOptions(options),
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'kidslearn',
  });
  // The pool re-emits an idle client's error (server restart, dropped
  // socket) after removing the client; without a listener that would crash
  // the process. Nothing else to do: the next checkout opens a new client.
  pool.on('error', () => {});
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
  return {
    kind: 'postgres',
    db,
    async ping(timeoutMs) {
      await withTimeout(sql`select 1`.execute(db), timeoutMs, () => databaseUnavailable('Database did not answer in time'));
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      await db.destroy();
    },
  };
}

/**
 * The pool as Kysely sees it, except that a statement starting with
 * {@link PREPARED} runs as a named prepared statement (named after a hash of
 * its text, so one name never stands for two texts): parsed and planned once
 * per connection.
 */
function preparingPool(pool: pg.Pool): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  // Clients whose connection failed: never queried again, destroyed on release.
  const broken = new WeakSet<pg.ClientBase>();
  // A checked-out client whose socket drops emits 'error' on itself (the
  // pool listens only while it is idle): unhandled, that kills the process.
  // 'connect' fires synchronously as the pool creates each client, before
  // its first checkout, so every client is covered for its whole life.
  pool.on('connect', (client) => {
    client.on('error', () => broken.add(client));
  });
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name) {
      name = `k_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      if (names.size < 10_000) names.set(text, name);
    }
    return name;
  };
  return {
    Client: pg.Client,
    options: pool.options,
    end: () => pool.end(),
    async connect() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw toDatabaseError(error, 'Could not get a database connection in time');
      }
      let w = wrapped.get(client);
      if (!w) {
        const run = async (text: string, values: readonly unknown[] | undefined) => {
          // A lost connection would fail anyway, or (after a read timeout) queue
          // behind a statement that never finishes: fail at once instead.
          if (broken.has(client)) throw databaseUnavailable('The database connection was lost');
          try {
            return text.startsWith(PREPARED)
              ? await client.query({ name: nameOf(text), text, values: values as unknown[] })
              : await client.query(text, values as unknown[]);
          } catch (error) {
            if (connectionFailure(error) === 'broken') broken.add(client);
            throw toDatabaseError(error, 'The database did not answer in time');
          }
        };
        const query = ((textOrCursor: unknown, values?: readonly unknown[]) =>
          typeof textOrCursor === 'string'
            ? run(textOrCursor, values)
            : // A submittable (cursor) is returned as is: pg hands it back synchronously.
              client.query(textOrCursor as string, values as unknown[])) as unknown as PostgresPoolClient['query'];
        w = {
          query,
          // Kysely passes true for a connection it discarded; a broken one is destroyed too, so the pool opens a fresh one.
          release: (destroy?: boolean) => client.release(destroy === true || broken.has(client)),
          get processID() {
            return (client as unknown as { processID?: number }).processID;
          },
        };
        wrapped.set(client, w);
      }
      return w;
    },
  };
}

/** Errno codes of a socket that could not connect or was cut. */
const NETWORK_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * `pg`'s own connection failures are plain Errors without a SQLSTATE; these
 * are their messages in pg 8 / pg-pool 3 (the fault tests notice if an
 * upgrade renames them: the answer would turn from 503 into 500).
 */
const PG_CONNECTION_MESSAGE = /^(Connection terminated|Query read timeout|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect)/;

/**
 * Whether `error` means the database cannot serve now, and if so whether the
 * connection it happened on is unusable (`broken`: destroy it) or merely the
 * database was too slow or too full (`busy`: the connection is fine).
 * Anything else (constraint violations, syntax errors) is not ours to map.
 */
function connectionFailure(error: unknown): 'broken' | 'busy' | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (error instanceof pg.DatabaseError && typeof code === 'string') {
    // Class 08: connection exception; 57P01-03: the server is shutting down or starting.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return 'broken';
    // 57014: statement_timeout cancelled the statement; 53300: too many connections.
    if (code === '57014' || code === '53300') return 'busy';
    return undefined;
  }
  if (typeof code === 'string' && NETWORK_ERRNO.has(code)) return 'broken';
  if (PG_CONNECTION_MESSAGE.test(error.message)) return 'broken';
  return undefined;
}

/** 503 `database_unavailable` for a connection failure or timeout; any other error unchanged. */
function toDatabaseError(error: unknown, message: string): unknown {
  return connectionFailure(error) === undefined ? error : databaseUnavailable(message, error);
}
