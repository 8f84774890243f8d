import type { Database } from '../../adapters/db/database.ts';
import type { EventOutbox } from '../../analytics/event-outbox.ts';
import { createDatabaseEventSink, type EventSink } from '../../analytics/event-sink.ts';
import type { LearnerKeys } from '../../analytics/learner-keys.ts';
import { authorize, notFoundFor } from '../../domain/access-policy.ts';
import { EVENT_CATEGORY, type ClientEventType, type LakeEvent } from '../../domain/analytics/event-types.ts';
import { lakeBacklogFull } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { childFactsWithSettings } from '../families/families.repo.ts';

/** One event as an app sends it, after its schema. */
export interface ClientEventInput {
  eventId: string;
  type: ClientEventType;
  occurredAt: Date;
  childId?: string | undefined;
  sessionId?: string | undefined;
  properties: Record<string, unknown>;
}

/** Why an event was not stored: the child's setting, or the lake switched off (`LAKE_ENABLED=false`). */
export type DropReason = 'product_analytics_off' | 'lake_disabled';

/**
 * What `POST /api/events` answers once the batch is committed (database
 * sink) or queued (SQS sink: `accepted` counts the events SQS took, and
 * `duplicates` and `conflicts` are 0 — the consumer decides them).
 */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  conflicts: number;
  dropped: { count: number; reasons: Record<DropReason, number> };
}

/** Seconds a client is told to wait when the backlog is full (about one writer flush). */
export const BACKLOG_RETRY_SECONDS = 30;

/**
 * Event ingest: checks who the events are about, drops usage events the
 * child's privacy settings do not allow, replaces child ids by pseudonymous
 * learner keys and hands the batch to the event sink: the outbox in one
 * transaction (default), or the SQS events queue (`EVENT_QUEUE=sqs`).
 * Nothing is acknowledged before the sink has taken every event.
 */
export class EventsService {
  readonly #db: Database;
  readonly #outbox: EventOutbox;
  readonly #sink: EventSink;
  readonly #keys: LearnerKeys;
  readonly #metrics: Metrics;
  readonly #maxBacklog: number;
  readonly #enabled: boolean;

  /**
   * `enabled` false (`LAKE_ENABLED=false`): every event is acknowledged and dropped (reason `lake_disabled`), nothing is read or stored.
   * `sink`: where kept events go; the outbox in the request's transaction when not given.
   */
  constructor(deps: { db: Database; outbox: EventOutbox; sink?: EventSink; keys: LearnerKeys; metrics: Metrics; maxBacklog: number; enabled?: boolean }) {
    this.#db = deps.db;
    this.#outbox = deps.outbox;
    this.#sink = deps.sink ?? createDatabaseEventSink({ db: deps.db, outbox: deps.outbox });
    this.#keys = deps.keys;
    this.#metrics = deps.metrics;
    this.#maxBacklog = deps.maxBacklog;
    this.#enabled = deps.enabled ?? true;
  }

  /**
   * Stores a validated batch. In order: the caller's role (403 for admins),
   * the backlog (503 `lake_backlog_full` over `LAKE_MAX_BACKLOG`), then every
   * child named (404 `child_not_found` for any the caller may not see: the
   * batch is refused whole). A child token's events are about the child
   * itself, whether or not they name it.
   */
  async ingest(principal: Principal, events: readonly ClientEventInput[]): Promise<IngestResult> {
    authorize(principal, 'child.events.write');
    if (!this.#enabled) {
      this.#metrics.lakeEvents.inc({ outcome: 'dropped' }, events.length);
      return { accepted: 0, duplicates: 0, conflicts: 0, dropped: { count: events.length, reasons: { product_analytics_off: 0, lake_disabled: events.length } } };
    }
    const app = principal.app;
    const backlog = await this.#outbox.backlog(undefined, this.#maxBacklog);
    if (backlog > this.#maxBacklog) throw lakeBacklogFull(backlog, this.#maxBacklog, BACKLOG_RETRY_SECONDS);

    const childOf = (e: ClientEventInput) => e.childId ?? (principal.role === 'child' ? principal.sub : undefined);
    const childIds = [...new Set(events.map(childOf).filter((id): id is string => id !== undefined))];
    const db = this.#db.db;
    const facts = await childFactsWithSettings(db, app, childIds);
    for (const id of childIds) {
      const f = facts.get(id);
      if (!f) throw notFoundFor('child');
      authorize(principal, 'child.events.write', f);
    }
    const keys = await this.#keys.keysOf(app, childIds);

    const receivedAt = new Date();
    const kept: LakeEvent[] = [];
    let dropped = 0;
    for (const e of events) {
      const childId = childOf(e);
      // Usage events about a child are kept only with the child's consent setting on; learning events always.
      if (childId !== undefined && EVENT_CATEGORY[e.type] === 'usage' && !facts.get(childId)!.settings.productAnalytics) {
        dropped++;
        continue;
      }
      // The payload digest, where one is needed, is the sink's business (the database sink's duplicates and conflicts).
      kept.push({
        eventId: e.eventId,
        app,
        type: e.type,
        source: 'app',
        occurredAt: e.occurredAt,
        receivedAt,
        learner: childId === undefined ? null : keys.get(childId)!,
        sessionId: e.sessionId ?? null,
        properties: e.properties,
      });
    }
    const delivered = await this.#sink.deliver(kept);
    const result: IngestResult = {
      accepted: delivered.accepted,
      duplicates: delivered.duplicates,
      conflicts: delivered.conflicts,
      dropped: { count: dropped, reasons: { product_analytics_off: dropped, lake_disabled: 0 } },
    };
    const m = this.#metrics.lakeEvents;
    if (result.accepted) m.inc({ outcome: 'accepted' }, result.accepted);
    if (result.duplicates) m.inc({ outcome: 'duplicate' }, result.duplicates);
    if (result.conflicts) m.inc({ outcome: 'conflict' }, result.conflicts);
    if (dropped) m.inc({ outcome: 'dropped' }, dropped);
    return result;
  }
}
