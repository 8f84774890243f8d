import { randomUUID } from 'node:crypto';
import type { Cache } from '../../adapters/cache/cache.ts';
import type { Database } from '../../adapters/db/database.ts';
import { toPublicItem, type LessonDetail, type LessonInput, type LessonSummary, type NewLessonInput, type PracticeItem, type Lesson } from '../../domain/curriculum.ts';
import { AppError, notFound } from '../../domain/errors.ts';
import { lockAppContent } from '../content/content.repo.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { throttledLog } from '../../observability/throttle.ts';
import {
  deleteLesson,
  findLesson,
  itemsOwnedElsewhere,
  changedReleasedItems,
  conceptsOutsidePack,
  detachFromPack,
  lessonPack,
  findItemRecord,
  lessonState,
  listPublishedLessons,
  type StoredItemRecord,
  missingConcepts,
  writeLesson,
  type LessonQuery,
} from './lessons.repo.ts';

/** How long a lesson stays cached (the design reference's 30 minutes). */
export const LESSON_CACHE_TTL_SECONDS = 30 * 60;

/**
 * Cache coherence. Readers fill the cache only with `add` (set-if-absent).
 * Writers, after their transaction commits, re-read the lesson and `set` it
 * (write-through), or `set` a short-lived tombstone when it is gone or
 * unpublished. A reader that loaded the old row just before a write can
 * therefore never put it back over the writer's entry, in any process.
 */
const TOMBSTONE = '\u0000gone';
const TOMBSTONE_TTL_SECONDS = 60;

/** The cache key of one app's lesson: app first, so no two apps can share one. */
export const lessonCacheKey = (appId: string, lessonId: string) => `lesson:${appId}:${lessonId}`;

/**
 * Catalogue pages are cached under a per-app generation that every lesson
 * write replaces with a fresh random value, so one write invalidates every
 * cached page of that app at once (in every process, with Redis). Readers
 * read the generation before the database, so a page built from rows read
 * before a write is stored under the old, unreachable generation. A missing
 * generation (evicted) is created afresh, never reused.
 */
const catalogGenerationKey = (appId: string) => `lessons-gen:${appId}`;
const CATALOG_GENERATION_TTL_SECONDS = 7 * 24 * 3600;
const catalogPageKey = (appId: string, generation: string, q: LessonQuery) =>
  `lessons:${appId}:${generation}:${q.subject ?? ''}:${q.grade ?? ''}:${q.order ?? 'teaching'}:${q.page}:${q.limit}`;

/**
 * Invalidations the cache refused (it was down when a write committed),
 * kept per app until they are replayed. At most this many lesson ids are
 * remembered per app; past that, the replay only starts a new catalogue
 * generation and this process stops trusting cached lessons of the app for
 * one lesson TTL (see {@link LessonsService}).
 */
export const MAX_PENDING_LESSONS_PER_APP = 1000;
/** Replays attempted from the read path at most this often (the reconnect hook is the main trigger). */
const REPLAY_RETRY_MS = 1000;

interface PendingInvalidation {
  /** Lessons to write through or tombstone again, each with the {@link version} of its last failure. */
  lessonIds: Map<string, number>;
  /** Too many ids to remember: every lesson of the app may be stale in the cache. */
  allLessons: boolean;
  /** Bumped on every failure recorded, so a replay only clears what it replayed. */
  version: number;
}

/** A page of the lesson catalogue. */
export interface LessonPage {
  items: LessonSummary[];
  page: number;
  limit: number;
  total: number;
}

/**
 * Use cases of the lessons API: catalogue, cached lesson reads, and admin
 * writes that invalidate the cache right after they commit. A cache that
 * fails is treated as a miss; the database stays the source of truth.
 *
 * An invalidation that fails (the cache is down when the write commits) is
 * not dropped: it is remembered per app and replayed when the cache reports
 * it is ready again (and, as a fallback, from the next read of that app, at
 * most once a second). Until the replay has succeeded, this process reads
 * that app's lessons, catalogue and content generation from the database
 * only, so what it serves never predates the write. Other processes (which
 * did not see the failure) may serve the old cached copies until this
 * process's replay runs, i.e. for about as long as Redis takes to be seen
 * back (at most a few seconds after it is).
 */
