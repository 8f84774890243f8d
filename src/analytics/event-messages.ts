import { z } from 'zod';
import { CLIENT_EVENT_TYPES, SERVER_EVENT_TYPES, type EventType } from '../domain/analytics/event-types.ts';
import type { LakeEvent } from '../domain/analytics/event-types.ts';
import { eventFields, withPayloadHash, type OutboxEvent } from './event-outbox.ts';

/**
 * The events queue's message format (EVENT_QUEUE=sqs), shared by the
 * producer (analytics/event-sink.ts) and the consumer
 * (analytics/events-consumer.ts). Kept apart from the SQS client so the
 * consumer's bundle needs no SDK.
 */

/** One event as a message carries it: the outbox row's content (the payload digest is recomputed by the consumer). */
const QueuedEvent = z
  .object({
    eventId: z.uuid(),
    app: z.string().regex(/^[a-z][a-z0-9_]{1,30}$/),
    // The allowlist: a message can only carry a type the lake knows (its properties were checked at ingest).
    type: z.enum([...CLIENT_EVENT_TYPES, ...SERVER_EVENT_TYPES] as [EventType, ...EventType[]]),
    source: z.enum(['app', 'server']),
    occurredAt: z.iso.datetime({ offset: true }),
    receivedAt: z.iso.datetime({ offset: true }),
    learner: z.string().min(1).max(200).nullable(),
    sessionId: z.string().min(1).max(200).nullable(),
    properties: z.record(z.string(), z.unknown()),
  })
  .strict();

/** The body of an events message. */
export const EventsMessage = z.object({ v: z.literal(1), events: z.array(QueuedEvent).min(1) }).strict();

/** The JSON of one event inside a message (an event pack's body is a message too: analytics/event-packs.ts). */
export function eventMessageJson(e: LakeEvent): string {
  return JSON.stringify(eventFields(e));
}

/** What a message body holds before and after its events, joined by commas: `HEAD + events.join(',') + TAIL`. */
export const EVENTS_MESSAGE_HEAD = '{"v":1,"events":[';
export const EVENTS_MESSAGE_TAIL = ']}';
const HEAD = EVENTS_MESSAGE_HEAD;
const TAIL = EVENTS_MESSAGE_TAIL;

/** Packs events, in order, into message bodies of at most `maxBytes` each (an event larger than that alone in its message; SQS then refuses it). */
export function packEvents(events: readonly LakeEvent[], maxBytes: number): string[] {
  const bodies: string[] = [];
  let parts: string[] = [];
  let size = 0;
  const flush = () => {
    if (parts.length > 0) bodies.push(HEAD + parts.join(',') + TAIL);
    parts = [];
    size = 0;
  };
  for (const e of events) {
    const json = eventMessageJson(e);
    const bytes = Buffer.byteLength(json);
    if (parts.length > 0 && Buffer.byteLength(HEAD) + size + parts.length + bytes + Buffer.byteLength(TAIL) > maxBytes) flush();
    parts.push(json);
    size += bytes;
  }
  flush();
  return bodies;
}

/** The events of a message body, ready for the outbox; throws (a ZodError or SyntaxError) when the body is not an events message. */
export function decodeEventsMessage(body: string): OutboxEvent[] {
  const message = EventsMessage.parse(JSON.parse(body));
  return message.events.map((e) =>
    withPayloadHash({ ...e, occurredAt: new Date(e.occurredAt), receivedAt: new Date(e.receivedAt) }),
  );
}
