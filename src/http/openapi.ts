import type { ErrorKind } from '../domain/errors.ts';
import { errorResponses, STATUS_BY_KIND } from './errors.ts';
import { BODY_METHODS } from './middleware/body-rules.ts';

/**
 * Statuses an operation can answer without its handler: what the middleware
 * mounted on its path group raises (see `createHttpApp`). The document gets
 * them from here, so a route's own `errorResponses(...)` list only has to
 * name what its handler does.
 */
export interface StatusRule {
  /** Path prefix the middleware is mounted on (`/api/`), or `*` for every path. */
  prefix: string;
  /** Paths under `prefix` the middleware is not mounted on (routes registered before it). */
  except?: readonly string[];
  /** Only for these methods (upper case); every method when absent. */
  methods?: readonly string[];
  statuses: readonly number[];
}

/** The statuses the middleware of {@link createHttpApp} adds, per mounted group. */
export const MIDDLEWARE_STATUSES: readonly StatusRule[] = [
  // Anything can fail unexpectedly; the answer is then a bare 500 with a request id.
  { prefix: '*', statuses: [500] },
  // bodyRules: malformed JSON, non-JSON bodies, bodies over 1 MiB.
  { prefix: '*', methods: BODY_METHODS, statuses: [400, 413, 415] },
  // authenticate: missing/invalid token (401), the token's app unknown (404),
  // the per-caller limit (429), the database or the identity provider not answering (503).
  { prefix: '/api/', statuses: [401, 404, 429, 503] },
  // authenticate (the same, with the same per-caller limit) + requireFunction('admin.area');
  // not on the dashboard's page and files, which are public (they sign in themselves).
  { prefix: '/admin/', except: ['/admin/dashboard'], statuses: [401, 403, 404, 429, 503] },
  // rateLimit per IP + appFromHeader: missing X-App-Id (400), unknown app (404), database (503).
  { prefix: '/auth/', statuses: [400, 404, 429, 503] },
];

/** What a route declares it raises itself: error code → kind, read into the document by {@link completeErrorResponses}. */
export type RaisedErrors = Readonly<Record<string, ErrorKind>>;

/** The OpenAPI extension key under which {@link raises} records a route's error codes. */
export const RAISES_KEY = 'x-error-codes';

/**
 * Declares, on a route definition (spread it into `createRoute({...})`), the
 * AppError codes its handler and services raise. The document then lists the
 * status of each (from the one kind → status map) with the codes named.
 */
export function raises(errors: RaisedErrors): { [RAISES_KEY]: RaisedErrors } {
  return { [RAISES_KEY]: errors };
}

interface OperationLike {
  responses?: Record<string, { description?: string } & Record<string, unknown>>;
  [RAISES_KEY]?: RaisedErrors;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];

/**
 * Adds to every operation of an OpenAPI document the error responses it can
 * give but does not list: those of the middleware on its path group
 * ({@link MIDDLEWARE_STATUSES}) and those of the error codes it declares with
 * {@link raises}. A listed response is never replaced; a declared code is
 * named in its status's description, and the declaration stays in the
 * operation as `x-error-codes` (code → kind) for clients and tests. Mutates
 * and returns `doc`.
 */
export function completeErrorResponses<D extends { paths?: object }>(doc: D, rules: readonly StatusRule[] = MIDDLEWARE_STATUSES): D {
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    for (const method of METHODS) {
      const operation = item[method] as OperationLike | undefined;
      if (!operation) continue;
      const responses = (operation.responses ??= {});
      const statuses = new Set<number>();
      for (const rule of rules) {
        if (rule.prefix !== '*' && !path.startsWith(rule.prefix)) continue;
        if (rule.except?.some((p) => path === p || path.startsWith(`${p}/`))) continue;
        if (rule.methods && !rule.methods.includes(method.toUpperCase())) continue;
        for (const s of rule.statuses) statuses.add(s);
      }
      const codesByStatus = new Map<number, string[]>();
      for (const [code, kind] of Object.entries(operation[RAISES_KEY] ?? {})) {
        const status = STATUS_BY_KIND[kind];
        statuses.add(status);
        codesByStatus.set(status, [...(codesByStatus.get(status) ?? []), code]);
      }
      const missing = [...statuses].filter((s) => responses[String(s)] === undefined);
      Object.assign(responses, errorResponses(...missing));
      if (responses['500'] && missing.includes(500)) responses['500'].description = 'Unexpected error: a bare `internal_error` with the request id to quote';
      for (const [status, codes] of codesByStatus) {
        const response = responses[String(status)]!;
        const named = codes.map((c) => `\`${c}\``).join(', ');
        response.description = `${response.description ?? 'Error'} (codes: ${named})`;
      }
    }
  }
  return doc;
}
