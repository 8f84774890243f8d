import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Container } from '../wiring/container.ts';
import type { AppEnv } from './context.ts';
import { clientIp } from './request-headers.ts';

/**
 * A group of routes (one feature's routes module), built on first use: its
 * module is imported with `import()` (a chunk of its own in the Lambda
 * bundle, scripts/build-lambda.ts) and its Zod schemas and routes built only
 * when a request reaches one of its `prefixes`. A cold start serving
 * `GET /api/lessons` loads the lessons group and no other.
 */
export interface RouteGroup {
  name: string;
  /**
   * Path prefixes, whole segments without a trailing slash: every route of
   * the group starts with one of them followed by `/` or the end of the path
   * (test/unit/route-groups.test.ts checks it). A request whose path is
   * `prefix` or starts with `prefix/` loads the group before it is routed,
   * so every route that could match the path is in place, and 404 and 405
   * answer as if every group were loaded.
   */
  prefixes: readonly string[];
  /**
   * Mounted before the `/api/*` and `/admin/*` sign-in checks: public pages
   * under `/admin` (the dashboard signs in itself).
   */
  beforeSignIn?: boolean;
  /** Imports the group's module and builds its routes from the container. */
  load(container: Container): Promise<OpenAPIHono<AppEnv>>;
}

/**
 * Every route group, in the order they are mounted (the order of the
 * OpenAPI document's paths, and of handlers where two groups' patterns
 * could match one path).
 */
export const ROUTE_GROUPS: readonly RouteGroup[] = [
  {
    name: 'dashboard',
    prefixes: ['/admin/dashboard'],
    beforeSignIn: true,
    load: async () => (await import('../features/dashboard/dashboard.routes.ts')).dashboardRoutes(),
  },
  {
    name: 'system',
    prefixes: ['/health', '/metrics', '/app'],
    load: async (c) => (await import('../features/system/system.routes.ts')).systemRoutes({ database: c.database, cache: c.cache, version: c.config.version, metrics: c.metrics, apps: c.apps }),
  },
  {
    name: 'auth',
    prefixes: ['/auth', '/.well-known'],
    load: async (c) =>
      (await import('../features/accounts/auth.routes.ts')).authRoutes({
        accounts: c.accounts,
        children: c.children,
        tokens: c.tokens,
        limiter: c.rateLimiter,
        limits: { perClient: c.rateLimits.signInPerClient, perAccount: c.rateLimits.signInPerAccount, perDevice: c.rateLimits.signInPerDevice },
        clientOf: (ctx) => clientIp(ctx, c.config.trustProxy),
      }),
  },
  { name: 'concepts', prefixes: ['/api/concepts', '/admin/concepts'], load: async (c) => (await import('../features/concepts/concepts.routes.ts')).conceptsRoutes(c.concepts) },
  { name: 'lessons', prefixes: ['/api/lessons', '/admin/lessons'], load: async (c) => (await import('../features/lessons/lessons.routes.ts')).lessonsRoutes(c.lessons) },
  { name: 'content', prefixes: ['/admin/content', '/admin/items'], load: async (c) => (await import('../features/content/content.routes.ts')).contentRoutes(c.content, c.lessons) },
  { name: 'content-schema', prefixes: ['/schemas'], load: async () => (await import('../features/content/content.routes.ts')).contentSchemaRoutes() },
  {
    name: 'families',
    prefixes: ['/api/children', '/api/classrooms', '/api/family', '/api/invites'],
    load: async (c) => (await import('../features/families/families.routes.ts')).familiesRoutes(c.children, c.classrooms),
  },
  { name: 'progress', prefixes: ['/api/progress'], load: async (c) => (await import('../features/progress/progress.routes.ts')).progressRoutes(c.progress) },
  { name: 'events', prefixes: ['/api/events'], load: async (c) => (await import('../features/events/events.routes.ts')).eventsRoutes(c.events) },
  { name: 'adaptive', prefixes: ['/api/adaptive'], load: async (c) => (await import('../features/adaptive/adaptive.routes.ts')).adaptiveRoutes(c.analysis, c.curriculumIndex) },
  { name: 'plans', prefixes: ['/api/adaptive'], load: async (c) => (await import('../features/plans/plans.routes.ts')).plansRoutes(c.plans) },
  { name: 'lake-status', prefixes: ['/admin/lake'], load: async (c) => (await import('../features/lake/lake-status.routes.ts')).lakeStatusRoutes(c.lakeStatus) },
  { name: 'reports', prefixes: ['/admin/reports'], load: async (c) => (await import('../features/reports/reports.routes.ts')).reportsRoutes(c.reports) },
  { name: 'docs', prefixes: ['/docs'], load: async () => (await import('./docs.ts')).docsRoutes() },
];

/** Whether `path` is under `prefix` (the prefix itself, or below it). */
export function underPrefix(path: string, prefix: string): boolean {
  return path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* '/' */);
}

/**
 * Loads route groups on first use. Each group's load runs once; a failed
 * load is not remembered (the next request tries again).
 */
export class RouteGroupLoader {
  readonly #groups: readonly RouteGroup[];
  readonly #load: (group: RouteGroup) => Promise<OpenAPIHono<AppEnv>>;
  readonly #onLoad: () => void;
  readonly #loaded = new Map<RouteGroup, OpenAPIHono<AppEnv>>();
  readonly #loading = new Map<RouteGroup, Promise<void>>();

  /** `onLoad` runs after each group is loaded (the app is rebuilt with it). */
  constructor(groups: readonly RouteGroup[], load: (group: RouteGroup) => Promise<OpenAPIHono<AppEnv>>, onLoad: () => void) {
    this.#groups = groups;
    this.#load = load;
    this.#onLoad = onLoad;
  }

  /** The groups loaded so far, in mount order, with their routes. */
  loaded(): { group: RouteGroup; routes: OpenAPIHono<AppEnv> }[] {
    return this.#groups.filter((g) => this.#loaded.has(g)).map((group) => ({ group, routes: this.#loaded.get(group)! }));
  }

  /** Whether every group is loaded. */
  get complete(): boolean {
    return this.#loaded.size === this.#groups.length;
  }

  /**
   * Loads the groups `path` is under that are not loaded yet; undefined
   * (nothing to wait for) when they all are, which is every request after
   * the first few.
   */
  pendingFor(path: string): Promise<void> | undefined {
    if (this.complete) return undefined;
    let pending: Promise<void>[] | undefined;
    for (const group of this.#groups) {
      if (this.#loaded.has(group) || !group.prefixes.some((p) => underPrefix(path, p))) continue;
      (pending ??= []).push(this.#start(group));
    }
    return pending && Promise.all(pending).then(() => undefined);
  }

  /** Loads every group (the OpenAPI document, the route table of tests). */
  loadAll(): Promise<void> {
    return Promise.all(this.#groups.filter((g) => !this.#loaded.has(g)).map((g) => this.#start(g))).then(() => undefined);
  }

  #start(group: RouteGroup): Promise<void> {
    let loading = this.#loading.get(group);
    if (!loading) {
      loading = this.#load(group).then(
        (routes) => {
          this.#loaded.set(group, routes);
          this.#loading.delete(group);
          this.#onLoad();
        },
        (error: unknown) => {
          this.#loading.delete(group);
          throw error;
        },
      );
      this.#loading.set(group, loading);
    }
    return loading;
  }
}
