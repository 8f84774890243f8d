import { randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BlobStore } from '../adapters/blobs/blob-store.ts';
import { withTimeout, type Database } from '../adapters/db/database.ts';
import { blobStoreUnavailable } from '../domain/errors.ts';
import type { LakeBatchFile } from '../adapters/db/tables.ts';
import type { SingletonLock } from '../adapters/db/writer-lock.ts';
import { CLIENT_EVENT_PROPERTIES, SERVER_EVENT_PROPERTIES } from '../domain/analytics/event-types.ts';
import type { Logger } from '../observability/logger.ts';
import type { LakeWriterMetrics } from '../observability/metrics.ts';
import type { DeadLetterAlerts } from './alerts.ts';
import { recoverCompactions } from './compaction.ts';
import * as repo from './lake-batches.repo.ts';
import { retryUnreadablePacks, unpackEventPacks } from './event-packs.ts';
import type { Batch, OutboxEvent } from './lake-batches.repo.ts';
import { eventObjectKey, lakeRow, utcDay } from './lake-layout.ts';
import { openParquetEncoder, type ParquetEncoder } from './parquet-writer.ts';

/**
 * The lake writer: moves acknowledged events from the outbox
 * (`kidslearn.lake_events`) to Parquet files in the blob store, exactly once.
 *
 * Each cycle: (0) the answer path's event packs are unpacked into the
 * outbox (analytics/event-packs.ts); (1) claimed batches due for a (re)try are written first — the
 * same members give the same files under the same keys, so a batch whose
 * writer crashed after storing some files is simply written again; (2) when
 * `flushEvents` events are pending, the oldest has waited `flushSeconds`, or
 * on {@link LakeWriter.flushNow}, pending events are claimed into a new
 * batch (one transaction) and written. Writing a batch: members grouped by
 * (app, UTC day of occurred_at), one file per group at
 * `eventObjectKey(app, day, firstSeq, lastSeq)`, each encoded to a private
 * temporary file and stored with an atomic put; only when all are stored
 * does one transaction mark the events exported and the batch written.
 *
 * Failures: a failed attempt adds one to the batch's attempts and sets its
 * next try after a full-jitter exponential backoff; other batches go on (no
 * head-of-line blocking). If the store itself is down (its ping fails, or
 * three attempts in a row failed), the writer pauses all writes with the same
 * backoff, probing with one ping per pause. Past `maxAttempts` the batch's
 * events go to the dead letters (`max_attempts`). An event that is not a
 * valid lake event, or that DuckDB refuses (found by splitting the group in
 * halves), is dead-lettered alone (`rejected`) and the rest is written.
 *
 * Only one writer works at a time ({@link SingletonLock}): a second one
 * waits and retries the lock every cycle.
 */
export interface LakeWriterOptions {
  database: Database;
  store: BlobStore;
  lock: SingletonLock;
  logger: Logger;
  metrics: LakeWriterMetrics;
  alerts: DeadLetterAlerts;
  flushSeconds: number;
  flushEvents: number;
  maxAttempts: number;
  dedupDays: number;
  /** Most events per batch (default `flushEvents`, at most 100,000). */
  batchSize?: number;
  /** Pause between cycles (default 1 s). */
  pollMs?: number;
  /** Backoff of a failed batch: base and cap (default 1 s and 5 min). */
  retryBaseMs?: number;
  retryCapMs?: number;
  /**
   * The writer's own bound on one store call (default 30 s), on top of the
   * adapter's `LAKE_TIMEOUT_MS`: a put that never settles fails the attempt
   * instead of stalling the loop. A late put that lands anyway is harmless:
   * the retry writes the same bytes under the same key.
   */
  storeTimeoutMs?: number;
  /** How often the loop prunes the outbox (default 10 min). */
  pruneEveryMs?: number;
  random?: () => number;
  now?: () => Date;
  /** Test seams: a different encoder; a hook after each stored file (a "crash" there hangs or throws). */
  encoder?: ParquetEncoder;
  afterStore?: (key: string, batchId: number) => Promise<void> | void;
  /**
   * Work on the files that must not race with batch writes, run each cycle
   * after the batches (erasures reaching the lake: analytics/lake-privacy.ts).
   * A failure is logged and tried again next cycle.
   */
  maintenance?: (store: BlobStore) => Promise<unknown>;
}

/** What one flush did. */
export interface FlushResult {
  batches: number;
  events: number;
  files: number;
  failed: number;
  deadLetters: number;
  /** Another process holds the writer lock; nothing was done. */
  locked: boolean;
}

