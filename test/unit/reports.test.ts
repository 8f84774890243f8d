import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cache } from '../../src/adapters/cache/cache.ts';
import type { LakeQueryOptions, LakeQueryResult } from '../../src/analytics/lake-query.ts';
import {
  addDays,
  daysInRange,
  eachDay,
  fillDays,
  isValidDay,
  masteryBuckets,
  partitionFilter,
  ratio,
  reportPlan,
  resolveReportRange,
  round4,
  runReport,
  sessionRow,
  toNumber,
} from '../../src/analytics/reports.ts';
import { authorize, decide } from '../../src/domain/access-policy.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { ReportsService } from '../../src/features/reports/reports.service.ts';

/** The pure parts of the lake's reports: days, ranges, numbers, buckets, and the service's cache. */

describe('report days and ranges', () => {
  it('knows real calendar days', () => {
    assert.equal(isValidDay('2026-02-28'), true);
    assert.equal(isValidDay('2028-02-29'), true);
    for (const bad of ['2026-02-29', '2026-13-01', '2026-1-01', '2026-01-01T00:00:00Z', '', 'today', '2026-04-31']) assert.equal(isValidDay(bad), false, bad);
  });

  it('adds and counts days across months and years', () => {
    assert.equal(addDays('2026-12-30', 3), '2027-01-02');
    assert.equal(addDays('2026-03-01', -1), '2026-02-28');
    assert.equal(daysInRange('2026-11-01', '2026-11-01'), 1);
    assert.equal(daysInRange('2026-01-01', '2026-12-31'), 365);
    assert.deepEqual(eachDay('2026-12-30', '2027-01-01'), ['2026-12-30', '2026-12-31', '2027-01-01']);
  });

  it('defaults to the last 30 days ending today; `to` alone ends the range, `from` alone runs to today', () => {
    assert.deepEqual(resolveReportRange({}, '2026-12-04'), { from: '2026-11-05', to: '2026-12-04' });
    assert.deepEqual(resolveReportRange({ to: '2026-11-30' }, '2026-12-04'), { from: '2026-11-01', to: '2026-11-30' });
    assert.deepEqual(resolveReportRange({ from: '2026-12-01' }, '2026-12-04'), { from: '2026-12-01', to: '2026-12-04' });
    assert.deepEqual(resolveReportRange({ from: '2025-12-04', to: '2026-12-04' }, '2026-12-04'), { from: '2025-12-04', to: '2026-12-04' }, '366 days are allowed');
  });

  it('refuses from after to, more than 366 days and impossible days, naming the field', () => {
    const refusal = (query: { from?: string; to?: string }, field: string, pattern: RegExp) =>
      assert.throws(
        () => resolveReportRange(query, '2026-12-04'),
        (e: unknown) =>
          e instanceof AppError &&
          e.kind === 'invalid' &&
          e.code === 'validation_failed' &&
          e.message.startsWith(`Invalid query parameter "${field}"`) &&
          pattern.test(e.message) &&
          JSON.stringify(e.details) === JSON.stringify([{ in: 'query', field, message: e.message.replace(`Invalid query parameter "${field}": `, '') }]),
      );
    refusal({ from: '2026-11-02', to: '2026-11-01' }, 'from', /on or before to \(2026-11-01\)/);
    refusal({ from: '2025-12-03', to: '2026-12-04' }, 'from', /spans 367 days; at most 366/);
    refusal({ from: '2026-12-05' }, 'from', /on or before to/);
    refusal({ to: '2026-02-30' }, 'to', /calendar day/);
  });
});

