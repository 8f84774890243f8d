import { randomUUID } from 'node:crypto';
import type { Cache } from '../../adapters/cache/cache.ts';
import type { Database } from '../../adapters/db/database.ts';
import { toPublicItem, type LessonDetail, type LessonInput, type LessonSummary, type NewLessonInput, type PracticeItem, type Lesson } from '../../domain/curriculum.ts';
import { AppError, notFound } from '../../domain/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { throttledLog } from '../../observability/throttle.ts';
import {
  deleteLesson,
  findLesson,
  itemsOwnedElsewhere,
  lessonExists,
  listPublishedLessons,
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
  `lessons:${appId}:${generation}:${q.subject ?? ''}:${q.grade ?? ''}:${q.page}:${q.limit}`;

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

  constructor(deps: { db: Database; cache: Cache; logger: Logger; metrics: Metrics }) {
    this.#db = deps.db;
    this.#cache = deps.cache;
    this.#log = deps.logger;
    this.#cacheWarn = throttledLog(10_000, (suppressed, error: unknown, message: string) => deps.logger.warn({ err: error, suppressed }, message));
    this.#lessonHits = deps.metrics.cacheLookups('lesson', 'hit');
    this.#lessonMisses = deps.metrics.cacheLookups('lesson', 'miss');
    this.#catalogHits = deps.metrics.cacheLookups('catalog', 'hit');
    this.#catalogMisses = deps.metrics.cacheLookups('catalog', 'miss');
  }

  /** Published lessons of one app, as JSON ready to send, and whether it came from the cache. */
  async list(appId: string, q: LessonQuery): Promise<{ json: string; cache: 'HIT' | 'MISS' }> {
    const generation = await this.#catalogGeneration(appId);
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
    try {
      await this.#startCatalogGeneration(appId);
      for (let i = 0; i < lessonIds.length; i += 500) await this.#cache.delete(...lessonIds.slice(i, i + 500).map((id) => lessonCacheKey(appId, id)));
    } catch (error) {
      this.#log.error({ err: error, appId }, 'cache invalidation after bulk write failed');
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
    try {
      cached = await this.#cache.get(key);
    } catch (error) {
      this.#cacheWarn(error, 'cache read failed; using the database');
    }
    if (cached !== undefined && cached !== TOMBSTONE) {
      this.#lessonHits.inc();
      return { json: cached, cache: 'HIT' };
    }
    this.#lessonMisses.inc();
    const found = await findLesson(this.#db.db, appId, lessonId);
    if (!found || !found.lesson.published) throw notFound('lesson_not_found', `Lesson "${lessonId}" not found`);
    const json = JSON.stringify(toDetail(found.lesson, found.items));
    await this.#cacheAdd(key, json, LESSON_CACHE_TTL_SECONDS);
    return { json, cache: 'MISS' };
  }

  /** A lesson as authored, with answer keys, for admins (never cached). */
  async getForAdmin(appId: string, lessonId: string): Promise<NewLessonInput> {
    const found = await findLesson(this.#db.db, appId, lessonId);
    if (!found) throw notFound('lesson_not_found', `Lesson "${lessonId}" not found`);
    const { updatedAt: _u, ...lesson } = found.lesson;
    return { ...lesson, items: found.items };
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
    const deleted = await this.#db.db.transaction().execute((trx) => deleteLesson(trx, appId, lessonId));
    if (!deleted) throw notFound('lesson_not_found', `Lesson "${lessonId}" not found`);
    await this.#refreshCache(appId, lessonId);
  }

  async #write(appId: string, lesson: NewLessonInput, mode: 'create' | 'update'): Promise<void> {
    await this.#db.db.transaction().execute(async (trx) => {
      const exists = await lessonExists(trx, appId, lesson.id);
      if (mode === 'create' && exists) throw new AppError('conflict', 'lesson_exists', `Lesson "${lesson.id}" already exists`);
      if (mode === 'update' && !exists) throw notFound('lesson_not_found', `Lesson "${lesson.id}" not found`);
      const missing = await missingConcepts(trx, appId, lesson.conceptIds);
      if (missing.length) {
        throw new AppError('invalid', 'unknown_concept', `Unknown concept ids: ${missing.join(', ')}`, { details: { conceptIds: missing } });
      }
      const taken = await itemsOwnedElsewhere(trx, appId, lesson.id, lesson.items.map((i) => i.id));
      if (taken.length) {
        throw new AppError('conflict', 'item_id_taken', `Item ids already used by another lesson: ${taken.join(', ')}`, { details: { itemIds: taken } });
      }
      await writeLesson(trx, appId, lesson);
    });
    await this.#refreshCache(appId, lesson.id);
  }

  /** After a committed write: new catalogue generation; cache the lesson as now stored, or a tombstone if it is not public. */
  async #refreshCache(appId: string, lessonId: string): Promise<void> {
    const key = lessonCacheKey(appId, lessonId);
    try {
      await this.#startCatalogGeneration(appId);
      const found = await findLesson(this.#db.db, appId, lessonId);
      if (found?.lesson.published) await this.#cache.set(key, JSON.stringify(toDetail(found.lesson, found.items)), LESSON_CACHE_TTL_SECONDS);
      else await this.#cache.set(key, TOMBSTONE, TOMBSTONE_TTL_SECONDS);
    } catch (error) {
      // The write is committed; a stale entry expires within the TTL. Loud, not fatal.
      this.#log.error({ err: error, appId, lessonId }, 'cache invalidation failed');
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
