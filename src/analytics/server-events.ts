import type { LakeEvent, ServerEventProperties, ServerEventType } from '../domain/analytics/event-types.ts';
import { deterministicUuid, withPayloadHash, type OutboxEvent } from './event-outbox.ts';

/**
 * Events the server writes about its own records (answers, completions,
 * plans), in the same transaction or statement as the record. Their ids are
 * derived from the record (`deterministicUuid` of the type, app and the
 * record's key), so a retried write maps to the same event and the outbox
 * stores it once.
 */
export function serverEvent<T extends ServerEventType>(e: ServerEventInput<T>): OutboxEvent {
  return withPayloadHash(packedServerEvent(e));
}

/** What a server event is made from. */
export interface ServerEventInput<T extends ServerEventType> {
  app: string;
  type: T;
  /** What identifies the record within the app (e.g. child id and client event id); never stored, only hashed into the id. */
  recordKey: string;
  learner: string | null;
  occurredAt: Date;
  properties: ServerEventProperties<T>;
  receivedAt?: Date;
}

/**
 * The event without its payload digest: what an event pack carries (the
 * digest is computed when the pack is unpacked, analytics/event-packs.ts),
 * so the answer path does not hash each event twice.
 */
export function packedServerEvent<T extends ServerEventType>(e: ServerEventInput<T>): LakeEvent {
  return {
    eventId: deterministicUuid(`${e.type}\u0000${e.app}\u0000${e.recordKey}`),
    app: e.app,
    type: e.type,
    source: 'server',
    occurredAt: e.occurredAt,
    receivedAt: e.receivedAt ?? new Date(),
    learner: e.learner,
    sessionId: null,
    properties: e.properties as Record<string, unknown>,
  };
}
