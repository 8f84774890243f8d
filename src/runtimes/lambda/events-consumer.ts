import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '../../config/config.ts';
import { createEventsConsumer, type EventsConsumer } from '../../wiring/events-consumer.ts';

/**
 * AWS Lambda entry point of the events consumer (SQS event source with
 * ReportBatchItemFailures): appends each message's events to the outbox and
 * answers the ids of the messages that failed, so only those are delivered
 * again. Built once per execution environment at module scope; a failed
 * start is tried again on the next invocation. Needs DATABASE_URL.
 */
const start = (): Promise<EventsConsumer> => createEventsConsumer(loadConfig());
let ready = start();
ready.catch(() => {});

/** The Lambda handler. */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const consumer = await ready.catch(() => (ready = start()));
  return consumer.consume(event.Records.map((r) => ({ messageId: r.messageId, body: r.body })));
}
