import { sql } from 'kysely';
import type { BlobStore } from '../adapters/blobs/blob-store.ts';
import type { Database } from '../adapters/db/database.ts';
import { countDeadLetters } from './dead-letters.repo.ts';
import { liveEventFiles } from './lake-files.ts';

/** One app's lake at a glance (`GET /admin/lake/status`, `kidslearn lake status`). */
export interface LakeStatus {
  /** Events acknowledged and not yet in the lake (unclaimed or in an unfinished batch). */
  backlog: number;
  oldestPendingAt: string | null;
  /** When events of this app were last written, and how many then. */
  lastFlushAt: string | null;
  lastFlushEvents: number;
  /** Dead letters not redriven. */
  deadLetters: number;
  /** Event files in the lake (compaction applied) and their bytes. */
  files: number;
  bytes: number;
}

/** How long an app's file listing is reused (listing S3 costs requests). */
export const LISTING_CACHE_MS = 5000;

/** Reads an app's lake status from the database and the store's listing (cached a few seconds). */
export class LakeStatusReader {
  readonly #database: Database;
  readonly #store: BlobStore;
  readonly #listings = new Map<string, { at: number; files: number; bytes: number }>();

  constructor(deps: { database: Database; store: BlobStore }) {
    this.#database = deps.database;
    this.#store = deps.store;
  }

  async status(app: string): Promise<LakeStatus> {
    const db = this.#database.db;
    const [pending, flush, deadLetters, listing] = await Promise.all([
      // Outbox rows not written yet (dead batches' members excluded) and events still in packs.
      sql<{ n: number | string; oldest: Date | null }>`
        with rows as (
          select count(*) as n, min(e.received_at) as oldest from kidslearn.lake_events e
          where e.app = ${app} and e.exported_at is null
            and (e.batch_id is null or e.batch_id in (select id from kidslearn.lake_batches where state = 'claimed'))
        ), packs as (
          select coalesce(sum(events), 0) as n, min(received_at) as oldest from kidslearn.lake_event_packs where app = ${app}
        )
        select rows.n + packs.n as n, least(rows.oldest, packs.oldest) as oldest from rows, packs`.execute(db),
      sql<{ at: Date | null; n: number | string }>`
        with last as (select max(exported_at) as at from kidslearn.lake_events where app = ${app} and exported_at is not null)
        select last.at, (select count(*) from kidslearn.lake_events e where e.app = ${app} and e.exported_at = last.at) as n from last`.execute(db),
      countDeadLetters(db, app),
      this.#listing(app),
    ]);
    const p = pending.rows[0]!;
    const f = flush.rows[0];
    return {
      backlog: Number(p.n),
      oldestPendingAt: p.oldest ? new Date(p.oldest).toISOString() : null,
      lastFlushAt: f?.at ? new Date(f.at).toISOString() : null,
      lastFlushEvents: f?.at ? Number(f.n) : 0,
      deadLetters,
      files: listing.files,
      bytes: listing.bytes,
    };
  }

  async #listing(app: string): Promise<{ files: number; bytes: number }> {
    const cached = this.#listings.get(app);
    if (cached && Date.now() - cached.at < LISTING_CACHE_MS) return cached;
    const live = await liveEventFiles(this.#store, { app });
    const entry = { at: Date.now(), files: live.length, bytes: live.reduce((s, b) => s + b.size, 0) };
    if (this.#listings.size > 1000) this.#listings.clear();
    this.#listings.set(app, entry);
    return entry;
  }
}