export class LessonsService {
  readonly #db: Database;
  readonly #cache: Cache;
  readonly #log: Logger;
  /** Cache failures fall back to the database on every request while the cache is down: logged at most every 10 s. */
  readonly #cacheWarn: (error: unknown, message: string) => void;
  readonly #lessonHits: { inc(): void };
  readonly #lessonMisses: { inc(): void };
  readonly #catalogHits: { inc(): void };
  readonly #catalogMisses: { inc(): void };
  /** Failed invalidations per app, replayed by {@link LessonsService.#replay}. */
  readonly #pending = new Map<string, PendingInvalidation>();
  /** Apps whose cached lessons this process ignores until the time given (after too many failed invalidations to remember). */
  readonly #distrustLessonsUntil = new Map<string, number>();
  #replaying: Promise<void> | undefined;
  #replayAgain = false;
  #lastReplayAttempt = 0;
  readonly #contentListeners = new Set<(appId: string) => void>();

  constructor(deps: { db: Database; cache: Cache; logger: Logger; metrics: Metrics }) {
    this.#db = deps.db;
    this.#cache = deps.cache;
    this.#log = deps.logger;
    this.#cacheWarn = throttledLog(10_000, (suppressed, error: unknown, message: string) => deps.logger.warn({ err: error, suppressed }, message));
    this.#lessonHits = deps.metrics.cacheLookups('lesson', 'hit');
    this.#lessonMisses = deps.metrics.cacheLookups('lesson', 'miss');
    this.#catalogHits = deps.metrics.cacheLookups('catalog', 'hit');
    this.#catalogMisses = deps.metrics.cacheLookups('catalog', 'miss');
    this.#cache.onReady(() => void this.#replay());
  }

  /**
   * Calls `listener` with the app after every committed lesson write in this
   * process, whether or not the cache could be told: for process-local
   * copies of lesson content (the answer keys in the progress service).
   */
  onContentChange(listener: (appId: string) => void): () => void {
    this.#contentListeners.add(listener);
    return () => this.#contentListeners.delete(listener);
  }

  /** Whether invalidations of the app failed and are not replayed yet (then the cache is not trusted for it). */
  hasPendingInvalidations(appId: string): boolean {
    return this.#pending.has(appId);
  }

  /** Replays every failed invalidation now; resolves when done (a failing cache leaves them pending). */
  replayPendingInvalidations(): Promise<void> {
    return this.#replay();
  }

  /** True when the app's cache entries may predate a committed write: read the database, write nothing. */
  #bypass(appId: string): boolean {
    if (!this.#pending.has(appId)) return false;
    if (Date.now() - this.#lastReplayAttempt >= REPLAY_RETRY_MS) void this.#replay();
    return true;
  }

  #recordFailure(appId: string, lessonIds: readonly string[]): void {
    let p = this.#pending.get(appId);
    if (!p) this.#pending.set(appId, (p = { lessonIds: new Map(), allLessons: false, version: 0 }));
    p.version++;
    if (!p.allLessons) for (const id of lessonIds) p.lessonIds.set(id, p.version);
    if (p.lessonIds.size > MAX_PENDING_LESSONS_PER_APP) {
      p.allLessons = true;
      p.lessonIds.clear();
    }
  }

