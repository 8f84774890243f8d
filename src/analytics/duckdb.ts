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
