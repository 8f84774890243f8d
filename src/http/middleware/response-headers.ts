import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context.ts';

/**
 * Headers every response carries. The API answers JSON to apps, never pages
 * to browse: a browser must not sniff a body into HTML, frame it, send a
 * Referer from it or load anything on its behalf. HSTS is ignored by browsers
 * over plain HTTP (local use is unaffected) and pins HTTPS once a client has
 * reached the API through TLS; it leaves out `includeSubDomains` because the
 * API does not own its parent domain.
 */
const BASE: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'strict-transport-security': 'max-age=31536000',
};

/** CSP of JSON (and every other non-page) response: nothing may load, nothing may frame it. */
export const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * CSP of the `/docs` page: Swagger UI's script and stylesheet from this
 * server only (no inline script: the page's start-up code is a file too),
 * inline styles (React sets `style` attributes), its SVG icons as data: URIs,
 * and requests ("Try it out", the document) to this origin only.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * `Cache-Control` by path. Everything is `no-store` (children's data, tokens,
 * per-caller answers; shared caches and browser disks must never keep them)
 * except public, caller-independent documents: the Swagger UI files (their
 * URLs carry the package version, so they may be kept) and the API document
 * and docs page (revalidated, they change with each deployment). Routes may
 * set their own value only outside `/api`, `/admin` and `/auth` (the JWKS
 * sets a short public max-age).
 */
export function cacheControlFor(path: string): { value: string; force: boolean } {
  if (path.startsWith('/api/') || path.startsWith('/admin/') || path.startsWith('/auth/')) return { value: 'no-store', force: true };
  if (path.startsWith('/docs/assets/')) return { value: 'public, max-age=604800, immutable', force: false };
  if (path === '/docs' || path === '/openapi.json') return { value: 'no-cache', force: false };
  return { value: 'no-store', force: false };
}

const PRIVATE_JSON: Readonly<Record<string, string>> = { ...BASE, 'content-security-policy': JSON_CSP, 'cache-control': 'no-store' };

/**
 * The standard headers for a response to `path`, as one plain object for
 * handlers that build their `Response` themselves (see `sendJson`): spreading
 * it costs far less than the Fetch `Headers` object the middleware must use.
 */
export function standardHeaders(path: string): Readonly<Record<string, string>> {
  const cache = cacheControlFor(path);
  if (cache.value === 'no-store') return PRIVATE_JSON;
  return { ...BASE, 'content-security-policy': path === '/docs' ? DOCS_CSP : JSON_CSP, 'cache-control': cache.value };
}

/**
 * Puts the standard headers on every response, errors and 404s included,
 * unless the handler already sent them (`headersSent`, set by `sendJson`).
 * Mounted inside `observe`, outside everything else.
 */
export const responseHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  if (c.get('headersSent')) return;
  const path = c.req.path;
  const headers = c.res.headers;
  for (const [name, value] of Object.entries(BASE)) headers.set(name, value);
  headers.set('content-security-policy', path === '/docs' ? DOCS_CSP : JSON_CSP);
  const cache = cacheControlFor(path);
  if (cache.force || !headers.has('cache-control')) headers.set('cache-control', cache.value);
  headers.delete('x-powered-by');
});
