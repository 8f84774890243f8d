import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../domain/errors.ts';
import type { AppEnv } from './context.ts';

const require = createRequire(import.meta.url);

/**
 * Swagger UI comes from the installed, exactly pinned `swagger-ui-dist`
 * package and is served by this server: the docs page works offline and
 * behind firewalls, loads no code from a third-party CDN (an unpinned CDN
 * URL could change what runs next to a signed-in user's token), and the page
 * can carry a CSP that allows this origin only.
 */
const SWAGGER_UI = ((): { dir: string; version: string } | undefined => {
  try {
    return { dir: path.dirname(require.resolve('swagger-ui-dist/package.json')), version: (require('swagger-ui-dist/package.json') as { version: string }).version };
  } catch {
    // A bundle without the package (a Lambda build that left it out) still
    // serves the API; only the docs files are missing (503 below).
    return undefined;
  }
})();

/**
 * The start-up script, a file rather than inline so the page's CSP needs no
 * `'unsafe-inline'` for scripts. Relative URLs keep the page working under a
 * path prefix (an API Gateway stage). No validator badge: it would call out.
 */
const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });
});
`;

/** The files `/docs/assets/*` serves (nothing else of the package is reachable). */
const ASSETS: Record<string, { type: string; file?: string; text?: string }> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8', file: 'swagger-ui.css' },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', file: 'swagger-ui-bundle.js' },
  'favicon-32x32.png': { type: 'image/png', file: 'favicon-32x32.png' },
  'init.js': { type: 'text/javascript; charset=utf-8', text: INIT_JS },
};

const asset = (name: string) => `docs/assets/${name}?v=${SWAGGER_UI?.version ?? 'missing'}`;

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>kidslearn API</title>
    <link rel="icon" type="image/png" href="${asset('favicon-32x32.png')}" />
    <link rel="stylesheet" href="${asset('swagger-ui.css')}" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${asset('swagger-ui-bundle.js')}"></script>
    <script src="${asset('init.js')}"></script>
  </body>
</html>
`;

const docsRoute = {
  method: 'get' as const,
  path: '/docs',
  tags: ['system'],
  summary: 'Readable API documentation (Swagger UI over /openapi.json, served from this server)',
  responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
};

const assetRoute = {
  method: 'get' as const,
  path: '/docs/assets/{name}',
  tags: ['system'],
  summary: 'The files of the docs page (Swagger UI from the pinned swagger-ui-dist package)',
  request: { params: z.object({ name: z.enum(Object.keys(ASSETS) as [string, ...string[]]) }) },
  responses: { 200: { description: 'The file' }, 404: { description: 'No such file' } },
};

/** `/docs` (the Swagger UI page) and `/docs/assets/*` (its files, read once and kept in memory). */
export function docsRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  const loaded = new Map<string, Promise<Uint8Array<ArrayBuffer> | string>>();
  const load = (name: string): Promise<Uint8Array<ArrayBuffer> | string> => {
    let found = loaded.get(name);
    if (found === undefined) {
      const spec = ASSETS[name]!;
      if (spec.text !== undefined) found = Promise.resolve(spec.text);
      else if (SWAGGER_UI === undefined) return Promise.reject(new AppError('unavailable', 'docs_unavailable', 'The swagger-ui-dist package is not installed with this server'));
      else found = readFile(path.join(SWAGGER_UI.dir, spec.file!)).then((b) => new Uint8Array(b));
      // A failed read is not kept: the next request tries again.
      found.catch(() => loaded.delete(name));
      loaded.set(name, found);
    }
    return found;
  };

  app.get('/docs', (c) => c.html(PAGE));
  app.get('/docs/assets/:name', async (c) => {
    const name = c.req.param('name');
    const spec = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!spec) throw new AppError('not_found', 'route_not_found', `No route for GET ${c.req.path}`);
    return c.body(await load(name), 200, { 'content-type': spec.type });
  });
  app.openAPIRegistry.registerPath(docsRoute);
  app.openAPIRegistry.registerPath(assetRoute);
  return app;
}
