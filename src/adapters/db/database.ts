import type { PGlite } from '@electric-sql/pglite';
import type { Kysely } from 'kysely';
import { AppError } from '../../domain/errors.ts';
import type { Tables } from './tables.ts';

/**
 * The database port. Both adapters (embedded PGlite and a PostgreSQL server
 * through `pg`) expose the same Kysely instance type, so repositories are
 * written once in PostgreSQL dialect and run unchanged on either.
 */
export interface Database {
  /** Which adapter this is; only for logs, health and metrics. */
  readonly kind: 'pglite' | 'postgres';
  /** The query builder. Every query it runs is bounded by a timeout. */
  readonly db: Kysely<Tables>;
  /** Resolves when the database answers a trivial query within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  /** Connection pool usage, for `/metrics`. */
  poolStats(): { total: number; idle: number; waiting: number };
  /** Closes all connections; pending queries are allowed to finish first. */
  close(): Promise<void>;
  /**
   * Embedded only: the one PGlite session, for another library that speaks
   * SQL to the same database (the job queue). `run` holds the connection
   * lock Kysely's queries take, so the library's statements are serialised
   * with the application's (a multi-statement block and its rollback run
   * with nothing in between) and waiting for it is bounded like any query.
   * Absent on the server adapter: there, such a library opens its own pool
   * from the URL.
   */
  readonly embedded?: EmbeddedSession;
}

/** Exclusive use of the embedded database's single connection. */
export interface EmbeddedSession {
  /** Runs `fn` holding the connection; rejects with `database_unavailable` if it is not free within the acquire timeout. */
  run<T>(fn: (pglite: PGlite) => Promise<T>): Promise<T>;
}

/**
 * Prefix of a statement whose text never varies (only its parameters do).
 * The server adapter prepares such a statement once per connection, so
 * PostgreSQL parses and plans it once instead of on every call; embedded
 * PGlite reads it as the comment it is. Statements that vary in shape (IN
 * lists, VALUES rows) must not carry it: each variant would stay prepared.
 */
export const PREPARED = '/* prepared */ ';

/** Rejects with `error()` if `promise` does not settle within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Seconds a client is asked to wait (`Retry-After`) after a 503
 * `database_unavailable`: long enough for the pool to replace a dropped
 * connection or a restarted server to accept again, short enough that a
 * child's app retries before anyone notices.
 */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * The one error every database adapter raises when the database cannot
 * serve now (connection refused, dropped or stalled, a wait or statement
 * past its timeout): 503 `database_unavailable` with `Retry-After`. The
 * driver's error is kept as `cause` for the log, never sent to clients.
 */
export function databaseUnavailable(message: string, cause?: unknown): AppError {
  return new AppError('unavailable', 'database_unavailable', message, { details: { retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS }, cause });
}
