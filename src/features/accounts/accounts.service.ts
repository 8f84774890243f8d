import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { lruCache } from '../../adapters/cache/lru.ts';
import { z } from 'zod';
import type { Database } from '../../adapters/db/database.ts';
import type { Mailer } from '../../adapters/mail/mailer.ts';
import type { RateLimiter, RateLimitRule } from '../../adapters/rate-limit/rate-limiter.ts';
import { AppError } from '../../domain/errors.ts';
import { refineText } from '../../domain/input-rules.ts';
import type { Principal, Role } from '../../domain/principal.ts';
import type { TokenService } from '../auth/tokens.ts';
import {
  completeRegistration,
  findAccountByEmail,
  findPendingRegistration,
  insertEmailToken,
  resetPasswordWithToken,
  findAccountRole,
  insertAccount,
  insertRefreshToken,
  insertTrustedDevice,
  isTrustedDevice,
  revokeFamilyOf,
  touchTrustedDevice,
  useRefreshToken,
  upsertExternalAccount,
  type AccountRow,
  type RefreshSubject,
} from './accounts.repo.ts';
import type { PasswordHasher } from './passwords.ts';

/** What sign-in returns. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  tokenType: 'Bearer';
}

/** Email as stored: trimmed and lower-cased, so sign-in is case-insensitive. */
export const Email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email('must be an email address').max(254));

/**
 * Passwords: 10 to 200 characters of text by the shared rules (no NUL, no
 * lone surrogates: hashing encodes those as U+FFFD, so two different
 * passwords would match). Never logged, never stored in the clear.
 */
export const Password = z
  .string()
  .min(10, 'must be at least 10 characters')
  .max(200, 'must be at most 200 characters')
  .superRefine(refineText('text'));

const INVALID_CREDENTIALS = () => new AppError('unauthenticated', 'invalid_credentials', 'Email or password is wrong');
const INVALID_EMAIL_TOKEN = () =>
  new AppError('invalid', 'invalid_email_token', 'This link or code is unknown, used or expired; register again or ask for a new password reset');

/** How long an email verification link works: a day (people read mail late). */
export const VERIFY_EMAIL_TTL_SECONDS = 24 * 3600;
/** How long a password reset link works: 30 minutes (it is as good as the password). */
export const RESET_PASSWORD_TTL_SECONDS = 30 * 60;

/** Mails about one address at most this often (per app): register and reset cannot be used to flood an inbox. */
export const MAIL_PER_ADDRESS_RULE: RateLimitRule = { name: 'mail-address', points: 5, windowSeconds: 3600 };

/** The answer to register and to forgot-password, the same whether or not the address has an account. */
export interface MailAccepted {
  status: 'accepted';
  message: string;
}
/**
 * How long a device stays trusted after the password sign-in that trusted
 * it: 90 days, not extended by use, so a copied token does not live for
 * ever; the next password sign-in after that trusts the device anew.
 */
export const TRUSTED_DEVICE_TTL_SECONDS = 90 * 86_400;
/** Trusted devices kept per account (the most recently used): enough for a family's phones, tablets and browsers. */
export const MAX_TRUSTED_DEVICES = 20;

/** A device token that {@link AccountsService.trustedDevice} found valid for the account being signed into. */
export interface TrustedDevice {
  token: string;
  /** Its SHA-256 digest: the stored key, and the key of the device's sign-in limit. */
  digest: string;
}

/** What a password sign-in returns: the token pair, the account, and the device token to keep for later sign-ins. */
export interface SignedIn extends TokenPair {
  accountId: string;
  deviceToken: string;
}

const INVALID_REFRESH = () => new AppError('unauthenticated', 'invalid_refresh_token', 'Refresh token is not valid; sign in again');

/** SHA-256 of an opaque token: refresh tokens are stored only as digests. */
export const digest = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * The built-in identity service: grown-up accounts with email and password,
 * short-lived access tokens and rotating refresh tokens. Children never have
 * accounts; their tokens come from {@link startSession} with a child subject.
 */
export class AccountsService {
  readonly #db: Database;
  readonly #tokens: TokenService;
  readonly #passwords: PasswordHasher;
  readonly #accessTtlSeconds: number;
  readonly #refreshTtlSeconds: number;
  /** External accounts already recorded with this role (app:sub:role), so only a first request writes. */
  readonly #knownExternal = lruCache<string, true>(100_000, { ttl: 10 * 60_000 });

  readonly #mailer: Mailer;
  readonly #limiter: RateLimiter;
  readonly #linkBaseUrl: string | undefined;
  readonly #now: () => Date;

