import { randomInt, randomUUID } from 'node:crypto';
import type { Database } from '../../adapters/db/database.ts';
import { authorize, notFoundFor, type AccessFunction, type ClassroomFacts } from '../../domain/access-policy.ts';
import { accountRequired, AppError, isForeignKeyViolation } from '../../domain/errors.ts';
import { JOIN_CODE_ALPHABET, type Classroom, type ClassroomChild, type NewClassroomInput } from '../../domain/family.ts';
import type { Principal } from '../../domain/principal.ts';
import type { ChildrenService } from './children.service.ts';
import {
  classroomFacts,
  findClassroom,
  findLiveInvite,
  insertClassroom,
  insertInvite,
  listAllClassrooms,
  listClassroomsOfGuardian,
  listClassroomsOfTeacher,
  publicClassroom,
  removeMembership,
  rosterOf,
  setMembership,
} from './families.repo.ts';

/** A new join code: 8 characters, ~39 bits, from an alphabet without look-alikes. */
export function newJoinCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += JOIN_CODE_ALPHABET[randomInt(JOIN_CODE_ALPHABET.length)];
  return code;
}

/**
 * Classrooms: a teacher creates one and shares a join code; a guardian who
 * enters the code accepts (the child joins) or declines for each child; the
 * guardian or the teacher can remove the link at any time.
 */
export class ClassroomsService {
  readonly #db: Database;
  readonly #children: ChildrenService;

  constructor(deps: { db: Database; children: ChildrenService }) {
    this.#db = deps.db;
    this.#children = deps.children;
  }

  async #authorizeClassroom(principal: Principal, fn: AccessFunction, classroomId: string): Promise<ClassroomFacts> {
    authorize(principal, fn);
    const facts = await classroomFacts(this.#db.db, principal.app, classroomId);
    if (!facts) throw notFoundFor('classroom');
    authorize(principal, fn, facts);
    return facts;
  }

  async create(principal: Principal, input: NewClassroomInput): Promise<Classroom> {
    authorize(principal, 'classrooms.create');
    const id = randomUUID();
    try {
      await insertClassroom(this.#db.db, principal.app, { id, teacherId: principal.sub, name: input.name, grade: input.grade ?? null });
    } catch (error) {
      // The only foreign key is the teacher: a token without an account behind it.
      if (isForeignKeyViolation(error)) throw accountRequired();
      throw error;
    }
    const created = await findClassroom(this.#db.db, principal.app, id);
    return publicClassroom(created!);
  }

  async list(principal: Principal): Promise<Classroom[]> {
    authorize(principal, 'classrooms.list');
    const db = this.#db.db;
    if (principal.role === 'teacher') return listClassroomsOfTeacher(db, principal.app, principal.sub);
    if (principal.role === 'guardian') return listClassroomsOfGuardian(db, principal.app, principal.sub);
    return listAllClassrooms(db, principal.app, 1000);
  }

  async get(principal: Principal, classroomId: string): Promise<Classroom> {
    await this.#authorizeClassroom(principal, 'classroom.read', classroomId);
    const classroom = await findClassroom(this.#db.db, principal.app, classroomId);
    if (!classroom) throw notFoundFor('classroom');
    return publicClassroom(classroom);
  }

  /** A new join code for the classroom, valid for `days` days. */
  async createInvite(principal: Principal, classroomId: string, days: number): Promise<{ code: string; expiresAt: string }> {
    await this.#authorizeClassroom(principal, 'classroom.invite', classroomId);
    const expiresAt = new Date(Date.now() + days * 86_400_000);
    for (let attempt = 0; attempt < 5; attempt++) {
      const code = newJoinCode();
      if (await insertInvite(this.#db.db, principal.app, { code, classroomId, expiresAt })) return { code, expiresAt: expiresAt.toISOString() };
    }
    throw new AppError('internal', 'join_code_exhausted', 'Could not allocate a join code');
  }

  /** What a guardian sees before answering an invite. Unknown and expired codes are both 404. */
  async previewInvite(principal: Principal, code: string): Promise<{ classroomName: string; grade: number | null; expiresAt: string }> {
    authorize(principal, 'invite.respond');
    const invite = await findLiveInvite(this.#db.db, principal.app, code);
    if (!invite) throw new AppError('not_found', 'invite_not_found', 'No such join code, or it has expired');
    return { classroomName: invite.classroomName, grade: invite.grade, expiresAt: invite.expiresAt };
  }

  /** The guardian's answer for one of their children. Accepting is what lets the teacher see the child. */
  async respond(principal: Principal, code: string, childId: string, answer: 'accept' | 'decline'): Promise<{ classroomId: string; childId: string; status: 'active' | 'declined' }> {
    authorize(principal, 'invite.respond');
    const invite = await findLiveInvite(this.#db.db, principal.app, code);
    if (!invite) throw new AppError('not_found', 'invite_not_found', 'No such join code, or it has expired');
    await this.#children.authorizeChild(principal, 'child.update', childId);
    const status = answer === 'accept' ? 'active' : 'declined';
    await setMembership(this.#db.db, principal.app, invite.classroomId, childId, status);
    return { classroomId: invite.classroomId, childId, status };
  }

  /** The children of a classroom (nickname, grade, avatar only); audited. */
  async roster(principal: Principal, classroomId: string): Promise<ClassroomChild[]> {
    await this.#authorizeClassroom(principal, 'classroom.roster.read', classroomId);
    const children = await rosterOf(this.#db.db, principal.app, classroomId);
    await this.#children.audit(principal, children.map((c) => c.id), 'read classroom roster');
    return children;
  }

  /** Removes a child from a classroom: its guardian, the classroom's teacher or an admin may. */
  async removeMember(principal: Principal, classroomId: string, childId: string): Promise<void> {
    await this.#authorizeClassroom(principal, 'classroom.member.remove', classroomId);
    // A guardian reaches the classroom through any of their children; the link removed must be their own child's.
    if (principal.role === 'guardian') await this.#children.authorizeChild(principal, 'child.update', childId);
    if (!(await removeMembership(this.#db.db, principal.app, classroomId, childId))) throw notFoundFor('child');
  }
}
