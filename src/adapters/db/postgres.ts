import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { AppError } from '../../domain/errors.ts';
import { withTimeout, type Database } from './database.ts';
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
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
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
