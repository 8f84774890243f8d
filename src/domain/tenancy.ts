import { AppError } from './errors.ts';

/**
 * App (tenant) ids are the only identifiers ever placed into SQL text (as a
 * schema name), so this pattern is the security boundary: lowercase letter
 * first, then 1–30 lowercase letters, digits or underscores.
 */
export const APP_ID_PATTERN = /^[a-z][a-z0-9_]{1,30}$/;

/** True when `id` is a syntactically valid app id. */
export function isValidAppId(id: string): boolean {
  return APP_ID_PATTERN.test(id);
}

/** Throws `invalid_app_id` unless `id` matches {@link APP_ID_PATTERN}. */
export function assertValidAppId(id: string): string {
  if (!isValidAppId(id)) {
    throw new AppError('invalid', 'invalid_app_id', `App id must match ${APP_ID_PATTERN.source}`);
  }
  return id;
}

/** The PostgreSQL schema that holds one app's data. Checks the id first. */
export function tenantSchema(appId: string): string {
  return `app_${assertValidAppId(appId)}`;
}
