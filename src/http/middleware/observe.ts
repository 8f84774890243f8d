import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import { accessLog, type AccessLogSeries, type Logger } from '../../observability/logger.ts';
import type { HttpSeries, Metrics } from '../../observability/metrics.ts';
import type { AppEnv } from '../context.ts';
import { requestHeader } from '../request-headers.ts';

/** Longest `X-Request-Id` accepted from a client; longer or odd ones are replaced. */
const REQUEST_ID = /^[\w\-=.:]{1,128}$/;

/** The API Gateway request id, when the app runs on Lambda (hono/aws-lambda puts the event's `requestContext` into `c.env`). */
function gatewayRequestId(env: unknown): string | undefined {
  const id = (env as { requestContext?: { requestId?: unknown } } | undefined)?.requestContext?.requestId;
  return typeof id === 'string' && REQUEST_ID.test(id) ? id : undefined;
}

/**
 * The outermost middleware: the request id (taken from `X-Request-Id` when it
 * is sane, else API Gateway's request id on Lambda, generated otherwise,
 * echoed on the response), the Prometheus
 * counters, and one JSON log line per request. The route label is the matched
 * pattern (`/api/lessons/:lessonId`), never the raw path, so metric
 * cardinality stays bounded. One layer instead of three keeps the cached read
 * path short.
 */
export function observe(logger: Logger, metrics: Metrics) {
  const log = accessLog(logger);
  // Per (method, status, route): the metric series and the log line's fields.
  const series = new Map<string, { metrics: HttpSeries; log: AccessLogSeries }>();
  const seriesOf = (method: string, route: string, status: number) => {
    const key = `${method} ${status} ${route}`;
    let found = series.get(key);
    if (found === undefined) {
      found = { metrics: metrics.httpSeries(method, route, status), log: log.series(method, route, status) };
      series.set(key, found);
    }
    return found;
  };
  return createMiddleware<AppEnv>(async (c, next) => {
    const start = performance.now();
    const given = requestHeader(c, 'x-request-id');
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : (gatewayRequestId(c.env) ?? crypto.randomUUID());
    c.set('requestId', requestId);
    await next();
    // Handlers on hot paths put the id into the response themselves (see
    // `sendJson`); touching `c.res.headers` would cost a Headers object.
    if (!c.get('requestIdSent')) c.res.headers.set('X-Request-Id', requestId);
    const ms = performance.now() - start;
    const matched = routePath(c, -1);
    const route = matched.endsWith('*') ? 'unmatched' : matched;
    const status = c.res.status;
    const method = c.req.method;
    const s = seriesOf(method, route, status);
    s.metrics.observe(ms / 1000);
    // The route pattern, not the path: paths hold child ids and join codes, and logs cannot be erased.
    log.write(requestId, c.get('appId'), s.log, Math.round(ms * 100) / 100);
  });
}
