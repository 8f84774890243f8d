import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../../domain/errors.ts';
import type { AppEnv } from '../../http/context.ts';
import { raises } from '../../http/openapi.ts';

const require = createRequire(import.meta.url);
/** A file of `public/`, beside this module. */
const here = (name: string): string => fileURLToPath(new URL(`./public/${name}`, import.meta.url));

/** Where the dashboard's routes live; `createHttpApp` mounts them before the `/admin/*` sign-in check. */
export const DASHBOARD_PATH = '/admin/dashboard';
/** The prefix of the dashboard's files (`Cache-Control` and CSP are chosen by it, see response-headers.ts). */
export const DASHBOARD_ASSETS_PREFIX = `${DASHBOARD_PATH}/assets/`;

/**
 * The files `/admin/dashboard/assets/*` serves, and nothing else. Chart.js is
 * the UMD build of the installed, exactly pinned `chart.js` package: no CDN,
 * so the page works offline and no third party can change the code that runs
 * next to an admin's token.
 */
const ASSETS: Record<string, { type: string; locate: () => string }> = {
  'dashboard.js': { type: 'text/javascript; charset=utf-8', locate: () => here('dashboard.js') },
  'dashboard.css': { type: 'text/css; charset=utf-8', locate: () => here('dashboard.css') },
  'favicon.svg': { type: 'image/svg+xml', locate: () => here('favicon.svg') },
  // The package exports no path to its UMD build: found beside its main entry (dist/chart.cjs).
  'chart.umd.min.js': { type: 'text/javascript; charset=utf-8', locate: () => path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js') },
};
const PAGE_FILE = () => here('index.html');

/** The page and its files, read once, with each file's content hash (its URL carries it, so browsers may keep it for a year). */
interface Loaded {
  page: string;
  files: Map<string, { body: Uint8Array<ArrayBuffer>; type: string; hash: string }>;
}

async function loadAll(): Promise<Loaded> {
  const files = new Map<string, { body: Uint8Array<ArrayBuffer>; type: string; hash: string }>();
  for (const [name, spec] of Object.entries(ASSETS)) {
    const body = new Uint8Array(await readFile(spec.locate()));
    files.set(name, { body, type: spec.type, hash: createHash('sha256').update(body).digest('hex').slice(0, 16) });
  }
  // `{{asset:name}}` in index.html becomes the file's relative, hashed URL.
  const template = await readFile(PAGE_FILE(), 'utf8');
  const page = template.replace(/\{\{asset:([\w.-]+)\}\}/g, (_, name: string) => {
    const file = files.get(name);
    if (!file) throw new Error(`index.html names an unknown dashboard asset: ${name}`);
    return `dashboard/assets/${name}?v=${file.hash}`;
  });
  return { page, files };
}

const unavailable = (cause: unknown) =>
  new AppError('unavailable', 'dashboard_unavailable', 'The dashboard’s files are not deployed with this server (src/features/dashboard/public or the chart.js package)', { cause });

const pageRoute = {
  method: 'get' as const,
  path: DASHBOARD_PATH,
  tags: ['analytics'],
  summary: 'The analytics dashboard: an HTML page that signs an admin in (POST /auth/login) and charts the /admin/reports of the admin’s app',
  description:
    'Public like `/docs`: the page holds no data; it signs in itself and keeps the token in memory only. Served with a CSP allowing scripts, ' +
    'styles and requests to this origin only.',
  responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
  ...raises({ dashboard_unavailable: 'unavailable' }),
};

const assetRoute = {
  method: 'get' as const,
  path: `${DASHBOARD_ASSETS_PREFIX}{name}`,
  tags: ['analytics'],
  summary: 'The dashboard’s script, stylesheet, icon and Chart.js (from the pinned chart.js package); URLs carry a content hash',
  request: { params: z.object({ name: z.enum(Object.keys(ASSETS) as [string, ...string[]]) }) },
  responses: { 200: { description: 'The file' }, 404: { description: 'No such file' } },
  ...raises({ dashboard_unavailable: 'unavailable' }),
};

/**
 * `GET /admin/dashboard` and `GET /admin/dashboard/assets/{name}`. The files
 * are read once, starting when the routes are built; a failed read (files
 * missing from a deployment) answers 503 `dashboard_unavailable` and is
 * tried again on the next request. Mount before the `/admin/*` sign-in
 * middleware: the page must load without a token.
 */
export function dashboardRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  let loading: Promise<Loaded> | undefined;
  const load = (): Promise<Loaded> => {
    if (loading === undefined) {
      const attempt = loadAll();
      loading = attempt;
      // A failed read is not kept: the next request tries again.
      attempt.catch(() => {
        if (loading === attempt) loading = undefined;
      });
    }
    return loading.catch((error: unknown) => Promise.reject(unavailable(error)));
  };
  void load().catch(() => {});

  app.get(DASHBOARD_PATH, async (c) => c.html((await load()).page));
  app.get(`${DASHBOARD_ASSETS_PREFIX}:name`, async (c) => {
    const name = c.req.param('name');
    if (!Object.hasOwn(ASSETS, name)) throw new AppError('not_found', 'route_not_found', `No route for GET ${c.req.path}`);
    const file = (await load()).files.get(name)!;
    return c.body(file.body, 200, { 'content-type': file.type });
  });
  app.openAPIRegistry.registerPath(pageRoute);
  app.openAPIRegistry.registerPath(assetRoute);
  return app;
}
