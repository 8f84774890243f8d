import type { Hono } from 'hono';
import type { Database } from '../adapters/db/database.ts';
import type { JobQueue } from '../adapters/jobs/job-queue.ts';
import { HEALTH_DB_TIMEOUT_MS } from '../features/system/system.routes.ts';
import { createWorkerHttpApp } from '../http/worker-app.ts';
import type { Metrics } from '../observability/metrics.ts';

/**
 * The engine's own small HTTP server (`ENGINE_PORT`, default 3001), for
 * load balancers and Prometheus, not for clients: `GET /health` is 200 when
 * the database and the job queue both answer within 1 s and 503 naming the
 * one that did not; `GET /metrics` is the process's Prometheus registry
 * (jobs by state, attempts, plan latency, LLM and embedding calls).
 */
export function createEngineHttpApp(deps: { database: Database; queue: JobQueue; metrics: Pick<Metrics, 'registry'>; version: string }): Hono {
  return createWorkerHttpApp({
    name: 'engine',
    version: deps.version,
    metrics: deps.metrics,
    dependencies: {
      database: { kind: deps.database.kind, check: () => deps.database.ping(HEALTH_DB_TIMEOUT_MS) },
      queue: {
        kind: deps.queue.kind,
        check: async () => {
          let timer: NodeJS.Timeout | undefined;
          const health = await Promise.race([
            deps.queue.health(),
            new Promise<{ ok: false; reason: string }>((resolve) => (timer = setTimeout(() => resolve({ ok: false, reason: 'timeout' }), HEALTH_DB_TIMEOUT_MS))),
          ]);
          clearTimeout(timer);
          if (!health.ok) throw new Error(health.reason);
        },
      },
    },
  });
}
