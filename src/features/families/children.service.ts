import { randomUUID } from 'node:crypto';
import type { Database } from '../../adapters/db/database.ts';
import { authorize, notFoundFor, type AccessFunction, type ChildFacts } from '../../domain/access-policy.ts';
import { accountRequired, AppError, isForeignKeyViolation } from '../../domain/errors.ts';
import { MOST_PRIVATE_SETTINGS, type Child, type ChildPatch, type NewChildInput } from '../../domain/family.ts';
import type { Principal } from '../../domain/principal.ts';
import type { AccountsService, TokenPair } from '../accounts/accounts.service.ts';
import {
  auditEntriesOfChild,
  childFacts,
  countActiveSessions,
  eraseChild,
  findChild,
  insertChild,
  listAllChildren,
  listChildrenOfGuardian,
  membershipsOfChild,
  publicChild,
  reservePinAttempt,
  resetPinFailures,
  setPin,
  unlockPin,
  updateChild,
  writeAudit,
} from './families.repo.ts';

/** Wrong PINs in a row before PIN sign-in locks until the guardian unlocks it. */
export const PIN_ATTEMPTS_BEFORE_LOCK = 5;

const INVALID_PIN = () => new AppError('unauthenticated', 'invalid_pin', 'Child or PIN is wrong');
const PIN_LOCKED = () => new AppError('forbidden', 'pin_locked', 'PIN sign-in is locked after too many wrong PINs; a guardian can unlock it');

/** Largest list an admin gets from `GET /api/children` in one response. */
const ADMIN_LIST_LIMIT = 1000;

/** Roles whose reads of a child's data are written to the audit log. */
const AUDITED_ROLES = new Set(['teacher', 'admin']);

/**
 * Child profiles: create, read, change, erase, export; device sessions and
 * PINs. Every method asks the access policy first; nothing here trusts ids
 * from a body where the token decides them.
 */
export class ChildrenService {
  readonly #db: Database;
  readonly #accounts: AccountsService;
  /** Called after a child is erased, so features holding child data in caches can drop it. */
  readonly #onErase: ((appId: string, childId: string) => Promise<void>)[] = [];

  constructor(deps: { db: Database; accounts: AccountsService }) {
    this.#db = deps.db;
    this.#accounts = deps.accounts;
  }

  /** Registers a hook run after a child is erased (cache invalidation). */
  onErase(hook: (appId: string, childId: string) => Promise<void>): void {
    this.#onErase.push(hook);
  }

