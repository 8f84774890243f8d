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
 * CSP of the `/admin/dashboard` page: its script, Chart.js, stylesheet and
 * icon from this server only, no inline script or style (Chart.js sizes its
 * canvases through the CSSOM, which style-src does not govern), and requests
 * (sign-in, reports) to this origin only.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The pages this server serves, by path, and their CSP; every other response gets {@link JSON_CSP}. */
function cspFor(path: string): string {
  if (path === '/docs') return DOCS_CSP;
  if (path === '/admin/dashboard') return DASHBOARD_CSP;
  return JSON_CSP;
}

/**
 * `Cache-Control` by path. Everything is `no-store` (children's data, tokens,
 * per-caller answers; shared caches and browser disks must never keep them)
 * except public, caller-independent documents: the Swagger UI files (their
 * URLs carry the package version, so they may be kept) and the API document
 * and docs page (revalidated, they change with each deployment), and the
 * same for the admin dashboard's page and files (which hold no data: the page
 * signs in and fetches the reports itself; its files' URLs carry a content
 * hash, so they may be kept a year). Routes may
 * set their own value only outside `/api`, `/admin` and `/auth` (the JWKS
 * sets a short public max-age).
 */
export function cacheControlFor(path: string): { value: string; force: boolean } {
  if (path.startsWith('/admin/dashboard/assets/')) return { value: 'public, max-age=31536000, immutable', force: true };
  if (path === '/admin/dashboard') return { value: 'no-cache', force: true };
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
  return { ...BASE, 'content-security-policy': cspFor(path), 'cache-control': cache.value };
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
  headers.set('content-security-policy', cspFor(path));
  const cache = cacheControlFor(path);
  // An error under a path whose files may be kept (a 503 while a file is
  // missing, a 404) must not be kept for a year in its place.
  if (c.res.status >= 400 && cache.value.startsWith('public')) headers.set('cache-control', 'no-store');
  else if (cache.force || !headers.has('cache-control')) headers.set('cache-control', cache.value);
  headers.delete('x-powered-by');
});
