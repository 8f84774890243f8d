import type * as DuckDB from '@duckdb/node-api';
import { AppError } from '../domain/errors.ts';

/**
 * DuckDB (`@duckdb/node-api`, a native module), loaded on first use rather
 * than imported at the top of every analytics module: the API process only
 * needs it when a lake report or query runs, and the Lambda bundle
 * (scripts/build-lambda.ts) leaves it out entirely (on AWS the routes that
 * query the lake run on the lake API service on Fargate, infra/lib/engine-stack.ts).
 * A failed load is not remembered.
 */

let loading: Promise<typeof DuckDB> | undefined;

/**
 * 503 `lake_query_unavailable`: DuckDB cannot be loaded in this process, so
 * nothing here can query the lake. Deliberate in the Lambda bundles; on AWS
 * the routes that query the lake are served by the lake API service
 * (docs/deploy-aws.md), so a request reaching a function is misrouted.
 */
export function lakeQueryUnavailable(cause: unknown): AppError {
  return new AppError('unavailable', 'lake_query_unavailable', 'Lake queries are not available in this process: DuckDB (@duckdb/node-api) cannot be loaded here', { cause });
}

/** The `@duckdb/node-api` module; 503 `lake_query_unavailable` when it cannot be loaded. */
export function loadDuckDB(): Promise<typeof DuckDB> {
  loading ??= import('@duckdb/node-api').catch((error: unknown) => {
    loading = undefined;
    throw lakeQueryUnavailable(error);
  });
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