/** Full-jitter exponential backoff: a random delay in [0, min(cap, base·2^(attempt−1))). */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.floor(random() * ceiling);
}

/** Why an outbox row cannot be a lake event (unknown type, properties outside its schema), or undefined. */
export function invalidEvent(e: OutboxEvent): string | undefined {
  const { type, source, properties } = e.event;
  const schema = source === 'server' ? SERVER_EVENT_PROPERTIES[type as keyof typeof SERVER_EVENT_PROPERTIES] : CLIENT_EVENT_PROPERTIES[type as keyof typeof CLIENT_EVENT_PROPERTIES];
  if (!schema) return `unknown ${source} event type "${type}"`;
  const parsed = schema.safeParse(properties);
  if (!parsed.success) return `properties of ${type}: ${parsed.error.issues[0]?.path.join('.') || 'value'} ${parsed.error.issues[0]?.message ?? 'invalid'}`;
  if (Number.isNaN(e.event.occurredAt.getTime()) || Number.isNaN(e.event.receivedAt.getTime())) return 'invalid timestamp';
  return undefined;
}

/** `store` with every call rejected as `blob_store_unavailable` when it does not settle within `ms`. */
function boundedStore(store: BlobStore, ms: number): BlobStore {
  const bound =
    <A extends unknown[], R>(what: string, fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      withTimeout(fn(...args), ms, () => blobStoreUnavailable(`Blob store: ${what}${typeof args[0] === 'string' ? ` ${args[0]}` : ''} timed out after ${ms} ms`));
  return {
    kind: store.kind,
    location: store.location,
    ...(store.localRoot === undefined ? {} : { localRoot: store.localRoot }),
    putFile: bound('put', (key: string, file: string) => store.putFile(key, file)),
    putBytes: bound('put', (key: string, bytes: Uint8Array) => store.putBytes(key, bytes)),
    getFile: bound('get', (key: string, file: string) => store.getFile(key, file)),
    getBytes: bound('get', (key: string) => store.getBytes(key)),
    exists: bound('exists', (key: string) => store.exists(key)),
    list: bound('list', (prefix: string) => store.list(prefix)),
    delete: bound('delete', (keys: readonly string[]) => store.delete(keys)),
    ping: bound('ping', (timeoutMs: number) => store.ping(timeoutMs)),
    close: () => store.close(),
  };
}

/** A store failure that pauses all writes, not just one batch. */
const STORE_DOWN_AFTER_FAILURES = 3;
const CLAIMED_BATCH_SCAN = 100;
const MAX_BATCHES_PER_CYCLE = 100;
const BACKLOG_EVERY_MS = 10_000;
/**
 * Unpack statements per cycle at most (each up to UNPACK_PACKS_PER_STATEMENT
 * packs of ≤ 1,000 events): a cycle a second keeps up with far more answers
 * than one server writes, and a long backlog of packs is worked off over a
 * few cycles without holding up batches.
 */
const UNPACK_STATEMENTS_PER_CYCLE = 40;

export class LakeWriter {
  readonly #o: Required<Pick<LakeWriterOptions, 'pollMs' | 'retryBaseMs' | 'retryCapMs' | 'pruneEveryMs' | 'storeTimeoutMs' | 'random' | 'now'>> & LakeWriterOptions;
  readonly #batchSize: number;
  /** The store with every call bounded by `storeTimeoutMs`. */
  readonly #store: BlobStore;
  readonly #tmpDir: string;
  #encoder: Promise<ParquetEncoder> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopping = false;
  #recovered = false;
  #unreadableRetried = false;
  #consecutiveFailures = 0;
  #pausedUntil = 0;
  #lastPrune = 0;
  #backlogAt = 0;
  #waitingForLockLogged = false;

  constructor(options: LakeWriterOptions) {
    this.#o = { pollMs: 1000, retryBaseMs: 1000, retryCapMs: 300_000, pruneEveryMs: 600_000, storeTimeoutMs: 30_000, random: Math.random, now: () => new Date(), ...options };
    this.#batchSize = Math.max(1, Math.min(options.batchSize ?? options.flushEvents, 100_000));
    this.#store = boundedStore(options.store, this.#o.storeTimeoutMs);
    this.#tmpDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-lake-'));
  }

  /** Starts the loop: a cycle every `pollMs`, each after the previous one ended. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const tick = async () => {
      if (!this.#running) return;
      try {
        await this.#serial(() => this.#cycle(false, false));
        if (this.#o.now().getTime() - this.#lastPrune >= this.#o.pruneEveryMs) await this.#serial(() => this.#prune());
      } catch (error) {
        this.#o.logger.error({ err: error }, 'lake writer: cycle failed');
      }
      if (this.#running) this.#timer = setTimeout(() => void tick(), this.#o.pollMs);
    };
    this.#timer = setTimeout(() => void tick(), 0);
  }

  /**
   * One flush now, whatever the thresholds: due batches, then every pending
   * event in batches. `retryNow` also retries batches still in their backoff
   * and ignores a global pause (the CLI's `lake flush --retry`).
   */
  flushNow(options: { retryNow?: boolean } = {}): Promise<FlushResult> {
    return this.#serial(() => this.#cycle(true, options.retryNow === true));
  }

  /** Prunes the outbox now (exported events past the dedup window, finished batches). */
  prune(): Promise<{ events: number; batches: number }> {
    return this.#serial(() => this.#prune());
  }

  /**
   * Stops the loop: the batch being written gets up to `timeoutMs` to
   * finish (or it is left claimed, for the next writer to rewrite), then the
   * lock is released and DuckDB closed.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#running = false;
    this.#stopping = true;
    clearTimeout(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#chain.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    await this.#o.lock.release();
    const encoder = this.#encoder;
    this.#encoder = undefined;
    if (encoder && !this.#o.encoder) await encoder.then((e) => e.close()).catch(() => undefined);
    rmSync(this.#tmpDir, { recursive: true, force: true });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  #encoderReady(): Promise<ParquetEncoder> {
    if (this.#o.encoder) return Promise.resolve(this.#o.encoder);
    this.#encoder ??= openParquetEncoder();
    this.#encoder.catch(() => (this.#encoder = undefined));
    return this.#encoder;
  }

  async #cycle(force: boolean, retryNow: boolean): Promise<FlushResult> {
    const result: FlushResult = { batches: 0, events: 0, files: 0, failed: 0, deadLetters: 0, locked: false };
    const { database, lock, logger, metrics } = this.#o;
    if (!(await lock.acquire())) {
      if (!this.#waitingForLockLogged) logger.info('lake writer: another writer holds the lock; waiting');
      this.#waitingForLockLogged = true;
      result.locked = true;
      return result;
    }
    if (this.#waitingForLockLogged) logger.info('lake writer: took over the lock');
    this.#waitingForLockLogged = false;
    // (0) the answer path's packs into outbox rows (the database only, so even while the store is paused).
    await this.#unpack(force);
    const paused = !retryNow && this.#o.now().getTime() < this.#pausedUntil;
    if (!this.#recovered && !paused) {
      // Tried again each cycle until the store answers; batches are written meanwhile (compaction never touches claimed ones).
      this.#recovered = (await recoverCompactions(this.#store, logger)).complete;
      const last = await repo.lastFlush(database.db);
      if (last.at) metrics.lastFlush.set(last.at.getTime() / 1000);
    }
    if (!paused) {
      // (1) claimed batches first: crashed writers' and failed ones past their backoff.
      const due = await repo.dueBatches(database.db, { now: this.#o.now(), all: retryNow, limit: CLAIMED_BATCH_SCAN });
      for (const batch of due) {
        if (this.#stopping && !force) break;
        // Never tried and still claimed: its writer died (or stopped) before marking it.
        if (batch.attempts === 0) logger.info({ batch: batch.id, events: batch.events }, 'lake writer: rewriting a batch an earlier writer claimed');
        if (!(await this.#attempt(batch, result))) break;
      }
      // (2) new batches while the thresholds say so (or until nothing is pending on a forced flush);
      // at most MAX_BATCHES_PER_CYCLE, so a flush under a steady stream of new events ends.
      for (let n = 0; n < MAX_BATCHES_PER_CYCLE && !(this.#stopping && !force) && (retryNow || this.#o.now().getTime() >= this.#pausedUntil); n++) {
        const pending = await repo.pendingEvents(database.db, this.#o.flushEvents);
        if (pending.count === 0) break;
        const age = pending.oldestReceivedAt ? (this.#o.now().getTime() - pending.oldestReceivedAt.getTime()) / 1000 : 0;
        if (!force && pending.count < this.#o.flushEvents && age < this.#o.flushSeconds) break;
        const batch = await repo.claimBatch(database.db, this.#batchSize);
        if (!batch) break;
        if (!(await this.#attempt(batch, result))) break;
      }
    }
    if (!paused && this.#o.maintenance) {
      try {
        await this.#o.maintenance(this.#store);
      } catch (error) {
        logger.warn({ err: error }, 'lake writer: maintenance (erasures) failed; retrying next cycle');
      }
    }
    // Counting the whole backlog scans the pending index: at most every BACKLOG_EVERY_MS, and after writes.
    if (result.batches || result.failed || this.#o.now().getTime() - this.#backlogAt >= BACKLOG_EVERY_MS) {
      this.#backlogAt = this.#o.now().getTime();
      metrics.backlog.set(await repo.backlog(database.db));
    }
    return result;
  }

  /**
   * Unpacks event packs (analytics/event-packs.ts): all on a forced flush,
   * else at most UNPACK_STATEMENTS_PER_CYCLE transactions. Conflicts found
   * (a packed client event whose id is stored with another payload) are
   * dead letters and reported like the writer's own.
   */
  async #unpack(all: boolean): Promise<void> {
    if (!this.#unreadableRetried) {
      // Packs an earlier (older) version set aside get one more try from this one.
      const retried = await retryUnreadablePacks(this.#o.database.db);
      this.#unreadableRetried = true;
      if (retried > 0) this.#o.logger.warn({ packs: retried }, 'lake writer: trying again event packs set aside as unreadable');
    }
    for (let n = 0; all || n < UNPACK_STATEMENTS_PER_CYCLE; n++) {
      if (this.#stopping && !all) return;
      const moved = await unpackEventPacks(this.#o.database.db);
      for (const c of moved.conflicts) await this.#o.alerts.report({ ...c, reason: 'conflict' });
      for (const u of moved.unreadable) this.#o.logger.error({ err: u.error, pack: u.id }, 'lake writer: an event pack cannot be read; set aside (retried when a writer starts), the packs behind it go on');
      if (moved.packs === 0 && moved.unreadable.length === 0) return;
    }
  }

  /** Writes one batch; on failure records it (backoff, maybe dead letters). Returns false when the store looks down (stop this cycle). */
  async #attempt(batch: Batch, result: FlushResult): Promise<boolean> {
    const { logger, metrics } = this.#o;
    const started = performance.now();
    try {
      const written = await this.#write(batch);
      metrics.flushSeconds.observe((performance.now() - started) / 1000);
      this.#consecutiveFailures = 0;
      this.#pausedUntil = 0;
      if (written.written) {
        result.batches++;
        result.events += written.exported;
        result.files += written.files;
        metrics.eventsWritten.inc(written.exported);
        metrics.lastFlush.set(Date.now() / 1000);
      }
      for (const dead of written.deadLetters) {
        result.deadLetters += dead.count;
        await this.#o.alerts.report(dead);
      }
      return true;
    } catch (error) {
      result.failed++;
      metrics.batchesFailed.inc();
      const message = error instanceof Error ? error.message : String(error);
      const attempts = batch.attempts + 1;
      const delay = backoffDelayMs(attempts, this.#o.retryBaseMs, this.#o.retryCapMs, this.#o.random);
      const recorded = await repo.recordFailure(this.#o.database.db, batch.id, message, new Date(this.#o.now().getTime() + delay));
      logger.warn({ err: error, batch: batch.id, attempts: recorded, retryInMs: delay }, 'lake writer: batch failed; retrying later');
      if (recorded >= this.#o.maxAttempts) {
        const dead = await repo.killBatch(this.#o.database.db, batch.id);
        logger.error({ batch: batch.id, attempts: recorded }, 'lake writer: batch past its attempts; its events went to the dead letters');
        for (const d of dead) {
          result.deadLetters += d.count;
          await this.#o.alerts.report(d);
        }
      }
      this.#consecutiveFailures++;
      const storeDown = this.#consecutiveFailures >= STORE_DOWN_AFTER_FAILURES || !(await this.#storeAnswers());
      if (storeDown) {
        const pause = backoffDelayMs(this.#consecutiveFailures, this.#o.retryBaseMs, this.#o.retryCapMs, this.#o.random);
        this.#pausedUntil = this.#o.now().getTime() + pause;
        logger.warn({ pauseMs: pause, failures: this.#consecutiveFailures }, 'lake writer: the blob store looks down; pausing all writes');
        return false;
      }
      return true;
    }
  }

  async #storeAnswers(): Promise<boolean> {
    try {
      await this.#store.ping(this.#o.storeTimeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  /** Encodes and stores every file of the batch, then marks it written. */
  async #write(batch: Batch): Promise<{ written: boolean; exported: number; files: number; deadLetters: repo.NewDeadLetters[] }> {
    const members = await repo.batchMembers(this.#o.database.db, batch.id);
    const rejected: { event: OutboxEvent; detail: string }[] = [];
    const groups = new Map<string, OutboxEvent[]>();
    for (const m of members) {
      const why = invalidEvent(m);
      if (why) {
        rejected.push({ event: m, detail: why });
        continue;
      }
      const key = `${m.event.app}\u0000${utcDay(m.event.occurredAt)}`;
      const group = groups.get(key);
      if (group) group.push(m);
      else groups.set(key, [m]);
    }
    const files: LakeBatchFile[] = [];
    const encoder = await this.#encoderReady();
    for (const key of [...groups.keys()].sort()) {
      const [app, day] = key.split('\u0000') as [string, string];
      await this.#writeGroup(encoder, batch, app, day, groups.get(key)!, files, rejected, true);
    }
    const marked = await repo.markWritten(this.#o.database.db, batch.id, files, rejected);
    return { ...marked, files: files.length };
  }

  /**
   * One file for `rows`; if DuckDB refuses them, the halves are tried on
   * their own (each its own file), down to single events, which are
   * rejected. The split is deterministic, so a rewrite after a crash makes
   * the same files.
   */
  async #writeGroup(
    encoder: ParquetEncoder,
    batch: Batch,
    app: string,
    day: string,
    rows: OutboxEvent[],
    files: LakeBatchFile[],
    rejected: { event: OutboxEvent; detail: string }[],
    whole: boolean,
  ): Promise<void> {
    const batchId = batch.id;
    const tmp = path.join(this.#tmpDir, `${randomBytes(8).toString('hex')}.parquet`);
    try {
      try {
        await encoder.write(
          rows.map((r) => lakeRow(r.seq, r.event)),
          tmp,
        );
      } catch (error) {
        if (rows.length === 1) {
          // A single event DuckDB refuses is rejected, unless DuckDB refuses everything (a full
          // temporary disk, say): then the batch fails and is retried instead.
          if (!(await this.#encoderWorks(encoder))) throw error;
          rejected.push({ event: rows[0]!, detail: `not writable: ${error instanceof Error ? error.message : String(error)}` });
          return;
        }
        const half = Math.ceil(rows.length / 2);
        await this.#writeGroup(encoder, batch, app, day, rows.slice(0, half), files, rejected, false);
        await this.#writeGroup(encoder, batch, app, day, rows.slice(half), files, rejected, false);
        return;
      }
      // A whole group is named by its batch's claimed range, not by its members: a member erased
      // between a crash and the rewrite (erasure deletes outbox rows) must not change the name, or
      // the file written before the crash would stay beside the rewritten one. Halves of a split
      // group (rows DuckDB refused) are named by their own range.
      const first = whole ? batch.firstSeq : rows[0]!.seq;
      const last = whole ? batch.lastSeq : rows.at(-1)!.seq;
      const key = eventObjectKey(app, day, first, last);
      await this.#store.putFile(key, tmp);
      const { size } = await fs.stat(tmp);
      files.push({ key, app, day, firstSeq: first.toString(), lastSeq: last.toString(), events: rows.length, bytes: size });
      await this.#o.afterStore?.(key, batchId);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /** Can the encoder write a known-good row? */
  async #encoderWorks(encoder: ParquetEncoder): Promise<boolean> {
    const tmp = path.join(this.#tmpDir, `canary-${randomBytes(4).toString('hex')}.parquet`);
    const at = new Date(0);
    try {
      await encoder.write([lakeRow(0, { eventId: '00000000-0000-4000-8000-000000000000', app: 'canary', type: 'lesson_start', source: 'app', occurredAt: at, receivedAt: at, learner: null, sessionId: null, properties: {} })], tmp);
      return true;
    } catch {
      return false;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async #prune(): Promise<{ events: number; batches: number }> {
    this.#lastPrune = this.#o.now().getTime();
    if (!(await this.#o.lock.acquire())) return { events: 0, batches: 0 };
    const cutoff = new Date(this.#o.now().getTime() - this.#o.dedupDays * 86_400_000);
    const pruned = await repo.prune(this.#o.database.db, cutoff, 10_000);
    if (pruned.events || pruned.batches) this.#o.logger.info(pruned, 'lake writer: pruned the outbox past the dedup window');
    return pruned;
  }
}

/** The advisory lock key the lake writer holds on PostgreSQL ("klw" + 1). */
export const LAKE_WRITER_LOCK_KEY = 0x6b6c7701;
