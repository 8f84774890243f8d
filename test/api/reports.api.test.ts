import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventObjectKey } from '../../src/analytics/lake-layout.ts';
import { createTestApp, type TestApp } from '../support/app-fixture.ts';
import { createTestDirBlobStore } from '../support/dir-blob-store.ts';
import { tempLakeDir, writeLakeEvents, type TestEvent } from '../support/lake-files.ts';
import { stacks } from '../support/servers.ts';

/**
 * Issue 12, point 5: `GET /admin/reports/{report}` over lake files with
 * known contents (written as the writer writes them), on both stacks (the
 * lake is files; the stacks differ in the app, token and cache side). Every
 * report's rows are checked against figures worked out by hand below; data
 * outside the range must not count; admins only, of their own app; bad
 * ranges are 400s naming the field; a second call within the cache window
 * answers the stored report.
 *
 * The lake of app alpha (learners l_a, l_b, l_c), queried for 2026-11-02..03:
 *
 *   11-01 (before the range; in the weekly window and in mastery's history)
 *     answer l_c adding ✓ mastery 0.2
 *   11-02
 *     answers l_a adding ✓ 0.5 (08:00), l_a adding ✗ 0.45 (09:00), l_b adding ✓ 0.85
 *     sessions s-1 (l_a, 600 s), s-2 (l_b, 1200 s)
 *     lesson_start les-1 by l_a and l_b; lesson_complete les-1 by l_a
 *     app_error E1 by l_b, fatal
 *   11-03
 *     answer l_b counting ✓ 0.95; session s-3 (l_b, 300 s)
 *     lesson_recorded les-1 by l_b; lesson_start les-2 by l_b; lesson_start les-1 by l_c
 *     app_error E1 by l_a (not fatal), E2 by l_a
 *   11-04 (after the range: must not count anywhere)
 *     answer l_a adding ✓ 0.99; session s-4 (l_c); lesson_start les-3 by l_c; app_error E2
 *
 * Expected: active learners 11-02 daily 2 (l_a, l_b), weekly 3 (+ l_c of 11-01); 11-03 daily 3, weekly 3.
 * Sessions 11-02: 2 sessions, 2 learners, 30 minutes; 11-03: 1, 1, 5. Accuracy 11-02 adding 2/3 =
 * 0.6667, 11-03 counting 1/1. Funnel les-1: started 3, completed 2 (l_a by lesson_complete, l_b by
 * lesson_recorded); les-2: 1, 0; totals 3, 2. Mastery (latest per learner and concept up to 11-03):
 * 0.2, 0.45, 0.85, 0.95 → buckets 2, 4, 8, 9; mastered (≥ 0.95) 1. Errors: E1 2 events, 2 learners,
 * 1 fatal; E2 1 event (the 11-04 one is outside).
 */

const ans = (at: string, learner: string, conceptId: string, correct: boolean, mastery: number): TestEvent => ({
  type: 'answer_recorded',
  at,
  learner,
  properties: { itemId: `${conceptId}-q1`, lessonId: 'les-1', conceptId, correct, durationMs: 2000, mastery },
});
const session = (day: string, learner: string, id: string, seconds: number): TestEvent[] => [
  { type: 'session_start', at: `${day}T07:00:00Z`, learner, sessionId: id, properties: { platform: 'ios', appVersion: '3.1.0' } },
  { type: 'session_end', at: `${day}T07:30:00Z`, learner, sessionId: id, properties: { durationSeconds: seconds } },
];
const ev = (type: TestEvent['type'], at: string, learner: string, properties: Record<string, unknown>): TestEvent => ({ type, at, learner, properties });

