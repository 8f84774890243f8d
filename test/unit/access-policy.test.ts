import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { authorize, decide, FUNCTION_ROLES } from '../../src/domain/access-policy.ts';
import type { AccessFunction, AccessObject, ChildFacts, ClassroomFacts, Decision } from '../../src/domain/access-policy.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { Principal, Role } from '../../src/domain/principal.ts';

/*
 * Property-based tests for the access policy. Random worlds (apps with their
 * accounts, children, classrooms and memberships) are generated, the facts are
 * derived from them the way the repository does, and each product rule is
 * checked as an independent statement about the world, not as a copy of
 * `decide`.
 */

const NUM_RUNS = 1000;
const NOW = Math.floor(Date.now() / 1000);

const FUNCTIONS = Object.keys(FUNCTION_ROLES) as AccessFunction[];
const APP_IDS = ['app_a', 'app_b', 'app_c'] as const;

/** The table, read as the product states it: may `role` use `fn` at all? */
function listed(role: Role, fn: AccessFunction): boolean {
  return (FUNCTION_ROLES[fn] as readonly Role[]).includes(role);
}
function functionsFor(role: Role): AccessFunction[] {
  return FUNCTIONS.filter((fn) => listed(role, fn));
}

// ---------------------------------------------------------------------------
// Worlds
// ---------------------------------------------------------------------------

type AccountRole = Exclude<Role, 'child'>;
/** Anyone who can hold a token: an account, or a child profile (role `child`). */
interface Actor {
  app: string;
  id: string;
  role: Role;
}
interface ChildRecord {
  app: string;
  id: string;
  guardianId: string;
}
interface ClassroomRecord {
  app: string;
  id: string;
  teacherId: string;
}
interface Membership {
  app: string;
  classroomId: string;
  childId: string;
  status: 'active' | 'declined';
}
interface World {
  apps: string[];
  actors: Actor[];
  children: ChildRecord[];
  classrooms: ClassroomRecord[];
  memberships: Membership[];
  /** The facts of every child and classroom, as the repository loads them. */
  objects: AccessObject[];
}

/** Raw shape of one app; indices are taken modulo the counts when building. */
const rawAppArb = fc.record({
  guardians: fc.integer({ min: 1, max: 3 }),
  teachers: fc.integer({ min: 1, max: 3 }),
  admins: fc.integer({ min: 0, max: 2 }),
  /** One entry per child: the index of its guardian. */
  children: fc.array(fc.nat({ max: 2 }), { maxLength: 5 }),
  /** One entry per classroom: the index of its teacher. */
  classrooms: fc.array(fc.nat({ max: 2 }), { maxLength: 3 }),
  memberships: fc.array(
    fc.record({
      classroom: fc.nat({ max: 2 }),
      child: fc.nat({ max: 4 }),
      // Mostly active; declined rows must not count for anything.
      status: fc.nat({ max: 3 }).map((n): Membership['status'] => (n === 0 ? 'declined' : 'active')),
    }),
    { maxLength: 8 },
  ),
});
type RawApp = typeof rawAppArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * A world of 1–3 apps. With `sharedIds` every app reuses the same id strings
 * ('g0', 'c0', …), so only the app tells objects apart; otherwise ids are
 * unique across the world.
 */
const worldArb: fc.Arbitrary<World> = fc
  .record({ apps: fc.array(rawAppArb, { minLength: 1, maxLength: APP_IDS.length }), sharedIds: fc.boolean() })
  .map(({ apps, sharedIds }) => buildWorld(apps, sharedIds));

function buildWorld(rawApps: RawApp[], sharedIds: boolean): World {
  const world: World = { apps: [], actors: [], children: [], classrooms: [], memberships: [], objects: [] };
  rawApps.forEach((raw, appIndex) => {
    const app = APP_IDS[appIndex]!;
    world.apps.push(app);
    const id = (prefix: string, n: number) => (sharedIds ? `${prefix}${n}` : `${app}.${prefix}${n}`);
    const accounts = (role: AccountRole, prefix: string, count: number) =>
      Array.from({ length: count }, (_, n): Actor => ({ app, id: id(prefix, n), role }));
    const guardians = accounts('guardian', 'g', raw.guardians);
    const teachers = accounts('teacher', 't', raw.teachers);
    const admins = accounts('admin', 'adm', raw.admins);
    const children = raw.children.map((owner, n): ChildRecord => ({ app, id: id('c', n), guardianId: guardians[owner % guardians.length]!.id }));
    const classrooms = raw.classrooms.map((owner, n): ClassroomRecord => ({ app, id: id('r', n), teacherId: teachers[owner % teachers.length]!.id }));
    const memberships: Membership[] = [];
    if (children.length > 0 && classrooms.length > 0) {
      for (const m of raw.memberships) {
        const classroomId = classrooms[m.classroom % classrooms.length]!.id;
        const childId = children[m.child % children.length]!.id;
        // One row per (classroom, child), like the table's primary key.
        if (memberships.some((x) => x.classroomId === classroomId && x.childId === childId)) continue;
        memberships.push({ app, classroomId, childId, status: m.status });
      }
    }
    world.actors.push(...guardians, ...teachers, ...admins, ...children.map((c): Actor => ({ app, id: c.id, role: 'child' })));
    world.children.push(...children);
    world.classrooms.push(...classrooms);
    world.memberships.push(...memberships);
  });
  world.objects = [...world.children.map((c) => childFacts(world, c)), ...world.classrooms.map((r) => classroomFacts(world, r))];
  return world;
}

