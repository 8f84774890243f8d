import { Hono } from 'hono';
import type { Database } from '../adapters/db/database.ts';
import type { JobQueue } from '../adapters/jobs/job-queue.ts';
import { HEALTH_DB_TIMEOUT_MS, probe } from '../features/system/system.routes.ts';
import type { Metrics } from '../observability/metrics.ts';

/**
 * The engine's own small HTTP server (`ENGINE_PORT`, default 3001), for
 * load balancers and Prometheus, not for clients: `GET /health` is 200 when
 * the database and the job queue both answer within 1 s and 503 naming the
 * one that did not; `GET /metrics` is the process's Prometheus registry
 * (jobs by state, attempts, plan latency, LLM and embedding calls).
 */
export function createEngineHttpApp(deps: { database: Database; queue: JobQueue; metrics: Pick<Metrics, 'registry'>; version: string }): Hono {
  const app = new Hono();
  app.get('/health', async (c) => {
    const [db, queue] = await Promise.all([
      probe(() => deps.database.ping(HEALTH_DB_TIMEOUT_MS)),
      probe(async () => {
        let timer: NodeJS.Timeout | undefined;
        const health = await Promise.race([
          deps.queue.health(),
          new Promise<{ ok: false; reason: string }>((resolve) => (timer = setTimeout(() => resolve({ ok: false, reason: 'timeout' }), HEALTH_DB_TIMEOUT_MS))),
        ]);
        clearTimeout(timer);
        if (!health.ok) throw new Error(health.reason);
      }),
    ]);
    const ok = db.up && queue.up;
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        status: ok ? 'ok' : 'down',
        version: deps.version,
        database: { status: db.up ? 'up' : 'down', kind: deps.database.kind, latencyMs: db.latencyMs },
        queue: { status: queue.up ? 'up' : 'down', kind: deps.queue.kind, latencyMs: queue.latencyMs },
      },
      ok ? 200 : 503,
    );
  });
  app.get('/metrics', async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType }));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: 'The engine serves /health and /metrics only' } }, 404));
  return app;
}
