import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, fixturePack, type TestApp } from '../support/app-fixture.ts';
import { codeIn, mailTo } from '../support/mail.ts';
import { testPack } from '../support/content-pack.ts';
import { ContentPack } from '../../src/domain/content-pack.ts';
import { stacks } from '../support/servers.ts';
import { insertPlan, writeReadyPlan } from '../../src/features/plans/plans.repo.ts';

/**
 * Walks every operation of the OpenAPI document with anonymous, child,
 * guardian, teacher, admin and other-app callers, on both stacks, and checks
 * each status against the matrix in docs/access.md and each body for rows
 * the caller may not see: another app's, another family's, a sibling's.
 */

const COLUMNS = ['anonymous', 'child', 'guardian', 'teacher', 'admin', 'other app'] as const;
type Column = (typeof COLUMNS)[number];

function readMatrix(): Map<string, Record<Column, number>> {
  const doc = readFileSync(new URL('../../docs/access.md', import.meta.url), 'utf8');
  const rows = new Map<string, Record<Column, number>>();
  for (const line of doc.split('\n')) {
    const m = /^\| `([A-Z]+ [^`]+)` \|(.+)\|$/.exec(line);
    if (!m) continue;
    const cells = m[2]!.split('|').map((c) => Number(c.trim()));
    assert.equal(cells.length, COLUMNS.length, `row ${m[1]} has ${cells.length} cells`);
    rows.set(m[1]!, Object.fromEntries(COLUMNS.map((c, i) => [c, cells[i]!])) as Record<Column, number>);
  }
  return rows;
}

const PASSWORD = 'correct horse battery';
const PIN = '4821';

for (const stack of await stacks()) {
  describe(`access matrix (docs/access.md) over every OpenAPI operation, on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    /** Per column, strings that must never appear in a body it gets: ids and texts of rows it may not see. */
    const forbidden = {} as Record<Column, string[]>;
    let dispose: () => Promise<void>;
    const tokens = {} as Record<Column, string | undefined>;
    let guardian: Principal;
    let teacher: Principal;
    let childId: string;
    let classroomId: string;
    let inviteCode: string;
    let counter = 0;
    const unique = (prefix: string) => `${prefix}-${++counter}`;

    const freshChild = async () => (await t.container.children.create(guardian, { nickname: unique('Kid'), grade: 1 })).id;
    const freshMember = async () => {
      const id = await freshChild();
      await t.container.classrooms.respond(guardian, inviteCode, id, 'accept');
      return id;
    };
    const freshConcept = async () =>
      (await t.container.concepts.create('alpha', { id: unique('alpha-concept'), subject: 'math', grade: 1, name: 'Fresh', description: '', prerequisites: ['counting'] })).id;
    const freshRefreshToken = async () => (await t.container.accounts.login('alpha', { email: 'ann@example.com', password: PASSWORD })).refreshToken;

    /** How to call each operation: path parameters and body, built fresh where the call destroys something. */
    const recipes: Record<string, () => Promise<{ params?: Record<string, string>; query?: string; body?: unknown }>> = {
      'GET /health': async () => ({}),
      'GET /metrics': async () => ({}),
      'GET /app': async () => ({}),
      'GET /openapi.json': async () => ({}),
      'GET /docs': async () => ({}),
      'GET /docs/assets/{name}': async () => ({ params: { name: 'init.js' } }),
      'GET /admin/dashboard': async () => ({}),
      'GET /admin/dashboard/assets/{name}': async () => ({ params: { name: 'dashboard.js' } }),
      'GET /.well-known/jwks.json': async () => ({}),
      'POST /auth/register': async () => ({ body: { email: `${unique('new')}@example.com`, password: PASSWORD, role: 'guardian' } }),
      'POST /auth/login': async () => ({ body: { email: 'ann@example.com', password: PASSWORD } }),
      'POST /auth/refresh': async () => ({ body: { refreshToken: await freshRefreshToken() } }),
      'POST /auth/logout': async () => ({ body: { refreshToken: await freshRefreshToken() } }),
      'POST /auth/email/verify': async () => {
        const email = `${unique('verify')}@example.com`;
        await t.container.accounts.requestRegistration('alpha', { email, password: PASSWORD, role: 'guardian' });
        return { body: { token: codeIn(mailTo(t, email).at(-1)), password: PASSWORD } };
      },
      'POST /auth/password/forgot': async () => ({ body: { email: 'ann@example.com' } }),
      'POST /auth/password/reset': async () => {
        // A fresh account each time: mails per address are limited (5 an hour).
        const email = `${unique('reset')}@example.com`;
        await t.container.accounts.register('alpha', { email, password: PASSWORD, role: 'guardian' });
        await t.container.accounts.forgotPassword('alpha', email);
        return { body: { token: codeIn(mailTo(t, email).at(-1)), password: PASSWORD } };
      },
      // A fresh family device key each time: the device-key rows replace and revoke it.
      'POST /auth/pin': async () => ({ body: { childId, pin: PIN, deviceKey: (await t.container.children.createDeviceKey(guardian)).deviceKey } }),
      'POST /api/family/device-key': async () => ({}),
      'DELETE /api/family/device-key': async () => ({}),
      'GET /api/concepts': async () => ({}),
      'POST /admin/concepts': async () => ({ body: { id: unique('concept'), subject: 'math', grade: 1, name: 'Made here', prerequisites: ['counting'] } }),
      // A fresh concept of alpha each time (beta has none of that id): replaced, or deleted.
      'PUT /admin/concepts/{conceptId}': async () => ({ params: { conceptId: await freshConcept() }, body: { subject: 'math', grade: 2, name: 'Changed', prerequisites: ['adding'] } }),
      'DELETE /admin/concepts/{conceptId}': async () => ({ params: { conceptId: await freshConcept() } }),
      'GET /api/lessons': async () => ({}),
      'GET /api/lessons/{lessonId}': async () => ({ params: { lessonId: 'alpha-only' } }),
      'GET /admin/lessons/{lessonId}': async () => ({ params: { lessonId: 'alpha-only' } }),
      'POST /admin/lessons': async () => {
        const lesson = fixturePack('alpha').lessons[1]!;
        const id = unique('made');
        return { body: { ...lesson, id, items: lesson.items.map((i) => ({ ...i, id: `${id}-${i.id}` })) } };
      },
      'PUT /admin/lessons/{lessonId}': async () => {
        const { id: _id, ...rest } = await t.container.lessons.getForAdmin('alpha', 'alpha-only');
        return { params: { lessonId: 'alpha-only' }, body: rest };
      },
      'DELETE /admin/lessons/{lessonId}': async () => {
        const lesson = fixturePack('alpha').lessons[1]!;
        const id = unique('doomed');
        await t.container.lessons.create('alpha', { ...lesson, id, items: [] });
        return { params: { lessonId: id } };
      },
      'POST /admin/content/import': async () => ({ body: testPack('matrix') }),
      'GET /admin/content/packs': async () => ({}),
      'GET /schemas/content-pack.json': async () => ({}),
      'GET /admin/content/packs/{packId}': async () => ({ params: { packId: 'alphapack' } }),
      'GET /admin/items/{itemId}': async () => ({ params: { itemId: 'alpha-only-q1' } }),
      'GET /admin/lake/status': async () => ({}),
      // Reports are of the caller's own app: another app's admin gets its own (empty) report.
      'GET /admin/reports/{report}': async () => ({ params: { report: 'accuracy' } }),
      'GET /api/children': async () => ({}),
      'POST /api/children': async () => ({ body: { nickname: 'New', grade: 1 } }),
      'GET /api/children/{childId}': async () => ({ params: { childId } }),
      'PATCH /api/children/{childId}': async () => ({ params: { childId }, body: { nickname: 'Mia' } }),
      'DELETE /api/children/{childId}': async () => ({ params: { childId: await freshChild() } }),
      'GET /api/children/{childId}/export': async () => ({ params: { childId } }),
      'POST /api/children/{childId}/sessions': async () => ({ params: { childId } }),
      'PUT /api/children/{childId}/pin': async () => ({ params: { childId }, body: { pin: PIN } }),
      'DELETE /api/children/{childId}/pin': async () => {
        const id = await freshChild();
        await t.container.children.setPin(guardian, id, PIN);
        return { params: { childId: id } };
      },
      'POST /api/children/{childId}/pin/unlock': async () => ({ params: { childId } }),
      'GET /api/classrooms': async () => ({}),
      'POST /api/classrooms': async () => ({ body: { name: 'Another room' } }),
      'GET /api/classrooms/{classroomId}': async () => ({ params: { classroomId } }),
      'POST /api/classrooms/{classroomId}/invites': async () => ({ params: { classroomId }, body: {} }),
      'GET /api/classrooms/{classroomId}/children': async () => ({ params: { classroomId } }),
      'DELETE /api/classrooms/{classroomId}/children/{childId}': async () => ({ params: { classroomId, childId: await freshMember() } }),
      'GET /api/invites/{code}': async () => ({ params: { code: inviteCode } }),
      'POST /api/invites/{code}/accept': async () => ({ params: { code: inviteCode }, body: { childId: await freshChild() } }),
      'POST /api/invites/{code}/decline': async () => ({ params: { code: inviteCode }, body: { childId: await freshMember() } }),
      'POST /api/progress': async () => ({
        body: { childId, itemId: 'alpha-only-q1', response: 5, durationMs: 3000, answeredAt: new Date().toISOString(), clientEventId: unique('event') },
      }),
      'GET /api/progress/{childId}': async () => ({ params: { childId } }),
      'GET /api/progress': async () => ({}),
      'POST /api/events': async () => ({
        body: { events: [{ eventId: randomUUID(), type: 'lesson_start', occurredAt: new Date().toISOString(), childId, properties: { lessonId: 'alpha-only' } }] },
      }),
      'POST /api/progress/lessons/{lessonId}/complete': async () => ({
        params: { lessonId: 'alpha-only' },
        body: { childId, secondsSpent: 300, score: 0.8, completedAt: new Date().toISOString(), clientEventId: unique('done') },
      }),
      'GET /api/progress/{childId}/answers': async () => ({ params: { childId } }),
      'GET /api/adaptive/children/{childId}/analysis': async () => ({ params: { childId } }),
      // Every column asks for the same plan: while it is queued (no engine runs here) an identical request answers it again (202).
      'POST /api/adaptive/plans': async () => ({ body: { childId, minutes: 5 } }),
      'GET /api/adaptive/plans/{planId}': async () => ({ params: { planId: 'plan-of-mia' } }),
      'GET /api/adaptive/children/{childId}/plan': async () => ({ params: { childId } }),
      // A text, not a lesson id: every app can run it, and results must be of the caller's app only.
      // Lessons only: items that other-app admins created above copy alpha's item ids into theirs.
      'GET /api/adaptive/similar': async () => ({ query: 'q=adding%20numbers&kind=lesson&limit=20' }),
    };

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      // The database URL lets the job queue (plan requests) open on the PostgreSQL stack.
      t = await createTestApp({ database: opened.database, cache: opened.cache, env: opened.databaseUrl ? { DATABASE_URL: opened.databaseUrl } : {} });
      await createFixtureApp(t.container, 'alpha');
      await createFixtureApp(t.container, 'beta');
      const c = t.container;
      await c.content.importPack('alpha', ContentPack.parse(testPack('alphapack')));
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: PASSWORD, role: 'guardian' });
      const tess = await c.accounts.register('alpha', { email: 'tess@example.com', password: PASSWORD, role: 'teacher' });
      guardian = { sub: ann.id, app: 'alpha', role: 'guardian', exp };
      teacher = { sub: tess.id, app: 'alpha', role: 'teacher', exp };
      childId = (await c.children.create(guardian, { nickname: 'Mia', grade: 2 })).id;
      await c.children.setPin(guardian, childId, PIN);
      classroomId = (await c.classrooms.create(teacher, { name: 'Room-of-Tess' })).id;
      inviteCode = (await c.classrooms.createInvite(teacher, classroomId, 14)).code;
      await c.classrooms.respond(guardian, inviteCode, childId, 'accept');
      // A ready lesson plan of Mia's, as the engine stores it.
      const built = await c.planBuilder.build('alpha', childId, { minutes: 5 });
      await insertPlan(c.database.db, 'alpha', { id: 'plan-of-mia', childId, request: { minutes: 5 }, requestHash: 'h', inputsKey: 'k', idempotencyKey: null, requestedByRole: 'guardian' });
      await writeReadyPlan(c.database.db, 'alpha', 'plan-of-mia', { plan: built.plan, inputs: { ...built.inputs, planner: built.planner }, modelVersion: null });
      // Made a minute ago: outside the per-child window, so the plan request below is not rate limited.
      await sql`update app_alpha.plans set created_at = now() - interval '1 minute' where id = 'plan-of-mia'`.execute(c.database.db);
      tokens.anonymous = undefined;
      tokens.child = (await c.children.startDeviceSession(guardian, childId)).accessToken;
      tokens.guardian = (await c.accounts.login('alpha', { email: 'ann@example.com', password: PASSWORD })).accessToken;
      tokens.teacher = (await c.accounts.login('alpha', { email: 'tess@example.com', password: PASSWORD })).accessToken;
      tokens.admin = await t.token('alpha', 'admin', { sub: 'admin-alpha' });
      tokens['other app'] = await t.token('beta', 'admin', { sub: 'admin-beta' });
      // The curriculum index refreshes in the background after content writes: searches see every app's content.
      await c.curriculumIndex.idle();

      // Rows the callers above must not see. Another family in alpha, with its own classroom:
      const bob = await c.accounts.register('alpha', { email: 'bob@example.com', password: PASSWORD, role: 'guardian' });
      const bobs: Principal = { sub: bob.id, app: 'alpha', role: 'guardian', exp };
      const bobsChild = (await c.children.create(bobs, { nickname: 'Kai-of-Bob', grade: 3 })).id;
      const tom = await c.accounts.register('alpha', { email: 'tom@example.com', password: PASSWORD, role: 'teacher' });
      const toms: Principal = { sub: tom.id, app: 'alpha', role: 'teacher', exp };
      const tomsRoom = (await c.classrooms.create(toms, { name: 'Room-of-Tom' })).id;
      await c.classrooms.respond(bobs, (await c.classrooms.createInvite(toms, tomsRoom, 14)).code, bobsChild, 'accept');
      // Mia's sibling: the child's own token must not reach it.
      const sibling = (await c.children.create(guardian, { nickname: 'Sibling-of-Mia', grade: 4 })).id;
      // And a family in app beta.
      const zed = await c.accounts.register('beta', { email: 'zed@example.com', password: PASSWORD, role: 'guardian' });
      const zeds: Principal = { sub: zed.id, app: 'beta', role: 'guardian', exp };
      const betaChild = (await c.children.create(zeds, { nickname: 'Beta-Kid', grade: 2 })).id;
      const quinn = await c.accounts.register('beta', { email: 'quinn@example.com', password: PASSWORD, role: 'teacher' });
      const betaRoom = (await c.classrooms.create({ sub: quinn.id, app: 'beta', role: 'teacher', exp }, { name: 'Beta-Room' })).id;
      const betaRows = [betaChild, 'Beta-Kid', zed.id, quinn.id, betaRoom, 'Beta-Room', 'zed@example.com', 'beta-only', 'of beta'];
      const otherFamily = [bobsChild, 'Kai-of-Bob', bob.id, 'bob@example.com', tomsRoom, 'Room-of-Tom', tom.id];
      forbidden.anonymous = [...betaRows, ...otherFamily, childId, 'Sibling-of-Mia', ann.id, tess.id];
      forbidden.child = [...betaRows, ...otherFamily, sibling, 'Sibling-of-Mia', tess.id];
      forbidden.guardian = [...betaRows, ...otherFamily];
      forbidden.teacher = [...betaRows, ...otherFamily, sibling, 'Sibling-of-Mia'];
      forbidden.admin = betaRows;
      forbidden['other app'] = [childId, sibling, bobsChild, 'Kai-of-Bob', ann.id, tess.id, bob.id, classroomId, 'Room-of-Tess', tomsRoom, 'alpha-only', 'of alpha', 'ann@example.com'];
    });
    after(async () => {
      // The job queue (opened by plan requests) stops with the container.
      await t?.container.close();
      await dispose();
    });

    it('has a matrix row and a recipe for every operation, and no row for an operation that does not exist', async () => {
      const spec = (await (await t.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
      const operations = Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
      const matrix = readMatrix();
      assert.deepEqual([...matrix.keys()].sort(), operations, 'docs/access.md rows = OpenAPI operations');
      assert.deepEqual(Object.keys(recipes).sort(), operations, 'every operation has a request recipe');
    });

    for (const [operation, expected] of readMatrix()) {
      it(operation, async () => {
        const [method, path] = operation.split(' ') as [string, string];
        const actual = {} as Record<Column, number>;
        for (const column of COLUMNS) {
          const recipe = recipes[operation];
          assert.ok(recipe, `no recipe for ${operation}`);
          const { params = {}, query, body } = await recipe();
          const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? `missing-${name}`)) + (query ? `?${query}` : '');
          const headers: Record<string, string> = {};
          if (!url.startsWith('/api/') && !url.startsWith('/admin/')) headers['x-app-id'] = 'alpha';
          const res = await t.request(url, {
            method,
            headers,
            ...(tokens[column] ? { token: tokens[column] } : {}),
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          const text = await res.text();
          actual[column] = res.status;
          // What the caller sent may come back (an echoed id); anything else on the list is a leak.
          const sent = `${url} ${body === undefined ? '' : JSON.stringify(body)}`;
          const leaked = forbidden[column].filter((marker) => text.includes(marker) && !sent.includes(marker));
          assert.deepEqual(leaked, [], `${operation} as ${column} (${res.status}) returned rows it may not see`);
        }
        assert.deepEqual(actual, expected);
      });
    }
  });
}
