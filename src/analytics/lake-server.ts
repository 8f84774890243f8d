import type { Hono } from 'hono';
import type { BlobStore } from '../adapters/blobs/blob-store.ts';
import type { Database } from '../adapters/db/database.ts';
import { HEALTH_DB_TIMEOUT_MS } from '../features/system/system.routes.ts';
import { createWorkerHttpApp } from '../http/worker-app.ts';
import type { Metrics } from '../observability/metrics.ts';

/**
 * The lake writer's own small HTTP server (`LAKE_PORT`, default 3002), for
 * load balancers and Prometheus: `GET /health` is 200 when the database and
 * the blob store both answer within 1 s and 503 naming the one that did not;
 * `GET /metrics` is the process's Prometheus registry.
 */
export function createLakeHttpApp(deps: { database: Database; store: BlobStore; metrics: Pick<Metrics, 'registry'>; version: string }): Hono {
  return createWorkerHttpApp({
    name: 'lake writer',
    version: deps.version,
    metrics: deps.metrics,
    dependencies: {
      database: { kind: deps.database.kind, check: () => deps.database.ping(HEALTH_DB_TIMEOUT_MS) },
      blobStore: { kind: deps.store.kind, check: () => deps.store.ping(HEALTH_DB_TIMEOUT_MS) },
    },
  });
}