  /** Loads a child's facts and applies the policy: 404 when missing or hidden, 403 for a denied function. */
  async authorizeChild(principal: Principal, fn: AccessFunction, childId: string): Promise<ChildFacts> {
    authorize(principal, fn);
    const facts = await childFacts(this.#db.db, principal.app, childId);
    if (!facts) throw notFoundFor('child');
    authorize(principal, fn, facts);
    return facts;
  }

  /** Writes an audit entry when a teacher or admin reads child data. */
  async audit(principal: Principal, childIds: readonly string[], purpose: string): Promise<void> {
    if (!AUDITED_ROLES.has(principal.role)) return;
    await writeAudit(this.#db.db, principal.app, { actorId: principal.sub, actorRole: principal.role, childIds, purpose });
  }

  async list(principal: Principal): Promise<Child[]> {
    authorize(principal, 'children.list');
    const db = this.#db.db;
    switch (principal.role) {
      case 'guardian':
        return listChildrenOfGuardian(db, principal.app, principal.sub);
      case 'child': {
        const self = await findChild(db, principal.app, principal.sub);
        return self ? [publicChild(self)] : [];
      }
      case 'teacher':
        return [];
      case 'admin': {
        const children = await listAllChildren(db, principal.app, ADMIN_LIST_LIMIT);
        await this.audit(principal, children.map((c) => c.id), 'list children of the app');
        return children;
      }
    }
  }

  async create(principal: Principal, input: NewChildInput): Promise<Child> {
    authorize(principal, 'children.create');
    const id = randomUUID();
    try {
      await insertChild(this.#db.db, principal.app, {
        id,
        guardianId: principal.sub,
        nickname: input.nickname,
        grade: input.grade,
        avatar: input.avatar ?? 'star',
        birthYear: input.birthYear ?? null,
        settings: { ...MOST_PRIVATE_SETTINGS },
      });
    } catch (error) {
      // The only foreign key is the guardian: a token without an account behind it.
      if (isForeignKeyViolation(error)) throw accountRequired();
      throw error;
    }
    return this.#publicOrThrow(principal.app, id);
  }

  async get(principal: Principal, childId: string): Promise<Child> {
    await this.authorizeChild(principal, 'child.read', childId);
    await this.audit(principal, [childId], 'read child profile');
    return this.#publicOrThrow(principal.app, childId);
  }

  async update(principal: Principal, childId: string, patch: ChildPatch): Promise<Child> {
    await this.authorizeChild(principal, 'child.update', childId);
    const current = await findChild(this.#db.db, principal.app, childId);
    if (!current) throw notFoundFor('child');
    await updateChild(this.#db.db, principal.app, childId, {
      ...(patch.nickname !== undefined ? { nickname: patch.nickname } : {}),
      ...(patch.grade !== undefined ? { grade: patch.grade } : {}),
      ...(patch.avatar !== undefined ? { avatar: patch.avatar } : {}),
      ...(patch.birthYear !== undefined ? { birthYear: patch.birthYear } : {}),
      ...(patch.settings !== undefined ? { settings: { ...current.settings, ...patch.settings } } : {}),
    });
    await this.audit(principal, [childId], 'change child profile');
    return this.#publicOrThrow(principal.app, childId);
  }

  /**
   * Erases the child: every row about it in one transaction, then caches,
   * leaving a deletion record without personal data.
   */
  async erase(principal: Principal, childId: string): Promise<{ tables: Record<string, number> }> {
    await this.authorizeChild(principal, 'child.delete', childId);
    const result = await this.#db.db.transaction().execute((trx) => eraseChild(trx, principal.app, childId, principal.role));
    for (const hook of this.#onErase) await hook(principal.app, childId);
    return result;
  }

  /** Everything held about the child, as JSON (GDPR art. 15 / 20). */
  async export(principal: Principal, childId: string): Promise<Record<string, unknown>> {
    await this.authorizeChild(principal, 'child.export', childId);
    await this.audit(principal, [childId], 'export child data');
    const db = this.#db.db;
    const child = await findChild(db, principal.app, childId);
    if (!child) throw notFoundFor('child');
    return {
      exportedAt: new Date().toISOString(),
      app: principal.app,
      child: publicChild(child),
      classrooms: await membershipsOfChild(db, principal.app, childId),
      signedInDevices: await countActiveSessions(db, principal.app, childId),
      accessLog: await auditEntriesOfChild(db, principal.app, childId),
    };
  }

  /** A device session for a child, created by its guardian: child-scoped tokens. */
  async startDeviceSession(principal: Principal, childId: string): Promise<TokenPair> {
    await this.authorizeChild(principal, 'child.session.create', childId);
    return this.#accounts.startSession(principal.app, { kind: 'child', id: childId }, 'child');
  }

  async setPin(principal: Principal, childId: string, pin: string): Promise<void> {
    await this.authorizeChild(principal, 'child.pin.manage', childId);
    await setPin(this.#db.db, principal.app, childId, await this.#accounts.passwords.hash(pin));
  }

  async removePin(principal: Principal, childId: string): Promise<void> {
    await this.authorizeChild(principal, 'child.pin.manage', childId);
    await setPin(this.#db.db, principal.app, childId, null);
  }

  async unlockPin(principal: Principal, childId: string): Promise<void> {
    await this.authorizeChild(principal, 'child.pin.manage', childId);
    await unlockPin(this.#db.db, principal.app, childId);
  }

  /**
   * PIN sign-in on a shared device. Unknown child, no PIN and wrong PIN all
   * answer 401 `invalid_pin`; a locked PIN answers 403 `pin_locked` so the
   * device can tell the child to ask their grown-up. Each attempt is counted
   * before the PIN is checked, so the lock holds against parallel guesses; a
   * correct PIN clears the count (and the lock its own attempt set).
   */
  async signInWithPin(appId: string, childId: string, pin: string): Promise<TokenPair> {
    const attempt = await reservePinAttempt(this.#db.db, appId, childId, PIN_ATTEMPTS_BEFORE_LOCK);
    if ('refused' in attempt) {
      if (attempt.refused === 'locked') throw PIN_LOCKED();
      await this.#accounts.passwords.verifyAgainstNothing(pin);
      throw INVALID_PIN();
    }
    if (!(await this.#accounts.passwords.verify(pin, attempt.pinHash))) {
      const child = await findChild(this.#db.db, appId, childId);
      throw child?.pinLocked ? PIN_LOCKED() : INVALID_PIN();
    }
    await resetPinFailures(this.#db.db, appId, childId);
    return this.#accounts.startSession(appId, { kind: 'child', id: childId }, 'child');
  }

  async #publicOrThrow(appId: string, childId: string): Promise<Child> {
    const child = await findChild(this.#db.db, appId, childId);
    if (!child) throw notFoundFor('child');
    return publicChild(child);
  }
}
