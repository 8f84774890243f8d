import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { DEFAULT_BKT_PARAMS, type BktParams } from '../../src/domain/learner/bkt.ts';
import { applyAnswer, newConceptState } from '../../src/domain/learner/concept-state.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { answerMaker } from '../support/answers.ts';
import { stacks } from '../support/servers.ts';

type Result = { clientEventId: string; correct: boolean; duplicate: boolean; correctAnswer?: string | number; concept: { conceptId: string; attempts: number; correct: number; pKnown: number; pCorrectNext: number; mastered: boolean; nextReviewAt: string } };
type ErrorJson = { error: { code: string; message: string } };

for (const stack of await stacks()) {
  describe(`progress API on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let childToken: string;
    let guardianToken: string;
    let childId: string;
    let otherChildId: string;
    const answer = answerMaker('e', () => childId);
    const post = async (body: unknown, token = childToken) => {
      const res = await t.request('/api/progress', { method: 'POST', token, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { results: Result[] } & ErrorJson };
    };
    const answerCount = async () =>
      (await sql<{ n: number }>`select count(*)::int as n from app_alpha.answers where child_id = ${childId}`.execute(t.container.database.db)).rows[0]!.n;

    let guardian: Principal;
    /**
     * Gives the test its own child of Ann's (and Bob's child to be refused),
     * so no test reads answers or ids another test left behind.
     */
    const freshChildren = async () => {
      const c = t.container;
      childId = (await c.children.create(guardian, { nickname: 'Mia', grade: 1 })).id;
      childToken = (await c.children.startDeviceSession(guardian, childId)).accessToken;
      otherChildId = (await c.children.create({ ...guardian, sub: bobId }, { nickname: 'Kai', grade: 1 })).id;
    };
    let bobId: string;

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      const c = t.container;
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
      bobId = (await c.accounts.register('alpha', { email: 'bob@example.com', password: 'correct horse battery', role: 'guardian' })).id;
      guardian = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      guardianToken = (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accessToken;
    });
    beforeEach(freshChildren);
    after(async () => dispose());

    it('records an answer: the server decides correctness and returns the updated concept state', async () => {
      const right = await post(answer());
      assert.equal(right.status, 200);
      const [r] = right.body.results;
      assert.deepEqual({ correct: r!.correct, duplicate: r!.duplicate, concept: r!.concept.conceptId, attempts: r!.concept.attempts }, { correct: true, duplicate: false, concept: 'adding', attempts: 1 });
      assert.ok(new Date(r!.concept.nextReviewAt).getTime() > Date.now(), 'a review is scheduled');
      const wrong = await post(answer({ response: '4' }));
      assert.equal(wrong.body.results[0]!.correct, false);
      assert.equal(wrong.body.results[0]!.concept.attempts, 2);
      assert.ok(wrong.body.results[0]!.concept.pKnown < r!.concept.pKnown, 'a wrong answer lowers P(known)');
      assert.equal(wrong.body.results[0]!.correctAnswer, 5, 'the app reveals answers by default');
      assert.equal((await post({ ...answer(), correct: true })).status, 400, 'clients cannot send correctness');
      await t.container.apps.configure('alpha', { revealAnswers: false });
      assert.equal((await post(answer({ response: '4' }))).body.results[0]!.correctAnswer, undefined, 'hidden when the app says so');
      await t.container.apps.configure('alpha', { revealAnswers: true });
    });

    it('is idempotent on clientEventId; the same id with another answer is 409 and changes nothing', async () => {
      const first = answer({ clientEventId: 'retry-me' });
      const a = await post(first);
      const countAfterFirst = await answerCount();
      const b = await post(first);
      assert.equal(b.status, 200);
      assert.equal(b.body.results[0]!.duplicate, true);
      assert.equal(b.body.results[0]!.concept.attempts, a.body.results[0]!.concept.attempts, 'nothing counted twice');
      assert.equal(await answerCount(), countAfterFirst);
      const conflicting = await post({ answers: [answer(), { ...first, response: 9 }] });
      assert.equal(conflicting.status, 409);
      assert.equal(conflicting.body.error.code, 'event_conflict');
      assert.equal(await answerCount(), countAfterFirst, 'the whole batch was rolled back');
      await assert.rejects(
        sql`update app_alpha.answers set correct = not correct where child_id = ${childId}`.execute(t.container.database.db),
        /append-only/,
        'the database itself refuses to change a stored answer',
      );
    });

    it('takes a batch of up to 200 in order, and refuses 201 with 413', async () => {
      const batch = Array.from({ length: 200 }, () => answer());
      const ok = await post({ answers: batch });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.results.length, 200);
      assert.equal(ok.body.results.at(-1)!.concept.attempts, ok.body.results[0]!.concept.attempts, 'every result shows the state after the batch');
      const tooMany = await post({ answers: Array.from({ length: 201 }, () => answer()) });
      assert.equal(tooMany.status, 413);
      assert.equal(tooMany.body.error.code, 'batch_too_large');
    });

    it('refuses bad input with a status naming what is wrong', async () => {
      const wrongShape = await post({ answers: [answer(), answer({ itemId: 'alpha-only-q2', response: 3 })] });
      assert.equal(wrongShape.status, 400);
      assert.match(wrongShape.body.error.message, /answers\.1\.response/);
      const future = await post(answer({ answeredAt: new Date(Date.now() + 25 * 3600_000).toISOString() }));
      assert.equal(future.status, 400);
      assert.match(future.body.error.message, /answeredAt/);
      const unknownItem = await post(answer({ itemId: 'no-such-item' }));
      assert.equal(unknownItem.status, 404);
      assert.equal(unknownItem.body.error.code, 'item_not_found');
      assert.equal((await post(answer({ childId: otherChildId }))).status, 404, 'a child the caller may not see');
      assert.equal((await post(answer({ childId: otherChildId }), guardianToken)).status, 404);
      // A child erased while its device still holds a valid token: 404, nothing stored.
      const c = t.container;
      const guardian = (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accountId;
      const g: Principal = { sub: guardian, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      const gone = (await c.children.create(g, { nickname: 'Gone', grade: 1 })).id;
      const goneToken = (await c.children.startDeviceSession(g, gone)).accessToken;
      assert.equal((await post(answer({ childId: gone }), goneToken)).status, 200);
      assert.equal(c.progress.holdsSnapshot('alpha', gone), true, 'this process now holds the child’s learner snapshot');
      await c.children.erase(g, gone);
      assert.equal(c.progress.holdsSnapshot('alpha', gone), false, 'erasure drops it');
      const late = await post(answer({ childId: gone }), goneToken);
      assert.equal(late.status, 404);
      assert.equal(late.body.error.code, 'child_not_found');
    });

    it('records completed lessons idempotently and summarises the week for guardians and the child', async () => {
      const done = { childId, secondsSpent: 420, score: 0.9, completedAt: new Date().toISOString(), clientEventId: 'lesson-1' };
      const first = await t.request('/api/progress/lessons/alpha-only/complete', { method: 'POST', token: childToken, body: JSON.stringify(done) });
      assert.equal(first.status, 200);
      assert.equal(((await first.json()) as { duplicate: boolean }).duplicate, false);
      const again = await t.request('/api/progress/lessons/alpha-only/complete', { method: 'POST', token: childToken, body: JSON.stringify(done) });
      assert.equal(((await again.json()) as { duplicate: boolean }).duplicate, true);
      const changed = await t.request('/api/progress/lessons/alpha-only/complete', { method: 'POST', token: childToken, body: JSON.stringify({ ...done, score: 0.1 }) });
      assert.equal(changed.status, 409);
      assert.equal((await t.request('/api/progress/lessons/no-such/complete', { method: 'POST', token: childToken, body: JSON.stringify({ ...done, clientEventId: 'x' }) })).status, 404);
      const res = await t.request('/api/progress', { token: guardianToken });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { children: { childId: string; minutesThisWeek: number; streakDays: number; lessonsCompleted: number; conceptsMastered: number; lastActivityAt: string }[] };
      const annsChildren = ((await (await t.request('/api/children', { token: guardianToken })).json()) as { items: { id: string }[] }).items.map((k) => k.id);
      assert.deepEqual(body.children.map((c) => c.childId).sort(), annsChildren.sort(), 'only the guardian’s own children, each once');
      assert.ok(!annsChildren.includes(otherChildId));
      const mia = body.children.find((k) => k.childId === childId)!;
      assert.equal(mia.lessonsCompleted, 1);
      assert.equal(mia.streakDays, 1);
      assert.ok(mia.minutesThisWeek >= 7, `lesson time counts (${mia.minutesThisWeek} min)`);
      assert.ok(mia.lastActivityAt);
      const own = (await (await t.request('/api/progress', { token: childToken })).json()) as { children: { childId: string }[] };
      assert.deepEqual(own.children.map((c) => c.childId), [childId]);
      // Days and weeks in the family's time zone: the day boundaries move, today's activity is today everywhere.
      assert.equal((body as unknown as { timeZone: string }).timeZone, 'UTC', 'UTC unless asked');
      for (const tz of ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'America/Argentina/Buenos_Aires']) {
        const local = (await (await t.request(`/api/progress?tz=${encodeURIComponent(tz)}`, { token: guardianToken })).json()) as { timeZone: string; children: { childId: string; streakDays: number }[] };
        assert.equal(local.timeZone, tz);
        assert.equal(local.children.find((k) => k.childId === childId)!.streakDays, 1, tz);
      }
      const badZone = await t.request('/api/progress?tz=UTC%2B2', { token: guardianToken });
      assert.equal(badZone.status, 400);
      assert.deepEqual(((await badZone.json()) as { error: { code: string; details: { field: string }[] } }).error.details.map((d) => d.field), ['tz']);
    });

    it('a teacher sees the summary per classroom and a member’s progress, once the guardian accepted', async () => {
      const c = t.container;
      const tess = await c.accounts.register('alpha', { email: 'tess@example.com', password: 'correct horse battery', role: 'teacher' });
      const teacher: Principal = { sub: tess.id, app: 'alpha', role: 'teacher', exp: Math.floor(Date.now() / 1000) + 3600 };
      const teacherToken = (await c.accounts.login('alpha', { email: 'tess@example.com', password: 'correct horse battery' })).accessToken;
      const room = await c.classrooms.create(teacher, { name: 'Room 3' });
      assert.equal((await t.request(`/api/progress/${childId}`, { token: teacherToken })).status, 404, 'not before the guardian accepts');
      const { code } = await c.classrooms.createInvite(teacher, room.id, 7);
      const guardian = (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accountId;
      await c.classrooms.respond({ sub: guardian, app: 'alpha', role: 'guardian', exp: teacher.exp }, code, childId, 'accept');
      assert.equal((await t.request(`/api/progress/${childId}`, { token: teacherToken })).status, 200);
      const summary = (await (await t.request('/api/progress', { token: teacherToken })).json()) as { classrooms: { name: string; children: { childId: string; lessonsCompleted: number }[] }[] };
      assert.deepEqual(summary.classrooms.map((r) => [r.name, r.children.map((ch) => ch.childId)]), [['Room 3', [childId]]]);
      assert.equal((await t.request(`/api/progress/${otherChildId}`, { token: teacherToken })).status, 404);
      const audited = await sql<{ purpose: string }>`select purpose from app_alpha.audit_log where child_id = ${childId} and actor_role = 'teacher'`.execute(c.database.db);
      assert.ok(audited.rows.some((r) => r.purpose === 'read child progress'));
    });

    it('reads per-concept progress and pages through the answer history', async () => {
      const given = [...Array.from({ length: 10 }, () => answer()), answer({ response: 4 })];
      assert.equal((await post({ answers: given })).status, 200);
      const res = await t.request(`/api/progress/${childId}`, { token: guardianToken });
      assert.equal(res.status, 200);
      const progress = (await res.json()) as { concepts: { conceptId: string; attempts: number; accuracy: number; mastered: boolean }[] };
      const adding = progress.concepts.find((c) => c.conceptId === 'adding')!;
      assert.deepEqual([adding.attempts, await answerCount()], [11, 11]);
      assert.equal(adding.accuracy, 10 / 11);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = (await (await t.request(`/api/progress/${childId}/answers?limit=4${cursor ? `&cursor=${cursor}` : ''}`, { token: childToken })).json()) as { items: { id: string; clientEventId: string }[]; nextCursor: string | null };
        seen.push(...page.items.map((item) => item.clientEventId));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      assert.deepEqual(seen.sort(), given.map((a) => a.clientEventId).sort(), 'every answer exactly once');
      assert.equal(pages, 3);
      assert.equal((await t.request(`/api/progress/${otherChildId}`, { token: guardianToken })).status, 404);
    });

    it('shows a child’s recent sessions and completed lessons', async () => {
      const c = t.container;
      const g: Principal = { sub: (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accountId, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      const leo = (await c.children.create(g, { nickname: 'Leo', grade: 1 })).id;
      const leoToken = (await c.children.startDeviceSession(g, leo)).accessToken;
      const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
      // Two sessions: three answers an hour and a half ago, two just now (one wrong).
      const answers = [[95, 5], [93, 5], [90, 5], [3, 4], [1, 5]].map(([m, response]) => answer({ childId: leo, answeredAt: ago(m!), response, durationMs: 5000 }));
      assert.equal((await post({ answers }, leoToken)).status, 200);
      const done = { childId: leo, secondsSpent: 300, score: 0.8, completedAt: ago(2), clientEventId: 'leo-done-1' };
      assert.equal((await t.request('/api/progress/lessons/alpha-only/complete', { method: 'POST', token: leoToken, body: JSON.stringify(done) })).status, 200);
      const res = await t.request(`/api/progress/${leo}`, { token: guardianToken });
      assert.equal(res.status, 200);
      const body = (await res.json()) as {
        recentSessions: { startedAt: string; endedAt: string; answers: number; correct: number; activeSeconds: number; lessonIds: string[] }[];
        lessonsCompleted: { count: number; recent: { lessonId: string; title: string | null; score: number | null; secondsSpent: number }[] };
      };
      assert.deepEqual(
        body.recentSessions.map((s) => ({ answers: s.answers, correct: s.correct, activeSeconds: s.activeSeconds, lessons: s.lessonIds })),
        [
          { answers: 2, correct: 1, activeSeconds: 10, lessons: ['alpha-only'] },
          { answers: 3, correct: 3, activeSeconds: 15, lessons: ['alpha-only'] },
        ],
      );
      assert.equal(body.recentSessions[1]!.startedAt, answers[0]!.answeredAt);
      assert.equal(body.lessonsCompleted.count, 1);
      assert.deepEqual(body.lessonsCompleted.recent.map((l) => ({ id: l.lessonId, score: l.score, seconds: l.secondsSpent, titled: typeof l.title === 'string' })), [
        { id: 'alpha-only', score: 0.8, seconds: 300, titled: true },
      ]);
    });

    it('two API processes writing one child’s answers at once count each answer once, in one order', async () => {
      // A second process over the same database: its own snapshots, its own caches.
      const t2 = await createTestApp({ database: t.container.database, cache: t.container.cache, signingKey: t.signingKey });
      const viaBoth = (body: unknown, i: number) =>
        (i % 2 ? t2 : t).request('/api/progress', { method: 'POST', token: childToken, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { results: Result[] } }));
      const before = (await post(answer())).body.results[0]!.concept.attempts;
      const batch = Array.from({ length: 24 }, () => answer());
      // Every answer sent twice, once to each process, all at once: a retry racing its original.
      const sent = await Promise.all([...batch, ...batch].map((a, i) => viaBoth(a, i)));
      assert.deepEqual(new Set(sent.map((r) => r.status)), new Set([200]));
      const firsts = sent.flatMap((r) => r.body.results).filter((r) => !r.duplicate);
      assert.equal(firsts.length, batch.length, 'each answer recorded once; its twin reported as a duplicate');
      assert.deepEqual(
        firsts.map((r) => r.concept.attempts).sort((a, b) => a - b),
        Array.from({ length: batch.length }, (_, i) => before + 1 + i),
        'every write saw the one before it',
      );
      const db = t.container.database.db;
      const states = await sql<{ attempts: number; answers: number }>`
        select s.attempts, (select count(*)::int from app_alpha.answers a where a.child_id = s.child_id and a.concept_id = s.concept_id) as answers
        from app_alpha.concept_states s where s.child_id = ${childId}`.execute(db);
      for (const s of states.rows) assert.equal(s.attempts, s.answers, 'concept state agrees with the stored answers');
      // The first process's snapshot is now stale; its next write still counts on top of everything.
      assert.equal((await post(answer())).body.results[0]!.concept.attempts, before + batch.length + 1);
    });

    it('answers of many children sent at once (merged into shared statements as they queue) all land, and one conflicting answer fails only its own request', async () => {
      const c = t.container;
      const g: Principal = { sub: (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accountId, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      const kids = await Promise.all(Array.from({ length: 8 }, (_, i) => c.children.create(g, { nickname: `Class${i}`, grade: 1 }).then((k) => k.id)));
      const other = (await c.children.create(g, { nickname: 'Other', grade: 1 })).id;
      const taken = answer({ childId: other, clientEventId: 'taken' });
      assert.equal((await post(taken, guardianToken)).status, 200);
      const sent = await Promise.all([
        ...kids.map((kid, i) => post({ answers: [answer({ childId: kid, clientEventId: `class-${i}-a` }), answer({ childId: kid, clientEventId: `class-${i}-b` })] }, guardianToken)),
        post({ ...taken, response: 9 }, guardianToken),
      ]);
      assert.deepEqual(sent.map((r) => r.status), [...kids.map(() => 200), 409]);
      // Each result shows the concept's state after the whole request.
      for (const r of sent.slice(0, -1)) assert.deepEqual(r.body.results.map((x) => [x.duplicate, x.concept.attempts]), [[false, 2], [false, 2]]);
      const stored = await sql<{ n: number }>`select count(*)::int as n from app_alpha.answers where child_id in (${sql.join([...kids, other])})`.execute(t.container.database.db);
      assert.equal(stored.rows[0]!.n, kids.length * 2 + 1);
    });

    it('refuses at once an item whose lesson was unpublished a moment ago, and refuses to change a released question', async () => {
      const { id: _id, ...lesson } = await t.container.lessons.getForAdmin('alpha', 'alpha-only');
      assert.equal((await post(answer({ response: 5 }))).body.results[0]!.correct, true, 'graded, and now in the process-local copy');
      await t.container.lessons.update('alpha', 'alpha-only', { ...lesson, published: false });
      try {
        const refused = await post(answer({ response: 5 }));
        assert.equal(refused.status, 404);
      } finally {
        await t.container.lessons.update('alpha', 'alpha-only', lesson);
      }
      const items = lesson.items.map((item, k) => (k === 0 ? { ...item, answer: { type: 'numeric' as const, value: 6, tolerance: 0 } } : item));
      await assert.rejects(t.container.lessons.update('alpha', 'alpha-only', { ...lesson, items }), (e: unknown) => (e as { code?: string }).code === 'item_changed');
      assert.equal((await post(answer({ response: 5 }))).body.results[0]!.correct, true, 'still graded with the key children saw');
    });

  });
}

describe('model fit: a new version is used by the API without a restart', () => {
  it('fits per-concept parameters from stored answers and the API switches to them', async () => {
    const [embedded] = await stacks();
    const opened = await embedded!.open();
    try {
      const t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      const c = t.container;
      const ann = await c.accounts.register('alpha', { email: 'fit@example.com', password: 'correct horse battery', role: 'guardian' });
      const guardian: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      assert.equal((await c.models.active('alpha')).version, null, 'defaults before any fit');
      // 30 children, each answering 'adding' items: mostly wrong, then right (learning).
      let clock = Date.now() - 3600_000;
      for (let k = 0; k < 30; k++) {
        const child = (await c.children.create(guardian, { nickname: `K${k}`, grade: 1 })).id;
        const answers = Array.from({ length: 8 }, (_, i) => ({
          childId: child,
          itemId: 'alpha-only-q1',
          response: i >= 3 + (k % 3) ? 5 : 4,
          durationMs: 5000,
          answeredAt: new Date((clock += 1000)),
          clientEventId: `fit-${k}-${i}`,
        }));
        await c.progress.record({ sub: child, app: 'alpha', role: 'child', exp: guardian.exp }, answers);
      }
      const fit = await c.models.fit('alpha');
      assert.equal(fit.answers, 240);
      assert.equal(fit.fittedConcepts, 1);
      const active = await c.models.active('alpha');
      assert.equal(active.version, fit.version);
      const fitted = active.paramsFor('adding');
      assert.ok(fitted.pInit < 0.3, `these children start out not knowing it (pInit ${fitted.pInit})`);
      assert.ok(fitted.pLearn > 0.1, `and learn it (pLearn ${fitted.pLearn})`);
      // A second fit is a new version; read seven children at a time, it fits the same parameters.
      const paged = await c.models.fit('alpha', { childrenPerPage: 7 });
      assert.equal(paged.version, fit.version + 1);
      assert.equal(paged.answers, 240);
      const versions = await sql<{ params: unknown }>`select params from app_alpha.model_versions order by version`.execute(c.database.db);
      assert.deepEqual(versions.rows.at(-1)!.params, versions.rows.at(-2)!.params);
      // Answers recorded through the API from now on are traced with the fitted parameters.
      const fresh = (await c.children.create(guardian, { nickname: 'After', grade: 1 })).id;
      const freshToken = (await c.children.startDeviceSession(guardian, fresh)).accessToken;
      const given = [false, true, true].map((correct, i) => ({
        childId: fresh,
        itemId: 'alpha-only-q1',
        response: correct ? 5 : 4,
        durationMs: 5000,
        answeredAt: new Date((clock += 1000)),
        clientEventId: `after-fit-${i}`,
      }));
      const res = await t.request('/api/progress', { method: 'POST', token: freshToken, body: JSON.stringify({ answers: given }) });
      assert.equal(res.status, 200);
      const shown = ((await res.json()) as { results: Result[] }).results.at(-1)!.concept.pKnown;
      const traced = (params: BktParams) => given.reduce((state, a) => applyAnswer(state, params, { correct: a.response === 5, durationMs: a.durationMs, answeredAt: a.answeredAt }), newConceptState(params)).pKnown;
      const withFitted = traced(fitted);
      const withDefaults = traced(DEFAULT_BKT_PARAMS);
      assert.ok(Math.abs(withFitted - withDefaults) > 0.01, `the fit changes the outcome (${withFitted} vs ${withDefaults})`);
      assert.equal(shown, Math.round(withFitted * 10_000) / 10_000, `P(known) shown is the fitted model's (defaults would give ${withDefaults})`);
      const stored = await sql<{ p_known: number }>`select p_known from app_alpha.concept_states where child_id = ${fresh} and concept_id = 'adding'`.execute(c.database.db);
      assert.ok(Math.abs(stored.rows[0]!.p_known - withFitted) < 1e-9, 'and stored');
    } finally {
      await opened.dispose();
    }
  });
});
