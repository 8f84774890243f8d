import { Hono } from 'hono';
import type { BlobStore } from '../adapters/blobs/blob-store.ts';
import type { Database } from '../adapters/db/database.ts';
import { HEALTH_DB_TIMEOUT_MS, probe } from '../features/system/system.routes.ts';
import type { Metrics } from '../observability/metrics.ts';

/**
 * The lake writer's own small HTTP server (`LAKE_PORT`, default 3002), for
 * load balancers and Prometheus: `GET /health` is 200 when the database and
 * the blob store both answer within 1 s and 503 naming the one that did not;
 * `GET /metrics` is the process's Prometheus registry.
 */
export function createLakeHttpApp(deps: { database: Database; store: BlobStore; metrics: Pick<Metrics, 'registry'>; version: string }): Hono {
  const app = new Hono();
  app.get('/health', async (c) => {
    const [db, store] = await Promise.all([probe(() => deps.database.ping(HEALTH_DB_TIMEOUT_MS)), probe(() => deps.store.ping(HEALTH_DB_TIMEOUT_MS))]);
    const ok = db.up && store.up;
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        status: ok ? 'ok' : 'down',
        version: deps.version,
        database: { status: db.up ? 'up' : 'down', kind: deps.database.kind, latencyMs: db.latencyMs },
        blobStore: { status: store.up ? 'up' : 'down', kind: deps.store.kind, latencyMs: store.latencyMs },
      },
      ok ? 200 : 503,
    );
  });
  app.get('/metrics', async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType }));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: 'The lake writer serves /health and /metrics only' } }, 404));
  return app;
}
