import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Database } from '../../adapters/db/database.ts';
import { AppError } from '../../domain/errors.ts';
import { refineText } from '../../domain/input-rules.ts';
import type { Principal, Role } from '../../domain/principal.ts';
import type { TokenService } from '../auth/tokens.ts';
import {
  findAccountByEmail,
  findAccountRole,
  insertAccount,
  insertRefreshToken,
  revokeFamilyOf,
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
  readonly #knownExternal = new LRUCache<string, true>({ max: 100_000, ttl: 10 * 60_000 });

  constructor(deps: { db: Database; tokens: TokenService; passwords: PasswordHasher; accessTtlSeconds: number; refreshTtlSeconds: number }) {
    this.#db = deps.db;
    this.#tokens = deps.tokens;
    this.#passwords = deps.passwords;
    this.#accessTtlSeconds = deps.accessTtlSeconds;
    this.#refreshTtlSeconds = deps.refreshTtlSeconds;
  }

  get passwords(): PasswordHasher {
    return this.#passwords;
  }

  /** Creates an account; 409 `email_taken` when the email already has one in this app. */
  async register(appId: string, input: { email: string; password: string; role: AccountRow['role'] }): Promise<{ id: string; email: string; role: AccountRow['role'] }> {
    const account: AccountRow = { id: randomUUID(), email: input.email, role: input.role, passwordHash: await this.#passwords.hash(input.password) };
    if (!(await insertAccount(this.#db.db, appId, account))) {
      throw new AppError('conflict', 'email_taken', 'An account with this email already exists');
    }
    return { id: account.id, email: account.email, role: account.role };
  }

  /**
   * Signs in with email and password. An unknown email and a wrong password
   * fail identically: same status, same body, and the same scrypt work.
   */
  async login(appId: string, input: { email: string; password: string }): Promise<TokenPair & { accountId: string }> {
    const account = await findAccountByEmail(this.#db.db, appId, input.email);
    const ok = account ? await this.#passwords.verify(input.password, account.passwordHash) : await this.#passwords.verifyAgainstNothing(input.password);
    if (!account || !ok) throw INVALID_CREDENTIALS();
    return { ...(await this.startSession(appId, { kind: 'account', id: account.id }, account.role)), accountId: account.id };
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
