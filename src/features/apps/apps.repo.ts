import type { Kysely } from 'kysely';
import { lockMigrations, migrateTenantSchema } from '../../adapters/db/migrations.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import { AppError } from '../../domain/errors.ts';
import { assertValidAppId } from '../../domain/tenancy.ts';

/** Per-app behaviour an app's team chooses. */
export interface AppSettings {
  /** Answer results include the correct answer. */
  revealAnswers: boolean;
}

export const DEFAULT_APP_SETTINGS: AppSettings = Object.freeze({ revealAnswers: true });

/** A registered app (tenant). */
export interface AppRecord {
  id: string;
  name: string;
  settings: AppSettings;
  createdAt: string;
}

const toRecord = (r: { id: string; name: string; settings: unknown; created_at: Date }): AppRecord => ({
  id: r.id,
  name: r.name,
  settings: { ...DEFAULT_APP_SETTINGS, ...(r.settings as Partial<AppSettings> | null) },
  createdAt: r.created_at.toISOString(),
});

/** Changes an app's settings (merged into the current ones). */
export async function updateAppSettings(db: Kysely<Tables>, id: string, settings: Partial<AppSettings>): Promise<AppRecord | undefined> {
  const current = await findApp(db, id);
  if (!current) return undefined;
  const row = await db
    .updateTable('kidslearn.apps')
    .set({ settings: JSON.stringify({ ...current.settings, ...settings }) })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/** Reads one app from the registry. */
export async function findApp(db: Kysely<Tables>, id: string): Promise<AppRecord | undefined> {
  const row = await db.selectFrom('kidslearn.apps').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/** Lists all apps, by id. */
export async function listApps(db: Kysely<Tables>): Promise<AppRecord[]> {
  const rows = await db.selectFrom('kidslearn.apps').selectAll().orderBy('id').execute();
  return rows.map(toRecord);
}

/**
 * Registers an app and creates and migrates its schema in one transaction
 * under the migration lock: either the app exists with a complete schema or
 * nothing was written.
 */
export async function insertApp(db: Kysely<Tables>, id: string, name: string): Promise<AppRecord> {
  assertValidAppId(id);
  return db.transaction().execute(async (trx) => {
    await lockMigrations(trx);
    const existing = await trx.selectFrom('kidslearn.apps').select('id').where('id', '=', id).executeTakeFirst();
    if (existing) throw new AppError('conflict', 'app_exists', `App "${id}" already exists`);
    const row = await trx.insertInto('kidslearn.apps').values({ id, name }).returningAll().executeTakeFirstOrThrow();
    await migrateTenantSchema(trx, id);
    return toRecord(row);
  });
}
