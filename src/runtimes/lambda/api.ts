/**
 * AWS Lambda entry point "api": the handler of api-handler.ts, imported
 * once `@hono/zod-openapi` has been evaluated.
 *
 * Why two steps: `@hono/zod-openapi` adds `.openapi()` to Zod's schemas when
 * it is evaluated, and the schema modules call it at module scope. The
 * bundle is split into chunks (each route group is one, loaded on first use:
 * http/route-groups.ts), and esbuild does not keep the order in which
 * modules of different chunks are evaluated (a chunk with schemas could run
 * before the chunk that extends Zod). Importing it alone first and the rest
 * with `import()` makes the order certain.
 */
import '@hono/zod-openapi';

const loaded = await import('./api-handler.ts');

/** The Lambda handler (api-handler.ts). */
export const handler = loaded.handler;
