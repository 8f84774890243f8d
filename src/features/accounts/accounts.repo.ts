import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { scoped } from '../../adapters/db/scoped.ts';
import type { Tables } from '../../adapters/db/tables.ts';

/** SQL for accounts, refresh tokens, mail tokens and trusted devices of one app. */

export interface AccountRow {
  id: string;
  email: string;
  role: 'guardian' | 'teacher' | 'admin';
  passwordHash: string;
}

/** An account that can sign in with a password. */
export async function findAccountByEmail(db: Kysely<Tables>, appId: string, email: string): Promise<AccountRow | undefined> {
  const row = await scoped(db, appId)
    .selectFrom('accounts')
    .select(['id', 'email', 'role', 'password_hash'])
    .where('email', '=', email)
    .where('password_hash', 'is not', null)
    .executeTakeFirst();
  return row && { id: row.id, email: row.email!, role: row.role as AccountRow['role'], passwordHash: row.password_hash! };
}

/**
 * Records (or updates the role of) an account known from the external
 * identity provider; its id is the provider's subject, so the policy's owner
 * checks work for it like for any account. No email or password is stored.
 */
export async function upsertExternalAccount(db: Kysely<Tables>, appId: string, account: { id: string; role: AccountRow['role']; externalSubject: string }): Promise<void> {
  await scoped(db, appId)
    .insertInto('accounts')
    .values({ id: account.id, role: account.role, external_subject: account.externalSubject })
    .onConflict((oc) => oc.column('id').doUpdateSet({ role: account.role }))
    .execute();
}

export async function findAccountRole(db: Kysely<Tables>, appId: string, id: string): Promise<AccountRow['role'] | undefined> {
  const row = await scoped(db, appId).selectFrom('accounts').select('role').where('id', '=', id).executeTakeFirst();
  return row?.role as AccountRow['role'] | undefined;
}

