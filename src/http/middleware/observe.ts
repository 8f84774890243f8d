import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { AppEnv } from '../context.ts';

/**
 * One JSON log line and the Prometheus counters per request. The route label
 * is the matched pattern (`/api/lessons/:lessonId`), never the raw path, so
 * metric cardinality stays bounded.
 */
export function observe(logger: Logger, metrics: Metrics) {
  // Labelled children are looked up once per (method, route, status): prom-client
  // would otherwise hash the label set on every request.
  const children = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();
  const series = (method: string, route: string, status: string) => {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (!child) {
      child = { count: metrics.httpRequests.labels(method, route, status), duration: metrics.httpDuration.labels(method, route, status) };
      children.set(key, child);
    }
    return child;
  };
  return createMiddleware<AppEnv>(async (c, next) => {
    const start = performance.now();
    await next();
    const ms = performance.now() - start;
    const matched = routePath(c, -1);
    const route = matched.endsWith('*') ? 'unmatched' : matched;
    const status = String(c.res.status);
    const method = c.req.method;
    const child = series(method, route, status);
    child.count.inc();
    child.duration.observe(ms / 1000);
    logger.info(
      { requestId: c.get('requestId'), app: c.get('appId'), method, route, path: c.req.path, status: c.res.status, ms: Math.round(ms * 100) / 100 },
      'request',
    );
  });
}
