import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Principal } from '../../src/domain/principal.ts';
import { TIME_ZONE_NAMES } from '../../src/domain/time-zones.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { answerMaker } from '../support/answers.ts';
import { codeIn, mailTo } from '../support/mail.ts';
import { stacks } from '../support/servers.ts';

/**
 * Issue 9, point 4 and 5: each malformed input the issue lists is a 400
 * `validation_failed` naming the field (never a 500), and changes nothing
 * stored; items and completions of unpublished lessons are 404; a token
 * without an account behind it cannot create children or classrooms. On both
 * stacks, because the two databases fail differently on the same bytes.
 */

type ErrorJson = { error: { code: string; message: string; details?: { in: string; field: string; message: string }[] } };
type Result = { clientEventId: string; correct: boolean; correctAnswer?: unknown; concept: { attempts: number } };

for (const stack of await stacks()) {
  describe(`input rules on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let childId: string;
    let childToken: string;
    let guardianToken: string;
    let adminToken: string;
    let n = 0;

    const answer = answerMaker('ir', () => childId);
    const lesson = (overrides: Record<string, unknown> = {}) => ({
      id: `new-${++n}`,
      subject: 'math',
      grade: 1,
      title: 'Adding up',
      summary: 'Sums to ten',
      blocks: [{ type: 'text', text: 'Two and three make five.\nTry it!' }],
      conceptIds: ['adding'],
      estimatedMinutes: 5,
      published: true,
      items: [{ id: 'q1', conceptId: 'adding', type: 'short_text', prompt: 'Spell 2', answer: { type: 'short_text', accepted: ['two'] }, difficulty: 0 }],
      ...overrides,
    });
    const call = async (path: string, init: RequestInit & { token?: string }) => {
      const res = await t.request(path, init);
      return { status: res.status, body: (await res.json()) as ErrorJson & { results: Result[] } & Record<string, unknown> };
    };
    const post = (path: string, body: unknown, token: string) => call(path, { method: 'POST', token, body: JSON.stringify(body) });
    /** Confirms a registration with the emailed code and its password, then signs in: the login's status. */
    const verifyAndLogin = async (email: string, password: string) => {
      const headers = { 'x-app-id': 'alpha' };
      const verified = await call('/auth/email/verify', { method: 'POST', headers, body: JSON.stringify({ token: codeIn(mailTo(t, email).at(-1)), password }) });
      assert.equal(verified.status, 201);
      return call('/auth/login', { method: 'POST', headers, body: JSON.stringify({ email, password }) });
    };

    /** Everything a request in this file could change, as one comparable value. */
    const stored = async () => {
      const db = t.container.database.db;
      const one = async (q: ReturnType<typeof sql<{ v: unknown }>>) => (await q.execute(db)).rows[0]!.v;
      return {
        answers: await one(sql`select coalesce(json_agg(client_event_id order by client_event_id), '[]') as v from app_alpha.answers where child_id = ${childId}`),
        states: await one(sql`select coalesce(json_agg(json_build_array(concept_id, attempts) order by concept_id), '[]') as v from app_alpha.concept_states where child_id = ${childId}`),
        clock: await one(sql`select coalesce(json_agg(row_to_json(c)), '[]') as v from app_alpha.learner_clock c where child_id = ${childId}`),
        completions: await one(sql`select count(*)::int as v from app_alpha.lesson_completions where child_id = ${childId}`),
        lessons: await one(sql`select coalesce(json_agg(id order by id), '[]') as v from app_alpha.lessons`),
        children: await one(sql`select count(*)::int as v from app_alpha.children`),
        classrooms: await one(sql`select count(*)::int as v from app_alpha.classrooms`),
        accounts: await one(sql`select count(*)::int as v from app_alpha.accounts`),
      };
    };

    /** The request is refused with 400 validation_failed naming `field` (in `where`) and leaves the stored state as it was. */
    const refused = async (label: string, send: () => Promise<{ status: number; body: ErrorJson }>, where: string, field: string) => {
      const before = await stored();
      const res = await send();
      assert.equal(res.status, 400, `${label}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'validation_failed', label);
      assert.ok(res.body.error.message.includes(`"${field}"`), `${label}: message names ${field}: ${res.body.error.message}`);
      assert.ok(res.body.error.details?.some((d) => d.in === where && d.field === field), `${label}: details name ${where} ${field}`);
      assert.deepEqual(await stored(), before, `${label}: nothing stored changed`);
    };

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      const c = t.container;
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
      const guardian: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      childId = (await c.children.create(guardian, { nickname: 'Mia', grade: 1 })).id;
      childToken = (await c.children.startDeviceSession(guardian, childId)).accessToken;
      guardianToken = await t.token('alpha', 'guardian', { sub: ann.id });
      adminToken = await t.token('alpha', 'admin');
      // One answer first, so "unchanged" compares real rows, not empty tables.
      assert.equal((await post('/api/progress', answer(), childToken)).status, 200);
    });
    after(async () => dispose());

    it('answers: NUL, lone surrogates and out-of-window instants are 400 naming the field, nothing stored', async () => {
      await refused('NUL in clientEventId', () => post('/api/progress', answer({ clientEventId: 'a\u0000b' }), childToken), 'body', 'clientEventId');
      await refused('NUL in response', () => post('/api/progress', answer({ response: '5\u0000' }), childToken), 'body', 'response');
      await refused('lone surrogate in response', () => post('/api/progress', answer({ itemId: 'alpha-only-q3', response: 'two\ud800' }), childToken), 'body', 'response');
      await refused('lone surrogate in clientEventId', () => post('/api/progress', answer({ clientEventId: 'e\ud800' }), childToken), 'body', 'clientEventId');
      await refused('answeredAt year 0', () => post('/api/progress', answer({ answeredAt: '0000-01-01T00:00:00Z' }), childToken), 'body', 'answeredAt');
      await refused('answeredAt 1970', () => post('/api/progress', answer({ answeredAt: '1970-01-01T00:00:00Z' }), childToken), 'body', 'answeredAt');
      await refused('answeredAt more than a day ahead', () => post('/api/progress', answer({ answeredAt: new Date(Date.now() + 25 * 3600_000).toISOString() }), childToken), 'body', 'answeredAt');
      await refused('in a batch', () => post('/api/progress', { answers: [answer(), answer({ response: 'x\u0000' })] }, childToken), 'body', 'answers.1.response');
      await refused('completedAt year 0', () => post('/api/progress/lessons/alpha-only/complete', { childId, secondsSpent: 60, completedAt: '0000-01-01T00:00:00Z', clientEventId: 'c-1' }, childToken), 'body', 'completedAt');
    });

    it('a lone-surrogate clientEventId is refused, so its retry cannot wedge an offline batch; a clean batch then goes through', async () => {
      const batch = { answers: [answer(), answer({ clientEventId: 'x\udc00' }), answer()] };
      await refused('batch with a lone surrogate id', () => post('/api/progress', batch, childToken), 'body', 'answers.1.clientEventId');
      const clean = { answers: [batch.answers[0], { ...batch.answers[1], clientEventId: 'x-fixed' }, batch.answers[2]] };
      const first = await post('/api/progress', clean, childToken);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const retry = await post('/api/progress', clean, childToken);
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
      assert.deepEqual(retry.body.results.map((r) => r.clientEventId), clean.answers.map((a) => a!.clientEventId));
      assert.deepEqual(retry.body.results.map((r) => (r as Result & { duplicate: boolean }).duplicate), [true, true, true], 'the retry finds every stored id');
      const ids = (await stored()).answers as string[];
      assert.ok(clean.answers.every((a) => ids.includes(a!.clientEventId)), 'each id stored exactly as sent');
    });

    it('numeric answers count only in plain decimal: "0x05", "5e0" and " 5 " are wrong answers, "5" is right', async () => {
      for (const response of ['0x05', '5e0', ' 5 ', '+5', '5.0e0']) {
        const res = await post('/api/progress', answer({ response }), childToken);
        assert.equal(res.status, 200, response);
        assert.equal(res.body.results[0]!.correct, false, JSON.stringify(response));
      }
      for (const response of ['5', '5.0', 5]) {
        const res = await post('/api/progress', answer({ response }), childToken);
        assert.equal(res.body.results[0]!.correct, true, JSON.stringify(response));
      }
    });

    it('time zones: US/Pacific-New (JavaScript yes, PostgreSQL no) is 400 naming tz; a listed zone works', async () => {
      assert.doesNotThrow(() => new Intl.DateTimeFormat('en', { timeZone: 'US/Pacific-New' }), 'the case only matters while JavaScript accepts it');
      await refused('tz US/Pacific-New', () => call('/api/progress?tz=US/Pacific-New', { token: guardianToken }), 'query', 'tz');
      await refused('tz offset', () => call('/api/progress?tz=%2B02%3A00', { token: guardianToken }), 'query', 'tz');
      await refused('tz NUL', () => call('/api/progress?tz=Europe%2FBerlin%00', { token: guardianToken }), 'query', 'tz');
      const ok = await call('/api/progress?tz=America/Los_Angeles', { token: guardianToken });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.timeZone, 'America/Los_Angeles');
    });

    it('the database reads every listed time zone', async () => {
      const rows = await sql<{ name: string }>`select z.name from unnest(${[...TIME_ZONE_NAMES]}::text[]) as z(name) where z.name not in (select name from pg_timezone_names)`.execute(t.container.database.db);
      assert.deepEqual(rows.rows.map((r) => r.name), [], 'names the database does not know');
      // And reading one works the way the summary uses it.
      const read = await sql<{ d: string }>`select to_char(timestamptz '2026-06-01T00:30:00Z' at time zone ${'America/New_York'}, 'YYYY-MM-DD') as d`.execute(t.container.database.db);
      assert.equal(read.rows[0]!.d, '2026-05-31');
    });

    it('lesson ids in paths: NUL and non-slugs are 400 naming lessonId on every lessons route', async () => {
      for (const id of ['%00', 'a%00b', 'a%20b', 'UPPER', '%F0%9F%98%80', 'x'.repeat(65)]) {
        await refused(`GET /api/lessons/${id}`, () => call(`/api/lessons/${id}`, { token: guardianToken }), 'param', 'lessonId');
        await refused(`GET /admin/lessons/${id}`, () => call(`/admin/lessons/${id}`, { token: adminToken }), 'param', 'lessonId');
        await refused(`DELETE /admin/lessons/${id}`, () => call(`/admin/lessons/${id}`, { method: 'DELETE', token: adminToken }), 'param', 'lessonId');
        await refused(`PUT /admin/lessons/${id}`, () => call(`/admin/lessons/${id}`, { method: 'PUT', token: adminToken, body: JSON.stringify(lesson()) }), 'param', 'lessonId');
      }
    });

    it('lesson authoring: NUL or a lone surrogate in any text is 400 naming the field; names refuse invisible characters', async () => {
      const item = lesson().items[0]!;
      const cases: [string, Record<string, unknown>, string][] = [
        ['title NUL', { title: 'Add\u0000ing' }, 'title'],
        ['title surrogate', { title: 'Add\ud800' }, 'title'],
        ['title bidi override', { title: 'Add\u202eing' }, 'title'],
        ['title zero-width space', { title: 'Add\u200bing' }, 'title'],
        ['summary NUL', { summary: '\u0000' }, 'summary'],
        ['summary surrogate', { summary: 'x\udfff' }, 'summary'],
        ['block text NUL', { blocks: [{ type: 'text', text: 'a\u0000' }] }, 'blocks.0.text'],
        ['example surrogate', { blocks: [{ type: 'example', prompt: 'p', explanation: '\ud800' }] }, 'blocks.0.explanation'],
        ['item prompt NUL', { items: [{ ...item, prompt: 'a\u0000' }] }, 'items.0.prompt'],
        ['accepted answer surrogate', { items: [{ ...item, answer: { type: 'short_text', accepted: ['t\ud800wo'] } }] }, 'items.0.answer.accepted.0'],
        ['media alt NUL', { media: [{ id: 'm1', kind: 'image', url: 'https://example.com/a.png', alt: '\u0000' }] }, 'media.0.alt'],
        ['control character', { summary: 'bell\u0007' }, 'summary'],
      ];
      for (const [label, overrides, field] of cases) {
        await refused(`POST ${label}`, () => post('/admin/lessons', lesson(overrides), adminToken), 'body', field);
        await refused(`PUT ${label}`, () => call('/admin/lessons/alpha-only', { method: 'PUT', token: adminToken, body: JSON.stringify({ ...lesson(overrides), id: undefined }) }), 'body', field);
      }
      // Free text keeps line breaks, tabs, bidirectional marks and emoji; the lesson is stored as sent.
      const good = lesson({ title: 'Adding 🍎 مرحبا', summary: 'Line one\n\tLine two \u200f(RTL mark) 👨‍👩‍👧' });
      const created = await post('/admin/lessons', good, adminToken);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const read = await call(`/admin/lessons/${good.id}`, { token: adminToken });
      assert.equal(read.body.title, good.title);
      assert.equal(read.body.summary, good.summary);
    });

    it('child and classroom names: invisible and ill-formed characters are 400 naming the field', async () => {
      for (const [label, nickname] of [['NUL', 'Mi\u0000a'], ['surrogate', 'Mi\ud800'], ['bidi override', '\u202eaiM'], ['zero-width joiner', 'Mi\u200da'], ['line separator', 'Mi\u2028a']]) {
        await refused(`nickname ${label}`, () => post('/api/children', { nickname, grade: 1 }, guardianToken), 'body', 'nickname');
        await refused(`patch nickname ${label}`, () => call(`/api/children/${childId}`, { method: 'PATCH', token: guardianToken, body: JSON.stringify({ nickname }) }), 'body', 'nickname');
      }
      const teacher = await t.container.accounts.register('alpha', { email: 'tess@example.com', password: 'correct horse battery', role: 'teacher' });
      const teacherToken = await t.token('alpha', 'teacher', { sub: teacher.id });
      await refused('classroom name bidi', () => post('/api/classrooms', { name: 'Room \u2066 3' }, teacherToken), 'body', 'name');
      const ok = await post('/api/children', { nickname: 'Zoë 🦊', grade: 2 }, guardianToken);
      assert.equal(ok.status, 201);
      assert.equal(ok.body.nickname, 'Zoë 🦊');
    });

    it('passwords follow the text rules: a lone surrogate (hashed as U+FFFD, so matching other passwords) or NUL is 400', async () => {
      const register = (password: string) =>
        call('/auth/register', { method: 'POST', headers: { 'x-app-id': 'alpha' }, body: JSON.stringify({ email: 'pat@example.com', password, role: 'guardian' }) });
      await refused('password lone surrogate', () => register('correct horse \ud800'), 'body', 'password');
      await refused('password NUL', () => register('correct horse \u0000'), 'body', 'password');
      // Register answers 202 whatever happens next; the pending sign-up it stored carries the password.
      assert.equal((await register('correct horse 🐴 battery')).status, 202);
      assert.equal((await verifyAndLogin('pat@example.com', 'correct horse 🐴 battery')).status, 200, 'the emoji password signs in');
    });

    it('an item of an unpublished lesson is 404 item_not_found: no answer key, no stored change', async () => {
      const before = await stored();
      for (const body of [answer({ itemId: 'draft-q1' }), { answers: [answer(), answer({ itemId: 'draft-q2', response: 'a' })] }]) {
        const res = await post('/api/progress', body, childToken);
        assert.equal(res.status, 404, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'item_not_found');
        assert.ok(!JSON.stringify(res.body).includes('correctAnswer'), 'the key is not revealed');
      }
      assert.deepEqual(await stored(), before);
      // Publishing it makes it answerable (the lookup is not stale after the lesson write).
      const draft = (await call('/admin/lessons/draft', { token: adminToken })).body;
      const { id: _id, ...rest } = draft as Record<string, unknown>;
      assert.equal((await call('/admin/lessons/draft', { method: 'PUT', token: adminToken, body: JSON.stringify({ ...rest, published: true }) })).status, 200);
      const now = await post('/api/progress', answer({ itemId: 'draft-q1' }), childToken);
      assert.equal(now.status, 200);
      assert.equal(now.body.results[0]!.correct, true);
      // And unpublishing it again closes it.
      assert.equal((await call('/admin/lessons/draft', { method: 'PUT', token: adminToken, body: JSON.stringify({ ...rest, published: false }) })).status, 200);
      assert.equal((await post('/api/progress', answer({ itemId: 'draft-q1' }), childToken)).status, 404);
    });

    it('completing an unpublished lesson is 404 lesson_not_found and stores nothing', async () => {
      const before = await stored();
      const res = await post('/api/progress/lessons/draft/complete', { childId, secondsSpent: 60, completedAt: new Date().toISOString(), clientEventId: 'done-draft' }, childToken);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'lesson_not_found');
      assert.deepEqual(await stored(), before);
    });

    it('a token whose subject has no account cannot create a child or a classroom: 403 account_required, nothing stored', async () => {
      // What `kidslearn token --role guardian` mints: a valid signature, no account row behind the subject.
      const ghostGuardian = await t.token('alpha', 'guardian', { sub: 'guardian-cli' });
      const ghostTeacher = await t.token('alpha', 'teacher', { sub: 'teacher-cli' });
      const before = await stored();
      for (const [path, body, token] of [['/api/children', { nickname: 'Ghost', grade: 1 }, ghostGuardian], ['/api/classrooms', { name: 'Room 9' }, ghostTeacher]] as const) {
        const res = await post(path, body, token);
        assert.equal(res.status, 403, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'account_required');
        assert.match(res.body.error.message, /--sub/);
      }
      assert.deepEqual(await stored(), before);
      // Reading with such a token is harmless: the guardian simply has no children.
      const list = await call('/api/children', { token: ghostGuardian });
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items, []);
    });
  });
}
