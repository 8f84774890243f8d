import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { Tables } from '../../adapters/db/tables.ts';
import type { Database } from '../../adapters/db/database.ts';
import { authorize, notFoundFor, type AccessFunction, type ChildFacts } from '../../domain/access-policy.ts';
import { accountRequired, AppError, isForeignKeyViolation } from '../../domain/errors.ts';
import { MOST_PRIVATE_SETTINGS, type Child, type ChildPatch, type NewChildInput } from '../../domain/family.ts';
import type { Principal } from '../../domain/principal.ts';
import { digest, type AccountsService, type TokenPair } from '../accounts/accounts.service.ts';
import {
  childFacts,
  countActiveSessions,
  eraseChild,
  findChild,
  insertChild,
  listAllChildren,
  listChildrenOfGuardian,
  publicChild,
  readChildData,
  updateChild,
  writeAudit,
} from './families.repo.ts';
import { deleteDeviceKey, guardianOfDeviceKey, reservePinAttempt, resetPinFailures, setDeviceKey, setPin } from './pin.repo.ts';

/**
 * The one answer for every failed PIN sign-in: wrong PIN, no PIN, unknown
 * child, another family's child, unknown or revoked device key. Same
 * status, body and (about) time, so the answers tell nothing.
 */
const INVALID_PIN = () => new AppError('unauthenticated', 'invalid_pin', 'Child, PIN or device key is wrong');

const PIN_WAIT = (retryAfterSeconds: number) =>
  new AppError('rate_limited', 'pin_retry_later', `Too many wrong PINs; try again in ${retryAfterSeconds} s (a guardian can clear the wait)`, {
    details: { retryAfterSeconds },
  });

/** Prefix of family device keys, so a leaked one is recognisable (e.g. by secret scanners). */
const DEVICE_KEY_PREFIX = 'dk_';

/** Largest list an admin gets from `GET /api/children` in one response. */
const ADMIN_LIST_LIMIT = 1000;