/** Inserts an account; returns false when the email is taken. */
export async function insertAccount(db: Kysely<Tables> | Transaction<Tables>, appId: string, account: AccountRow): Promise<boolean> {
  const result = await scoped(db, appId)
    .insertInto('accounts')
    .values({ id: account.id, email: account.email, role: account.role, password_hash: account.passwordHash })
    .onConflict((oc) => oc.column('email').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Who a refresh token signs in: an account or a child profile. */
export type RefreshSubject = { kind: 'account'; id: string } | { kind: 'child'; id: string };

export async function insertRefreshToken(
  db: Kysely<Tables>,
  appId: string,
  token: { hash: string; familyId: string; subject: RefreshSubject; expiresAt: Date },
): Promise<void> {
  await scoped(db, appId)
    .insertInto('refresh_tokens')
    .values({
      token_hash: token.hash,
      family_id: token.familyId,
      account_id: token.subject.kind === 'account' ? token.subject.id : null,
      child_id: token.subject.kind === 'child' ? token.subject.id : null,
      expires_at: token.expiresAt,
    })
    .execute();
}

export type RotationOutcome =
  | { outcome: 'rotated'; familyId: string; subject: RefreshSubject }
  | { outcome: 'reused' | 'unknown' | 'expired' | 'revoked' };

/**
 * Marks a refresh token used, under a row lock, and says what it was. A token
 * that was already used revokes its whole family: someone replayed it.
 */
export async function useRefreshToken(db: Kysely<Tables>, appId: string, hash: string): Promise<RotationOutcome> {
  return db.transaction().execute(async (trx) => {
    const row = await scoped(trx, appId).selectFrom('refresh_tokens').selectAll().where('token_hash', '=', hash).forUpdate().executeTakeFirst();
    if (!row) return { outcome: 'unknown' };
    if (row.revoked_at) return { outcome: 'revoked' };
    if (row.used_at) {
      await scoped(trx, appId).updateTable('refresh_tokens').set({ revoked_at: new Date() }).where('family_id', '=', row.family_id).where('revoked_at', 'is', null).execute();
      return { outcome: 'reused' };
    }
    if (row.expires_at.getTime() <= Date.now()) return { outcome: 'expired' };
    await scoped(trx, appId).updateTable('refresh_tokens').set({ used_at: new Date() }).where('token_hash', '=', hash).execute();
    const subject: RefreshSubject = row.account_id ? { kind: 'account', id: row.account_id } : { kind: 'child', id: row.child_id! };
    return { outcome: 'rotated', familyId: row.family_id, subject };
  });
}

/** Revokes the family a refresh token belongs to (sign-out); unknown tokens are ignored. */
export async function revokeFamilyOf(db: Kysely<Tables>, appId: string, hash: string): Promise<void> {
  const row = await scoped(db, appId).selectFrom('refresh_tokens').select('family_id').where('token_hash', '=', hash).executeTakeFirst();
  if (!row) return;
  await scoped(db, appId).updateTable('refresh_tokens').set({ revoked_at: new Date() }).where('family_id', '=', row.family_id).where('revoked_at', 'is', null).execute();
}

/** What an email token is for. */
export type EmailTokenPurpose = 'verify_email' | 'reset_password';

/**
 * Stores a single-use mail token by its digest. A verification token carries
 * the registration it completes (role and password hash); a reset token the
 * account it resets.
 */
export async function insertEmailToken(
  db: Kysely<Tables>,
  appId: string,
  token: {
    hash: string;
    purpose: EmailTokenPurpose;
    email: string;
    accountId?: string;
    role?: AccountRow['role'];
    passwordHash?: string;
    expiresAt: Date;
    /** Deletes the address's other pending registrations first, so only this code works (verification tokens only). */
    supersede?: boolean;
  },
): Promise<void> {
  // Least kept: codes (and the password hashes of registrations nobody
  // verified) go a day after they expired; the day keeps "used or expired"
  // answers meaningful for a while. Indexed, so this costs little per mail.
  await scoped(db, appId).deleteFrom('email_tokens').where('expires_at', '<', new Date(Date.now() - 86_400_000)).execute();
  await db.transaction().execute(async (trx) => {
    if (token.supersede && token.purpose === 'verify_email') {
      // A newer registration of the address replaces the pending ones: only
      // the newest code works, so an older mail (maybe someone else's
      // registration of this address) cannot be followed by mistake.
      await scoped(trx, appId).deleteFrom('email_tokens').where('email', '=', token.email).where('purpose', '=', 'verify_email').where('used_at', 'is', null).execute();
    }
    await scoped(trx, appId)
      .insertInto('email_tokens')
      .values({
        token_hash: token.hash,
        purpose: token.purpose,
        email: token.email,
        account_id: token.accountId ?? null,
        role: token.role ?? null,
        password_hash: token.passwordHash ?? null,
        expires_at: token.expiresAt,
      })
      .execute();
  });
}

/**
 * The registration a verification token completes, while it is pending
 * (unused, unexpired): the address, role and hash of the password chosen at
 * sign-up. Undefined otherwise.
 */
export async function findPendingRegistration(
  db: Kysely<Tables>,
  appId: string,
  hash: string,
  now: Date,
): Promise<{ email: string; role: AccountRow['role']; passwordHash: string } | undefined> {
  const row = await scoped(db, appId)
    .selectFrom('email_tokens')
    .select(['email', 'role', 'password_hash'])
    .where('token_hash', '=', hash)
    .where('purpose', '=', 'verify_email')
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!row?.role || !row.password_hash) return undefined;
  return { email: row.email, role: row.role as AccountRow['role'], passwordHash: row.password_hash };
}

/**
 * Completes a registration: marks the verification token used and creates
 * the account it describes, in one transaction. `passwordHash` is the hash
 * the caller checked the password against ({@link findPendingRegistration}):
 * only that registration is completed. Undefined when the token is
 * unknown, used, expired, or the address got an account meanwhile (then
 * the token is spent all the same).
 */
export async function completeRegistration(
  db: Kysely<Tables>,
  appId: string,
  hash: string,
  passwordHash: string,
  now: Date,
): Promise<{ id: string; email: string; role: AccountRow['role'] } | undefined> {
  return db.transaction().execute(async (trx) => {
    const token = await scoped(trx, appId)
      .updateTable('email_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hash)
      .where('purpose', '=', 'verify_email')
      .where('password_hash', '=', passwordHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['email', 'role', 'password_hash'])
      .executeTakeFirst();
    if (!token?.role || !token.password_hash) return undefined;
    const account: AccountRow = { id: randomUUID(), email: token.email, role: token.role as AccountRow['role'], passwordHash: token.password_hash };
    if (!(await insertAccount(trx, appId, account))) return undefined;
    // Other pending registrations of the address are void now: one account per address.
    await scoped(trx, appId).updateTable('email_tokens').set({ used_at: now }).where('email', '=', token.email).where('purpose', '=', 'verify_email').where('used_at', 'is', null).execute();
    return { id: account.id, email: account.email, role: account.role };
  });
}

/**
 * Resets a password with a reset token, in one transaction: the token is
 * spent (as is every other open reset token of the account), the password
 * replaced, and every refresh token of the account, its trusted devices, its
 * family device key and the sessions of its children revoked, so whatever
 * access someone who knew the old password set up ends. Undefined for an unknown, used or
 * expired token.
 */
export async function resetPasswordWithToken(db: Kysely<Tables>, appId: string, hash: string, passwordHash: string, now: Date): Promise<{ accountId: string; email: string } | undefined> {
  return db.transaction().execute(async (trx) => {
    const token = await scoped(trx, appId)
      .updateTable('email_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hash)
      .where('purpose', '=', 'reset_password')
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['account_id', 'email'])
      .executeTakeFirst();
    if (!token?.account_id) return undefined;
    await scoped(trx, appId).updateTable('email_tokens').set({ used_at: now }).where('account_id', '=', token.account_id).where('purpose', '=', 'reset_password').where('used_at', 'is', null).execute();
    const updated = await scoped(trx, appId).updateTable('accounts').set({ password_hash: passwordHash }).where('id', '=', token.account_id).where('password_hash', 'is not', null).executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return undefined;
    await scoped(trx, appId).updateTable('refresh_tokens').set({ revoked_at: now }).where('account_id', '=', token.account_id).where('revoked_at', 'is', null).execute();
    // Devices trusted on the old password are not trusted any more: whoever
    // knew it may have signed in on theirs.
    await scoped(trx, appId).deleteFrom('trusted_devices').where('account_id', '=', token.account_id).execute();
    // Whoever knew the old password could also have handed out access to the
    // family's children: a family device key (PIN sign-in on a device they
    // hold) and child sessions on their devices. All of it ends here; the
    // guardian starts the family's devices again with a new key.
    await scoped(trx, appId).deleteFrom('family_device_keys').where('guardian_id', '=', token.account_id).execute();
    await scoped(trx, appId)
      .updateTable('refresh_tokens')
      .set({ revoked_at: now })
      .where('revoked_at', 'is', null)
      .where('child_id', 'in', (eb) => eb.selectFrom('children').select('id').where('guardian_id', '=', token.account_id!))
      .execute();
    return { accountId: token.account_id, email: token.email };
  });
}

/**
 * Whether `digest` is a trusted device of the password account with `email`,
 * still within its lifetime. False for an unknown digest, another account's
 * device and an unknown email alike, so the answer reveals no account.
 */
export async function isTrustedDevice(db: Kysely<Tables>, appId: string, digest: string, email: string, now: Date): Promise<boolean> {
  const row = await scoped(db, appId)
    .selectFrom('trusted_devices as d')
    .innerJoin('accounts as a', 'a.id', 'd.account_id')
    .select('d.digest')
    .where('d.digest', '=', digest)
    .where('a.email', '=', email)
    .where('a.password_hash', 'is not', null)
    .where('d.expires_at', '>', now)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records a sign-in on a trusted device of the account. False when the
 * device is not (or no longer) trusted for it, e.g. a password reset
 * revoked it between the check and the sign-in.
 */
export async function touchTrustedDevice(db: Kysely<Tables>, appId: string, digest: string, accountId: string, now: Date): Promise<boolean> {
  const result = await scoped(db, appId)
    .updateTable('trusted_devices')
    .set({ last_used_at: now })
    .where('digest', '=', digest)
    .where('account_id', '=', accountId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Trusts a new device of the account and keeps only its `keep` most
 * recently used devices (expired ones go first), so a script signing in
 * over and over cannot grow the table without bound.
 */
export async function insertTrustedDevice(
  db: Kysely<Tables>,
  appId: string,
  device: { digest: string; accountId: string; now: Date; expiresAt: Date },
  keep: number,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const devices = () => scoped(trx, appId).deleteFrom('trusted_devices').where('account_id', '=', device.accountId);
    await devices().where('expires_at', '<=', device.now).execute();
    await scoped(trx, appId)
      .insertInto('trusted_devices')
      .values({ digest: device.digest, account_id: device.accountId, created_at: device.now, last_used_at: device.now, expires_at: device.expiresAt })
      .execute();
    await devices()
      .where('digest', 'not in', (qb) =>
        qb
          .selectFrom('trusted_devices')
          .select('digest')
          .where('account_id', '=', device.accountId)
          .orderBy('last_used_at', 'desc')
          .orderBy('created_at', 'desc')
          .orderBy('digest')
          .limit(keep),
      )
      .execute();
  });
}