const ALPHA: TestEvent[] = [
  ans('2026-11-01T10:00:00Z', 'l_c', 'adding', true, 0.2),
  ans('2026-11-02T08:00:00Z', 'l_a', 'adding', true, 0.5),
  ans('2026-11-02T09:00:00Z', 'l_a', 'adding', false, 0.45),
  ans('2026-11-02T09:30:00Z', 'l_b', 'adding', true, 0.85),
  ...session('2026-11-02', 'l_a', 's-1', 600),
  ...session('2026-11-02', 'l_b', 's-2', 1200),
  ev('lesson_start', '2026-11-02T08:00:00Z', 'l_a', { lessonId: 'les-1' }),
  ev('lesson_start', '2026-11-02T09:00:00Z', 'l_b', { lessonId: 'les-1' }),
  ev('lesson_complete', '2026-11-02T08:20:00Z', 'l_a', { lessonId: 'les-1', durationSeconds: 1200 }),
  ev('app_error', '2026-11-02T09:40:00Z', 'l_b', { code: 'E1', fatal: true }),
  ans('2026-11-03T08:00:00Z', 'l_b', 'counting', true, 0.95),
  ...session('2026-11-03', 'l_b', 's-3', 300),
  ev('lesson_recorded', '2026-11-03T08:10:00Z', 'l_b', { lessonId: 'les-1', secondsSpent: 600 }),
  ev('lesson_start', '2026-11-03T08:20:00Z', 'l_b', { lessonId: 'les-2' }),
  ev('lesson_start', '2026-11-03T08:30:00Z', 'l_c', { lessonId: 'les-1' }),
  ev('app_error', '2026-11-03T09:00:00Z', 'l_a', { code: 'E1', fatal: false }),
  ev('app_error', '2026-11-03T09:10:00Z', 'l_a', { code: 'E2', fatal: false }),
  ans('2026-11-04T08:00:00Z', 'l_a', 'adding', true, 0.99),
  ...session('2026-11-04', 'l_c', 's-4', 900),
  ev('lesson_start', '2026-11-04T08:00:00Z', 'l_c', { lessonId: 'les-3' }),
  ev('app_error', '2026-11-04T09:10:00Z', 'l_a', { code: 'E2', fatal: true }),
];

const RANGE = '?from=2026-11-02&to=2026-11-03';

interface ReportJson {
  report: string;
  app: string;
  from: string;
  to: string;
  generatedAt: string;
  rows: Record<string, unknown>[];
  [extra: string]: unknown;
}
interface ErrorJson {
  error: { code: string; message: string; details?: { in: string; field: string }[] };
}

