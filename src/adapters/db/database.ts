import type { Kysely } from 'kysely';
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
