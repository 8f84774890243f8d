import { createLakeHttpApp } from '../analytics/lake-server.ts';
import { flushLogger } from '../observability/logger.ts';
import { createContainer } from '../wiring/container.ts';
import { closeServer, exitOnStartFailure, listen, loadConfigOrExit, onStopSignal } from './process-lifecycle.ts';

/**
 * `npm run lake`: the lake writer as its own process — the loop that moves
 * acknowledged events into Parquet files (analytics/lake-writer.ts) and a
 * small server on `LAKE_PORT` with `/health` and `/metrics`. On SIGTERM the
 * batch being written gets the shutdown timeout to finish (otherwise the
 * next writer rewrites it), then the process exits.
 */
async function main(): Promise<void> {
  const config = await loadConfigOrExit();
  if (!config.lake.enabled) {
    process.stderr.write('kidslearn lake writer: LAKE_ENABLED=false, so there is nothing to write; exiting\n');
    process.exit(0);
  }
  const container = await createContainer(config);
  const { logger } = container;
  const writer = container.lakeWriter();
  writer.start();
  const app = createLakeHttpApp({ database: container.database, store: container.lakeStore, metrics: container.metrics, version: config.version });
  const { server, port } = await listen(app.fetch, config.lake.port, config.host);
  logger.info({ url: `http://localhost:${port}`, database: container.database.kind, store: container.lakeStore.location, version: config.version }, 'kidslearn lake writer working');
  flushLogger(logger);
  process.stderr.write(
    `kidslearn lake writer ${config.version} working at http://localhost:${port}  (database: ${container.database.kind}, store: ${container.lakeStore.kind} ${container.lakeStore.location})\n` +
      `  Health: http://localhost:${port}/health   Metrics: http://localhost:${port}/metrics   Stop: SIGTERM (pid ${process.pid})\n`,
  );
  if (config.lake.mode === 'inline' && container.database.kind === 'pglite') {
    logger.warn('LAKE_MODE=inline: `npm start` runs the lake writer already; a second process cannot open the same embedded database');
  }

  onStopSignal(async (signal) => {
    logger.info({ signal }, 'lake writer shutting down: finishing the current batch');
    await writer.stop(config.shutdownTimeoutMs);
    await closeServer(server, 1000);
    await container.close();
    logger.info('lake writer stopped');
    flushLogger(logger);
    process.exit(0);
  });
}

main().catch(exitOnStartFailure('kidslearn lake writer'));
