import type { Database } from '../adapters/db/database.ts';
import { consumeEventMessages, type BatchResult, type QueuedMessage } from '../analytics/events-consumer.ts';
import type { Config } from '../config/config.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { openPostgresDatabase } from '../adapters/db/postgres.ts';

/** The events consumer as a runtime uses it: consume a batch, close at the end. */
export interface EventsConsumer {
  consume(messages: readonly QueuedMessage[]): Promise<BatchResult>;
  close(): Promise<void>;
}

/**
 * Builds the events consumer (EVENT_QUEUE=sqs): the PostgreSQL database
 * (`DATABASE_URL`) and a logger, nothing else — it only appends to the
 * outbox, so it opens no cache, queue, mailer or model, and imports only
 * what it uses (a small Lambda bundle). Migrations are not run here: the
 * deploy's migrate step runs them before consumers start.
 */
export async function createEventsConsumer(config: Config, overrides: { database?: Database; logger?: Logger } = {}): Promise<EventsConsumer> {
  const logger = overrides.logger ?? createLogger({ level: config.logLevel });
  let database = overrides.database;
  if (!database) {
    if (config.database.kind !== 'postgres') throw new Error('The events consumer needs DATABASE_URL (PGlite is for a single long-lived process)');
    database = await openPostgresDatabase(config.database);
  }
  const db = database;
  return {
    async consume(messages) {
      const { batchItemFailures } = await consumeEventMessages({ database: db, logger }, messages);
      return { batchItemFailures };
    },
    close: () => db.close(),
  };
}
