import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { queueUnavailable, type JobQueue } from '../../src/adapters/jobs/job-queue.ts';
import type { Concept, NewLessonInput } from '../../src/domain/curriculum.ts';
import type { Plan } from '../../src/domain/learner/planner.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { startEngine, type RunningEngine } from '../../src/engine/engine.ts';
import { replayPlan, type StoredPlannerInputs } from '../../src/engine/plan-builder.ts';
import { freshPracticeEnricher, withoutFreshItems } from '../../src/engine/plan-enricher.ts';
import { planJobHandler } from '../../src/engine/plan-job.ts';
import { findPlan, insertPlan, setPlanJob, writeReadyPlan } from '../../src/features/plans/plans.repo.ts';
import { PLAN_JOB_ATTEMPTS, PLAN_QUEUE } from '../../src/features/plans/plans.service.ts';
import { seedPack } from '../../src/seed/seed-demo-apps.ts';
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * Lesson plans end to end on both stacks: `POST /api/adaptive/plans` queues
 * a job, the engine's worker (started here as `npm run engine` would) builds
 * and stores the plan, `GET` reads it. Covers reuse, Idempotency-Key, bad
 * input, the per-child rate limit, a queue that is down, a job that fails on
 * every attempt, replay from the stored inputs, access and erasure. One
 * container per stack: starting pg-boss on a fresh database takes seconds.
 */

