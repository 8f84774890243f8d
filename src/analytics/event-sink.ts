import { createHash } from 'node:crypto';
import type { SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';
import type { Database } from '../adapters/db/database.ts';
import { createSqsClient, sendBatch, SQS_BATCH_ENTRIES, SQS_MAX_MESSAGE_BYTES, type RetryPolicy } from '../adapters/aws/sqs-calls.ts';
import { AppError } from '../domain/errors.ts';
import type { LakeEvent } from '../domain/analytics/event-types.ts';
import { withPayloadHash, type EventOutbox } from './event-outbox.ts';
import { packEvents } from './event-messages.ts';
import { insertPack } from './event-packs.ts';

/**
 * Where `POST /api/events` puts the client events it accepted (after the
 * schema, access, privacy and pseudonymisation): the port between ingest
 * and the outbox. Two adapters, chosen in `wiring/` by `EVENT_QUEUE`:
 * - `database` (default): appended to the outbox in one transaction, so the
 *   answer knows each event's fate (accepted, duplicate, conflict).
 * - `packed`: stored as one event pack (analytics/event-packs.ts) in one
 *   insert, which the lake writer unpacks into the outbox, where duplicates
 *   and conflicts are decided. A fraction of the database's work per event,
 *   for apps that send many events; the answer cannot know duplicates.
 * - `sqs` (AWS): sent to the events queue; the events consumer (a Lambda,
 *   analytics/events-consumer.ts) appends them to the same outbox, where
 *   duplicates and conflicts are decided. The answer cannot know them.
 */
export interface EventSink {
  /** Which adapter this is; for logs, health and the docs. */
  readonly kind: 'database' | 'packed' | 'sqs';
  /**
   * Hands the events on; resolves only once every one is durably taken (the
   * database committed, or SQS accepted every message). Rejects with 503
   * (`database_unavailable`, `event_queue_unavailable`) otherwise: the
   * client keeps its events and retries with the same ids.
   */
  deliver(events: readonly LakeEvent[]): Promise<DeliveryResult>;
}

/** What a delivery can tell at once. With `packed` and `sqs`, `duplicates` and `conflicts` are always 0: they are decided later. */
export interface DeliveryResult {
  accepted: number;
  duplicates: number;
  conflicts: number;
}

/** The `database` sink: the outbox, in one transaction per request (the behaviour before the port existed). */
export function createDatabaseEventSink(deps: { db: Database; outbox: EventOutbox }): EventSink {
  return {
    kind: 'database',
    async deliver(events) {
      if (events.length === 0) return { accepted: 0, duplicates: 0, conflicts: 0 };
      // The payload digests tell a duplicate from a conflict; only this sink decides that in the request.
      const hashed = events.map(withPayloadHash);
      const outcomes = await deps.db.db.transaction().execute((trx) => deps.outbox.append(trx, hashed));
      const count = (o: string) => outcomes.filter((x) => x === o).length;
      return { accepted: count('accepted'), duplicates: count('duplicate'), conflicts: count('conflict') };
    },
  };
}

/**
 * The `packed` sink: the request's events (all of one app) as one pack, one
 * insert, committed before it resolves. `accepted` counts every event taken;
 * the lake writer's unpack decides duplicates and conflicts.
 */
export function createPackedEventSink(deps: { db: Database }): EventSink {
  return {
    kind: 'packed',
    async deliver(events) {
      if (events.length === 0) return { accepted: 0, duplicates: 0, conflicts: 0 };
      const apps = new Set(events.map((e) => e.app));
      for (const app of apps) await insertPack(deps.db.db, app, apps.size === 1 ? events : events.filter((e) => e.app === app));
      return { accepted: events.length, duplicates: 0, conflicts: 0 };
    },
  };
}

/** Seconds a client is asked to wait after 503 `event_queue_unavailable`. */
export const EVENT_QUEUE_RETRY_AFTER_SECONDS = 5;

/** 503 `event_queue_unavailable`: SQS did not take every event of the request in time. */
export function eventQueueUnavailable(message: string, cause?: unknown): AppError {
  return new AppError('unavailable', 'event_queue_unavailable', message, { details: { retryAfterSeconds: EVENT_QUEUE_RETRY_AFTER_SECONDS }, cause });
}

/** Options of the `sqs` sink. */
export interface SqsEventSinkOptions {
  /** The events queue (`EVENTS_QUEUE_URL`); a FIFO queue (`.fifo`) gets a group and deduplication id per message. */
  queueUrl: string;
  region?: string | undefined;
  /** A client you pass in (tests: mocked with aws-sdk-client-mock). */
  client?: SQSClient;
  /** Longest time one delivery takes, retries included (`EVENT_QUEUE_TIMEOUT_MS`). */
  timeoutMs: number;
  /** Largest message body; several events are packed into one message up to it. Default and most: 256 KiB. */
  maxMessageBytes?: number;
  retry?: RetryPolicy;
}

/**
 * The `sqs` sink. Events are packed into messages (`{"v":1,"events":[…]}`,
 * each at most `maxMessageBytes`), messages into SendMessageBatch requests
 * (at most 10 entries and 256 KiB a request), requests sent at once. Entries
 * SQS reports failed, and throttled or failed requests, are resent (only
 * those) with full-jitter backoff within `timeoutMs`. Resolves once SQS took
 * every message; otherwise 503 `event_queue_unavailable` — some messages may
 * have got in, which is harmless: the client resends the same event ids and
 * the consumer stores each id once.
 */
export function createSqsEventSink(options: SqsEventSinkOptions): EventSink {
  // The SDK is loaded with the first delivery, not when the app is built (Lambda cold start).
  let client: Promise<SQSClient> | undefined = options.client ? Promise.resolve(options.client) : undefined;
  const clientOf = () =>
    (client ??= createSqsClient({ region: options.region, connectTimeoutMs: options.timeoutMs, longestCallMs: options.timeoutMs }).catch((error: unknown) => {
      client = undefined;
      throw error;
    }));
  const maxBytes = Math.min(SQS_MAX_MESSAGE_BYTES, options.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES);
  const fifo = options.queueUrl.endsWith('.fifo');
  return {
    kind: 'sqs',
    async deliver(events) {
      if (events.length === 0) return { accepted: 0, duplicates: 0, conflicts: 0 };
      const bodies = packEvents(events, maxBytes);
      const entries: SendMessageBatchRequestEntry[] = bodies.map((body, i) => {
        const digest = createHash('sha256').update(body).digest('hex');
        return { Id: `m${i}`, MessageBody: body, ...(fifo ? { MessageGroupId: digest.slice(0, 32), MessageDeduplicationId: digest } : {}) };
      });
      const requests = chunkEntries(entries);
      let failed;
      try {
        const sqs = await clientOf();
        const results = await Promise.all(requests.map((r) => sendBatch(sqs, options.queueUrl, r, { timeoutMs: options.timeoutMs, ...(options.retry ? { retry: options.retry } : {}) })));
        failed = results.flat();
      } catch (error) {
        throw eventQueueUnavailable(`The events queue did not take the events within ${options.timeoutMs} ms; keep them and retry with the same ids`, error);
      }
      if (failed.length > 0) {
        const first = failed[0]!;
        throw eventQueueUnavailable(`The events queue did not take ${failed.length} of ${entries.length} messages (${first.code}); keep the events and retry with the same ids`, new Error(`${first.code}: ${first.message}`));
      }
      return { accepted: events.length, duplicates: 0, conflicts: 0 };
    },
  };
}

/** Groups entries into SendMessageBatch requests: at most 10 entries and 256 KiB of bodies each. */
function chunkEntries(entries: SendMessageBatchRequestEntry[]): SendMessageBatchRequestEntry[][] {
  const out: SendMessageBatchRequestEntry[][] = [];
  let current: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = Buffer.byteLength(e.MessageBody!);
    if (current.length > 0 && (current.length >= SQS_BATCH_ENTRIES || bytes + size > SQS_MAX_MESSAGE_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