function activeMemberships(world: World, app: string): Membership[] {
  return world.memberships.filter((m) => m.app === app && m.status === 'active');
}
function classroomOf(world: World, app: string, id: string): ClassroomRecord {
  const found = world.classrooms.find((r) => r.app === app && r.id === id);
  assert.ok(found, `classroom ${app}/${id}`);
  return found;
}
function childOf(world: World, app: string, id: string): ChildRecord {
  const found = world.children.find((c) => c.app === app && c.id === id);
  assert.ok(found, `child ${app}/${id}`);
  return found;
}

/** As `childFacts` in the repository: teachers of the active memberships' classrooms. */
function childFacts(world: World, child: ChildRecord): ChildFacts {
  const teacherIds = activeMemberships(world, child.app)
    .filter((m) => m.childId === child.id)
    .map((m) => classroomOf(world, child.app, m.classroomId).teacherId);
  return { kind: 'child', app: child.app, id: child.id, guardianId: child.guardianId, teacherIds };
}

/** As `classroomFacts` in the repository: distinct guardians of the active members. */
function classroomFacts(world: World, classroom: ClassroomRecord): ClassroomFacts {
  const guardianIds = activeMemberships(world, classroom.app)
    .filter((m) => m.classroomId === classroom.id)
    .map((m) => childOf(world, classroom.app, m.childId).guardianId);
  return { kind: 'classroom', app: classroom.app, id: classroom.id, teacherId: classroom.teacherId, guardianIds: [...new Set(guardianIds)] };
}

// Ground truth, read from the world (never from the facts).

function isOwnChild(world: World, guardian: Actor, child: AccessObject): boolean {
  return guardian.app === child.app && childOf(world, child.app, child.id).guardianId === guardian.id;
}
function teachesChild(world: World, teacher: Actor, child: AccessObject): boolean {
  return (
    teacher.app === child.app &&
    activeMemberships(world, child.app).some((m) => m.childId === child.id && classroomOf(world, m.app, m.classroomId).teacherId === teacher.id)
  );
}
function ownsClassroom(world: World, teacher: Actor, classroom: AccessObject): boolean {
  return teacher.app === classroom.app && classroomOf(world, classroom.app, classroom.id).teacherId === teacher.id;
}
function hasChildIn(world: World, guardian: Actor, classroom: AccessObject): boolean {
  return (
    guardian.app === classroom.app &&
    activeMemberships(world, classroom.app).some((m) => m.classroomId === classroom.id && childOf(world, m.app, m.childId).guardianId === guardian.id)
  );
}
function isSelf(childActor: Actor, object: AccessObject): boolean {
  return object.kind === 'child' && object.app === childActor.app && object.id === childActor.id;
}

// ---------------------------------------------------------------------------
// Scenarios: actor × object × function
// ---------------------------------------------------------------------------

interface Scenario {
  world: World;
  actor: Actor;
  principal: Principal;
  fn: AccessFunction;
  object: AccessObject;
}

interface ScenarioOptions {
  /** Only actors with one of these roles. */
  roles?: readonly Role[];
  /** Only objects of this kind. */
  kind?: AccessObject['kind'];
  /** Only objects of the actor's app, or only of another app. */
  app?: 'same' | 'other';
  /** Only these functions (default: every function), or a function of the actor's role. */
  fns?: readonly AccessFunction[] | ((role: Role) => readonly AccessFunction[]);
}

