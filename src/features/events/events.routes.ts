import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { CLIENT_EVENT_PROPERTIES, CLIENT_EVENT_TYPES, EVENT_CATEGORY, type ClientEventType } from '../../domain/analytics/event-types.ts';
import { AppError } from '../../domain/errors.ts';
import { instant, safeId } from '../../domain/input-rules.ts';
import type { Principal } from '../../domain/principal.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { raises } from '../../http/openapi.ts';
import { json, security } from '../../http/route-helpers.ts';
import { validationHook } from '../../http/validation.ts';
import type { ClientEventInput, EventsService } from './events.service.ts';

/** Most events one request may carry (the body is also limited to 1 MiB). */
export const MAX_EVENTS_PER_REQUEST = 500;

/** A session id the app chooses: a UUID or a short token, never free text. */
const SessionId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'must be a UUID or a token of 1–64 letters, digits, "_", ".", ":" or "-"')
  .openapi({ example: '5a0c6f6e-54a7-4b8e-9d2f-7c1b0d7a9e21' });

/** One event of a type: the common envelope and the type's strict properties. */
const eventOf = <T extends ClientEventType>(type: T) =>
  z
    .object({
      eventId: z.uuid().openapi({ description: 'Chosen by the app, unique per event; a retry with the same id is stored once' }),
      type: z.literal(type),
      occurredAt: instant(),
      childId: safeId.optional().openapi({ description: 'The child the event is about; absent for events about no child (a child token’s events are about the child itself)' }),
      sessionId: SessionId.optional(),
      properties: CLIENT_EVENT_PROPERTIES[type],
    })
    .strict()
    .openapi(`Event_${type}`, { description: `A \`${type}\` event (${EVENT_CATEGORY[type]})` });

const variants = CLIENT_EVENT_TYPES.map(eventOf);
const ClientEvent = z.discriminatedUnion('type', variants as unknown as [ReturnType<typeof eventOf<'session_start'>>, ...ReturnType<typeof eventOf<ClientEventType>>[]]);

const EventBatch = z
  .object({ events: z.array(ClientEvent).min(1).max(MAX_EVENTS_PER_REQUEST) })
  .strict()
  .openapi('EventBatch');

const IngestResult = z
  .object({
    accepted: z.number().int().openapi({ description: 'Events stored by this request (EVENT_QUEUE=sqs: events the queue took; the consumer stores each id once)' }),
    duplicates: z.number().int().openapi({ description: 'Events already stored with the same id and payload (retries): acknowledged, stored once. Always 0 with EVENT_QUEUE=sqs (decided by the consumer)' }),
    conflicts: z.number().int().openapi({ description: 'Events whose id is stored with a different payload: kept as dead letters, the stored event unchanged. Always 0 with EVENT_QUEUE=sqs (the consumer dead-letters them)' }),
    dropped: z.object({
      count: z.number().int(),
      reasons: z.object({
        product_analytics_off: z.number().int().openapi({ description: 'Usage events about a child whose productAnalytics setting is off' }),
        lake_disabled: z.number().int().openapi({ description: 'Events received while the lake is switched off (LAKE_ENABLED=false): every event of the request' }),
      }),
    }),
  })
  .openapi('EventIngestResult');

const ingest = createRoute({
  method: 'post',
  path: '/api/events',
  tags: ['events'],
  ...raises({ child_not_found: 'not_found', lake_backlog_full: 'unavailable', event_queue_unavailable: 'unavailable', forbidden: 'forbidden' }),
  summary: `Send analytics events: 1–${MAX_EVENTS_PER_REQUEST} per request, at most 1 MiB`,
  description:
    'Each event is checked against its type’s schema (unknown types and properties are refused, naming the field); one bad event refuses the whole batch. ' +
    'Child ids are replaced by pseudonymous learner keys. Usage events (session_start, session_end, screen_view, app_error) about a child whose productAnalytics setting is off are dropped and counted. With LAKE_ENABLED=false every event is acknowledged and dropped (reason lake_disabled). ' +
    'Idempotent on eventId. 202 only once the batch is committed (EVENT_QUEUE=sqs: once the events queue took every event; duplicates and conflicts are then decided by the consumer and reported as 0); 503 `lake_backlog_full` with Retry-After while the lake writer is too far behind; 503 `event_queue_unavailable` when the events queue did not take every event in time.',
  security,
  request: { body: { required: true, content: { 'application/json': { schema: EventBatch } } } },
  responses: { 202: json(IngestResult, 'Committed'), ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503) },
});

function principalOf(c: { get(key: 'principal'): Principal | undefined }): Principal {
  const p = c.get('principal');
  if (!p) throw new AppError('internal', 'principal_missing', 'Request reached a handler without a caller');
  return p;
}

/** `POST /api/events`. */
export function eventsRoutes(events: EventsService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(ingest, async (c) => c.json(await events.ingest(principalOf(c), c.req.valid('json').events as ClientEventInput[]), 202));
  return app;
}
