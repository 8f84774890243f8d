// First: instruments the AWS SDK clients (X-Ray).
import { traced } from './invocation.ts';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createEventsConsumer, type EventsConsumer } from '../../wiring/events-consumer.ts';
import { lambdaConfig } from './aws-config.ts';

/**
 * AWS Lambda entry point of the events consumer (SQS event source with
 * ReportBatchItemFailures): appends each message's events to the outbox and
 * answers the ids of the messages that failed, so only those are delivered
 * again. Built once per execution environment at module scope (the database
 * secret is read once, as for "api"); a failed start is tried again on the
 * next invocation.
 */
const start = async (): Promise<EventsConsumer> => createEventsConsumer(await lambdaConfig({ signsTokens: false }));
let ready = start();
ready.catch(() => {});

/** The Lambda handler. */
export const handler = traced(
  'events-consumer',
  async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const consumer = await ready.catch(() => (ready = start()));
    return consumer.consume(event.Records.map((r) => ({ messageId: r.messageId, body: r.body })));
  },
  {},
);
