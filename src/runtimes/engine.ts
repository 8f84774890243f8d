import { createEngineHttpApp } from '../engine/engine-server.ts';
import { startEngine } from '../engine/engine.ts';
import { flushLogger } from '../observability/logger.ts';
import { createContainer } from '../wiring/container.ts';
import { closeServer, exitOnStartFailure, listen, loadConfigOrExit, onStopSignal } from './process-lifecycle.ts';

/**
 * `npm run engine`: the adaptive engine as its own process — the job
 * worker (plan requests) and a small server on `ENGINE_PORT` with
 * `/health` and `/metrics`. Built from the same container and adapters as
 * the API. On SIGTERM it takes no new jobs, gives running ones the
 * shutdown timeout to finish, releases the rest for a retry, and exits.
 */
async function main(): Promise<void> {
  const config = await loadConfigOrExit();
  const container = await createContainer(config);
  const { logger } = container;
  const engine = await startEngine(container, { concurrency: config.engine.concurrency });
  const app = createEngineHttpApp({ database: container.database, queue: engine.queue, metrics: container.metrics, version: config.version });
  const { server, port } = await listen(app.fetch, config.engine.port, config.host);
  logger.info({ url: `http://localhost:${port}`, database: container.database.kind, concurrency: config.engine.concurrency, version: config.version }, 'kidslearn engine working');
  flushLogger(logger);
  process.stderr.write(
    `kidslearn engine ${config.version} working at http://localhost:${port}  (database: ${container.database.kind}, ${config.engine.concurrency} jobs at a time)\n` +
      `  Health: http://localhost:${port}/health   Metrics: http://localhost:${port}/metrics   Stop: SIGTERM (pid ${process.pid})\n`,
  );
  if (config.engine.mode === 'inline' && container.database.kind === 'pglite') {
    logger.warn('ENGINE_MODE=inline: `npm start` runs the engine already; a second process cannot open the same embedded database');
  }

  onStopSignal(async (signal) => {
    logger.info({ signal }, 'engine shutting down: taking no new jobs, finishing running ones');
    await engine.stop(config.shutdownTimeoutMs);
    await closeServer(server, 1000);
    await container.close();
    logger.info('engine stopped');
    flushLogger(logger);
    process.exit(0);
  });
}

main().catch(exitOnStartFailure('kidslearn engine'));