function scenarioArb(opts: ScenarioOptions = {}): fc.Arbitrary<Scenario> {
  return fc
    .record({ world: worldArb, actorPick: fc.nat(), objectPick: fc.nat(), fnPick: fc.nat(), ttl: fc.integer({ min: 60, max: 7 * 86_400 }), withJti: fc.boolean() })
    .map(({ world, actorPick, objectPick, fnPick, ttl, withJti }): Scenario | null => {
      const actors = world.actors.filter((a) => !opts.roles || opts.roles.includes(a.role));
      const actor = actors[actorPick % Math.max(actors.length, 1)];
      if (!actor) return null;
      const objects = world.objects.filter(
        (o) => (!opts.kind || o.kind === opts.kind) && (!opts.app || (opts.app === 'same') === (o.app === actor.app)),
      );
      const object = objects[objectPick % Math.max(objects.length, 1)];
      const fns = typeof opts.fns === 'function' ? opts.fns(actor.role) : (opts.fns ?? FUNCTIONS);
      const fn = fns[fnPick % Math.max(fns.length, 1)];
      if (!object || !fn) return null;
      const principal: Principal = { sub: actor.id, app: actor.app, role: actor.role, exp: NOW + ttl, ...(withJti ? { jti: `jti-${actorPick}` } : {}) };
      return { world, actor, principal, fn, object };
    })
    .filter((s): s is Scenario => s !== null);
}

function check(arb: fc.Arbitrary<Scenario>, predicate: (s: Scenario) => void): void {
  fc.assert(fc.property(arb, predicate), { numRuns: NUM_RUNS });
}

/** Counts both sides of an "iff" so a property cannot pass vacuously. */
function tally() {
  const seen = { allow: 0, deny: 0 };
  return {
    note(d: Decision) {
      if (d === 'allow') seen.allow++;
      else seen.deny++;
    },
    assertBothSeen() {
      assert.ok(seen.allow > 0 && seen.deny > 0, `both outcomes should be exercised: ${JSON.stringify(seen)}`);
    },
  };
}

