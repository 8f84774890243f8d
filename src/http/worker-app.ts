import { Hono } from 'hono';
import { probe } from '../features/system/system.routes.ts';
import type { Metrics } from '../observability/metrics.ts';

/** One dependency a worker's `/health` checks: its kind (for the body) and a check that rejects when it is down. */
export interface WorkerDependency {
  kind: string;
  check: () => Promise<void>;
}

/**
 * The small HTTP server of a worker process (the engine, the lake writer),
 * for load balancers and Prometheus, not for clients: `GET /health` is 200
 * when every dependency answers and 503 naming the ones that did not (each
 * with its status, kind and latency); `GET /metrics` is the process's
 * Prometheus registry; anything else is 404.
 */
export function createWorkerHttpApp(deps: { name: string; version: string; metrics: Pick<Metrics, 'registry'>; dependencies: Record<string, WorkerDependency> }): Hono {
  const app = new Hono();
  app.get('/health', async (c) => {
    const entries = Object.entries(deps.dependencies);
    const results = await Promise.all(entries.map(([, d]) => probe(d.check)));
    const ok = results.every((r) => r.up);
    c.header('Cache-Control', 'no-store');
    const body: Record<string, unknown> = { status: ok ? 'ok' : 'down', version: deps.version };
    entries.forEach(([name, d], i) => (body[name] = { status: results[i]!.up ? 'up' : 'down', kind: d.kind, latencyMs: results[i]!.latencyMs }));
    return c.json(body, ok ? 200 : 503);
  });
  app.get('/metrics', async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType }));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `The ${deps.name} serves /health and /metrics only` } }, 404));
  return app;
}
