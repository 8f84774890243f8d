import { sql, type Kysely, type Transaction } from 'kysely';
import { scoped } from '../../adapters/db/scoped.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import { PIN_BASE_DELAY_SECONDS, PIN_FREE_FAILURES, PIN_MAX_DELAY_SECONDS } from '../../domain/pin-policy.ts';

/** SQL for PIN sign-in: PINs, wrong-PIN delays and the family device keys. */

type Db = Kysely<Tables> | Transaction<Tables>;

/** Sets or removes a child's PIN; either way every wrong-PIN count and wait is cleared. */
export async function setPin(db: Db, appId: string, id: string, pinHash: string | null): Promise<void> {
  await scoped(db, appId).updateTable('children').set({ pin_hash: pinHash, pin_failures: 0, pin_retry_at: null, updated_at: new Date() }).where('id', '=', id).execute();
}

/** Clears the wrong-PIN count and the wait (a guardian's unlock, or a correct PIN). */
export async function resetPinFailures(db: Db, appId: string, id: string): Promise<void> {
  await scoped(db, appId).updateTable('children').set({ pin_failures: 0, pin_retry_at: null }).where('id', '=', id).execute();
}

/** What a PIN attempt may go on with. */
export type PinAttempt =
  /** Counted: check the PIN against `pinHash` (null: the child has no PIN, so it fails). */
  | { outcome: 'counted'; pinHash: string | null }
  /** Not this family's child (or no such child): nothing was counted. */
  | { outcome: 'unknown' }
  /** Waiting out a delay until `retryAt`: nothing was counted. */
  | { outcome: 'waiting'; retryAt: Date };

/**
 * Counts one PIN attempt for a child of `guardianId`'s family before the PIN
 * is checked, in one statement, and sets the wait the attempt would earn
 * if it fails (a correct PIN then clears both with
 * {@link resetPinFailures}). Counting first means parallel guesses cannot
 * slip in before the wait. A child without a PIN is counted and delayed
 * exactly like one with a PIN, so the answers never tell them apart.
 */
export async function reservePinAttempt(db: Db, appId: string, childId: string, guardianId: string, now: Date): Promise<PinAttempt> {
  const failures = sql<number>`pin_failures + 1`;
  const wait = sql<number>`least(${PIN_MAX_DELAY_SECONDS}, ${PIN_BASE_DELAY_SECONDS} * power(2, least(pin_failures + 1 - ${PIN_FREE_FAILURES} - 1, 10)))`;
  const row = await scoped(db, appId)
    .updateTable('children')
    .set({
      pin_failures: failures,
      pin_retry_at: sql<Date | null>`case when pin_failures + 1 > ${PIN_FREE_FAILURES} then ${now}::timestamptz + make_interval(secs => ${wait}) else null end`,
    })
    .where('id', '=', childId)
    .where('guardian_id', '=', guardianId)
    .where((eb) => eb.or([eb('pin_retry_at', 'is', null), eb('pin_retry_at', '<=', now)]))
    .returning('pin_hash')
    .executeTakeFirst();
  if (row) return { outcome: 'counted', pinHash: row.pin_hash };
  const child = await scoped(db, appId).selectFrom('children').select('pin_retry_at').where('id', '=', childId).where('guardian_id', '=', guardianId).executeTakeFirst();
  if (!child) return { outcome: 'unknown' };
  // The wait may have ended between the two statements: then "try again in a second".
  return { outcome: 'waiting', retryAt: child.pin_retry_at ?? now };
}

/**
 * Stores (or replaces) the digest of a guardian's family device key; false
 * when the guardian has no account row (a token minted for a made-up subject).
 */
export async function setDeviceKey(db: Db, appId: string, guardianId: string, keyHash: string): Promise<boolean> {
  const result = await scoped(db, appId)
    .insertInto('family_device_keys')
    .columns(['guardian_id', 'key_hash'])
    .expression((eb) => eb.selectFrom('accounts').select([eb.val(guardianId).as('guardian_id'), eb.val(keyHash).as('key_hash')]).where('id', '=', guardianId))
    .onConflict((oc) => oc.column('guardian_id').doUpdateSet({ key_hash: keyHash, created_at: new Date() }))
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Removes a guardian's family device key (shared devices can no longer use PIN sign-in). */
export async function deleteDeviceKey(db: Db, appId: string, guardianId: string): Promise<boolean> {
  const result = await scoped(db, appId).deleteFrom('family_device_keys').where('guardian_id', '=', guardianId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The guardian whose family device key has this digest, if any. */
export async function guardianOfDeviceKey(db: Db, appId: string, keyHash: string): Promise<string | undefined> {
  const row = await scoped(db, appId).selectFrom('family_device_keys').select('guardian_id').where('key_hash', '=', keyHash).executeTakeFirst();
  return row?.guardian_id;
}