  /** One replay at a time; each app's entry is removed only if nothing failed for it meanwhile. */
  #replay(): Promise<void> {
    if (this.#replaying) {
      // The one in flight may have started before the cache came back: run once more after it.
      this.#replayAgain = true;
      return this.#replaying;
    }
    if (this.#pending.size === 0) return Promise.resolve();
    this.#lastReplayAttempt = Date.now();
    this.#replaying = (async () => {
      try {
        for (const [appId, p] of [...this.#pending]) {
          const version = p.version;
          const ids = [...p.lessonIds.keys()];
          const all = p.allLessons;
          try {
            await this.#startCatalogGeneration(appId);
            for (const id of ids) await this.#refreshLesson(appId, id);
          } catch (error) {
            this.#cacheWarn(error, 'replaying cache invalidations failed; will retry');
            continue;
          }
          if (all) this.#distrustLessonsUntil.set(appId, Date.now() + LESSON_CACHE_TTL_SECONDS * 1000);
          if (p.version === version) this.#pending.delete(appId);
          // A write that failed again meanwhile keeps its lesson pending (its version is newer).
          else for (const id of ids) if ((p.lessonIds.get(id) ?? Infinity) <= version) p.lessonIds.delete(id);
          this.#log.warn({ appId, lessons: all ? 'all' : ids.length }, 'cache invalidations replayed after the cache came back');
        }
      } finally {
        this.#replaying = undefined;
        if (this.#replayAgain) {
          this.#replayAgain = false;
          void this.#replay();
        }
      }
    })();
    return this.#replaying;
  }

  #lessonsDistrusted(appId: string): boolean {
    const until = this.#distrustLessonsUntil.get(appId);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.#distrustLessonsUntil.delete(appId);
    return false;
  }

  /** Published lessons of one app, as JSON ready to send, and whether it came from the cache. */
  async list(appId: string, q: LessonQuery): Promise<{ json: string; cache: 'HIT' | 'MISS' }> {
    const generation = this.#bypass(appId) ? undefined : await this.#catalogGeneration(appId);
    const key = generation === undefined ? undefined : catalogPageKey(appId, generation, q);
    if (key !== undefined) {
      const cached = await this.#cacheGet(key);
      if (cached !== undefined) {
        this.#catalogHits.inc();
        return { json: cached, cache: 'HIT' };
      }
    }
    this.#catalogMisses.inc();
    const { items, total } = await listPublishedLessons(this.#db.db, appId, q);
    const page: LessonPage = { items, page: q.page, limit: q.limit, total };
    const json = JSON.stringify(page);
    if (key !== undefined) await this.#cacheAdd(key, json, LESSON_CACHE_TTL_SECONDS);
    return { json, cache: 'MISS' };
  }

  /**
   * Call after lessons were written outside this service (seeding, imports,
   * operator actions): drops their cached copies and starts a new catalogue
   * generation. Unlike admin writes this does not write through, so a read
   * racing the import may cache its old copy until the TTL; imports are
   * run by operators, not during lessons.
   */
  async afterBulkWrite(appId: string, lessonIds: readonly string[]): Promise<void> {
    this.#notifyContentChange(appId);
    try {
      await this.#startCatalogGeneration(appId);
      for (let i = 0; i < lessonIds.length; i += 500) await this.#cache.delete(...lessonIds.slice(i, i + 500).map((id) => lessonCacheKey(appId, id)));
    } catch (error) {
      this.#recordFailure(appId, lessonIds);
      this.#log.error({ err: error, appId }, 'cache invalidation after bulk write failed; replayed when the cache is back');
    }
  }

  /**
   * Call after a content import committed: a new catalogue generation, and
   * every lesson the import wrote or retired is written through to the cache
   * (or tombstoned), in every process sharing the cache. Failures are
   * remembered and replayed like those of admin writes.
   */
  async afterContentImport(appId: string, lessonIds: readonly string[]): Promise<void> {
    this.#notifyContentChange(appId);
    try {
      await this.#startCatalogGeneration(appId);
      for (const id of lessonIds) await this.#refreshLesson(appId, id);
    } catch (error) {
      this.#recordFailure(appId, lessonIds);
      this.#log.error({ err: error, appId }, 'cache invalidation after a content import failed; replayed when the cache is back');
    }
  }

  /** Makes every cached catalogue page of the app unreachable. */
  #startCatalogGeneration(appId: string): Promise<void> {
    return this.#cache.set(catalogGenerationKey(appId), randomUUID(), CATALOG_GENERATION_TTL_SECONDS);
  }

  /**
   * The app's current content generation: it changes after every lesson
   * write, in every process when the cache is shared. Callers may key their
   * own copies of lesson content (answer keys) by it. Undefined when the
   * cache is unavailable: copy nothing then.
   */
  contentGeneration(appId: string): Promise<string | undefined> {
    if (this.#bypass(appId)) return Promise.resolve(undefined);
    return this.#catalogGeneration(appId);
  }

  async #catalogGeneration(appId: string): Promise<string | undefined> {
    const key = catalogGenerationKey(appId);
    const current = await this.#cacheGet(key);
    if (current !== undefined) return current;
    const fresh = randomUUID();
    if (await this.#cacheAdd(key, fresh, CATALOG_GENERATION_TTL_SECONDS)) return fresh;
    return this.#cacheGet(key);
  }

  /**
   * A published lesson with its items minus answer keys, as a JSON string
   * ready to send, and whether it came from the cache.
   */
  async getPublished(appId: string, lessonId: string): Promise<{ json: string; cache: 'HIT' | 'MISS' }> {
    const key = lessonCacheKey(appId, lessonId);
    // Read inline rather than through #cacheGet: one async layer less on the hottest read.
    let cached: string | undefined;
    const bypass = this.#bypass(appId) || this.#lessonsDistrusted(appId);
    if (!bypass) {
      try {
        cached = await this.#cache.get(key);
      } catch (error) {
        this.#cacheWarn(error, 'cache read failed; using the database');
      }
    }
    if (cached !== undefined && cached !== TOMBSTONE) {
      this.#lessonHits.inc();
      return { json: cached, cache: 'HIT' };
    }
    this.#lessonMisses.inc();
    const found = await findLesson(this.#db.db, appId, lessonId);
    if (!found || !found.lesson.published || found.retired) throw notFound('lesson_not_found', `Lesson "${lessonId}" not found`);
    const json = JSON.stringify(toDetail(found.lesson, found.items));
    if (!bypass) await this.#cacheAdd(key, json, LESSON_CACHE_TTL_SECONDS);
    return { json, cache: 'MISS' };
  }

  /** A lesson as authored, with answer keys, for admins (never cached). */
  async getForAdmin(appId: string, lessonId: string): Promise<NewLessonInput> {
    const found = await findLesson(this.#db.db, appId, lessonId);
    if (!found || found.retired) throw notFound('lesson_not_found', `Lesson "${lessonId}" not found`);
    const { updatedAt: _u, unit: _unit, ...lesson } = found.lesson;
    return { ...lesson, items: found.items };
  }

  /** Any item ever stored, live or retired, with its content hash: what an answer's `itemId` pointed at. */
  async itemRecord(appId: string, itemId: string): Promise<StoredItemRecord> {
    const found = await findItemRecord(this.#db.db, appId, itemId);
    if (!found) throw notFound('item_not_found', `No practice item "${itemId}"`);
    return found;
  }

  /** Creates a lesson; 409 `lesson_exists` if the id is taken. */
  async create(appId: string, input: NewLessonInput): Promise<NewLessonInput> {
    await this.#write(appId, input, 'create');
    return input;
  }

  /** Replaces a lesson and its items; 404 if it does not exist. */
  async update(appId: string, lessonId: string, input: LessonInput): Promise<NewLessonInput> {
    const lesson = { ...input, id: lessonId };
    await this.#write(appId, lesson, 'update');
    return lesson;
  }

  /** Deletes a lesson and its items; 404 if it does not exist. */
  async remove(appId: string, lessonId: string): Promise<void> {
    const deleted = await this.#db.db.transaction().execute(async (trx) => {
      await lockAppContent(trx, appId);
      return deleteLesson(trx, appId, lessonId);
    });
    if (!deleted) throw notFound('lesson_not_found', `Lesson "${lessonId}" not found`);
    await this.#refreshCache(appId, lessonId);
  }

  async #write(appId: string, lesson: NewLessonInput, mode: 'create' | 'update'): Promise<void> {
    await this.#db.db.transaction().execute(async (trx) => {
      // The app's content lock (imports and concept writes take it too): a concept cannot be
      // deleted or retired between the check below and this lesson's commit.
      await lockAppContent(trx, appId);
      // A retired lesson (deleted after use) may be created again under its id; it is not there to update.
      const state = await lessonState(trx, appId, lesson.id);
      if (mode === 'create' && state === 'live') throw new AppError('conflict', 'lesson_exists', `Lesson "${lesson.id}" already exists`);
      if (mode === 'update' && state !== 'live') throw notFound('lesson_not_found', `Lesson "${lesson.id}" not found`);
      const missing = await missingConcepts(trx, appId, lesson.conceptIds);
      if (missing.length) {
        throw new AppError('invalid', 'unknown_concept', `Unknown concept ids: ${missing.join(', ')}`, { details: { conceptIds: missing } });
      }
      if (state === 'retired') {
        // Created anew over the API: no longer part of the pack it left (the next import would retire it again).
        await detachFromPack(trx, appId, lesson.id);
      } else if (state === 'live') {
        // A pack lesson edited here stays in its pack, so it may only use the pack's concepts (its export must import).
        const pack = await lessonPack(trx, appId, lesson.id);
        const outside = pack === null ? [] : await conceptsOutsidePack(trx, appId, pack, lesson.conceptIds);
        if (outside.length) {
          throw new AppError('conflict', 'concept_outside_pack', `Lesson "${lesson.id}" belongs to content pack "${pack}", whose concepts do not include ${outside.join(', ')}; add them to the pack, or author a separate lesson`, {
            details: { packId: pack, conceptIds: outside },
          });
        }
      }
      const taken = await itemsOwnedElsewhere(trx, appId, lesson.id, lesson.items.map((i) => i.id));
      if (taken.length) {
        throw new AppError('conflict', 'item_id_taken', `Item ids already used by another lesson: ${taken.join(', ')}`, { details: { itemIds: taken } });
      }
      const changed = await changedReleasedItems(trx, appId, lesson);
      if (changed.length) {
        throw new AppError(
          'conflict',
          'item_changed',
          `Items ${changed.map((c) => `"${c.id}"`).join(', ')} would ask a different question under an id that children have already seen; answers point at the stored question, so give the changed question a new id`,
          { details: changed.map((c) => ({ field: `items.${c.index}.id`, itemId: c.id })) },
        );
      }
      await writeLesson(trx, appId, lesson);
    });
    await this.#refreshCache(appId, lesson.id);
  }

  /** After a committed write: new catalogue generation; cache the lesson as now stored, or a tombstone if it is not public. */
  async #refreshCache(appId: string, lessonId: string): Promise<void> {
    this.#notifyContentChange(appId);
    try {
      await this.#startCatalogGeneration(appId);
      await this.#refreshLesson(appId, lessonId);
    } catch (error) {
      // The write is committed; remembered and replayed once the cache answers. Loud, not fatal.
      this.#recordFailure(appId, [lessonId]);
      this.#log.error({ err: error, appId, lessonId }, 'cache invalidation failed; replayed when the cache is back');
    }
  }

  /** Caches the lesson as now stored, or a tombstone if it is not public. */
  async #refreshLesson(appId: string, lessonId: string): Promise<void> {
    const key = lessonCacheKey(appId, lessonId);
    const found = await findLesson(this.#db.db, appId, lessonId);
    if (found?.lesson.published && !found.retired) await this.#cache.set(key, JSON.stringify(toDetail(found.lesson, found.items)), LESSON_CACHE_TTL_SECONDS);
    else await this.#cache.set(key, TOMBSTONE, TOMBSTONE_TTL_SECONDS);
  }

  #notifyContentChange(appId: string): void {
    for (const listener of this.#contentListeners) {
      try {
        listener(appId);
      } catch (error) {
        this.#log.error({ err: error, appId }, 'lesson content listener failed');
      }
    }
  }

  async #cacheGet(key: string): Promise<string | undefined> {
    try {
      return await this.#cache.get(key);
    } catch (error) {
      this.#cacheWarn(error, 'cache read failed; using the database');
      return undefined;
    }
  }

  async #cacheAdd(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    try {
      return await this.#cache.add(key, value, ttlSeconds);
    } catch (error) {
      this.#cacheWarn(error, 'cache write failed');
      return false;
    }
  }
}

/** The client view of a lesson: answer keys removed by {@link toPublicItem}. */
export function toDetail(lesson: Lesson, items: PracticeItem[]): LessonDetail {
  return { ...lesson, items: items.map(toPublicItem) };
}
