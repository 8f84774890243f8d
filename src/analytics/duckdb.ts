import type * as DuckDB from '@duckdb/node-api';

/**
 * DuckDB (`@duckdb/node-api`, a native module), loaded on first use rather
 * than imported at the top of every analytics module: the API process only
 * needs it when a lake report or query runs, and the Lambda bundle
 * (scripts/build-lambda.ts) leaves it out entirely (on AWS the lake is
 * queried with Athena). A failed load is not remembered.
 */

let loading: Promise<typeof DuckDB> | undefined;

/** The `@duckdb/node-api` module. */
export function loadDuckDB(): Promise<typeof DuckDB> {
  loading ??= import('@duckdb/node-api');
  loading.catch(() => (loading = undefined));
  return loading;
}

/**
 * A DuckDB instance for the lake, in memory. DuckDB's external file cache
 * (on by default since 1.3) is turned off: lake files are rewritten under
 * the same name (erasure, rollups rebuilt), and a long-lived instance must
 * never answer from the bytes of a file that was replaced — stale figures,
 * a decompression error, or an erased learner's rows.
 */
export async function openLakeDuckDB(options: Record<string, string> = {}): Promise<DuckDB.DuckDBInstance> {
  const { DuckDBInstance } = await loadDuckDB();
  return DuckDBInstance.create(':memory:', { ...options, enable_external_file_cache: 'false' });
}