  constructor(deps: {
    db: Database;
    tokens: TokenService;
    passwords: PasswordHasher;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    mailer: Mailer;
    /** Counts mails per address ({@link MAIL_PER_ADDRESS_RULE}). */
    limiter: RateLimiter;
    /** Where links in mails point (`<base>/verify-email?app=…&token=…`); unset: mails show the code only. */
    linkBaseUrl?: string | undefined;
    now?: () => Date;
  }) {
    this.#mailer = deps.mailer;
    this.#limiter = deps.limiter;
    this.#linkBaseUrl = deps.linkBaseUrl;
    this.#now = deps.now ?? (() => new Date());
    this.#db = deps.db;
    this.#tokens = deps.tokens;
    this.#passwords = deps.passwords;
    this.#accessTtlSeconds = deps.accessTtlSeconds;
    this.#refreshTtlSeconds = deps.refreshTtlSeconds;
  }

  get passwords(): PasswordHasher {
    return this.#passwords;
  }

  /**
   * Public sign-up. Answers the same for a new and a known address (no
   * account is revealed): a new address gets a verification mail whose
   * token creates the account ({@link verifyEmail}); a known one gets a
   * mail saying someone tried to register with it, with a password reset
   * code in case it was the owner. Both paths hash the password, store
   * one token and send one mail, so they also take about the same time.
   * The account exists only once the address is verified, so signing in
   * needs a verified address by construction. A new registration of an
   * address replaces its pending ones (only the newest code works), unless
   * its mail is held back by the per-address mail limit.
   */
  async requestRegistration(appId: string, input: { email: string; password: string; role: 'guardian' | 'teacher' }): Promise<MailAccepted> {
    const passwordHash = await this.#passwords.hash(input.password);
    const existing = await findAccountByEmail(this.#db.db, appId, input.email);
    const token = `${randomBytes(32).toString('base64url')}`;
    const now = this.#now();
    if (existing) {
      await insertEmailToken(this.#db.db, appId, {
        hash: digest(token),
        purpose: 'reset_password',
        email: existing.email,
        accountId: existing.id,
        expiresAt: new Date(now.getTime() + RESET_PASSWORD_TTL_SECONDS * 1000),
      });
      await this.#mail(appId, existing.email, 'Someone tried to create an account with your address', [
        `Someone (maybe you) tried to create a new account in ${appId} with this email address, which already has an account.`,
        'Nothing was changed. If it was you, sign in with your password.',
        `If you forgot it, you can set a new one within ${RESET_PASSWORD_TTL_SECONDS / 60} minutes with this code:`,
        '',
        `  ${token}`,
        '',
        ...this.#link(appId, 'reset-password', token),
        'If it was not you, you can ignore this message.',
      ]);
    } else {
      // Decided first: a registration whose mail is held back (the address
      // had its share this hour) must not void the code already mailed.
      const mailed = await this.#mailAllowed(appId, input.email);
      await insertEmailToken(this.#db.db, appId, {
        hash: digest(token),
        purpose: 'verify_email',
        email: input.email,
        role: input.role,
        passwordHash,
        expiresAt: new Date(now.getTime() + VERIFY_EMAIL_TTL_SECONDS * 1000),
        supersede: mailed,
      });
      if (mailed) await this.#deliver(appId, input.email, 'Confirm your email address', [
        `Welcome to ${appId}. To finish creating your account, confirm this address within ${VERIFY_EMAIL_TTL_SECONDS / 3600} hours with this code:`,
        '',
        `  ${token}`,
        '',
        ...this.#link(appId, 'verify-email', token),
        'If you did not sign up, ignore this message: no account is created without it.',
      ]);
    }
    return { status: 'accepted', message: 'Check your email: we sent a message to this address with what to do next.' };
  }

  /**
   * Completes a registration with the code from the verification mail and
   * the password chosen at sign-up: the account exists from now on. A
   * password that does not match the registration answers like an unknown
   * code and leaves the code usable, so whoever registered someone else's
   * address cannot have the owner complete it by following the wrong mail.
   */
  async verifyEmail(appId: string, token: string, password: string): Promise<{ id: string; email: string; role: AccountRow['role'] }> {
    const hash = digest(token);
    const now = this.#now();
    const pending = await findPendingRegistration(this.#db.db, appId, hash, now);
    if (!pending) {
      await this.#passwords.verifyAgainstNothing(password);
      throw INVALID_EMAIL_TOKEN();
    }
    if (!(await this.#passwords.verify(password, pending.passwordHash))) throw INVALID_EMAIL_TOKEN();
    const account = await completeRegistration(this.#db.db, appId, hash, pending.passwordHash, now);
    if (!account) throw INVALID_EMAIL_TOKEN();
    return account;
  }

  /**
   * Starts a password reset. Always the same answer; a known address gets a
   * single-use code valid for {@link RESET_PASSWORD_TTL_SECONDS}, an unknown
   * one a mail saying no account uses it (so both send exactly one mail).
   */
  async forgotPassword(appId: string, email: string): Promise<MailAccepted> {
    const accepted: MailAccepted = { status: 'accepted', message: 'Check your email: if the address can be used, we sent it a message with what to do next.' };
    const existing = await findAccountByEmail(this.#db.db, appId, email);
    const to = existing?.email ?? email;
    // The per-address mail budget first: past it nothing is stored or sent,
    // on either path, so a flood of requests writes no rows.
    if (!(await this.#mailAllowed(appId, to))) return accepted;
    const token = randomBytes(32).toString('base64url');
    // A code row for an unknown address too (bound to no account, so it
    // resets nothing): both paths do the same database work, and the time
    // of the answer does not tell whether the address has an account.
    await insertEmailToken(this.#db.db, appId, {
      hash: digest(token),
      purpose: 'reset_password',
      email: to,
      ...(existing ? { accountId: existing.id } : {}),
      expiresAt: new Date(this.#now().getTime() + RESET_PASSWORD_TTL_SECONDS * 1000),
    });
    if (existing) {
      await this.#deliver(appId, to, 'Reset your password', [
        `Someone (maybe you) asked to reset the password of your ${appId} account.`,
        `Set a new one within ${RESET_PASSWORD_TTL_SECONDS / 60} minutes with this code (it works once):`,
        '',
        `  ${token}`,
        '',
        ...this.#link(appId, 'reset-password', token),
        'If it was not you, ignore this message: your password stays as it is.',
      ]);
    } else {
      await this.#deliver(appId, to, 'Password reset requested', [
        `Someone (maybe you) asked to reset the password of a ${appId} account for this address, but no account uses it.`,
        'If you have an account, it may be under another address. If it was not you, ignore this message.',
      ]);
    }
    return accepted;
  }

  /**
   * Sets a new password with a reset code: single use, short-lived; every
   * refresh token of the account is revoked (access tokens end within
   * their 15 minutes) and none of its devices is trusted any more. Returns
   * the account's email so the caller can clear sign-in limits.
   */
  async resetPassword(appId: string, token: string, password: string): Promise<{ email: string }> {
    const result = await resetPasswordWithToken(this.#db.db, appId, digest(token), await this.#passwords.hash(password), this.#now());
    if (!result) throw INVALID_EMAIL_TOKEN();
    return { email: result.email };
  }

  #link(appId: string, page: 'verify-email' | 'reset-password', token: string): string[] {
    if (!this.#linkBaseUrl) return [];
    const url = new URL(`${this.#linkBaseUrl.replace(/\/$/, '')}/${page}`);
    url.searchParams.set('app', appId);
    url.searchParams.set('token', token);
    return ['Or open this link:', `  ${url.toString()}`, ''];
  }

  /** Sends one mail unless the address had its share this hour (then nothing is sent, silently: the answer never says). */
  async #mail(appId: string, to: string, subject: string, lines: string[]): Promise<void> {
    if (await this.#mailAllowed(appId, to)) await this.#deliver(appId, to, subject, lines);
  }

  /** Takes one mail from the address's hourly budget; false when it is spent (then nothing is sent). */
  async #mailAllowed(appId: string, to: string): Promise<boolean> {
    return (await this.#limiter.consume(MAIL_PER_ADDRESS_RULE, `${appId}:${to}`)).allowed;
  }

  async #deliver(appId: string, to: string, subject: string, lines: string[]): Promise<void> {
    await this.#mailer.send({ to, subject: `${subject} (${appId})`, text: `${lines.join('\n')}\n` });
  }

  /**
   * Creates a verified account directly, without mail: for the command line
   * (admins) and tests. 409 `email_taken` when the address has one in this app.
   * The public route uses {@link requestRegistration}.
   */
  async register(appId: string, input: { email: string; password: string; role: AccountRow['role'] }): Promise<{ id: string; email: string; role: AccountRow['role'] }> {
    const account: AccountRow = { id: randomUUID(), email: input.email, role: input.role, passwordHash: await this.#passwords.hash(input.password) };
    if (!(await insertAccount(this.#db.db, appId, account))) {
      throw new AppError('conflict', 'email_taken', 'An account with this email already exists');
    }
    return { id: account.id, email: account.email, role: account.role };
  }

  /**
   * The device token, when it is a trusted device of the password account
   * with `email` and has not expired; undefined otherwise (no token, a
   * made-up one, another account's, an unknown email: all alike, so the
   * answer reveals no account). Checked before the password, to choose the
   * sign-in limits.
   */
  async trustedDevice(appId: string, email: string, deviceToken: string | undefined): Promise<TrustedDevice | undefined> {
    if (deviceToken === undefined) return undefined;
    const hash = digest(deviceToken);
    return (await isTrustedDevice(this.#db.db, appId, hash, email, this.#now())) ? { token: deviceToken, digest: hash } : undefined;
  }

  /**
   * Signs in with email and password. An unknown email and a wrong password
   * fail identically: same status, same body, and the same scrypt work.
   * A success on a trusted `device` records its use and hands its token
   * back; any other success trusts the device with a new token (keeping the
   * account's {@link MAX_TRUSTED_DEVICES} most recently used).
   */
  async login(appId: string, input: { email: string; password: string }, device?: TrustedDevice): Promise<SignedIn> {
    const account = await findAccountByEmail(this.#db.db, appId, input.email);
    const ok = account ? await this.#passwords.verify(input.password, account.passwordHash) : await this.#passwords.verifyAgainstNothing(input.password);
    if (!account || !ok) throw INVALID_CREDENTIALS();
    const pair = await this.startSession(appId, { kind: 'account', id: account.id }, account.role);
    return { ...pair, accountId: account.id, deviceToken: await this.#trustDevice(appId, account.id, device) };
  }

  /** Refreshes a trusted device, or trusts a new one (also when the old one was revoked since it was checked). */
  async #trustDevice(appId: string, accountId: string, device: TrustedDevice | undefined): Promise<string> {
    const now = this.#now();
    if (device && (await touchTrustedDevice(this.#db.db, appId, device.digest, accountId, now))) return device.token;
    const token = `dv_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(now.getTime() + TRUSTED_DEVICE_TTL_SECONDS * 1000);
    await insertTrustedDevice(this.#db.db, appId, { digest: digest(token), accountId, now, expiresAt }, MAX_TRUSTED_DEVICES);
    return token;
  }

  /** Issues an access token and the first refresh token of a new family. */
  async startSession(appId: string, subject: RefreshSubject, role: Role, familyId: string = randomUUID()): Promise<TokenPair> {
    const refreshToken = `rt_${randomBytes(32).toString('base64url')}`;
    await insertRefreshToken(this.#db.db, appId, {
      hash: digest(refreshToken),
      familyId,
      subject,
      expiresAt: new Date(Date.now() + this.#refreshTtlSeconds * 1000),
    });
    const accessToken = await this.#tokens.issue({ sub: subject.id, app: appId, role }, this.#accessTtlSeconds);
    return { accessToken, refreshToken, expiresIn: this.#accessTtlSeconds, tokenType: 'Bearer' };
  }

  /** Rotates a refresh token. Presenting one that was already used revokes its family (401). */
  async refresh(appId: string, refreshToken: string): Promise<TokenPair> {
    const result = await useRefreshToken(this.#db.db, appId, digest(refreshToken));
    if (result.outcome === 'reused') {
      throw new AppError('unauthenticated', 'refresh_token_reused', 'This refresh token was already used; every session it belongs to is signed out');
    }
    if (result.outcome !== 'rotated') throw INVALID_REFRESH();
    const role: Role | undefined = result.subject.kind === 'child' ? 'child' : await findAccountRole(this.#db.db, appId, result.subject.id);
    if (!role) throw INVALID_REFRESH();
    return this.startSession(appId, result.subject, role, result.familyId);
  }

  /** Signs out: the refresh token's family stops working. Idempotent. */
  async logout(appId: string, refreshToken: string): Promise<void> {
    await revokeFamilyOf(this.#db.db, appId, digest(refreshToken));
  }

  /**
   * Makes sure an externally signed-in grown-up has an account row (created
   * on first sight, role kept in step with the provider's groups), so
   * children and classrooms can belong to it.
   */
  async ensureExternal(principal: Principal, externalSubject: string): Promise<void> {
    if (principal.role === 'child') return;
    const key = `${principal.app}:${principal.sub}:${principal.role}`;
    if (this.#knownExternal.has(key)) return;
    await upsertExternalAccount(this.#db.db, principal.app, { id: principal.sub, role: principal.role, externalSubject });
    this.#knownExternal.set(key, true);
  }

  /** Creates an admin account (command line only). */
  async createAdmin(appId: string, email: string, password: string): Promise<{ id: string; email: string; role: 'admin' }> {
    const account = await this.register(appId, { email, password, role: 'admin' });
    return { ...account, role: 'admin' };
  }
}
