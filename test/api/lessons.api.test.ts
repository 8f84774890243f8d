import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import { openRedisCache } from '../../src/adapters/cache/redis-cache.ts';
import type { Cache } from '../../src/adapters/cache/cache.ts';
import { stacks } from '../support/servers.ts';

const lessonBody = (id: string, overrides: Record<string, unknown> = {}) => ({
  id,
  subject: 'math',
  grade: 3,
  title: `New ${id}`,
  summary: 'Made by a test',
  blocks: [{ type: 'text', text: 'Hello' }],
  conceptIds: ['adding'],
  estimatedMinutes: 7,
  published: true,
  items: [{ id: `${id}-q1`, conceptId: 'adding', type: 'numeric', prompt: '1 + 1?', answer: { type: 'numeric', value: 2 }, difficulty: 0 }],
  ...overrides,
});

for (const stack of await stacks()) {
  describe(`lessons API on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let alpha: string;
    let beta: string;
    let alphaAdmin: string;
    let opened: Awaited<ReturnType<typeof stack.open>>;

    before(async () => {
      opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      await createFixtureApp(t.container, 'beta');
      alpha = await t.token('alpha', 'guardian');
      beta = await t.token('beta', 'child');
      alphaAdmin = await t.token('alpha', 'admin');
    });
    after(async () => dispose());

    describe('GET /api/lessons', () => {
      it('lists published lessons of the caller’s app in a stable order', async () => {
        const res = await t.request('/api/lessons', { token: alpha });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { items: { id: string; grade: number; subject: string; title: string }[]; page: number; limit: number; total: number };
        assert.deepEqual({ page: body.page, limit: body.limit, total: body.total }, { page: 1, limit: 20, total: 4 });
        assert.deepEqual(
          body.items.map((l) => l.id),
          ['count-k', 'shared-lesson', 'read-1', 'alpha-only'],
        );
        assert.ok(body.items.every((l) => l.title.startsWith('alpha ')));
        assert.ok(!body.items.some((l) => l.id === 'draft'), 'unpublished lessons are not listed');
      });

      it('filters by grade (K or number) and subject, and pages', async () => {
        const byGrade = (await (await t.request('/api/lessons?grade=1', { token: alpha })).json()) as { items: { id: string }[]; total: number };
        assert.deepEqual(byGrade.items.map((l) => l.id), ['shared-lesson', 'read-1']);
        const k = (await (await t.request('/api/lessons?grade=K', { token: alpha })).json()) as { items: { id: string }[] };
        assert.deepEqual(k.items.map((l) => l.id), ['count-k']);
        const reading = (await (await t.request('/api/lessons?subject=reading', { token: alpha })).json()) as { items: { id: string }[] };
        assert.deepEqual(reading.items.map((l) => l.id), ['read-1']);
        const p2 = (await (await t.request('/api/lessons?limit=3&page=2', { token: alpha })).json()) as { items: { id: string }[]; total: number; page: number };
        assert.deepEqual({ ids: p2.items.map((l) => l.id), total: p2.total, page: p2.page }, { ids: ['alpha-only'], total: 4, page: 2 });
        const beyond = (await (await t.request('/api/lessons?limit=3&page=9', { token: alpha })).json()) as { items: unknown[]; total: number };
        assert.deepEqual({ n: beyond.items.length, total: beyond.total }, { n: 0, total: 4 });
      });

      for (const [query, param] of [
        ['limit=0', 'limit'],
        ['limit=51', 'limit'],
        ['limit=2.5', 'limit'],
        ['grade=abc', 'grade'],
        ['grade=9', 'grade'],
        ['page=-1', 'page'],
        ['page=0', 'page'],
        ['subject=Not%20A%20Slug', 'subject'],
      ] as const) {
        it(`rejects ${query} with 400 naming "${param}"`, async () => {
          const res = await t.request(`/api/lessons?${query}`, { token: alpha });
          assert.equal(res.status, 400);
          const body = (await res.json()) as { error: { code: string; message: string; details: { field: string }[] } };
          assert.equal(body.error.code, 'validation_failed');
          assert.match(body.error.message, new RegExp(`query parameter "${param}"`));
          assert.equal(body.error.details[0]!.field, param);
        });
      }
    });

    describe('GET /api/lessons/{id}', () => {
      it('returns the lesson with items and never an answer key; MISS then HIT', async () => {
        const first = await t.request('/api/lessons/alpha-only', { token: alpha });
        assert.equal(first.status, 200);
        assert.equal(first.headers.get('x-cache'), 'MISS');
        assert.match(first.headers.get('content-type') ?? '', /application\/json/);
        const text = await first.text();
        const lesson = JSON.parse(text) as { id: string; title: string; items: Record<string, unknown>[] };
        assert.equal(lesson.title, 'alpha alpha-only');
        assert.equal(lesson.items.length, 3);
        assert.deepEqual(lesson.items.map((i) => i.id), ['alpha-only-q1', 'alpha-only-q2', 'alpha-only-q3']);
        assert.ok(!/"answer"|"accepted"|"choiceId"/.test(text), 'no answer key in the payload');
        const second = await t.request('/api/lessons/alpha-only', { token: alpha });
        assert.equal(second.headers.get('x-cache'), 'HIT');
        assert.equal(await second.text(), text);
      });

      it('answers 404 lesson_not_found for unknown and unpublished lessons', async () => {
        for (const id of ['no-such-lesson', 'draft']) {
          const res = await t.request(`/api/lessons/${id}`, { token: alpha });
          assert.equal(res.status, 404, id);
          assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'lesson_not_found');
        }
      });
    });

    describe('tenancy', () => {
      it('the same lesson id returns each app’s own lesson', async () => {
        const a = (await (await t.request('/api/lessons/shared-lesson', { token: alpha })).json()) as { title: string };
        const b = (await (await t.request('/api/lessons/shared-lesson', { token: beta })).json()) as { title: string };
        assert.equal(a.title, 'alpha shared-lesson');
        assert.equal(b.title, 'beta shared-lesson');
      });

      it('no request of app A returns a row of app B', async () => {
        assert.equal((await t.request('/api/lessons/beta-only', { token: alpha })).status, 404);
        assert.equal((await t.request('/api/lessons/alpha-only', { token: beta })).status, 404);
        for (const [token, app] of [
          [alpha, 'alpha'],
          [beta, 'beta'],
        ] as const) {
          for (const q of ['', '?grade=1', '?grade=2', '?subject=math', '?limit=1&page=2']) {
            const body = (await (await t.request(`/api/lessons${q}`, { token })).json()) as { items: { title: string }[] };
            for (const item of body.items) assert.ok(item.title.startsWith(`${app} `), `${app} got ${item.title}`);
          }
        }
        const admin = (await (await t.request('/admin/lessons/beta-only', { token: alphaAdmin })).json()) as { error: { code: string } };
        assert.equal(admin.error.code, 'lesson_not_found');
      });

      it('binds the app from the token: X-App-Id naming another app → 401, unknown app → 404', async () => {
        const mismatch = await t.request('/api/lessons', { token: alpha, headers: { 'x-app-id': 'beta' } });
        assert.equal(mismatch.status, 401);
        assert.equal(((await mismatch.json()) as { error: { code: string } }).error.code, 'app_mismatch');
        assert.equal((await t.request('/api/lessons', { token: alpha, headers: { 'x-app-id': 'alpha' } })).status, 200);
        const ghost = await t.request('/api/lessons', { token: await t.token('ghostapp', 'guardian') });
        assert.equal(ghost.status, 404);
        assert.equal(((await ghost.json()) as { error: { code: string } }).error.code, 'app_not_found');
      });

      it('public app-bound routes take the app from X-App-Id', async () => {
        const res = await t.request('/app', { headers: { 'x-app-id': 'beta' } });
        assert.deepEqual(await res.json(), { id: 'beta', name: 'App beta' });
        assert.equal((await t.request('/app', { headers: { 'x-app-id': 'nope_app' } })).status, 404);
        assert.equal((await t.request('/app', { headers: { 'x-app-id': "x'; drop schema" } })).status, 404);
        assert.equal((await t.request('/app')).status, 400);
      });
    });

    describe('admin lessons', () => {
      it('creates, reads back, updates (invalidating the cache) and deletes a lesson', async () => {
        const created = await t.request('/admin/lessons', { method: 'POST', token: alphaAdmin, body: JSON.stringify(lessonBody('fresh')) });
        assert.equal(created.status, 201);
        const read = (await (await t.request('/admin/lessons/fresh', { token: alphaAdmin })).json()) as { items: { answer: unknown }[] };
        assert.deepEqual(read.items[0]!.answer, { type: 'numeric', value: 2, tolerance: 0 });

        // Writes go through to the cache: the first read is already a hit.
        const firstRead = await t.request('/api/lessons/fresh', { token: alpha });
        assert.equal(firstRead.headers.get('x-cache'), 'HIT');
        assert.equal(((await firstRead.json()) as { title: string }).title, 'New fresh');
        const { id: _id, ...update } = lessonBody('fresh', { title: 'Renamed' });
        const put = await t.request('/admin/lessons/fresh', { method: 'PUT', token: alphaAdmin, body: JSON.stringify(update) });
        assert.equal(put.status, 200);
        const after = await t.request('/api/lessons/fresh', { token: alpha });
        assert.equal(((await after.json()) as { title: string }).title, 'Renamed');

        assert.equal((await t.request('/admin/lessons/fresh', { method: 'DELETE', token: alphaAdmin })).status, 204);
        assert.equal((await t.request('/api/lessons/fresh', { token: alpha })).status, 404);
        assert.equal((await t.request('/admin/lessons/fresh', { method: 'DELETE', token: alphaAdmin })).status, 404);
      });

      it('unpublishing hides a cached lesson at once', async () => {
        await t.request('/admin/lessons', { method: 'POST', token: alphaAdmin, body: JSON.stringify(lessonBody('hideme')) });
        await t.request('/api/lessons/hideme', { token: alpha });
        assert.equal((await t.request('/api/lessons/hideme', { token: alpha })).headers.get('x-cache'), 'HIT');
        const { id: _id, ...update } = lessonBody('hideme', { published: false });
        assert.equal((await t.request('/admin/lessons/hideme', { method: 'PUT', token: alphaAdmin, body: JSON.stringify(update) })).status, 200);
        assert.equal((await t.request('/api/lessons/hideme', { token: alpha })).status, 404);
      });

      it('refuses duplicates, unknown concepts, foreign item ids and unknown fields without writing anything', async () => {
        const dup = await t.request('/admin/lessons', { method: 'POST', token: alphaAdmin, body: JSON.stringify(lessonBody('alpha-only')) });
        assert.equal(dup.status, 409);
        assert.equal(((await dup.json()) as { error: { code: string } }).error.code, 'lesson_exists');

        const badConcept = await t.request('/admin/lessons', {
          method: 'POST',
          token: alphaAdmin,
          body: JSON.stringify(lessonBody('x1', { conceptIds: ['nope'], items: [] })),
        });
        assert.equal(badConcept.status, 400);
        assert.equal(((await badConcept.json()) as { error: { code: string } }).error.code, 'unknown_concept');

        const stolen = await t.request('/admin/lessons', {
          method: 'POST',
          token: alphaAdmin,
          body: JSON.stringify(lessonBody('x2', { items: [{ id: 'alpha-only-q1', conceptId: 'adding', type: 'numeric', prompt: '?', answer: { type: 'numeric', value: 1 }, difficulty: 0 }] })),
        });
        assert.equal(stolen.status, 409);
        assert.equal(((await stolen.json()) as { error: { code: string } }).error.code, 'item_id_taken');

        const extra = await t.request('/admin/lessons', { method: 'POST', token: alphaAdmin, body: JSON.stringify(lessonBody('x3', { owner: 'me' })) });
        assert.equal(extra.status, 400);
        assert.match(((await extra.json()) as { error: { message: string } }).error.message, /owner/);

        const badItem = await t.request('/admin/lessons', {
          method: 'POST',
          token: alphaAdmin,
          body: JSON.stringify(lessonBody('x4', { items: [{ id: 'x4-q', conceptId: 'adding', type: 'multiple_choice', prompt: '?', choices: [{ id: 'a', text: '1' }, { id: 'b', text: '2' }], answer: { type: 'multiple_choice', choiceId: 'z' }, difficulty: 0 }] })),
        });
        assert.equal(badItem.status, 400);
        assert.match(((await badItem.json()) as { error: { message: string } }).error.message, /items\.0\.answer\.choiceId/);

        for (const id of ['x1', 'x2', 'x3', 'x4']) assert.equal((await t.request(`/admin/lessons/${id}`, { token: alphaAdmin })).status, 404, id);
        const stillThere = (await (await t.request('/admin/lessons/alpha-only', { token: alphaAdmin })).json()) as { items: unknown[] };
        assert.equal(stillThere.items.length, 3);
      });

      it('is for admins only (403) and needs a token (401)', async () => {
        for (const role of ['guardian', 'child', 'teacher'] as const) {
          const res = await t.request('/admin/lessons', { method: 'POST', token: await t.token('alpha', role), body: JSON.stringify(lessonBody('nope')) });
          assert.equal(res.status, 403, role);
          assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'forbidden');
        }
        assert.equal((await t.request('/admin/lessons/alpha-only', { method: 'DELETE' })).status, 401);
        assert.equal((await t.request('/admin/lessons/alpha-only', { token: alphaAdmin })).status, 200);
      });
    });

    describe('catalogue cache', () => {
      it('serves repeated pages from the cache and shows admin changes at once', async () => {
        const q = '/api/lessons?grade=3&limit=5';
        const first = await t.request(q, { token: alpha });
        const second = await t.request(q, { token: alpha });
        assert.deepEqual([first.headers.get('x-cache'), second.headers.get('x-cache')], ['MISS', 'HIT']);
        assert.equal(await first.text(), await second.text());
        await t.request('/admin/lessons', { method: 'POST', token: alphaAdmin, body: JSON.stringify(lessonBody('grade3-new')) });
        const after = await t.request(q, { token: alpha });
        assert.equal(after.headers.get('x-cache'), 'MISS');
        const body = (await after.json()) as { items: { id: string }[] };
        assert.ok(body.items.some((l) => l.id === 'grade3-new'));
        // Another app's catalogue was not invalidated by alpha's write.
        await t.request(q, { token: beta });
        assert.equal((await t.request(q, { token: beta })).headers.get('x-cache'), 'HIT');
      });
    });

    if (stack.name.startsWith('servers')) {
      it('a write in one process invalidates the cache of every other process (Redis)', async () => {
        const otherDb = await openPostgresDatabase({ url: opened.databaseUrl!, poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
        const otherCache = await openRedisCache({ url: opened.redisUrl!, keyPrefix: opened.redisPrefix!, timeoutMs: 1000 });
        try {
          const other = await createTestApp({ database: otherDb, cache: otherCache });
          // "other" is a second process: its own pool and Redis connection, same database and Redis.
          const read = async (app: TestApp) => {
            const res = await app.request('/api/lessons/shared-lesson', { token: await app.token('alpha', 'guardian') });
            return { cache: res.headers.get('x-cache'), title: ((await res.json()) as { title: string }).title };
          };
          await read(t);
          assert.equal((await read(other)).cache, 'HIT', 'the second process hits the shared cache');
          const admin = await other.token('alpha', 'admin');
          const current = (await (await other.request('/admin/lessons/shared-lesson', { token: admin })).json()) as Record<string, unknown>;
          const update: Record<string, unknown> = { ...current, title: 'Changed elsewhere' };
          delete update.id;
          assert.equal((await other.request('/admin/lessons/shared-lesson', { method: 'PUT', token: admin, body: JSON.stringify(update) })).status, 200);
          assert.equal((await read(t)).title, 'Changed elsewhere');
          const list = (await (await t.request('/api/lessons?grade=1', { token: alpha })).json()) as { items: { id: string; title: string }[] };
          assert.equal(list.items.find((l) => l.id === 'shared-lesson')?.title, 'Changed elsewhere');
        } finally {
          await otherDb.close();
          await otherCache.close();
        }
      });
    }

    describe('health and metrics', () => {
      it('/health reports database, cache and version', async () => {
        const res = await t.request('/health');
        assert.equal(res.status, 200);
        const body = (await res.json()) as { status: string; version: string; database: { status: string; kind: string }; cache: { status: string } };
        assert.equal(body.status, 'ok');
        assert.equal(body.database.status, 'up');
        assert.equal(body.database.kind, t.container.database.kind);
        assert.equal(body.cache.status, 'up');
        assert.match(body.version, /^\d+\.\d+\.\d+/);
      });

      it('/metrics counts requests per route pattern and status, cache hits and pool use', async () => {
        /** The value of one series in the exposition text (0 when the series does not exist yet). */
        const value = (text: string, series: string): number => {
          const line = text.split('\n').find((l) => l.startsWith(`${series} `));
          return line ? Number(line.slice(series.length + 1)) : 0;
        };
        const requests = 'kidslearn_http_requests_total{method="GET",route="/api/lessons/:lessonId",status="200"}';
        const durations = 'kidslearn_http_request_duration_seconds_count{method="GET",route="/api/lessons/:lessonId",status="200"}';
        const fast = 'kidslearn_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/lessons/:lessonId",status="200"}';
        const hits = 'kidslearn_cache_requests_total{cache="lesson",result="hit"}';
        const misses = 'kidslearn_cache_requests_total{cache="lesson",result="miss"}';
        const before = await (await t.request('/metrics')).text();
        const served = [];
        for (let i = 0; i < 3; i++) served.push((await t.request('/api/lessons/count-k', { token: alpha })).headers.get('x-cache'));
        assert.equal((await t.request('/api/lessons/no-such-lesson', { token: alpha })).status, 404);
        const after = await (await t.request('/metrics')).text();
        const delta = (series: string) => value(after, series) - value(before, series);
        assert.equal(delta(requests), 3, 'three 200s on the route pattern');
        assert.equal(delta(requests.replace('200', '404')), 1, 'the 404 under its own status');
        assert.equal(delta(durations), 3);
        assert.equal(delta(fast), 3);
        assert.equal(delta(hits), served.filter((s) => s === 'HIT').length, 'one hit per X-Cache: HIT');
        assert.equal(delta(hits) + delta(misses), 4, 'every lesson read is a hit or a miss');
        assert.ok(served.slice(1).every((s) => s === 'HIT'), 'cached after the first read');
        assert.equal(value(after, 'kidslearn_db_pool_connections{state="total"}'), t.container.database.poolStats().total);
      });
    });
  });
}

/** A cache whose every command fails, as a Redis that went away would. */
function failingCache(): Cache & { calls: number } {
  const fail = async (): Promise<never> => {
    failing.calls++;
    throw new Error('cache is down (test)');
  };
  const failing = { kind: 'redis' as const, calls: 0, get: fail, set: fail, add: fail, delete: fail, ping: fail, onReady: () => () => {}, close: async () => {} };
  return failing;
}

describe('lessons are served from the database when every cache command fails (README: a failing cache falls back to the database)', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let cache: ReturnType<typeof failingCache>;
  before(async () => {
    const [embedded] = await stacks();
    const opened = await embedded!.open();
    cache = failingCache();
    dispose = opened.dispose;
    t = await createTestApp({ database: opened.database, cache });
    await createFixtureApp(t.container, 'alpha');
  });
  after(async () => dispose());

  it('reads the catalogue and a lesson, and 404s an unpublished one', async () => {
    const token = await t.token('alpha', 'guardian');
    const calls = cache.calls;
    const list = await t.request('/api/lessons', { token });
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('x-cache'), 'MISS');
    assert.deepEqual(((await list.json()) as { items: { id: string }[] }).items.map((l) => l.id), ['count-k', 'shared-lesson', 'read-1', 'alpha-only']);
    for (let i = 0; i < 2; i++) {
      const res = await t.request('/api/lessons/alpha-only', { token });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-cache'), 'MISS');
      const lesson = (await res.json()) as { title: string; items: { id: string }[] };
      assert.deepEqual([lesson.title, lesson.items.map((x) => x.id)], ['alpha alpha-only', ['alpha-only-q1', 'alpha-only-q2', 'alpha-only-q3']]);
    }
    assert.ok(cache.calls > calls, 'the cache was asked (and failed) on the way');
    assert.equal((await t.request('/api/lessons/draft', { token })).status, 404);
  });

  it('an admin write succeeds, and the next read shows it', async () => {
    const admin = await t.token('alpha', 'admin');
    const { id: _id, ...lesson } = await t.container.lessons.getForAdmin('alpha', 'count-k');
    const put = await t.request('/admin/lessons/count-k', { method: 'PUT', token: admin, body: JSON.stringify({ ...lesson, title: 'Counting, revised' }) });
    assert.equal(put.status, 200);
    const read = await t.request('/api/lessons/count-k', { token: await t.token('alpha', 'guardian') });
    assert.equal(((await read.json()) as { title: string }).title, 'Counting, revised');
    const created = await t.request('/admin/lessons', { method: 'POST', token: admin, body: JSON.stringify(lessonBody('while-down')) });
    assert.equal(created.status, 201);
    assert.equal((await t.request('/admin/lessons/while-down', { method: 'DELETE', token: admin })).status, 204);
    assert.equal((await t.request('/api/lessons/while-down', { token: admin })).status, 404);
  });

  it('answers are graded with the answer key from the database', async () => {
    const c = t.container;
    const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
    const guardian = { sub: ann.id, app: 'alpha', role: 'guardian' as const, exp: Math.floor(Date.now() / 1000) + 3600 };
    const childId = (await c.children.create(guardian, { nickname: 'Mia', grade: 1 })).id;
    const { accessToken } = await c.children.startDeviceSession(guardian, childId);
    const answer = (response: number, clientEventId: string) => ({ childId, itemId: 'alpha-only-q1', response, durationMs: 3000, answeredAt: new Date().toISOString(), clientEventId });
    const res = await t.request('/api/progress', { method: 'POST', token: accessToken, body: JSON.stringify({ answers: [answer(5, 'r'), answer(4, 'w')] }) });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { results: { correct: boolean }[] }).results.map((r) => r.correct), [true, false]);
  });
});
