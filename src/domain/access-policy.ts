import { AppError } from './errors.ts';
import type { Principal, Role } from './principal.ts';

/**
 * The one access policy. Every route asks it before touching data:
 *
 * 1. Functions: each function lists the roles that may use it at all. A
 *    role outside that list gets `forbidden` (403), whatever the object.
 * 2. Objects: a role that may use the function still reaches only its own
 *    objects. Anything else is `not_found` (404), exactly like an object
 *    that does not exist, so ids cannot be probed.
 *
 * Deny by default: a function missing from the table is allowed to no one,
 * and an object kind without a rule below is reached by no one but admins of
 * its app. Pure code: callers load the facts, this decides.
 */

/** Every function a route can call, with the roles allowed to use it. */
export const FUNCTION_ROLES = {
  /** The whole `/admin/*` route group. */
  'admin.area': ['admin'],
  /** `GET /api/concepts`: the app's concept graph. */
  'concepts.read': ['guardian', 'child', 'teacher', 'admin'],
  'concepts.author': ['admin'],
  'lessons.read': ['guardian', 'child', 'teacher', 'admin'],
  'lessons.author': ['admin'],
  /** Import, export and list content packs; resolve any item ever stored. */
  'content.manage': ['admin'],
  'children.list': ['guardian', 'child', 'admin'],
  'children.create': ['guardian'],
  'child.read': ['guardian', 'child', 'admin'],
  'child.update': ['guardian', 'admin'],
  'child.delete': ['guardian', 'admin'],
  'child.export': ['guardian', 'admin'],
  'child.session.create': ['guardian'],
  'child.pin.manage': ['guardian'],
  /** The guardian's own family device key (PIN sign-in on shared devices). */
  'family.devicekey.manage': ['guardian'],
  'child.progress.read': ['guardian', 'child', 'teacher', 'admin'],
  'child.progress.write': ['child', 'guardian'],
  /**
   * `POST /api/events`: analytics events from an app. A child sends about
   * itself, a guardian about their children, a teacher about children of
   * their classrooms (the same reach as reading the child's progress).
   */
  'child.events.write': ['child', 'guardian', 'teacher'],
  /** The adaptive engine's analysis of a child's history (what is known now, due, next, struggling). */
  'child.analysis.read': ['guardian', 'child', 'teacher', 'admin'],
  /** Ask the engine for a lesson plan for a child (`POST /api/adaptive/plans`). */
  'child.plan.request': ['guardian', 'child', 'teacher', 'admin'],
  /** Read a child's lesson plans. */
  'child.plan.read': ['guardian', 'child', 'teacher', 'admin'],
  /** `GET /api/adaptive/similar`: nearest lessons and items of the app's curriculum (vector search), for those who plan teaching. */
  'curriculum.similar': ['teacher', 'admin'],
  /** `GET /api/progress`: the caller's own children, classrooms or self. */
  'progress.summary': ['guardian', 'child', 'teacher'],
  'classrooms.list': ['guardian', 'teacher', 'admin'],
  'classrooms.create': ['teacher'],
  'classroom.read': ['guardian', 'teacher', 'admin'],
  'classroom.invite': ['teacher', 'admin'],
  'classroom.roster.read': ['teacher', 'admin'],
  'classroom.member.remove': ['guardian', 'teacher', 'admin'],
  'invite.respond': ['guardian'],
  'audit.read': ['admin'],
  /** `GET /admin/lake/status`: the app's analytics lake (backlog, dead letters, files). */
  'lake.status': ['admin'],
  /** `GET /admin/reports/{report}`: the analytics lake's reports of the caller's own app. */
  'lake.reports.read': ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type AccessFunction = keyof typeof FUNCTION_ROLES;

/** What the policy needs to know about a child profile. */
export interface ChildFacts {
  kind: 'child';
  app: string;
  id: string;
  guardianId: string;
  /** Teachers of the classrooms the child is an active member of. */
  teacherIds: readonly string[];
}

/** What the policy needs to know about a classroom. */
export interface ClassroomFacts {
  kind: 'classroom';
  app: string;
  id: string;
  teacherId: string;
  /** Guardians of the classroom's active members. */
  guardianIds: readonly string[];
}

export type AccessObject = ChildFacts | ClassroomFacts;

export type Decision = 'allow' | 'forbidden' | 'not_found';

/**
 * Functions a teacher may use on a child of one of their classrooms: reading
 * progress and the learning analysis, asking for and reading lesson plans, and sending analytics events about the child. Teachers see profiles through the classroom roster, which
 * holds nickname, grade and avatar and nothing else.
 */
const TEACHER_CHILD_FUNCTIONS: ReadonlySet<AccessFunction> = new Set(['child.progress.read', 'child.analysis.read', 'child.plan.request', 'child.plan.read', 'child.events.write']);
/** Functions a child may use on itself. */
const CHILD_SELF_FUNCTIONS: ReadonlySet<AccessFunction> = new Set(['child.read', 'child.progress.read', 'child.progress.write', 'child.analysis.read', 'child.plan.request', 'child.plan.read', 'child.events.write']);
/** Functions a guardian may use on a classroom one of their children is in. */
const GUARDIAN_CLASSROOM_FUNCTIONS: ReadonlySet<AccessFunction> = new Set(['classroom.read', 'classroom.member.remove']);

/** May `principal` use `fn` at all? */
export function mayUse(principal: Principal, fn: AccessFunction): boolean {
  return (FUNCTION_ROLES[fn] as readonly Role[]).includes(principal.role);
}

/** Decides one request: the function first (403), then the object (404). */
export function decide(principal: Principal, fn: AccessFunction, object?: AccessObject): Decision {
  if (!mayUse(principal, fn)) return 'forbidden';
  if (!object) return 'allow';
  if (object.app !== principal.app) return 'not_found';
  if (principal.role === 'admin') return 'allow';
  return reaches(principal, fn, object) ? 'allow' : 'not_found';
}

function reaches(p: Principal, fn: AccessFunction, o: AccessObject): boolean {
  switch (o.kind) {
    case 'child':
      if (p.role === 'guardian') return o.guardianId === p.sub;
      if (p.role === 'child') return o.id === p.sub && CHILD_SELF_FUNCTIONS.has(fn);
      if (p.role === 'teacher') return TEACHER_CHILD_FUNCTIONS.has(fn) && o.teacherIds.includes(p.sub);
      return false;
    case 'classroom':
      if (p.role === 'teacher') return o.teacherId === p.sub;
      if (p.role === 'guardian') return GUARDIAN_CLASSROOM_FUNCTIONS.has(fn) && o.guardianIds.includes(p.sub);
      return false;
    default:
      return false;
  }
}

/** Throws the error the decision calls for: 403 `forbidden` or 404 `<kind>_not_found`. */
export function authorize(principal: Principal, fn: AccessFunction, object?: AccessObject): void {
  const decision = decide(principal, fn, object);
  if (decision === 'allow') return;
  if (decision === 'forbidden') throw new AppError('forbidden', 'forbidden', `The ${principal.role} role may not use ${fn}`);
  throw notFoundFor(object!.kind);
}

/** The 404 for an object kind, the same whether it is missing or hidden. */
export function notFoundFor(kind: AccessObject['kind']): AppError {
  return new AppError('not_found', `${kind}_not_found`, `No such ${kind}`);
}
