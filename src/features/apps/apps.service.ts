import { lruCache } from '../../adapters/cache/lru.ts';
import type { Database } from '../../adapters/db/database.ts';
import { AppError } from '../../domain/errors.ts';
import { isValidAppId } from '../../domain/tenancy.ts';
import { findApp, insertApp, listApps, updateAppSettings, type AppRecord, type AppSettings } from './apps.repo.ts';

/**
 * The app registry as the HTTP layer sees it. Every request resolves its app
 * here, so lookups are memoised in-process: known apps for 30 s, unknown ids
 * for 5 s (so a burst of requests for a bogus app cannot hammer the
 * database, and an app created by another process is visible within 5 s).
 */
export class AppsService {
  readonly #db: Database;
  readonly #cache = lruCache<string, { app: AppRecord | null }>(10_000);

  constructor(db: Database) {
    this.#db = db;
  }

  /** Returns the app or throws 404 `app_not_found`. Invalid ids never reach SQL. */
  async require(id: string): Promise<AppRecord> {
    const app = await this.find(id);
    if (!app) throw new AppError('not_found', 'app_not_found', `Unknown app "${id}"`);
    return app;
  }

  /** The app if it is memoised as existing, without waiting; `undefined` otherwise (then call {@link require}). */
  known(id: string): AppRecord | undefined {
    return this.#cache.get(id)?.app ?? undefined;
  }

  /** Looks an app up (memoised). */
  async find(id: string): Promise<AppRecord | undefined> {
    if (!isValidAppId(id)) return undefined;
    const hit = this.#cache.get(id);
    if (hit) return hit.app ?? undefined;
    const app = await findApp(this.#db.db, id);
    this.#cache.set(id, { app: app ?? null }, { ttl: app ? 30_000 : 5_000 });
    return app;
  }

  /** Creates an app with its own migrated schema. */
  async create(id: string, name: string): Promise<AppRecord> {
    const app = await insertApp(this.#db.db, id, name);
    this.#cache.delete(id);
    return app;
  }

  /** Changes an app's settings; other processes see them within the memo's 30 s. */
  async configure(id: string, settings: Partial<AppSettings>): Promise<AppRecord> {
    const app = await updateAppSettings(this.#db.db, id, settings);
    this.#cache.delete(id);
    if (!app) throw new AppError('not_found', 'app_not_found', `Unknown app "${id}"`);
    return app;
  }

  /** All registered apps. */
  list(): Promise<AppRecord[]> {
    return listApps(this.#db.db);
  }
}
