import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { createMiddleware } from 'hono/factory';
import { AppError } from '../domain/errors.ts';
import type { Container } from '../wiring/container.ts';
import type { AppEnv } from './context.ts';
import { errorResponse } from './errors.ts';
import { appFromHeader, authenticate, requireFunction } from './middleware/auth.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { clientIp } from './request-headers.ts';
import { BODY_METHODS, bodyRules, LARGE_BODY_ROUTES, largeBodyLimit } from './middleware/body-rules.ts';
import { observe } from './middleware/observe.ts';
import { responseHeaders } from './middleware/response-headers.ts';
import { completeErrorResponses } from './openapi.ts';
import { validationHook } from './validation.ts';
import { ROUTE_GROUPS, RouteGroupLoader, type RouteGroup } from './route-groups.ts';

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
 * tests and Lambda handlers all serve exactly this app.
 *
 * Each feature's routes (a route group, http/route-groups.ts) are built on
 * the first request under one of its path prefixes: its module is imported
 * then (on Lambda, a chunk of the bundle read and compiled only then) and the
 * app is rebuilt with it, in the same order as if every group had been
 * there from the start. `/openapi.json` loads every group. The returned app
 * routes each request to the current build; {@link loadAllRoutes} loads
 * every group up front (the Node server does, before it listens). Routes
 * added to the returned app itself are not served: they belong in a group.
 * `routeGroups` replaces http/route-groups.ts's list (tests).
 */
export function createHttpApp(container: Container, options: { routeGroups?: readonly RouteGroup[] } = {}): OpenAPIHono<AppEnv> {
  const { logger, metrics, apps, rateLimiter, rateLimits, config } = container;
  let current: OpenAPIHono<AppEnv> | undefined;
  const groups = new RouteGroupLoader(options.routeGroups ?? ROUTE_GROUPS, (group) => group.load(container), () => (current = undefined));
  /** Requests whose route groups failed to load, with the error: answered by `onError` like any other failure. */
  const failedLoads = new WeakMap<Request, unknown>();

  // The middleware, built once and mounted again in each build.
  const observed = observe(logger, metrics);
  const corsRules = config.corsOrigins.length
    ? cors({
        origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
        allowHeaders: ['Content-Type', 'Authorization', 'X-Request-Id', 'X-App-Id', 'Idempotency-Key'],
        allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        exposeHeaders: ['X-Request-Id', 'X-Cache', 'Retry-After', 'Location'],
        maxAge: 3600,
      })
    : undefined;
  const authLimit = rateLimit(rateLimiter, rateLimits.authPerIp, (c) => clientIp(c, config.trustProxy));
  const authApp = appFromHeader(apps);
  // Routes that hash a password or PIN (scrypt) get a tighter per-address budget than /auth as a whole.
  const hashLimit = rateLimit(rateLimiter, rateLimits.authHashPerIp, (c) => clientIp(c, config.trustProxy));
  const known = (token: string) => container.tokens.verified(token);
  const signedIn = authenticate(container.verifyToken, apps, { limiter: rateLimiter, rule: rateLimits.apiPerToken }, known);
  const adminArea = requireFunction('admin.area');
  const loadFailure = createMiddleware<AppEnv>(async (c, next) => {
    if (failedLoads.has(c.req.raw)) throw failedLoads.get(c.req.raw);
    await next();
  });
  // Built once, on the first request for it (every group loaded then), and
  // completed with the error statuses middleware and declared codes add.
  let document: string | undefined;
  const openApiDocument = createMiddleware<AppEnv>(async (c) => {
    if (!document) {
      await groups.loadAll();
      document = JSON.stringify(completeErrorResponses((current ??= build()).getOpenAPI31Document(API_INFO)));
    }
    return c.body(document, 200, { 'content-type': 'application/json' });
  });

  /** The app with the groups loaded so far. */
  function build(): OpenAPIHono<AppEnv> {
    const loaded = groups.loaded();
    const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
    app.use('*', observed);
    app.use('*', responseHeaders);
    if (corsRules) app.use('*', corsRules);
    app.use('*', loadFailure);
    app.on(BODY_METHODS, '*', bodyRules);
    // Route groups: public (/health, /auth/*, /openapi.json, /docs, /.well-known/*,
    // /admin/dashboard[/assets/*]), signed-in (/api/*), admin (/admin/*). Anything else is not served.
    app.use('/auth/*', authLimit, authApp);
    for (const path of HASHING_AUTH_ROUTES) app.use(path, hashLimit);
    // The admin dashboard's page and files are public (the page signs in itself,
    // like any client, then sends the admin's token to /admin/reports): mounted
    // before the /admin/* sign-in check, they answer without reaching it.
    for (const { group, routes } of loaded) if (group.beforeSignIn) app.route('/', routes);
    app.use('/api/*', signedIn);
    // Admin tokens are held to the same per-caller rate as any other: a leaked
    // or scripted admin token must not get unlimited writes.
    app.use('/admin/*', signedIn, adminArea);
    for (const path of LARGE_BODY_ROUTES) app.use(path, largeBodyLimit);

    for (const { group, routes } of loaded) if (!group.beforeSignIn) app.route('/', routes);

    app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    app.get('/openapi.json', openApiDocument);
    app.openAPIRegistry.registerPath({
      method: 'get',
      path: '/openapi.json',
      tags: ['system'],
      summary: 'This OpenAPI 3.1 document',
      responses: { 200: { description: 'OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
    });

    // Every group a path is under is loaded before it is routed here, so these routes are all that could match it.
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

  const facade = new OpenAPIHono<AppEnv>();
  facade.fetch = (request, env, executionCtx) => {
    const pending = groups.complete ? undefined : groups.pendingFor(facade.getPath(request, { env }));
    if (!pending) return (current ??= build()).fetch(request, env, executionCtx);
    return pending
      .catch((error: unknown) => void failedLoads.set(request, error))
      .then(() => (current ??= build()).fetch(request, env, executionCtx));
  };
  complete.set(facade, async () => {
    await groups.loadAll();
    return (current ??= build());
  });
  return facade;
}

/** The apps {@link createHttpApp} made, and how to get each one with every route group loaded. */
const complete = new WeakMap<OpenAPIHono<AppEnv>, () => Promise<OpenAPIHono<AppEnv>>>();

/** Loads every route group of an app from {@link createHttpApp} (a long-lived server does so before it listens); resolves with the app as built then. */
export function loadAllRoutes(app: OpenAPIHono<AppEnv>): Promise<OpenAPIHono<AppEnv>> {
  const load = complete.get(app);
  if (!load) throw new TypeError('not an app made by createHttpApp');
  return load();
}

/** The concrete routes an app from {@link createHttpApp} serves (method + path pattern), without middleware: every route group's. */
export async function servedRoutes(app: OpenAPIHono<AppEnv>): Promise<{ method: string; path: string }[]> {
  return routesOf(await loadAllRoutes(app));
}

/** The concrete routes of `app` as built (method + path pattern), without middleware. */
function routesOf(app: OpenAPIHono<AppEnv>): { method: string; path: string }[] {
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
  return routesOf(app).map((r) => ({
    method: r.method,
    regex: new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\/:[^/]+/g, '/[^/]+')}/?$`),
  }));
}
