import { serve, type ServerType } from '@hono/node-server';
import { ConfigError, loadConfig } from '../config/config.ts';
import { createHttpApp } from '../http/app.ts';
import { flushLogger } from '../observability/logger.ts';
import { seedDemoAppsOnFirstStart } from '../seed/seed-demo-apps.ts';
import { createContainer } from '../wiring/container.ts';

/**
 * `npm start`: the whole backend in one process on the configured adapters
 * (embedded PGlite and in-process cache by default).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const container = await createContainer(config);
  // No reopen after seeding: seeding grows RSS by ~25 MB, and a reopen held
  // two PGlite instances at once. The ~600 MB that once looked like seeding's
  // is V8's TurboFan compiling one huge PostgreSQL function, which
  // `npm start` avoids with --liftoff-only (docs/performance.md).
  if (config.seedDemoApps) await seedDemoAppsOnFirstStart(container);
  // Brings every app's curriculum vectors up to date in the background (content imported with the
  // CLI, a changed embedding model); cheap when nothing changed: only hashes are compared.
  for (const app of await container.apps.list()) container.curriculumIndex.schedule(app.id);
  const { logger } = container;
  const app = createHttpApp(container);

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://localhost:${port}`;
  logger.info({ url, database: container.database.kind, cache: container.cache.kind, version: config.version }, 'kidslearn listening');
  flushLogger(logger);
  process.stderr.write(
    `\nkidslearn ${config.version} is running at ${url}  (database: ${container.database.kind}, cache: ${container.cache.kind})\n` +
      `  API docs:  ${url}/docs\n` +
      `  Get a token (another terminal):  npm run -s kidslearn -- token --app mathkids --role guardian\n` +
      `  Then:      curl -H "Authorization: Bearer <token>" "${url}/api/lessons?grade=2"\n` +
      `  Stop:      Ctrl-C here, or SIGTERM to this process (pid ${process.pid}); in-flight requests finish first\n\n`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const forced = setTimeout(() => {
      logger.warn('drain timeout reached; closing remaining connections');
      if ('closeAllConnections' in server) server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    forced.unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      if ('closeIdleConnections' in server) server.closeIdleConnections();
    });
    clearTimeout(forced);
    await container.close();
    logger.info('stopped');
    flushLogger(logger);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(`kidslearn failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
