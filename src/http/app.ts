import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { AppError } from '../domain/errors.ts';
import { authRoutes } from '../features/accounts/auth.routes.ts';
import { conceptsRoutes } from '../features/concepts/concepts.routes.ts';
import { familiesRoutes } from '../features/families/families.routes.ts';
import { lessonsRoutes } from '../features/lessons/lessons.routes.ts';
import { dashboardRoutes } from '../features/dashboard/dashboard.routes.ts';
import { contentRoutes, contentSchemaRoutes } from '../features/content/content.routes.ts';
import { adaptiveRoutes } from '../features/adaptive/adaptive.routes.ts';
import { plansRoutes } from '../features/plans/plans.routes.ts';
import { progressRoutes } from '../features/progress/progress.routes.ts';
import { reportsRoutes } from '../features/reports/reports.routes.ts';
import { eventsRoutes } from '../features/events/events.routes.ts';
import { systemRoutes } from '../features/system/system.routes.ts';
import { lakeStatusRoutes } from '../features/lake/lake-status.routes.ts';
import type { Container } from '../wiring/container.ts';
import type { AppEnv } from './context.ts';
import { errorResponse } from './errors.ts';
import { appFromHeader, authenticate, requireFunction } from './middleware/auth.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { clientIp } from './request-headers.ts';
import { BODY_METHODS, bodyRules, LARGE_BODY_ROUTES, largeBodyLimit } from './middleware/body-rules.ts';
import { observe } from './middleware/observe.ts';
import { responseHeaders } from './middleware/response-headers.ts';
import { docsRoutes } from './docs.ts';
import { completeErrorResponses } from './openapi.ts';
import { validationHook } from './validation.ts';

/** OpenAPI document metadata. */
const API_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'kidslearn API',
    version: '0.1.0',
    description: 'Backend for children’s learning apps. Every request is bound to one app: by the token’s `app` claim, or by `X-App-Id` on public routes.',
  },
};

/** The /auth routes that run scrypt on every call (sign-in, sign-up, its confirmation, password reset, PIN sign-in). */
const HASHING_AUTH_ROUTES = ['/auth/login', '/auth/register', '/auth/email/verify', '/auth/password/reset', '/auth/pin'] as const;

/**
 * Builds the HTTP application from a container of adapters. The Node server,
 * tests and (later) Lambda handlers all serve exactly this app.
 */