describe('report numbers', () => {
  it('turns DuckDB counts into numbers, refusing ones a JSON number cannot hold', () => {
    assert.equal(toNumber(42n), 42);
    assert.equal(toNumber(null), 0);
    assert.equal(toNumber(2.5), 2.5);
    assert.equal(toNumber(BigInt(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
    assert.throws(() => toNumber(BigInt(Number.MAX_SAFE_INTEGER) + 1n), RangeError);
    assert.throws(() => toNumber('7'), TypeError);
  });

  it('rounds rates to 4 decimals and answers 0 for an empty denominator', () => {
    assert.equal(ratio(2, 3), 0.6667);
    assert.equal(ratio(1, 3), 0.3333);
    assert.equal(ratio(5, 0), 0);
    assert.equal(round4(1.23456), 1.2346);
  });

  it('sessions rows: minutes from milliseconds, per-learner figures', () => {
    assert.deepEqual(sessionRow({ day: '2026-11-02', sessions: 3n, learners: 2n, duration_ms: 3_700_000n }), {
      day: '2026-11-02',
      sessions: 3,
      learners: 2,
      minutes: 61.6667,
      sessionsPerLearner: 1.5,
      minutesPerLearner: 30.8333,
    });
    assert.deepEqual(sessionRow({ day: '2026-11-03', sessions: 1n, learners: 0n, duration_ms: null }), {
      day: '2026-11-03',
      sessions: 1,
      learners: 0,
      minutes: 0,
      sessionsPerLearner: 0,
      minutesPerLearner: 0,
    });
  });

  it('fills every day of the range, keeping rows it has', () => {
    const filled = fillDays('2026-11-01', '2026-11-03', [{ day: '2026-11-02', daily: 2, weekly: 3 }], (day) => ({ day, daily: 0, weekly: 0 }));
    assert.deepEqual(filled, [
      { day: '2026-11-01', daily: 0, weekly: 0 },
      { day: '2026-11-02', daily: 2, weekly: 3 },
      { day: '2026-11-03', daily: 0, weekly: 0 },
    ]);
  });

  it('ten mastery buckets with exact bounds, empty ones included', () => {
    const buckets = masteryBuckets([
      { bucket: 0, n: 2 },
      { bucket: 9, n: 1 },
      { bucket: 3, n: 4 },
    ]);
    assert.equal(buckets.length, 10);
    assert.deepEqual(buckets[0], { from: 0, to: 0.1, count: 2 });
    assert.deepEqual(buckets[3], { from: 0.3, to: 0.4, count: 4 });
    assert.deepEqual(buckets[9], { from: 0.9, to: 1, count: 1 });
    assert.equal(buckets.reduce((s, b) => s + b.count, 0), 7);
  });
});

describe('report SQL', () => {
  it('filters on the partition columns of the app and range, and lists only those days', () => {
    assert.equal(partitionFilter('alpha', '2026-11-01', '2026-11-07'), "app = 'alpha' AND (year, month, day) >= (2026, 11, 1) AND (year, month, day) <= (2026, 11, 7)");
    assert.equal(partitionFilter('alpha', undefined, '2026-11-07'), "app = 'alpha' AND (year, month, day) <= (2026, 11, 7)");
    const range = { app: 'alpha', from: '2026-11-08', to: '2026-11-14' };
    for (const name of ['sessions', 'accuracy', 'funnel', 'errors'] as const) {
      const plan = reportPlan(name, range, 0.8);
      assert.deepEqual(plan.scope, { app: 'alpha', fromDay: '2026-11-08', toDay: '2026-11-14' }, name);
      assert.ok(plan.sql.includes(partitionFilter('alpha', '2026-11-08', '2026-11-14')), name);
    }
    // Weekly counts need the six days before; mastery is the state at `to`, from all earlier answers.
    assert.deepEqual(reportPlan('active-learners', range, 0.8).scope, { app: 'alpha', fromDay: '2026-11-02', toDay: '2026-11-14' });
    assert.deepEqual(reportPlan('mastery', range, 0.8).scope, { app: 'alpha', toDay: '2026-11-14' });
    // The hot reports read typed columns only; the errors report reads the JSON of app_error rows.
    for (const name of ['active-learners', 'sessions', 'accuracy', 'funnel', 'mastery'] as const) assert.doesNotMatch(reportPlan(name, range, 0.8).sql, /properties/, name);
  });
});

/** A Cache over a Map with a clock the test moves. */
function clockedCache(now: () => number): Cache {
  const entries = new Map<string, { value: string; until: number }>();
  return {
    kind: 'memory',
    async get(key) {
      const e = entries.get(key);
      return e && e.until > now() ? e.value : undefined;
    },
    async set(key, value, ttl) {
      entries.set(key, { value, until: now() + ttl * 1000 });
    },
    async add() {
      return false;
    },
    async delete(...keys) {
      for (const k of keys) entries.delete(k);
    },
    async ping() {},
    onReady: () => () => {},
    async close() {},
  };
}

describe('reports service', () => {
  const setup = (cacheSeconds: number) => {
    let clock = Date.parse('2026-12-04T12:00:00Z');
    let answers = 3n;
    const queries: { sql: string; options?: LakeQueryOptions }[] = [];
    const engine = {
      async query(sql: string, options?: LakeQueryOptions): Promise<LakeQueryResult> {
        queries.push({ sql, options });
        return {
          columns: ['day', 'concept_id', 'answers', 'correct'].map((name) => ({ name, type: 'X' })),
          rows: [['2026-12-01', 'adding', answers, 2n]],
          truncated: false,
          files: 1,
        };
      },
    };
    const service = new ReportsService({ engine: () => engine, cache: clockedCache(() => clock), cacheSeconds, masteryThreshold: 0.8, timeoutMs: 1234, now: () => new Date(clock) });
    return { service, queries, advance: (ms: number) => (clock += ms), setAnswers: (n: bigint) => (answers = n) };
  };

  it('serves a report from the cache within the window, keyed by app, report and range; recomputes after it', async () => {
    const { service, queries, advance, setAnswers } = setup(60);
    const first = await service.report('alpha', 'accuracy', {});
    assert.equal(first.cache, 'MISS');
    const body = JSON.parse(first.json) as Record<string, unknown>;
    assert.deepEqual(body, {
      report: 'accuracy',
      app: 'alpha',
      from: '2026-11-05',
      to: '2026-12-04',
      generatedAt: '2026-12-04T12:00:00.000Z',
      rows: [{ day: '2026-12-01', conceptId: 'adding', answers: 3, correct: 2, accuracy: 0.6667 }],
    });
    assert.equal(queries.length, 1);
    assert.equal(queries[0]!.options?.timeoutMs, 1234);
    setAnswers(4n);
    advance(59_000);
    const second = await service.report('alpha', 'accuracy', {});
    assert.deepEqual([second.cache, second.json, queries.length], ['HIT', first.json, 1]);
    // Another app, report or range is another entry.
    await service.report('beta', 'accuracy', {});
    await service.report('alpha', 'accuracy', { from: '2026-12-01' });
    assert.equal(queries.length, 3);
    advance(2_000);
    const third = await service.report('alpha', 'accuracy', {});
    assert.equal(third.cache, 'MISS');
    assert.equal(queries.length, 4);
    assert.deepEqual((JSON.parse(third.json) as { rows: unknown[] }).rows, [{ day: '2026-12-01', conceptId: 'adding', answers: 4, correct: 2, accuracy: 0.5 }]);
  });

  it('with LAKE_REPORT_CACHE_SECONDS=0 computes every time', async () => {
    const { service, queries } = setup(0);
    await service.report('alpha', 'accuracy', {});
    const again = await service.report('alpha', 'accuracy', {});
    assert.equal(again.cache, 'MISS');
    assert.equal(queries.length, 2);
  });

  it('runReport shapes a funnel with totals from one query', async () => {
    const engine = {
      async query(): Promise<LakeQueryResult> {
        return {
          columns: ['lesson_id', 'started', 'completed'].map((name) => ({ name, type: 'X' })),
          rows: [
            [null, 3n, 2n],
            ['les-1', 3n, 2n],
            ['les-2', 1n, 0n],
          ],
          truncated: false,
          files: 2,
        };
      },
    };
    const body = await runReport(engine, 'funnel', { app: 'alpha', from: '2026-11-01', to: '2026-11-02' }, { masteryThreshold: 0.8, now: () => new Date('2026-12-04T00:00:00Z') });
    assert.deepEqual(body, {
      report: 'funnel',
      app: 'alpha',
      from: '2026-11-01',
      to: '2026-11-02',
      generatedAt: '2026-12-04T00:00:00.000Z',
      rows: [
        { lessonId: 'les-1', started: 3, completed: 2, completionRate: 0.6667 },
        { lessonId: 'les-2', started: 1, completed: 0, completionRate: 0 },
      ],
      totals: { started: 3, completed: 2, completionRate: 0.6667 },
    });
  });
});

describe('lake.reports.read', () => {
  it('is for admins only: guardians, teachers and children are forbidden', () => {
    const who = (role: Principal['role']): Principal => ({ sub: `${role}-1`, app: 'alpha', role, exp: 0 });
    assert.equal(decide(who('admin'), 'lake.reports.read'), 'allow');
    for (const role of ['guardian', 'teacher', 'child'] as const) {
      assert.equal(decide(who(role), 'lake.reports.read'), 'forbidden', role);
      assert.throws(() => authorize(who(role), 'lake.reports.read'), (e: unknown) => e instanceof AppError && e.code === 'forbidden');
    }
  });
});