function describeScenario(s: Scenario): string {
  return `${s.principal.role} ${s.principal.app}/${s.principal.sub} ${s.fn} ${s.object.kind} ${s.object.app}/${s.object.id}`;
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

describe('access policy properties', () => {
  it('a role outside FUNCTION_ROLES[fn] always gets forbidden, whatever the object (or none)', () => {
    fc.assert(
      fc.property(scenarioArb(), fc.boolean(), (s, withObject) => {
        const object = withObject ? s.object : undefined;
        const d = decide(s.principal, s.fn, object);
        if (!listed(s.principal.role, s.fn)) assert.equal(d, 'forbidden', describeScenario(s));
        else assert.notEqual(d, 'forbidden', describeScenario(s));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('an object of another app is never allowed, and is not_found when the role may use the function', () => {
    check(scenarioArb({ app: 'other' }), (s) => {
      const d = decide(s.principal, s.fn, s.object);
      assert.notEqual(d, 'allow', describeScenario(s));
      if (listed(s.principal.role, s.fn)) assert.equal(d, 'not_found', describeScenario(s));
    });
  });

  it('an admin with an allowed function is allowed on every object of its own app', () => {
    check(scenarioArb({ roles: ['admin'], app: 'same', fns: functionsFor }), (s) => {
      assert.equal(decide(s.principal, s.fn, s.object), 'allow', describeScenario(s));
    });
  });

  it('a guardian reaches a child iff it is their own child (any app, allowed functions)', () => {
    const seen = tally();
    check(scenarioArb({ roles: ['guardian'], kind: 'child', fns: functionsFor }), (s) => {
      const d = decide(s.principal, s.fn, s.object);
      seen.note(d);
      assert.equal(d, isOwnChild(s.world, s.actor, s.object) ? 'allow' : 'not_found', describeScenario(s));
    });
    seen.assertBothSeen();
  });

  it('a child principal never reaches another child or any classroom', () => {
    check(scenarioArb({ roles: ['child'] }), (s) => {
      if (!isSelf(s.actor, s.object)) assert.notEqual(decide(s.principal, s.fn, s.object), 'allow', describeScenario(s));
    });
  });

  it('a child principal is allowed on itself exactly for child.read, child.progress.read, child.progress.write, child.analysis.read, child.plan.request, child.plan.read, child.events.write', () => {
    const selfFunctions: ReadonlySet<AccessFunction> = new Set(['child.read', 'child.progress.read', 'child.progress.write', 'child.analysis.read', 'child.plan.request', 'child.plan.read', 'child.events.write']);
    const seen = tally();
    check(scenarioArb({ roles: ['child'], kind: 'child', app: 'same' }), (s) => {
      if (!isSelf(s.actor, s.object)) return;
      const d = decide(s.principal, s.fn, s.object);
      seen.note(d);
      assert.equal(d === 'allow', selfFunctions.has(s.fn), describeScenario(s));
    });
    seen.assertBothSeen();
  });

  it('a child principal is never allowed to update, delete, export, start a session or manage the PIN of itself', () => {
    const fns: AccessFunction[] = ['child.update', 'child.delete', 'child.export', 'child.session.create', 'child.pin.manage'];
    check(scenarioArb({ roles: ['child'], kind: 'child', app: 'same', fns }), (s) => {
      // Aim at itself: the object picked above is only a sibling in the same app.
      const self = s.world.objects.find((o) => isSelf(s.actor, o));
      assert.ok(self);
      assert.notEqual(decide(s.principal, s.fn, self), 'allow', describeScenario({ ...s, object: self }));
    });
  });

  it('a teacher is allowed on a child only for progress, analysis, lesson plans and analytics events, and then iff the child is an active member of one of their classrooms', () => {
    const seen = tally();
    const teacherFunctions: ReadonlySet<AccessFunction> = new Set(['child.progress.read', 'child.analysis.read', 'child.plan.request', 'child.plan.read', 'child.events.write']);
    check(scenarioArb({ roles: ['teacher'], kind: 'child' }), (s) => {
      const d = decide(s.principal, s.fn, s.object);
      if (!teacherFunctions.has(s.fn)) {
        assert.notEqual(d, 'allow', describeScenario(s));
        return;
      }
      seen.note(d);
      assert.equal(d, teachesChild(s.world, s.actor, s.object) ? 'allow' : 'not_found', describeScenario(s));
    });
    seen.assertBothSeen();
  });

  it('a teacher reaches a classroom iff they own it (allowed functions)', () => {
    const seen = tally();
    check(scenarioArb({ roles: ['teacher'], kind: 'classroom', fns: functionsFor }), (s) => {
      const d = decide(s.principal, s.fn, s.object);
      seen.note(d);
      assert.equal(d, ownsClassroom(s.world, s.actor, s.object) ? 'allow' : 'not_found', describeScenario(s));
    });
    seen.assertBothSeen();
  });

  it('a guardian reaches a classroom only for classroom.read / classroom.member.remove, and then iff one of their children is an active member', () => {
    const classroomFunctions: ReadonlySet<AccessFunction> = new Set(['classroom.read', 'classroom.member.remove']);
    const seen = tally();
    check(scenarioArb({ roles: ['guardian'], kind: 'classroom', fns: functionsFor }), (s) => {
      const d = decide(s.principal, s.fn, s.object);
      if (!classroomFunctions.has(s.fn)) {
        assert.notEqual(d, 'allow', describeScenario(s));
        return;
      }
      seen.note(d);
      assert.equal(d, hasChildIn(s.world, s.actor, s.object) ? 'allow' : 'not_found', describeScenario(s));
    });
    seen.assertBothSeen();
  });

  it('a guardian is never allowed classroom.invite or classroom.roster.read, even on a classroom their child is in', () => {
    check(scenarioArb({ roles: ['guardian'], kind: 'classroom', fns: ['classroom.invite', 'classroom.roster.read'] }), (s) => {
      assert.notEqual(decide(s.principal, s.fn, s.object), 'allow', describeScenario(s));
    });
  });

  it('deny by default: no (role, fn) pair missing from FUNCTION_ROLES is ever allowed', () => {
    const unlisted = (role: Role) => FUNCTIONS.filter((fn) => !listed(role, fn));
    fc.assert(
      fc.property(scenarioArb({ fns: unlisted }), fc.boolean(), (s, withObject) => {
        assert.notEqual(decide(s.principal, s.fn, withObject ? s.object : undefined), 'allow', describeScenario(s));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('authorize throws exactly what decide calls for', () => {
    fc.assert(
      fc.property(scenarioArb(), fc.boolean(), (s, withObject) => {
        const object = withObject ? s.object : undefined;
        const d = decide(s.principal, s.fn, object);
        if (d === 'allow') {
          assert.doesNotThrow(() => authorize(s.principal, s.fn, object));
          return;
        }
        assert.throws(
          () => authorize(s.principal, s.fn, object),
          (err: unknown) => {
            assert.ok(err instanceof AppError);
            if (d === 'forbidden') {
              assert.equal(err.kind, 'forbidden');
              assert.equal(err.code, 'forbidden');
            } else {
              assert.ok(object, 'not_found needs an object');
              assert.equal(err.kind, 'not_found');
              assert.equal(err.code, `${object.kind}_not_found`);
            }
            return true;
          },
          describeScenario(s),
        );
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('the decision depends only on (principal, fn, facts): same answer twice and on equal copies', () => {
    check(scenarioArb(), (s) => {
      const first = decide(s.principal, s.fn, s.object);
      assert.equal(decide(s.principal, s.fn, s.object), first);
      assert.equal(decide(structuredClone(s.principal), s.fn, structuredClone(s.object)), first);
    });
  });

  it('an object kind without a rule is reached by no one but admins of its app', () => {
    check(scenarioArb({ fns: functionsFor }), (s) => {
      const unknown = { kind: 'lesson', app: s.object.app, id: s.object.id } as unknown as AccessObject;
      const expected = s.principal.role === 'admin' && s.principal.app === unknown.app ? 'allow' : 'not_found';
      assert.equal(decide(s.principal, s.fn, unknown), expected, describeScenario(s));
    });
  });
});

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

describe('access policy examples', () => {
  const exp = NOW + 3600;
  const guardian: Principal = { sub: 'g1', app: 'app_a', role: 'guardian', exp };
  const otherGuardian: Principal = { sub: 'g2', app: 'app_a', role: 'guardian', exp };
  const teacher: Principal = { sub: 't1', app: 'app_a', role: 'teacher', exp };
  const maya: Principal = { sub: 'c1', app: 'app_a', role: 'child', exp };
  const mayaFacts = (teacherIds: string[] = []): ChildFacts => ({ kind: 'child', app: 'app_a', id: 'c1', guardianId: 'g1', teacherIds });
  const classroom: ClassroomFacts = { kind: 'classroom', app: 'app_a', id: 'r1', teacherId: 't1', guardianIds: ['g1'] };

  it('a guardian manages their own child; another guardian sees nothing', () => {
    for (const fn of ['child.read', 'child.update', 'child.delete', 'child.export', 'child.session.create', 'child.pin.manage'] as const) {
      assert.equal(decide(guardian, fn, mayaFacts()), 'allow', fn);
      assert.equal(decide(otherGuardian, fn, mayaFacts()), 'not_found', fn);
    }
    assert.throws(() => authorize(otherGuardian, 'child.read', mayaFacts()), { kind: 'not_found', code: 'child_not_found' });
  });

  it('a child reads and records its own progress but cannot manage itself', () => {
    assert.equal(decide(maya, 'child.read', mayaFacts()), 'allow');
    assert.equal(decide(maya, 'child.progress.write', mayaFacts()), 'allow');
    assert.equal(decide(maya, 'child.update', mayaFacts()), 'forbidden');
    assert.equal(decide(maya, 'child.session.create', mayaFacts()), 'forbidden');
    assert.equal(decide({ ...maya, sub: 'c2' }, 'child.read', mayaFacts()), 'not_found');
    assert.throws(() => authorize(maya, 'child.pin.manage', mayaFacts()), { kind: 'forbidden', code: 'forbidden' });
  });

  it('a teacher reads progress only of a child in their classroom', () => {
    assert.equal(decide(teacher, 'child.progress.read', mayaFacts(['t1'])), 'allow');
    assert.equal(decide(teacher, 'child.progress.read', mayaFacts()), 'not_found');
    assert.equal(decide(teacher, 'child.progress.read', mayaFacts(['t9'])), 'not_found');
    assert.equal(decide(teacher, 'child.read', mayaFacts(['t1'])), 'forbidden');
    assert.equal(decide(teacher, 'classroom.roster.read', classroom), 'allow');
    assert.equal(decide({ ...teacher, sub: 't2' }, 'classroom.roster.read', classroom), 'not_found');
  });

  it('a guardian sees the classroom their child is in, but not its roster', () => {
    assert.equal(decide(guardian, 'classroom.read', classroom), 'allow');
    assert.equal(decide(otherGuardian, 'classroom.read', classroom), 'not_found');
    assert.equal(decide(guardian, 'classroom.roster.read', classroom), 'forbidden');
  });

  it('an admin reaches everything in its app and nothing in another', () => {
    const admin: Principal = { sub: 'adm1', app: 'app_a', role: 'admin', exp };
    const otherAdmin: Principal = { ...admin, app: 'app_b' };
    assert.equal(decide(admin, 'child.export', mayaFacts()), 'allow');
    assert.equal(decide(admin, 'classroom.roster.read', classroom), 'allow');
    assert.equal(decide(otherAdmin, 'child.export', mayaFacts()), 'not_found');
    assert.equal(decide(otherAdmin, 'classroom.roster.read', classroom), 'not_found');
    assert.equal(decide(otherAdmin, 'child.session.create', mayaFacts()), 'forbidden');
    assert.throws(() => authorize(otherAdmin, 'classroom.read', classroom), { kind: 'not_found', code: 'classroom_not_found' });
  });
});