/** A child's export: when, which app, how many devices are signed in, and one section per table of `CHILD_DATA`. */
export interface ChildExportJson {
  exportedAt: string;
  app: string;
  signedInDevices: number;
  [section: string]: unknown;
}

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

  /** The clock PIN waits are measured on (tests move it with mock timers or pass their own). */
  readonly #now: () => Date;

  constructor(deps: { db: Database; accounts: AccountsService; now?: () => Date }) {
    this.#db = deps.db;
    this.#accounts = deps.accounts;
    this.#now = deps.now ?? (() => new Date());
  }

  readonly #eraseSteps: ((trx: Transaction<Tables>, appId: string, childId: string) => Promise<Record<string, number>>)[] = [];
  readonly #exportSections: { name: string; read: (appId: string, childId: string) => Promise<unknown> }[] = [];

  /**
   * Registers a step of the erasure's own transaction, for child data held
   * outside the app's tables (the analytics outbox); its counts join the
   * erasure's `tables`.
   */
  onEraseInTransaction(step: (trx: Transaction<Tables>, appId: string, childId: string) => Promise<Record<string, number>>): void {
    this.#eraseSteps.push(step);
  }

  /** Registers a section of the child's export read from outside the app's tables (the analytics lake). */
  addExportSection(name: string, read: (appId: string, childId: string) => Promise<unknown>): void {
    this.#exportSections.push({ name, read });
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
    const result = await this.#db.db.transaction().execute(async (trx) => {
      const erased = await eraseChild(trx, principal.app, childId, principal.role);
      for (const step of this.#eraseSteps) Object.assign(erased.tables, await step(trx, principal.app, childId));
      return erased;
    });
    for (const hook of this.#onErase) await hook(principal.app, childId);
    return result;
  }

  /**
   * Everything held about the child, as JSON (GDPR art. 15 / 20): one
   * section per table that `CHILD_DATA` (adapters/db/child-data.ts) declares,
   * read in one transaction so the sections agree, plus the count of device
   * sessions still signed in. The audit entry for this export is written
   * first, so the export shows it.
   */
  async export(principal: Principal, childId: string): Promise<ChildExportJson> {
    await this.authorizeChild(principal, 'child.export', childId);
    await this.audit(principal, [childId], 'export child data');
    const { sections, signedInDevices } = await this.#db.db.transaction().execute(async (trx) => {
      // Repeatable read: every section sees the same snapshot (an answer landing mid-export shows in all or none).
      await sql`set transaction isolation level repeatable read, read only`.execute(trx);
      return { sections: await readChildData(trx, principal.app, childId), signedInDevices: await countActiveSessions(trx, principal.app, childId) };
    });
    if (!sections.child) throw notFoundFor('child');
    for (const extra of this.#exportSections) sections[extra.name] = await extra.read(principal.app, childId);
    return { exportedAt: new Date().toISOString(), app: principal.app, ...sections, signedInDevices };
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

  /** Clears the wrong-PIN count and any wait: the correct PIN works again at once. */
  async unlockPin(principal: Principal, childId: string): Promise<void> {
    await this.authorizeChild(principal, 'child.pin.manage', childId);
    await resetPinFailures(this.#db.db, principal.app, childId);
  }

  /**
   * Creates the guardian's family device key, replacing (and so revoking)
   * any earlier one. The key is shown once; only its digest is stored. A
   * shared device keeps it and sends it with every PIN sign-in, so only a
   * device the guardian set up can try PINs of the family's children.
   */
  async createDeviceKey(principal: Principal): Promise<{ deviceKey: string }> {
    authorize(principal, 'family.devicekey.manage');
    const deviceKey = `${DEVICE_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    if (!(await setDeviceKey(this.#db.db, principal.app, principal.sub, digest(deviceKey)))) {
      throw new AppError('forbidden', 'account_required', 'This token’s subject has no account in this app; sign in with a registered account');
    }
    return { deviceKey };
  }

  /** Revokes the guardian's family device key: PIN sign-in stops on every shared device (idempotent). */
  async revokeDeviceKey(principal: Principal): Promise<void> {
    authorize(principal, 'family.devicekey.manage');
    await deleteDeviceKey(this.#db.db, principal.app, principal.sub);
  }

  /**
   * PIN sign-in on a family's shared device. The device key decides the
   * family; without a valid one nothing about any child is read or counted,
   * so nobody elsewhere can use up a child's attempts. For a child of that
   * family, each attempt is counted before the PIN is checked (parallel
   * guesses cannot slip past), and wrong PINs past the free ones earn a
   * growing wait (429 `pin_retry_later`), never a lock. Every failure
   * answers 401 `invalid_pin`, and a missing PIN is checked against a dummy
   * hash, so a child without a PIN looks exactly like a wrong PIN.
   */
  async signInWithPin(appId: string, input: { childId: string; pin: string; deviceKey: string }): Promise<TokenPair> {
    const passwords = this.#accounts.passwords;
    const guardianId = await guardianOfDeviceKey(this.#db.db, appId, digest(input.deviceKey));
    if (!guardianId) {
      await passwords.verifyAgainstNothing(input.pin);
      throw INVALID_PIN();
    }
    const now = this.#now();
    const attempt = await reservePinAttempt(this.#db.db, appId, input.childId, guardianId, now);
    if (attempt.outcome === 'waiting') {
      throw PIN_WAIT(Math.max(1, Math.ceil((attempt.retryAt.getTime() - now.getTime()) / 1000)));
    }
    const ok = attempt.outcome === 'counted' && attempt.pinHash !== null ? await passwords.verify(input.pin, attempt.pinHash) : await passwords.verifyAgainstNothing(input.pin);
    if (!ok) throw INVALID_PIN();
    await resetPinFailures(this.#db.db, appId, input.childId);
    return this.#accounts.startSession(appId, { kind: 'child', id: input.childId }, 'child');
  }

  async #publicOrThrow(appId: string, childId: string): Promise<Child> {
    const child = await findChild(this.#db.db, appId, childId);
    if (!child) throw notFoundFor('child');
    return publicChild(child);
  }
}