for (const stack of await stacks()) {
  describe(`reports API on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    const lake = tempLakeDir();
    const tokens = {} as Record<'admin' | 'guardian' | 'teacher' | 'child' | 'betaAdmin', string>;

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache, lakeStore: createTestDirBlobStore(lake.dir) });
      await t.container.apps.create('alpha', 'Alpha');
      await t.container.apps.create('beta', 'Beta');
      for (const role of ['admin', 'guardian', 'teacher', 'child'] as const) tokens[role] = await t.token('alpha', role);
      tokens.betaAdmin = await t.token('beta', 'admin');
      await writeLakeEvents(lake.dir, 'alpha', ALPHA);
      await writeLakeEvents(lake.dir, 'beta', [ans('2026-11-02T08:00:00Z', 'l_z', 'adding', true, 0.7), ev('lesson_start', '2026-11-02T08:00:00Z', 'l_z', { lessonId: 'les-9' })]);
      // A file that is not Parquet in alpha's 2030-01-01 partition (after every range below but the one that reads it): only a range that includes that day reads it.
      const bad = path.join(lake.dir, ...eventObjectKey('alpha', '2030-01-01', 1, 1).split('/'));
      mkdirSync(path.dirname(bad), { recursive: true });
      writeFileSync(bad, 'not parquet');
    });
    after(async () => {
      await t?.container.close();
      await dispose?.();
      lake.dispose();
    });

    const get = async (report: string, query = RANGE, token = tokens.admin) => {
      const res = await t.request(`/admin/reports/${report}${query}`, { token });
      return { res, body: (await res.json()) as ReportJson & ErrorJson };
    };
    const report = async (name: string, query = RANGE, token = tokens.admin): Promise<ReportJson> => {
      const { res, body } = await get(name, query, token);
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(body.report, name);
      assert.match(body.generatedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      return body;
    };

    it('active-learners: one row per day, daily and 7-day distinct learners', async () => {
      const body = await report('active-learners');
      assert.deepEqual([body.app, body.from, body.to], ['alpha', '2026-11-02', '2026-11-03']);
      assert.deepEqual(body.rows, [
        { day: '2026-11-02', daily: 2, weekly: 3 },
        { day: '2026-11-03', daily: 3, weekly: 3 },
      ]);
      // Days without events are rows of zeros (weekly still counts the days before).
      const quiet = await report('active-learners', '?from=2026-11-08&to=2026-11-11');
      assert.deepEqual(quiet.rows, [
        { day: '2026-11-08', daily: 0, weekly: 3 },
        { day: '2026-11-09', daily: 0, weekly: 3 },
        { day: '2026-11-10', daily: 0, weekly: 2 },
        { day: '2026-11-11', daily: 0, weekly: 0 },
      ]);
    });

    it('sessions: per day, minutes from session_end, per-learner figures', async () => {
      assert.deepEqual((await report('sessions')).rows, [
        { day: '2026-11-02', sessions: 2, learners: 2, minutes: 30, sessionsPerLearner: 1, minutesPerLearner: 15 },
        { day: '2026-11-03', sessions: 1, learners: 1, minutes: 5, sessionsPerLearner: 1, minutesPerLearner: 5 },
      ]);
    });

    it('accuracy: per day and concept from answer_recorded', async () => {
      assert.deepEqual((await report('accuracy')).rows, [
        { day: '2026-11-02', conceptId: 'adding', answers: 3, correct: 2, accuracy: 0.6667 },
        { day: '2026-11-03', conceptId: 'counting', answers: 1, correct: 1, accuracy: 1 },
      ]);
    });

    it('funnel: distinct learners who started, and of them who completed (lesson_complete or lesson_recorded)', async () => {
      const body = await report('funnel');
      assert.deepEqual(body.rows, [
        { lessonId: 'les-1', started: 3, completed: 2, completionRate: 0.6667 },
        { lessonId: 'les-2', started: 1, completed: 0, completionRate: 0 },
      ]);
      assert.deepEqual(body.totals, { started: 3, completed: 2, completionRate: 0.6667 });
    });

    it('mastery: ten buckets of each learner’s latest mastery per concept up to `to`', async () => {
      const body = await report('mastery');
      assert.deepEqual(
        body.rows.map((r) => r.count),
        [0, 0, 1, 0, 1, 0, 0, 0, 1, 1],
      );
      assert.deepEqual(body.rows[4], { from: 0.4, to: 0.5, count: 1 });
      assert.deepEqual([body.mastered, body.threshold], [1, 0.95]);
      // Up to 11-04, l_a's latest on adding is 0.99: bucket 4 empties into bucket 9.
      const later = await report('mastery', '?from=2026-11-04&to=2026-11-04');
      assert.deepEqual(later.rows.map((r) => r.count), [0, 0, 1, 0, 0, 0, 0, 0, 1, 2]);
      assert.equal(later.mastered, 2);
    });

    it('errors: codes by events with learners and fatal counts', async () => {
      assert.deepEqual((await report('errors')).rows, [
        { code: 'E1', events: 2, learners: 2, fatal: 1 },
        { code: 'E2', events: 1, learners: 1, fatal: 0 },
      ]);
    });

    it('a range counts only its days: one day alone, and a range with no data', async () => {
      assert.deepEqual((await report('accuracy', '?from=2026-11-04&to=2026-11-04')).rows, [{ day: '2026-11-04', conceptId: 'adding', answers: 1, correct: 1, accuracy: 1 }]);
      assert.deepEqual((await report('errors', '?from=2026-11-04&to=2026-11-04')).rows, [{ code: 'E2', events: 1, learners: 1, fatal: 1 }]);
      assert.deepEqual((await report('funnel', '?from=2026-11-20&to=2026-11-21')).rows, []);
      assert.deepEqual((await report('funnel', '?from=2026-11-20&to=2026-11-21')).totals, { started: 0, completed: 0, completionRate: 0 });
    });

    it('reads only the range’s partitions: a broken file on another day does not matter; in range it is a 503 lake_unavailable', async () => {
      // Every report above (mastery too, which reads all days up to `to`) ran with the broken 2030-01-01 file in alpha's lake.
      const { res, body } = await get('accuracy', '?from=2030-01-01&to=2030-01-02');
      assert.equal(res.status, 503);
      assert.equal(body.error.code, 'lake_unavailable');
      assert.equal(res.headers.get('retry-after'), '5');
      assert.doesNotMatch(JSON.stringify(body), /parquet|magic/i, 'no internals in a 5xx body');
    });

    it('an admin of another app gets that app’s report, never this one’s', async () => {
      const body = await report('accuracy', RANGE, tokens.betaAdmin);
      assert.equal(body.app, 'beta');
      assert.deepEqual(body.rows, [{ day: '2026-11-02', conceptId: 'adding', answers: 1, correct: 1, accuracy: 1 }]);
      assert.deepEqual((await report('funnel', RANGE, tokens.betaAdmin)).rows, [{ lessonId: 'les-9', started: 1, completed: 0, completionRate: 0 }]);
    });

    it('guardians, teachers and children are refused (403), anonymous callers 401', async () => {
      for (const role of ['guardian', 'teacher', 'child'] as const) {
        const { res, body } = await get('accuracy', RANGE, tokens[role]);
        assert.equal(res.status, 403, role);
        assert.equal(body.error.code, 'forbidden', role);
      }
      const anonymous = await t.request(`/admin/reports/accuracy${RANGE}`);
      assert.equal(anonymous.status, 401);
    });

    it('bad reports and ranges are 400s naming the field', async () => {
      const refused = async (report: string, query: string, field: string, where = 'query parameter') => {
        const { res, body } = await get(report, query);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(body.error.code, 'validation_failed');
        assert.ok(body.error.message.startsWith(`Invalid ${where} "${field}"`), body.error.message);
        assert.equal(body.error.details?.[0]?.field, field);
        return body.error.message;
      };
      assert.match(await refused('retention', RANGE, 'report', 'path parameter'), /active-learners/);
      assert.match(await refused('accuracy', '?from=2026-11-03&to=2026-11-02', 'from'), /on or before to/);
      assert.match(await refused('accuracy', '?from=2025-01-01&to=2026-11-02', 'from'), /at most 366/);
      await refused('accuracy', '?from=2026-02-30&to=2026-03-02', 'from');
      await refused('accuracy', '?from=2026-11-01&to=yesterday', 'to');
      await refused('accuracy', '?from=2026-11-1', 'from');
    });

    it('without a range: the last 30 days ending today (UTC)', async () => {
      const body = await report('active-learners', '');
      const today = new Date().toISOString().slice(0, 10);
      assert.equal(body.to, today);
      assert.equal(body.rows.length, 30);
      assert.equal(body.rows.at(-1)!.day, today);
      assert.equal(body.from, body.rows[0]!.day);
    });

    it('a second call within LAKE_REPORT_CACHE_SECONDS answers the stored report (new files are not seen); another range is computed', async () => {
      const query = '?from=2026-11-05&to=2026-11-06';
      const first = await t.request(`/admin/reports/accuracy${query}`, { token: tokens.admin });
      assert.equal(first.headers.get('x-cache'), 'MISS');
      const firstBody = await first.text();
      assert.deepEqual((JSON.parse(firstBody) as ReportJson).rows, []);
      const queriesBefore = t.container.lakeQuery().queries;
      await writeLakeEvents(lake.dir, 'alpha', [ans('2026-11-05T08:00:00Z', 'l_a', 'adding', false, 0.5)]);
      const second = await t.request(`/admin/reports/accuracy${query}`, { token: tokens.admin });
      assert.equal(second.headers.get('x-cache'), 'HIT');
      assert.equal(await second.text(), firstBody);
      assert.equal(t.container.lakeQuery().queries, queriesBefore, 'the lake was not queried again');
      const wider = await report('accuracy', '?from=2026-11-05&to=2026-11-07');
      assert.deepEqual(wider.rows, [{ day: '2026-11-05', conceptId: 'adding', answers: 1, correct: 0, accuracy: 0 }]);
    });

    it('is in the OpenAPI document with the report names', async () => {
      const doc = (await (await t.request('/openapi.json')).json()) as { paths: Record<string, { get?: { parameters?: { name: string; schema: { enum?: string[] } }[] } }> };
      const op = doc.paths['/admin/reports/{report}']?.get;
      assert.ok(op);
      assert.deepEqual(op.parameters?.find((p) => p.name === 'report')?.schema.enum, ['active-learners', 'sessions', 'accuracy', 'funnel', 'mastery', 'errors']);
      assert.deepEqual(op.parameters?.filter((p) => p.name !== 'report').map((p) => p.name).sort(), ['from', 'to']);
    });
  });
}
