import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { AppError } from '../../domain/errors.ts';
import { PREPARED, withTimeout, type Database } from './database.ts';
import type { Tables } from './tables.ts';

/**
 * A PostgreSQL server through a `pg` pool. Timeouts: `connectionTimeoutMillis`
 * bounds waiting for a connection, `statement_timeout` makes the server cancel
 * long statements, and `query_timeout` bounds the client side (network).
 */
export async function openPostgresDatabase(options: {
  url: string;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName?: string;
}): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'kidslearn',
  });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
  return {
    kind: 'postgres',
    db,
    async ping(timeoutMs) {
      await withTimeout(sql`select 1`.execute(db), timeoutMs, () => new AppError('unavailable', 'database_unavailable', 'Database did not answer in time'));
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
      const client = await pool.connect();
      let w = wrapped.get(client);
      if (!w) {
        const query = ((textOrCursor: unknown, values?: readonly unknown[]) =>
          typeof textOrCursor === 'string' && textOrCursor.startsWith(PREPARED)
            ? client.query({ name: nameOf(textOrCursor), text: textOrCursor, values: values as unknown[] })
            : client.query(textOrCursor as string, values as unknown[])) as unknown as PostgresPoolClient['query'];
        w = {
          query,
          release: (destroy?: boolean) => client.release(destroy),
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