export function createHttpApp(container: Container): OpenAPIHono<AppEnv> {
  const { logger, metrics, apps, rateLimiter, rateLimits, config } = container;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use('*', observe(logger, metrics));
  app.use('*', responseHeaders);
  if (container.config.corsOrigins.length) {
    const origins = container.config.corsOrigins;
    app.use(
      '*',
      cors({
        origin: origins.includes('*') ? '*' : origins,
        allowHeaders: ['Content-Type', 'Authorization', 'X-Request-Id', 'X-App-Id', 'Idempotency-Key'],
        allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        exposeHeaders: ['X-Request-Id', 'X-Cache', 'Retry-After', 'Location'],
        maxAge: 3600,
      }),
    );
  }
  app.on(BODY_METHODS, '*', bodyRules);
  // Route groups: public (/health, /auth/*, /openapi.json, /docs, /.well-known/*,
  // /admin/dashboard[/assets/*]), signed-in (/api/*), admin (/admin/*). Anything else is not served.
  app.use('/auth/*', rateLimit(rateLimiter, rateLimits.authPerIp, (c) => clientIp(c, config.trustProxy)), appFromHeader(apps));
  // Routes that hash a password or PIN (scrypt) get a tighter per-address budget than /auth as a whole.
  for (const path of HASHING_AUTH_ROUTES) app.use(path, rateLimit(rateLimiter, rateLimits.authHashPerIp, (c) => clientIp(c, config.trustProxy)));
  const known = (token: string) => container.tokens.verified(token);
  // The admin dashboard's page and files are public (the page signs in itself,
  // like any client, then sends the admin's token to /admin/reports): mounted
  // before the /admin/* sign-in check, they answer without reaching it.
  app.route('/', dashboardRoutes());
  app.use('/api/*', authenticate(container.verifyToken, apps, { limiter: rateLimiter, rule: rateLimits.apiPerToken }, known));
  // Admin tokens are held to the same per-caller rate as any other: a leaked
  // or scripted admin token must not get unlimited writes.
  app.use('/admin/*', authenticate(container.verifyToken, apps, { limiter: rateLimiter, rule: rateLimits.apiPerToken }, known), requireFunction('admin.area'));
  for (const path of LARGE_BODY_ROUTES) app.use(path, largeBodyLimit);

  app.route('/', systemRoutes({ database: container.database, cache: container.cache, version: config.version, metrics, apps }));
  app.route(
    '/',
    authRoutes({
      accounts: container.accounts,
      children: container.children,
      tokens: container.tokens,
      limiter: rateLimiter,
      limits: { perClient: rateLimits.signInPerClient, perAccount: rateLimits.signInPerAccount, perDevice: rateLimits.signInPerDevice },
      clientOf: (c) => clientIp(c, config.trustProxy),
    }),
  );
  app.route('/', conceptsRoutes(container.concepts));
  app.route('/', lessonsRoutes(container.lessons));
  app.route('/', contentRoutes(container.content, container.lessons));
  app.route('/', contentSchemaRoutes());
  app.route('/', familiesRoutes(container.children, container.classrooms));
  app.route('/', progressRoutes(container.progress));
  app.route('/', eventsRoutes(container.events));
  app.route('/', adaptiveRoutes(container.analysis, container.curriculumIndex));
  app.route('/', plansRoutes(container.plans));
  app.route('/', lakeStatusRoutes(container.lakeStatus));
  app.route('/', reportsRoutes(container.reports));
  app.route('/', docsRoutes());

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  // Built once, on first request (every route is registered by then), and
  // completed with the error statuses middleware and declared codes add.
  let document: string | undefined;
  app.get('/openapi.json', (c) => {
    document ??= JSON.stringify(completeErrorResponses(app.getOpenAPI31Document(API_INFO)));
    return c.body(document, 200, { 'content-type': 'application/json' });
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/openapi.json',
    tags: ['system'],
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: { description: 'OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
  });

  let table: { method: string; regex: RegExp }[] | undefined;
  const methodsByPattern = () => (table ??= routeTable(app));
  app.notFound((c) => {
    const allowed = methodsByPattern()
      .filter((r) => r.regex.test(c.req.path))
      .map((r) => r.method);
    if (allowed.length) {
      c.header('Allow', [...new Set(allowed)].join(', '));
      return errorResponse(c, new AppError('method_not_allowed', 'method_not_allowed', `${c.req.method} is not allowed here; use ${[...new Set(allowed)].join(', ')}`), logger);
    }
    return errorResponse(c, new AppError('not_found', 'route_not_found', `No route for ${c.req.method} ${c.req.path}`), logger);
  });
  app.onError((error, c) => errorResponse(c, error, logger));
  return app;
}

/** The concrete routes an app serves (method + path pattern), without middleware. */
export function servedRoutes(app: OpenAPIHono<AppEnv>): { method: string; path: string }[] {
  const seen = new Set<string>();
  const out: { method: string; path: string }[] = [];
  for (const r of app.routes) {
    if (r.method === 'ALL' || r.path.includes('*')) continue;
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ method: r.method, path: r.path });
  }
  return out;
}

/** Path patterns compiled to regexes, to tell 405 from 404. */
function routeTable(app: OpenAPIHono<AppEnv>): { method: string; regex: RegExp }[] {
  return servedRoutes(app).map((r) => ({
    method: r.method,
    regex: new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\/:[^/]+/g, '/[^/]+')}/?$`),
  }));
}