interface PlanBody {
  planId: string;
  childId: string;
  status: 'queued' | 'running' | 'ready' | 'failed';
  request: { minutes: number; focus?: unknown };
  plan?: Plan;
  error?: { code: string; message: string };
  attempts: number;
  modelVersion: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const PASSWORD = 'correct horse battery';
const WHY_CODES = new Set(['due_for_review', 'repair_prerequisite', 'new_concept', 'keep_practising', 'struggling_small_steps', 'challenge']);

/** A curriculum with enough items for a 15-minute plan: three concepts, 20 items each. */
function planPack(): { concepts: Concept[]; lessons: NewLessonInput[] } {
  const concepts: Concept[] = [
    { id: 'counting', subject: 'math', grade: 0, name: 'Counting', description: '', prerequisites: [] },
    { id: 'adding', subject: 'math', grade: 1, name: 'Adding', description: '', prerequisites: ['counting'] },
    { id: 'reading', subject: 'reading', grade: 1, name: 'Reading', description: '', prerequisites: [] },
  ];
  const lesson = (id: string, subject: string, grade: number, conceptId: string): NewLessonInput => ({
    id,
    subject,
    grade,
    title: `Lesson ${id}`,
    summary: `About ${conceptId}`,
    blocks: [{ type: 'text', text: `Let us learn ${conceptId}` }],
    conceptIds: [conceptId],
    media: [],
    estimatedMinutes: 10,
    published: true,
    items: Array.from({ length: 20 }, (_, k) => ({
      id: `${id}-q${k}`,
      conceptId,
      type: 'numeric' as const,
      prompt: `What is ${k} + 1?`,
      answer: { type: 'numeric' as const, value: k + 1, tolerance: 0 },
      difficulty: -1.5 + (k % 10) * 0.3,
    })),
  });
  return { concepts, lessons: [lesson('count-k', 'math', 0, 'counting'), lesson('add-1', 'math', 1, 'adding'), lesson('read-1', 'reading', 1, 'reading')] };
}

for (const stack of await stacks()) {
  describe(`lesson plans on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let opened: Awaited<ReturnType<typeof stack.open>>;
    let dispose: () => Promise<void>;
    let engine: RunningEngine;
    let guardianP: Principal;
    const tokens = {} as Record<'guardian' | 'teacher' | 'otherTeacher' | 'admin' | 'otherApp' | 'bob', string>;
    /** Children whose plans the engine's builder fails on every attempt. */
    const failing = new Set<string>();
    let mia: string;
    let miaToken: string;
    let serial = 0;

    const newChild = async (nickname = `Kid${++serial}`) => (await t.container.children.create(guardianP, { nickname, grade: 1 })).id;
    const post = (body: unknown, token = tokens.guardian, headers: Record<string, string> = {}) =>
      t.request('/api/adaptive/plans', { method: 'POST', token, headers, body: JSON.stringify(body) });
    const getPlan = async (planId: string, token = tokens.guardian) => {
      const res = await t.request(`/api/adaptive/plans/${planId}`, { token });
      return { status: res.status, body: (await res.json()) as PlanBody & ErrorBody };
    };
    const until = async (planId: string, states: PlanBody['status'][], ms = 30_000): Promise<PlanBody> => {
      const deadline = Date.now() + ms;
      let last: PlanBody | undefined;
      while (Date.now() < deadline) {
        const { status, body } = await getPlan(planId);
        assert.equal(status, 200, JSON.stringify(body));
        last = body;
        if (states.includes(body.status)) return body;
        await sleep(50);
      }
      assert.fail(`plan ${planId} not ${states.join('|')} within ${ms} ms: ${JSON.stringify(last)}`);
    };
    const plansOf = async (childId: string) =>
      (await sql<{ n: number }>`select count(*)::int as n from app_alpha.plans where child_id = ${childId}`.execute(t.container.database.db)).rows[0]!.n;
    /** Answers `count` items of a lesson, 30 s each (a pace of 2 items a minute), ending `minutesAgo` ago. */
    const answer = async (childId: string, lesson: string, count: number, minutesAgo: number, tag: string) => {
      const end = Date.now() - minutesAgo * 60_000;
      await t.container.progress.record(
        guardianP,
        Array.from({ length: count }, (_, k) => ({
          childId,
          itemId: `${lesson}-q${k}`,
          response: k + 1,
          durationMs: 30_000,
          answeredAt: new Date(end - (count - k) * 30_000),
          clientEventId: `${tag}-${k}`,
        })),
      );
    };

    before(async () => {
      opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache, env: opened.databaseUrl ? { DATABASE_URL: opened.databaseUrl } : {} });
      const c = t.container;
      await c.apps.create('alpha', 'Alpha');
      await seedPack(c, 'alpha', planPack());
      await createFixtureApp(c, 'beta');
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: PASSWORD, role: 'guardian' });
      const tess = await c.accounts.register('alpha', { email: 'tess@example.com', password: PASSWORD, role: 'teacher' });
      await c.accounts.register('alpha', { email: 'tom@example.com', password: PASSWORD, role: 'teacher' });
      await c.accounts.register('alpha', { email: 'bob@example.com', password: PASSWORD, role: 'guardian' });
      guardianP = { sub: ann.id, app: 'alpha', role: 'guardian', exp };
      const login = async (email: string) => (await c.accounts.login('alpha', { email, password: PASSWORD })).accessToken;
      tokens.guardian = await login('ann@example.com');
      tokens.teacher = await login('tess@example.com');
      tokens.otherTeacher = await login('tom@example.com');
      tokens.bob = await login('bob@example.com');
      tokens.admin = await t.token('alpha', 'admin', { sub: 'admin-alpha' });
      tokens.otherApp = await t.token('beta', 'admin', { sub: 'admin-beta' });
      mia = await newChild('Mia');
      miaToken = (await c.children.startDeviceSession(guardianP, mia)).accessToken;
      const room = await c.classrooms.create({ sub: tess.id, app: 'alpha', role: 'teacher', exp }, { name: 'Room 1' });
      await c.classrooms.respond(guardianP, (await c.classrooms.createInvite({ sub: tess.id, app: 'alpha', role: 'teacher', exp }, room.id, 7)).code, mia, 'accept');
      // Counting learned yesterday; two hours ago a first go at adding.
      await answer(mia, 'count-k', 10, 24 * 60, 'count');
      await answer(mia, 'add-1', 2, 120, 'add');
      // The engine's workers, as `npm run engine` starts them, with a builder that fails for the children in `failing`.
      const builder = {
        build: (app: string, childId: string, ...rest: Parameters<typeof c.planBuilder.build> extends [string, string, ...infer R] ? R : never) => {
          if (failing.has(childId)) return Promise.reject(new Error('simulated engine failure'));
          return c.planBuilder.build(app, childId, ...rest);
        },
      };
      const enrich = freshPracticeEnricher({ generator: c.generator, logger: c.logger });
      engine = await startEngine(c, { concurrency: 1, kinds: [{ queue: PLAN_QUEUE, handler: (k) => planJobHandler({ db: k.database, builder, metrics: k.metrics, logger: k.logger, enrich }) as never }] });
    });
    after(async () => {
      await engine?.stop(2000);
      await t?.container.close();
      await dispose?.();
    });

    let firstPlan: PlanBody;
    let freshItem = '';

    it('queues a plan (202), which the engine makes ready: activities fill the minutes within 10%, each with a why and its evidence', async () => {
      const res = await post({ childId: mia, minutes: 15 });
      const queued = (await res.json()) as PlanBody;
      assert.equal(res.status, 202, JSON.stringify(queued));
      assert.equal(queued.status, 'queued');
      assert.equal(queued.childId, mia);
      assert.deepEqual(queued.request, { minutes: 15 });
      assert.equal(res.headers.get('location'), `/api/adaptive/plans/${queued.planId}`);

      const ready = await until(queued.planId, ['ready', 'failed']);
      assert.equal(ready.status, 'ready', JSON.stringify(ready.error));
      const plan = ready.plan!;
      assert.ok(plan.activities.length >= 2, JSON.stringify(plan));
      const total = plan.activities.reduce((n, a) => n + a.minutes, 0);
      assert.ok(Math.abs(total - 15) <= 1.5, `activities add up to ${total} minutes`);
      assert.ok(Math.abs(plan.minutes - total) < 0.05);
      for (const a of plan.activities) {
        assert.ok(WHY_CODES.has(a.why.code), a.why.code);
        assert.ok(a.why.child.length > 0 && a.why.adult.length > 0);
        assert.deepEqual(Object.keys(a.why.evidence).sort(), ['attempts', 'lastPractisedAt', 'missingPrerequisites', 'nextReviewAt', 'pKnown', 'recall', 'recentAnswers', 'recentErrors']);
        assert.ok(a.itemIds.length > 0);
      }
      const items = plan.activities.flatMap((a) => a.itemIds);
      assert.equal(new Set(items).size, items.length, 'no item twice');
      // Every practice activity ends with a fresh question generated for Mia, in place of the planned last item.
      const practice = plan.activities.filter((a) => (a.kind === 'practice' || a.kind === 'challenge') && a.itemIds.length >= 2);
      assert.ok(practice.length > 0, JSON.stringify(plan));
      for (const a of practice) {
        assert.equal(a.fresh?.length, 1, JSON.stringify(a));
        assert.equal(a.itemIds.at(-1), a.fresh![0]!.itemId);
        assert.ok(!a.itemIds.includes(a.fresh![0]!.replaces));
        const row = await t.container.database.db
          .withSchema('app_alpha')
          .selectFrom('practice_items')
          .select(['concept_id', 'lesson_id', 'generated_for', 'answer'])
          .where('id', '=', a.fresh![0]!.itemId)
          .executeTakeFirstOrThrow();
        assert.deepEqual([row.concept_id, row.lesson_id, row.generated_for], [a.conceptId, a.lessonId, mia]);
      }
      for (const a of plan.activities.filter((x) => x.kind === 'learn' || x.kind === 'review')) assert.equal(a.fresh, undefined);
      freshItem = practice[0]!.fresh![0]!.itemId;
      assert.ok(!items.includes('add-1-q0') && !items.includes('add-1-q1'), 'items of the last session only come back in a review');
      assert.ok(plan.activities.some((a) => a.kind === 'learn' && a.conceptId === 'reading'), 'reading is on the frontier');
      assert.deepEqual([ready.attempts, ready.modelVersion], [1, null]);
      assert.ok(ready.startedAt && ready.finishedAt);

      const stored = (await findPlan(t.container.database.db, 'alpha', queued.planId))!;
      assert.equal(stored.status, 'ready');
      assert.deepEqual(stored.plan, plan);
      assert.equal(stored.requestedByRole, 'guardian');
      assert.equal(stored.jobId !== null, true);
      const metrics = await t.container.metrics.registry.getSingleMetricAsString('kidslearn_engine_plan_seconds');
      assert.match(metrics, /kidslearn_engine_plan_seconds_count\{phase="compute"\} 1$/m);
      assert.match(metrics, /kidslearn_engine_plan_seconds_count\{phase="end_to_end"\} 1$/m);
      firstPlan = ready;
    });

    it('replays: the planner on the stored inputs gives exactly the stored plan', async () => {
      const stored = (await findPlan(t.container.database.db, 'alpha', firstPlan.planId))!;
      const inputs = stored.inputs as { planner: StoredPlannerInputs; answers: number; request: unknown };
      assert.equal(inputs.answers, 12);
      assert.deepEqual(inputs.request, { minutes: 15 });
      // What the planner read is stored, not recomputed: last session's items, a prediction per concept, the time.
      assert.deepEqual([...inputs.planner.lastSessionItems].sort(), ['add-1-q0', 'add-1-q1']);
      assert.deepEqual(Object.keys(inputs.planner.pCorrect).sort(), ['adding', 'counting', 'reading']);
      assert.equal(inputs.planner.now, (stored.inputs as { computedAt: string }).computedAt);
      assert.equal(inputs.planner.catalogue.length, 3);
      assert.deepEqual(replayPlan(inputs.planner), withoutFreshItems(stored.plan as Plan));
      assert.notDeepEqual(withoutFreshItems(stored.plan as Plan), stored.plan, 'the stored plan has fresh items');
      // And the replay depends on them: another request plans differently.
      assert.notDeepEqual(replayPlan({ ...inputs.planner, request: { minutes: 5 } }), stored.plan);
    });

    it('a job delivered again after its plan is ready changes nothing (at-least-once delivery), and the plan is written once', async () => {
      const c = t.container;
      const before = (await findPlan(c.database.db, 'alpha', firstPlan.planId))!;
      const handler = planJobHandler({ db: c.database, builder: c.planBuilder, metrics: c.metrics, logger: c.logger });
      const again = await handler({ id: before.jobId!, queue: PLAN_QUEUE, data: { app: 'alpha', planId: firstPlan.planId }, attempt: 1, signal: new AbortController().signal });
      assert.deepEqual(again, { planId: firstPlan.planId, status: 'ready' });
      assert.equal(await writeReadyPlan(c.database.db, 'alpha', firstPlan.planId, { plan: { minutes: 0, activities: [] }, inputs: {}, modelVersion: 7 }), undefined, 'a second write is refused');
      const after = (await findPlan(c.database.db, 'alpha', firstPlan.planId))!;
      assert.deepEqual(after, before);
    });

    it('an identical request on an unchanged history answers the ready plan (200); GET …/children/{id}/plan gives the newest ready one', async () => {
      const res = await post({ childId: mia, minutes: 15 });
      const body = (await res.json()) as PlanBody;
      assert.equal(res.status, 200);
      assert.equal(body.planId, firstPlan.planId);
      assert.deepEqual(body.plan, firstPlan.plan);
      assert.equal(await plansOf(mia), 1, 'nothing new stored');
      const newest = await t.request(`/api/adaptive/children/${mia}/plan`, { token: tokens.guardian });
      assert.equal(newest.status, 200);
      assert.equal(((await newest.json()) as PlanBody).planId, firstPlan.planId);
    });

    it('the child answers the fresh question of its plan: graded by the server like any authored item', async () => {
      const freshId = freshItem;
      const key = (await t.container.database.db.withSchema('app_alpha').selectFrom('practice_items').select('answer').where('id', '=', freshId).executeTakeFirstOrThrow()).answer as { value: number };
      const graded = await t.request('/api/progress', {
        method: 'POST',
        token: miaToken,
        body: JSON.stringify({ childId: mia, itemId: freshId, response: key.value, durationMs: 9000, answeredAt: new Date().toISOString(), clientEventId: 'fresh-1' }),
      });
      const gradedBody = (await graded.json()) as { results: { correct: boolean; itemId: string }[] };
      assert.equal(graded.status, 200, JSON.stringify(gradedBody));
      assert.deepEqual(gradedBody.results.map((r) => [r.itemId, r.correct]), [[freshId, true]]);
    });

    it('a second new plan for the child within 10 s is 429 with Retry-After; after the window, and after a new answer, a new plan', async () => {
      await answer(mia, 'read-1', 1, 0, 'read');
      const res = await post({ childId: mia, minutes: 15 });
      const body = (await res.json()) as ErrorBody;
      assert.equal(res.status, 429);
      assert.equal(body.error.code, 'plan_rate_limited');
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 10, String(retryAfter));
      assert.deepEqual([body.error.details?.windowSeconds, body.error.details?.planId, body.error.details?.retryAfterSeconds], [10, firstPlan.planId, retryAfter]);
      assert.equal(await plansOf(mia), 1);
      // The window passes (moved back in the database instead of waiting).
      await sql`update app_alpha.plans set created_at = created_at - interval '11 seconds' where child_id = ${mia}`.execute(t.container.database.db);
      const again = await post({ childId: mia, minutes: 15 });
      const fresh = (await again.json()) as PlanBody;
      assert.equal(again.status, 202, 'the learner clock moved on: the old plan is not identical');
      assert.notEqual(fresh.planId, firstPlan.planId);
      assert.equal((await until(fresh.planId, ['ready', 'failed'])).status, 'ready');
      assert.equal(await plansOf(mia), 2);
    });

    it('the per-child limit holds across API processes: eight requests at once through two containers (own pools on PostgreSQL) make one plan', async () => {
      const kid = await newChild();
      // A second API process: its own container, and on PostgreSQL its own connection pool.
      const second = opened.databaseUrl
        ? await openPostgresDatabase({ url: opened.databaseUrl, poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 })
        : t.container.database;
      const other = await createTestApp({ database: second, cache: opened.cache, signingKey: t.signingKey, env: opened.databaseUrl ? { DATABASE_URL: opened.databaseUrl } : {} });
      other.container.jobQueue = t.container.jobQueue;
      try {
        const send = (app: TestApp, minutes: number) => app.request('/api/adaptive/plans', { method: 'POST', token: tokens.guardian, body: JSON.stringify({ childId: kid, minutes }) });
        const statuses = (await Promise.all([10, 12, 14, 16, 18, 20, 22, 24].map((m, i) => send(i % 2 ? other : t, m)))).map((r) => r.status).sort();
        assert.deepEqual(statuses, [202, 429, 429, 429, 429, 429, 429, 429]);
        assert.equal(await plansOf(kid), 1);
      } finally {
        // Not other.container.close(): it would stop the shared queue (and on PGlite the shared database).
        await Promise.allSettled([other.container.rateLimiter.close(), other.container.mailer.close()]);
        if (opened.databaseUrl) await second.close();
      }
    });

    it('the same Idempotency-Key returns the same plan; with another body it is 409', async () => {
      const leo = await newChild('Leo');
      const key = { 'idempotency-key': 'req-7f3a' };
      const first = await post({ childId: leo, minutes: 10 }, tokens.guardian, key);
      const a = (await first.json()) as PlanBody;
      assert.equal(first.status, 202);
      const retry = await post({ childId: leo, minutes: 10 }, tokens.guardian, key);
      const b = (await retry.json()) as PlanBody;
      assert.ok(retry.status === 202 || retry.status === 200);
      assert.equal(b.planId, a.planId);
      const other = await post({ childId: leo, minutes: 20 }, tokens.guardian, key);
      const conflict = (await other.json()) as ErrorBody;
      assert.equal(other.status, 409);
      assert.equal(conflict.error.code, 'idempotency_key_reused');
      assert.equal(conflict.error.details?.planId, a.planId);
      assert.equal(await plansOf(leo), 1);
      await until(a.planId, ['ready']);
      const late = await post({ childId: leo, minutes: 10 }, tokens.guardian, key);
      assert.equal(late.status, 200, 'a retry after the plan is ready gets it');
      assert.equal(((await late.json()) as PlanBody).planId, a.planId);
      // The key belongs to its caller: the same key from another caller is a request of its own.
      const adminUse = await post({ childId: leo, minutes: 30 }, tokens.admin, key);
      assert.notEqual(adminUse.status, 409, 'not a conflict with the guardian’s key');
    });

    it('bad input: minutes out of range, unknown focus concept or subject are 400 naming the field; an unknown or hidden child 404; nothing stored', async () => {
      const kid = await newChild();
      const expect400 = async (body: unknown, code: string, field: RegExp) => {
        const res = await post(body);
        const b = (await res.json()) as ErrorBody;
        assert.equal(res.status, 400, JSON.stringify(b));
        assert.equal(b.error.code, code);
        assert.match(b.error.message, field);
      };
      await expect400({ childId: kid, minutes: 4 }, 'validation_failed', /minutes/);
      await expect400({ childId: kid, minutes: 61 }, 'validation_failed', /minutes/);
      await expect400({ childId: kid, minutes: 15.5 }, 'validation_failed', /minutes/);
      await expect400({ childId: kid, focus: { conceptIds: ['counting', 'no-such-concept'] } }, 'unknown_concept', /focus\.conceptIds/);
      await expect400({ childId: kid, focus: { subject: 'history' } }, 'unknown_subject', /focus\.subject/);
      await expect400({ childId: kid, focus: { conceptIds: [] } }, 'validation_failed', /focus/);
      await expect400({ childId: kid, extra: 1 }, 'validation_failed', /extra|Unrecognized/i);
      const badKey = await post({ childId: kid }, tokens.guardian, { 'idempotency-key': 'has a space' });
      const badKeyBody = (await badKey.json()) as ErrorBody;
      assert.equal(badKey.status, 400);
      assert.equal(badKeyBody.error.code, 'validation_failed');
      assert.match(badKeyBody.error.message, /idempotency-key/i);
      const unknown = await post({ childId: 'no-such-child', minutes: 15 });
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as ErrorBody).error.code, 'child_not_found');
      const hidden = await post({ childId: kid, minutes: 15 }, tokens.bob);
      assert.equal(hidden.status, 404, 'another family’s child');
      assert.equal(((await hidden.json()) as ErrorBody).error.code, 'child_not_found');
      assert.equal((await post({ childId: kid }, tokens.otherApp)).status, 404, 'another app’s admin');
      assert.equal((await post({ childId: kid }, tokens.otherTeacher)).status, 404, 'a teacher without the child');
      assert.equal(await plansOf(kid), 0);
      // A focus that exists is planned within it.
      const res = await post({ childId: kid, minutes: 5, focus: { subject: 'reading' } });
      assert.equal(res.status, 202);
      const done = await until(((await res.json()) as PlanBody).planId, ['ready']);
      assert.deepEqual(done.request, { minutes: 5, focus: { subject: 'reading' } });
      assert.ok(done.plan!.activities.length > 0 && done.plan!.activities.every((a) => a.conceptId === 'reading'));
    });

    it('access: the child itself, its guardian, its teacher and an admin read its plans; anyone else gets 404, never 403', async () => {
      const id = firstPlan.planId;
      for (const token of [tokens.guardian, miaToken, tokens.teacher, tokens.admin]) {
        const { status, body } = await getPlan(id, token);
        assert.equal(status, 200);
        assert.equal(body.planId, id);
        assert.equal((await t.request(`/api/adaptive/children/${mia}/plan`, { token })).status, 200);
      }
      const sibling = await newChild('Sibling');
      const siblingToken = (await t.container.children.startDeviceSession(guardianP, sibling)).accessToken;
      for (const token of [tokens.bob, tokens.otherTeacher, tokens.otherApp, siblingToken]) {
        const { status, body } = await getPlan(id, token);
        assert.equal(status, 404);
        assert.equal(body.error.code, 'plan_not_found');
        assert.ok(!JSON.stringify(body).includes(mia));
        assert.equal((await t.request(`/api/adaptive/children/${mia}/plan`, { token })).status, 404);
      }
      assert.equal((await getPlan('no-such-plan')).body.error.code, 'plan_not_found');
      assert.equal((await t.request('/api/adaptive/plans/%00', { token: tokens.guardian })).status, 400);
      const none = await t.request(`/api/adaptive/children/${sibling}/plan`, { token: tokens.guardian });
      assert.equal(none.status, 404);
      assert.equal(((await none.json()) as ErrorBody).error.code, 'plan_not_found');
      // The child asks for its own plan; a teacher for a child of the classroom.
      const own = await post({ childId: sibling, minutes: 5 }, siblingToken);
      assert.equal(own.status, 202);
      assert.equal((await post({ childId: mia, minutes: 5 }, siblingToken)).status, 404, 'not for a sibling');
      await sql`update app_alpha.plans set created_at = created_at - interval '11 seconds' where child_id = ${mia}`.execute(t.container.database.db);
      assert.equal((await post({ childId: mia, minutes: 6 }, tokens.teacher)).status, 202);
      const audit = await sql<{ purpose: string }>`select purpose from app_alpha.audit_log where child_id = ${mia} and actor_role = 'teacher'`.execute(t.container.database.db);
      assert.ok(audit.rows.some((r) => r.purpose === 'request a lesson plan') && audit.rows.some((r) => r.purpose === 'read a lesson plan'));
    });

    it('a job that throws on every attempt ends failed with its code after 3 attempts, and stays inspectable', async () => {
      const fay = await newChild('Fay');
      failing.add(fay);
      const res = await post({ childId: fay, minutes: 10 });
      assert.equal(res.status, 202);
      const { planId } = (await res.json()) as PlanBody;
      const failed = await until(planId, ['failed', 'ready'], 60_000);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error?.code, 'plan_build_failed');
      assert.match(failed.error!.message, /could not build this plan \(attempt 3 of 3\)/);
      assert.equal(failed.attempts, PLAN_JOB_ATTEMPTS);
      assert.equal(failed.plan, undefined);
      const stored = (await findPlan(t.container.database.db, 'alpha', planId))!;
      assert.deepEqual([stored.status, stored.errorCode, stored.attempts, stored.plan], ['failed', 'plan_build_failed', 3, null]);
      const queue = await t.container.jobQueue();
      let job = await queue.get(stored.jobId!);
      for (let i = 0; i < 50 && job?.state !== 'failed'; i++) job = (await sleep(100), await queue.get(stored.jobId!));
      assert.equal(job?.state, 'failed');
      assert.equal(job?.attempts, 3);
      assert.ok(!JSON.stringify(job?.data).includes(fay), 'the queue holds no child id');
      const metrics = await t.container.metrics.registry.getSingleMetricAsString('kidslearn_engine_plans_total');
      assert.match(metrics, /event="failed"\} 1$/m);
      assert.match(metrics, /event="retried"\} 2$/m);
    });

    it('a plan whose job failed in the queue without the handler marking it (worker killed on its last attempt) is reported failed', async () => {
      const gus = await newChild('Gus');
      const queue: JobQueue = await t.container.jobQueue();
      const dead = `plans-dead-${stack.name.length}`;
      const jobId = await queue.send(dead, { app: 'alpha', planId: 'plan-of-gus' }, { retryLimit: 0, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 });
      const worker = await queue.work(dead, { concurrency: 1 }, async () => {
        throw new Error('worker lost');
      });
      for (let i = 0; i < 100 && (await queue.get(jobId))?.state !== 'failed'; i++) await sleep(100);
      await worker.stop();
      await insertPlan(t.container.database.db, 'alpha', { id: 'plan-of-gus', childId: gus, request: { minutes: 5 }, requestHash: 'h', inputsKey: 'k', idempotencyKey: null, requestedByRole: 'guardian' });
      await setPlanJob(t.container.database.db, 'alpha', 'plan-of-gus', jobId);
      const { body } = await getPlan('plan-of-gus');
      assert.equal(body.status, 'failed');
      assert.equal(body.error?.code, 'plan_job_failed');
      assert.match(body.error!.message, /^The engine gave up on this plan after 1 attempt\(s\); request a new plan$/);
      assert.doesNotMatch(body.error!.message, /worker lost/, 'the engine’s own error text is logged, not shown');
      assert.equal((await findPlan(t.container.database.db, 'alpha', 'plan-of-gus'))!.status, 'failed', 'and stored so');
      // A plan stored whose job was never queued (the process died in between) is failed two minutes on.
      await insertPlan(t.container.database.db, 'alpha', { id: 'plan-never-queued', childId: gus, request: { minutes: 5 }, requestHash: 'h', inputsKey: 'k2', idempotencyKey: null, requestedByRole: 'guardian' });
      assert.equal((await getPlan('plan-never-queued')).body.status, 'queued', 'not yet');
      await sql`update app_alpha.plans set created_at = now() - interval '3 minutes' where id = 'plan-never-queued'`.execute(t.container.database.db);
      const lost = (await getPlan('plan-never-queued')).body;
      assert.deepEqual([lost.status, lost.error?.code], ['failed', 'plan_not_queued']);
    });

    it('the queue unreachable: 503 queue_unavailable with Retry-After, no plan stored, other routes keep working', async () => {
      const kid = await newChild();
      const real = t.container.jobQueue;
      t.container.jobQueue = () => Promise.reject(queueUnavailable('The job queue cannot be reached (test)'));
      try {
        const res = await post({ childId: kid, minutes: 15 });
        const body = (await res.json()) as ErrorBody;
        assert.equal(res.status, 503);
        assert.equal(body.error.code, 'queue_unavailable');
        assert.equal(res.headers.get('retry-after'), '5');
        assert.equal(await plansOf(kid), 0, 'nothing half-written');
        // A queue whose send fails after opening: the same.
        const broken = { ...(await real()), send: () => Promise.reject(queueUnavailable('The job queue did not answer in time (send)')) } as JobQueue;
        t.container.jobQueue = () => Promise.resolve(broken);
        assert.equal((await post({ childId: kid, minutes: 15 })).status, 503);
        assert.equal(await plansOf(kid), 0);
        t.container.jobQueue = () => Promise.reject(queueUnavailable('down'));
        assert.equal((await t.request('/api/lessons', { token: tokens.guardian })).status, 200);
        assert.equal((await t.request(`/api/adaptive/children/${mia}/analysis`, { token: tokens.guardian })).status, 200);
        assert.equal((await getPlan(firstPlan.planId)).status, 200);
        assert.equal((await t.request(`/api/adaptive/children/${mia}/plan`, { token: tokens.guardian })).status, 200);
      } finally {
        t.container.jobQueue = real;
      }
      const res = await post({ childId: kid, minutes: 15 });
      assert.equal(res.status, 202, 'and once the queue is back, the request goes through (no rate limit from the refused one)');
    });

    it('a plan the engine starts before the answer leaves is still answered as accepted: 202, queued, no attempt yet', async () => {
      const kid = await newChild();
      const real = t.container.jobQueue;
      // The send returns only once the engine has started the job (as LISTEN/NOTIFY on a server can do).
      const started: string[] = [];
      const racing = { ...(await real()) } as JobQueue;
      racing.send = async (...args: Parameters<JobQueue['send']>) => {
        const jobId = await (await real()).send(...args);
        const { planId } = args[1] as { planId: string };
        for (let i = 0; i < 400; i++) {
          const row = await findPlan(t.container.database.db, 'alpha', planId);
          if (row && row.status !== 'queued') {
            started.push(row.status);
            break;
          }
          await sleep(25);
        }
        return jobId;
      };
      t.container.jobQueue = () => Promise.resolve(racing);
      try {
        const res = await post({ childId: kid, minutes: 10 });
        const body = (await res.json()) as PlanBody;
        assert.equal(res.status, 202, JSON.stringify(body));
        assert.equal(started.length, 1, 'the engine started the job before the answer was built');
        assert.deepEqual([body.status, body.attempts, body.startedAt, body.finishedAt, body.plan], ['queued', 0, null, null, undefined]);
        assert.equal(res.headers.get('location'), `/api/adaptive/plans/${body.planId}`);
        const done = await until(body.planId, ['ready', 'failed']);
        assert.equal(done.status, 'ready', JSON.stringify(done.error));
        assert.ok((await findPlan(t.container.database.db, 'alpha', body.planId))?.jobId, 'the job is recorded on the plan');
      } finally {
        t.container.jobQueue = real;
      }
    });

    it('the export includes the child’s plans; erasure deletes them', async () => {
      const res = await t.request(`/api/children/${mia}/export`, { token: tokens.guardian });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { lessonPlans: { id: string; status: string; plan: unknown; inputs: unknown }[] };
      assert.ok(body.lessonPlans.some((p) => p.id === firstPlan.planId && p.status === 'ready'));
      assert.deepEqual(body.lessonPlans.find((p) => p.id === firstPlan.planId)!.plan, firstPlan.plan);
      assert.equal(body.lessonPlans.length, await plansOf(mia));
      assert.equal((await t.request(`/api/children/${mia}`, { method: 'DELETE', token: tokens.guardian })).status, 204);
      assert.equal(await plansOf(mia), 0);
      assert.equal((await getPlan(firstPlan.planId)).status, 404);
    });
  });
}
