import { startEngine, type RunningEngine } from '../engine/engine.ts';
import { createHttpApp, loadAllRoutes } from '../http/app.ts';
import { flushLogger } from '../observability/logger.ts';
import { seedDemoAppsOnFirstStart } from '../seed/seed-demo-apps.ts';
import { createContainer } from '../wiring/container.ts';
import { closeServer, exitOnStartFailure, listen, loadConfigOrExit, onStopSignal } from './process-lifecycle.ts';

/**
 * `npm start`: the whole backend in one process on the configured adapters
 * (embedded PGlite and in-process cache by default). With
 * `ENGINE_MODE=inline` (the default on PGlite) the adaptive engine's job
 * worker runs here too; with `separate` it is `npm run engine`'s. The lake
 * writer likewise (`LAKE_MODE`, `npm run lake`).
 */
async function main(): Promise<void> {
  const config = await loadConfigOrExit();
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
  const engine: RunningEngine | undefined = config.engine.mode === 'inline' ? await startEngine(container, { concurrency: config.engine.concurrency }) : undefined;
  // LAKE_MODE=inline (the default on PGlite): the lake writer's loop runs here; otherwise `npm run lake`.
  // LAKE_ENABLED=false: no writer at all (nothing reaches the outbox).
  const lakeWriter = config.lake.enabled && config.lake.mode === 'inline' ? container.lakeWriter() : undefined;
  lakeWriter?.start();
  const app = createHttpApp(container);
  // A long-lived process builds every route group before it listens (a Lambda function builds each on first use).
  await loadAllRoutes(app);
  const { server, port } = await listen(app.fetch, config.port, config.host);
  const url = `http://localhost:${port}`;
  logger.info({ url, database: container.database.kind, cache: container.cache.kind, engine: config.engine.mode, lake: config.lake.mode, version: config.version }, 'kidslearn listening');
  flushLogger(logger);
  process.stderr.write(
    `\nkidslearn ${config.version} is running at ${url}  (database: ${container.database.kind}, cache: ${container.cache.kind}, engine: ${engine ? 'inline' : 'separate process (npm run engine)'}, lake writer: ${!config.lake.enabled ? 'off (LAKE_ENABLED=false)' : lakeWriter ? 'inline' : 'separate process (npm run lake)'})\n` +
      `  API docs:  ${url}/docs\n` +
      `  Get a token (another terminal):  npm run -s kidslearn -- token --app mathkids --role guardian\n` +
      `  Then:      curl -H "Authorization: Bearer <token>" "${url}/api/lessons?grade=2"\n` +
      `  Stop:      Ctrl-C here, or SIGTERM to this process (pid ${process.pid}); in-flight requests finish first\n\n`,
  );

  onStopSignal(async (signal) => {
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    // Requests and running plan jobs share the one shutdown timeout.
    await Promise.all([closeServer(server, config.shutdownTimeoutMs, () => logger.warn('drain timeout reached; closing remaining connections')), engine?.stop(config.shutdownTimeoutMs), lakeWriter?.stop(config.shutdownTimeoutMs)]);
    await container.close();
    logger.info('stopped');
    flushLogger(logger);
    process.exit(0);
  });
}

main().catch(exitOnStartFailure('kidslearn'));
