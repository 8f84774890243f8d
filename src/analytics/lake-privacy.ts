import { sql, type Transaction } from 'kysely';
import type { BlobStore } from '../adapters/blobs/blob-store.ts';
import type { Database } from '../adapters/db/database.ts';
import type { Tables } from '../adapters/db/tables.ts';
import { LEARNER_KEY_PATTERN } from '../domain/analytics/pseudonym.ts';
import type { Logger } from '../observability/logger.ts';
import { deleteUnreadablePacksOf, packedEventsOf, unpackAllEventPacks } from './event-packs.ts';
import { eraseLearnersFromLake } from './lake-erasure.ts';
import type { LakeQueryEngine } from './lake-query.ts';
import type { LearnerKeys } from './learner-keys.ts';

/**
 * A child's rights reach the analytics lake (docs/operations.md, "Erasure
 * and the lake"):
 *
 * - export: the child's events, from the outbox (not yet written) and from
 *   the lake's files, each once;
 * - erasure, in the erasure's own transaction: the child's outbox rows and
 *   dead letters are deleted and an erasure of its learner key is recorded;
 *   then the lake writer rewrites every Parquet file holding the key
 *   ({@link LakePrivacy.processErasures}, run by the writer, the only
 *   process that writes files, so no batch it writes can bring rows back).
 */
export class LakePrivacy {
  readonly #database: Database;
  readonly #keys: LearnerKeys;
  readonly #query: () => LakeQueryEngine;
  readonly #logger: Logger;

  constructor(deps: { database: Database; keys: LearnerKeys; query: () => LakeQueryEngine; logger: Logger }) {
    this.#database = deps.database;
    this.#keys = deps.keys;
    this.#query = deps.query;
    this.#logger = deps.logger;
  }

  /** Inside the child's erasure transaction: what the database holds goes now, the files follow. */
  async eraseInTransaction(trx: Transaction<Tables>, app: string, childId: string): Promise<Record<string, number>> {
    const learner = await this.#keys.keyOf(app, childId, trx);
    // The child is deleted by now, so no answer of its can land any more, and every pack holding its
    // events is committed: unpack them all (waiting for a writer unpacking some), then the rows go.
    await unpackAllEventPacks(trx, app);
    // Packs this version cannot decode go whole when they hold the child's key (other children's events in them with it).
    const unreadable = await deleteUnreadablePacksOf(trx, app, learner);
    if (unreadable.packs > 0) this.#logger.warn({ app, packs: unreadable.packs, events: unreadable.events }, 'lake erasure: deleted unreadable event packs holding the child’s key, with every event in them');
    // Exported rows hold no learner key any more (the writer clears it): only pending ones can be the child's.
    const events = await trx.deleteFrom('kidslearn.lake_events').where('exported_at', 'is', null).where('app', '=', app).where('learner', '=', learner).executeTakeFirst();
    const letters = await trx.deleteFrom('kidslearn.lake_dead_letters').where('app', '=', app).where('learner', '=', learner).executeTakeFirst();
    await trx.insertInto('kidslearn.lake_erasures').values({ app, learner }).execute();
    return { lake_events: Number(events.numDeletedRows), lake_dead_letters: Number(letters.numDeletedRows), ...(unreadable.packs > 0 ? { lake_event_packs: unreadable.packs } : {}) };
  }

  /** The child's analytics events, oldest first: what the lake holds and what waits to be written, each event once. */
  async exportEvents(app: string, childId: string): Promise<ExportedEvent[]> {
    const learner = await this.#keys.keyOf(app, childId);
    if (!LEARNER_KEY_PATTERN.test(learner)) throw new Error('unexpected learner key');
    // Packs and outbox rows from one snapshot, so an event being unpacked meanwhile is seen once, not missed.
    const { packed, pending } = await this.#database.db.transaction().execute(async (trx) => {
      await sql`set transaction isolation level repeatable read, read only`.execute(trx);
      const packed = await packedEventsOf(trx, app, learner);
      const pending = await trx
        .selectFrom('kidslearn.lake_events')
        .select(['event_id', 'type', 'source', 'occurred_at', 'received_at', 'session_id', 'properties'])
        .where('exported_at', 'is', null)
        .where('app', '=', app)
        .where('learner', '=', learner)
        .orderBy('seq')
        .execute();
      return { packed, pending };
    });
    const out = new Map<string, ExportedEvent>();
    const lake = await this.#query().query(
      `select event_id, type, source, occurred_at, received_at, session_id, properties from events where app = '${app}' and learner = '${learner}' order by occurred_at, seq`,
      { scope: { app }, maxRows: 1_000_000 },
    );
    for (const [eventId, type, source, occurredAt, receivedAt, sessionId, properties] of lake.rows) {
      out.set(String(eventId), {
        eventId: String(eventId),
        type: String(type),
        source: String(source) as 'app' | 'server',
        occurredAt: utcIso(occurredAt),
        receivedAt: utcIso(receivedAt),
        sessionId: sessionId === null ? null : String(sessionId),
        properties: JSON.parse(String(properties)) as Record<string, unknown>,
        inLake: true,
      });
    }
    for (const r of [...pending, ...packed]) {
      if (out.has(r.event_id)) continue;
      out.set(r.event_id, {
        eventId: r.event_id,
        type: r.type,
        source: r.source,
        occurredAt: r.occurred_at.toISOString(),
        receivedAt: r.received_at.toISOString(),
        sessionId: r.session_id,
        properties: r.properties as Record<string, unknown>,
        inLake: false,
      });
    }
    return [...out.values()].sort((a, b) => a.occurredAt.localeCompare(b.occurredAt) || a.eventId.localeCompare(b.eventId));
  }

  /** Carries out recorded erasures on the lake's files (the lake writer calls this each cycle). Returns how many were done. */
  async processErasures(store: BlobStore): Promise<number> {
    const pending = await this.#database.db.selectFrom('kidslearn.lake_erasures').select(['id', 'app', 'learner']).where('done_at', 'is', null).orderBy('id').limit(500).execute();
    const byApp = new Map<string, typeof pending>();
    for (const e of pending) byApp.set(e.app, [...(byApp.get(e.app) ?? []), e]);
    let done = 0;
    for (const [app, erasures] of byApp) {
      const result = await eraseLearnersFromLake(store, app, [...new Set(erasures.map((e) => e.learner))]);
      await this.#database.db
        .updateTable('kidslearn.lake_erasures')
        .set({ done_at: new Date(), files_rewritten: result.filesRewritten + result.filesDeleted, rows_removed: result.rowsRemoved })
        .where('id', 'in', erasures.map((e) => e.id))
        .execute();
      this.#logger.info({ app, erasures: erasures.length, ...result }, 'lake: erasures carried out on the files');
      done += erasures.length;
    }
    return done;
  }
}

/** One analytics event in a child's export. */
export interface ExportedEvent {
  eventId: string;
  type: string;
  source: 'app' | 'server';
  occurredAt: string;
  receivedAt: string;
  sessionId: string | null;
  properties: Record<string, unknown>;
  /** Already written to the lake's files (else waiting in the outbox). */
  inLake: boolean;
}

/** DuckDB TIMESTAMP values (UTC, no zone) as ISO instants. */
function utcIso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  const text = String(value);
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`).toISOString();
}
