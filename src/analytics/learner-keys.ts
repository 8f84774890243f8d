import type { Kysely, Transaction } from 'kysely';
import { lruCache } from '../adapters/cache/lru.ts';
import type { Database } from '../adapters/db/database.ts';
import type { Tables } from '../adapters/db/tables.ts';
import { learnerKey, newLearnerSecret } from '../domain/analytics/pseudonym.ts';

type Db = Kysely<Tables> | Transaction<Tables>;

/**
 * The pseudonymous learner keys of every app (domain/analytics/pseudonym.ts),
 * from each app's secret in `kidslearn.lake_keys`. The secret is created on
 * first use with `insert … on conflict do nothing` and then read back, so
 * processes racing to create it all end up with the one that committed. It
 * is cached in memory once read from a committed row; a secret this call
 * created inside a caller's transaction is not cached until a later read
 * finds it committed (a rollback would otherwise leave this process with a
 * secret no one else has).
 */
export class LearnerKeys {
  readonly #db: Database;
  readonly #secrets = new Map<string, Buffer>();
  /** Keys computed from committed secrets, so the answer path does not run an HMAC per answer write. */
  readonly #keys = lruCache<string, string>(100_000);
  /** One read per app at a time (outside transactions). */
  readonly #loading = new Map<string, Promise<Buffer>>();

  constructor(db: Database) {
    this.#db = db;
  }

  /** The learner key of `childId` in `app`. Pass the caller's transaction when inside one (the embedded database has one session). */
  async keyOf(app: string, childId: string, db?: Db): Promise<string> {
    return (await this.keysOf(app, [childId], db)).get(childId)!;
  }

  /** The learner keys of several children, by child id (one secret read at most). */
  async keysOf(app: string, childIds: Iterable<string>, db?: Db): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let secret: Buffer | undefined;
    for (const id of childIds) {
      if (out.has(id)) continue;
      const memo = `${app}\u0000${id}`;
      let key = this.#keys.get(memo);
      if (key === undefined) {
        secret ??= await this.secretOf(app, db);
        key = learnerKey(secret, app, id);
        // Only keys of a committed (cached) secret are kept.
        if (this.#secrets.get(app) === secret) this.#keys.set(memo, key);
      }
      out.set(id, key);
    }
    return out;
  }

  /** The app's secret, cached after the first committed read. */
  async secretOf(app: string, db?: Db): Promise<Buffer> {
    const cached = this.#secrets.get(app);
    if (cached) return cached;
    if (db?.isTransaction) return (await this.#load(app, db)).secret;
    let loading = this.#loading.get(app);
    if (!loading) {
      loading = this.#load(app, db ?? this.#db.db).then((r) => r.secret);
      this.#loading.set(app, loading);
      loading.finally(() => this.#loading.delete(app)).catch(() => undefined);
    }
    return loading;
  }

  async #load(app: string, db: Db): Promise<{ secret: Buffer }> {
    const created = await db
      .insertInto('kidslearn.lake_keys')
      .values({ app, key: newLearnerSecret() })
      .onConflict((oc) => oc.column('app').doNothing())
      .returning('key')
      .executeTakeFirst();
    // Created by this statement inside a caller's transaction: not committed yet, so not cached.
    if (created && db.isTransaction) return { secret: Buffer.from(created.key, 'base64url') };
    const row = created ?? (await db.selectFrom('kidslearn.lake_keys').select('key').where('app', '=', app).executeTakeFirstOrThrow());
    const secret = Buffer.from(row.key, 'base64url');
    this.#secrets.set(app, secret);
    return { secret };
  }
}
