import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Cache } from '../../adapters/cache/cache.ts';
import type { Database } from '../../adapters/db/database.ts';
import type { AppsService } from '../apps/apps.service.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { appFromHeader } from '../../http/middleware/auth.ts';
import { validationHook } from '../../http/validation.ts';
import type { Metrics } from '../../observability/metrics.ts';

/** How long `/health` waits for the database before answering 503. */
export const HEALTH_DB_TIMEOUT_MS = 1000;

const DependencyStatus = z.object({ status: z.enum(['up', 'down']), kind: z.string(), latencyMs: z.number().optional() });
const Health = z
  .object({
    status: z.enum(['ok', 'degraded', 'down']),
    version: z.string(),
    database: DependencyStatus,
    cache: DependencyStatus,
  })
  .openapi('Health');

const health = createRoute({
  method: 'get',
  path: '/health',
  tags: ['system'],
  summary: 'Liveness and dependency status',
  description:
    '200 when the database answers within 1 s. A cache that is down (Redis unreachable or reconnecting in the background) only degrades: ' +
    '200 with `status: "degraded"` and `cache.status: "down"`, while lessons are read from the database. 503 when the database does not answer.',
  responses: {
    200: { description: 'Healthy or degraded', content: { 'application/json': { schema: Health } } },
    503: { description: 'Database unavailable', content: { 'application/json': { schema: Health } } },
  },
});

const metrics = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['system'],
  summary: 'Prometheus metrics',
  responses: { 200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: z.string() } } } },
});

const appInfo = createRoute({
  method: 'get',
  path: '/app',
  tags: ['system'],
  summary: 'The app named by X-App-Id (public; lets a client check its configuration)',
  request: { headers: z.object({ 'x-app-id': z.string().openapi({ example: 'mathkids' }) }) },
  responses: {
    200: { description: 'The app', content: { 'application/json': { schema: z.object({ id: z.string(), name: z.string() }).openapi('App') } } },
    ...errorResponses(400, 404),
  },
});

export async function probe(fn: () => Promise<void>): Promise<{ up: boolean; latencyMs: number }> {
  const start = performance.now();
  try {
    await fn();
    return { up: true, latencyMs: Math.round((performance.now() - start) * 100) / 100 };
  } catch {
    return { up: false, latencyMs: Math.round((performance.now() - start) * 100) / 100 };
  }
}

/** What the system routes read: the dependencies they probe, the version, metrics and the app registry. */
export interface SystemDeps {
  database: Pick<Database, 'kind' | 'ping'>;
  cache: Pick<Cache, 'kind' | 'ping'>;
  version: string;
  metrics: Pick<Metrics, 'registry'>;
  apps: AppsService;
}

/** Public operational routes: health, metrics, app info (the API docs are `http/docs.ts`). */
export function systemRoutes(deps: SystemDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(health, async (c) => {
    const [db, cache] = await Promise.all([
      probe(() => deps.database.ping(HEALTH_DB_TIMEOUT_MS)),
      probe(() => deps.cache.ping(HEALTH_DB_TIMEOUT_MS)),
    ]);
    const body = {
      status: !db.up ? ('down' as const) : cache.up ? ('ok' as const) : ('degraded' as const),
      version: deps.version,
      database: { status: db.up ? ('up' as const) : ('down' as const), kind: deps.database.kind, latencyMs: db.latencyMs },
      cache: { status: cache.up ? ('up' as const) : ('down' as const), kind: deps.cache.kind, latencyMs: cache.latencyMs },
    };
    c.header('Cache-Control', 'no-store');
    return db.up ? c.json(body, 200) : c.json(body, 503);
  });

  app.openapi(metrics, async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.text(text, 200, { 'Content-Type': deps.metrics.registry.contentType });
  });

  app.use('/app', appFromHeader(deps.apps));
  app.openapi(appInfo, async (c) => {
    const found = await deps.apps.require(c.req.valid('header')['x-app-id']);
    return c.json({ id: found.id, name: found.name }, 200);
  });

  return app;
}
