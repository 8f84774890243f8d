import type { Kysely, Transaction } from 'kysely';
import { tenantSchema } from '../../domain/tenancy.ts';
import type { Tables } from './tables.ts';

/** A query builder bound to one app's schema: tenant queries cannot run without naming the app. */
export const scoped = (db: Kysely<Tables> | Transaction<Tables>, appId: string) => db.withSchema(tenantSchema(appId));
