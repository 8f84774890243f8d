import type { Kysely } from 'kysely';
import { lockMigrations, migrateTenantSchema } from '../../adapters/db/migrations.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import { AppError } from '../../domain/errors.ts';
import { assertValidAppId } from '../../domain/tenancy.ts';

/** A registered app (tenant). */
export interface AppRecord {
  id: string;
  name: string;
  createdAt: string;
}

const toRecord = (r: { id: string; name: string; created_at: Date }): AppRecord => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
});

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
