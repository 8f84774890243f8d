import type { Database } from '../adapters/db/database.ts';
import type { Logger } from '../observability/logger.ts';
import { appendEvents, type AppendOutcome } from './event-outbox.ts';
import { decodeEventsMessage } from './event-messages.ts';

/** One SQS message as the consumer needs it (the fields of a Lambda `SQSRecord` it reads). */
export interface QueuedMessage {
  messageId: string;
  body: string;
}

/** The answer to Lambda with `ReportBatchItemFailures`: the messages to deliver again (and, past maxReceiveCount, to the dead-letter queue). */
export interface BatchResult {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** What one consume call did, for the log. */
export interface ConsumeSummary {
  messages: number;
  failed: number;
  accepted: number;
  duplicates: number;
  conflicts: number;
}

/**
 * The events consumer (EVENT_QUEUE=sqs): appends the events of each message
 * to the outbox in a transaction of its own, exactly as the `database` sink
 * does in a request — idempotent by (app, eventId), so a message delivered
 * again stores nothing twice; a conflicting id goes to the dead letters.
 * A message that cannot be read (not an events message) or whose append
 * failed (database down) is reported in `batchItemFailures`, alone: the
 * others of the batch are done and not delivered again.
 */
export async function consumeEventMessages(deps: { database: Database; logger?: Logger }, messages: readonly QueuedMessage[]): Promise<BatchResult & { summary: ConsumeSummary }> {
  const failures: Array<{ itemIdentifier: string }> = [];
  const summary: ConsumeSummary = { messages: messages.length, failed: 0, accepted: 0, duplicates: 0, conflicts: 0 };
  for (const message of messages) {
    let outcomes: AppendOutcome[];
    try {
      const events = decodeEventsMessage(message.body);
      outcomes = await deps.database.db.transaction().execute((trx) => appendEvents(trx, events));
    } catch (error) {
      deps.logger?.warn({ err: error, messageId: message.messageId }, 'events consumer: message not stored; SQS will deliver it again (then to the dead-letter queue)');
      failures.push({ itemIdentifier: message.messageId });
      summary.failed++;
      continue;
    }
    for (const o of outcomes) {
      if (o === 'accepted') summary.accepted++;
      else if (o === 'duplicate') summary.duplicates++;
      else summary.conflicts++;
    }
  }
  deps.logger?.info({ ...summary }, 'events consumer: batch done');
  return { batchItemFailures: failures, summary };
}
