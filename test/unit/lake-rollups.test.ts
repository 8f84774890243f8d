import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openLakeDuckDB } from '../../src/analytics/duckdb.ts';
import { compactPartition } from '../../src/analytics/compaction.ts';
import { eraseLearnersFromLake } from '../../src/analytics/lake-erasure.ts';
import { liveEventFiles } from '../../src/analytics/lake-files.ts';
import { eventObjectKey, lakeRow, utcDay, type LakeRow } from '../../src/analytics/lake-layout.ts';
import { LakeQueryEngine, rowObjects, type LakeQueryOptions } from '../../src/analytics/lake-query.ts';
import { buildRollups, dayFingerprints, LAKE_ROLLUPS_PREFIX, parseRollupKey, planRollupRead, ROLLUP_KINDS, rollupFingerprint } from '../../src/analytics/lake-rollups.ts';
import { openParquetEncoder, type ParquetEncoder } from '../../src/analytics/parquet-writer.ts';
import { addDays, partitionFilter, REPORT_NAMES, reportPlan, runReport, type ReportBody, type ReportName } from '../../src/analytics/reports.ts';
import type { EventType } from '../../src/domain/analytics/event-types.ts';
import { createTestDirBlobStore } from '../support/dir-blob-store.ts';
import { lakeEvent, tempLakeDir } from '../support/lake-files.ts';
import { seededRandom } from '../../src/domain/seeded-random.ts';

/**
 * Reports over daily rollups give exactly what the raw events give: every
 * report computed both ways over the same seeded lake, on ranges that cover
 * rolled-up days, days without rollups, partial weeks and days outside the
 * lake, before and after a late event lands in a rolled-up day, a
 * compaction, and an erasure (after which no rollup holds the learner).
 */


const LEARNERS = Array.from({ length: 9 }, (_, i) => `l_${String(i).padStart(4, '0')}learnerkey0000000x`);
const FIRST_DAY = '2026-10-28';
const DAYS = 16; // to 2026-11-12, across a month end
const dayOf = (i: number) => new Date(Date.parse(`${FIRST_DAY}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10);

let seq = 0n;

/** One random event of `app` on `day` (ties in time on purpose: minutes only). */
function randomEvent(app: string, day: string, rnd: () => number, learners: readonly string[] = LEARNERS): LakeRow {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const at = new Date(Date.parse(`${day}T00:00:00Z`) + Math.floor(rnd() * 1440) * 60_000);
  const learner = rnd() < 0.06 ? null : pick(learners);
  const t = rnd();
  let type: EventType;
  let properties: Record<string, unknown>;
  let sessionId: string | null = null;
  if (t < 0.4) {
    type = 'answer_recorded';
    properties = {
      itemId: 'i-1',
      lessonId: pick(['les-1', 'les-2']),
      ...(rnd() < 0.05 ? {} : { conceptId: pick(['adding', 'counting', 'shapes', 'time']) }),
      correct: rnd() < 0.7,
      durationMs: 1000,
      ...(rnd() < 0.1 ? {} : { mastery: Math.round(rnd() * 1000) / 1000 }),
    };
  } else if (t < 0.5) {
    type = 'lesson_start';
    properties = rnd() < 0.05 ? {} : { lessonId: pick(['les-1', 'les-2', 'les-3', 'les-4']) };
  } else if (t < 0.57) {
    type = pick(['lesson_complete', 'lesson_recorded'] as const);
    properties = { lessonId: pick(['les-1', 'les-2', 'les-3', 'les-4']), durationSeconds: 300 };
  } else if (t < 0.67) {
    type = 'session_start';
    sessionId = rnd() < 0.2 ? null : pick(['s-1', 's-2', 's-3', 's-4', 's-5', 's-6']);
    properties = { platform: 'ios' };
  } else if (t < 0.75) {
    type = 'session_end';
    sessionId = pick(['s-1', 's-2', 's-3']);
    properties = rnd() < 0.15 ? {} : { durationSeconds: Math.floor(rnd() * 3000) };
  } else if (t < 0.85) {
    type = 'app_error';
    properties = { ...(rnd() < 0.1 ? {} : { code: pick(['net.timeout', 'audio.failed', 'storage.full']) }), fatal: rnd() < 0.3 };
  } else {
    type = 'screen_view';
    properties = { screen: 'home' };
  }
  return lakeRow(++seq, { ...lakeEvent(app, { type, at, learner, sessionId, properties }) });
}

/** Writes rows (one app, one day) as the writer would: files named by their sequence range. */
async function putFile(store: ReturnType<typeof createTestDirBlobStore>, encoder: ParquetEncoder, dir: string, app: string, rows: LakeRow[]): Promise<string> {
  const key = eventObjectKey(app, utcDay(rows[0]!.occurred_at), rows[0]!.seq, rows.at(-1)!.seq);
  const file = path.join(dir, `tmp-${rows[0]!.seq}.parquet`);
  await encoder.write(rows, file);
  await store.putFile(key, file);
  return key;
}

/**
 * The oracle: each report's SQL as it was before rollups existed (one
 * statement over the raw events, commit deac36e), so the rewritten SQL is
 * checked against the old meaning, not only against itself.
 */
function oracleSql(name: ReportName, app: string, from: string, to: string, threshold: number): string {
  const where = partitionFilter(app, from, to);
  const ISO_DAY = `strftime(make_date(year, month, day), '%Y-%m-%d')`;
  switch (name) {
    case 'active-learners':
      return `WITH d AS (
            SELECT DISTINCT make_date(year, month, day) AS day, learner FROM events
            WHERE ${partitionFilter(app, addDays(from, -6), to)} AND learner IS NOT NULL),
          days AS (SELECT CAST(unnest(generate_series(DATE '${from}', DATE '${to}', INTERVAL 1 DAY)) AS DATE) AS day)
          SELECT strftime(days.day, '%Y-%m-%d') AS day,
            count(DISTINCT d.learner) FILTER (WHERE d.day = days.day) AS daily,
            count(DISTINCT d.learner) AS weekly
          FROM days LEFT JOIN d ON d.day BETWEEN days.day - 6 AND days.day
          GROUP BY days.day ORDER BY days.day`;
    case 'sessions':
      return `SELECT ${ISO_DAY} AS day,
            count(DISTINCT coalesce(session_id, event_id)) FILTER (WHERE type = 'session_start') AS sessions,
            count(DISTINCT learner) FILTER (WHERE type = 'session_start') AS learners,
            sum(duration_ms) FILTER (WHERE type = 'session_end') AS duration_ms
          FROM events WHERE ${where} AND type IN ('session_start', 'session_end')
          GROUP BY ALL ORDER BY day`;
    case 'accuracy':
      return `SELECT ${ISO_DAY} AS day, concept_id, count(*) AS answers, count(*) FILTER (WHERE correct) AS correct
          FROM events WHERE ${where} AND type = 'answer_recorded' AND concept_id IS NOT NULL
          GROUP BY ALL ORDER BY day, concept_id`;
    case 'funnel':
      return `WITH started AS (
            SELECT DISTINCT lesson_id, learner FROM events
            WHERE ${where} AND type = 'lesson_start' AND lesson_id IS NOT NULL AND learner IS NOT NULL),
          completed AS (
            SELECT DISTINCT lesson_id, learner FROM events
            WHERE ${where} AND type IN ('lesson_complete', 'lesson_recorded') AND lesson_id IS NOT NULL AND learner IS NOT NULL),
          pairs AS (
            SELECT s.lesson_id, s.learner, c.learner AS completer FROM started s
            LEFT JOIN completed c ON c.lesson_id = s.lesson_id AND c.learner = s.learner)
          SELECT lesson_id, count(*) AS started, count(completer) AS completed FROM pairs GROUP BY lesson_id
          UNION ALL
          SELECT NULL, count(DISTINCT learner), count(DISTINCT completer) FROM pairs
          ORDER BY started DESC, lesson_id NULLS FIRST`;
    case 'mastery':
      return `WITH latest AS (
            SELECT learner, concept_id, arg_max(mastery, (occurred_at, seq)) AS mastery FROM events
            WHERE ${partitionFilter(app, undefined, to)} AND type = 'answer_recorded'
              AND learner IS NOT NULL AND concept_id IS NOT NULL AND mastery IS NOT NULL
            GROUP BY learner, concept_id)
          SELECT least(CAST(floor(mastery * 10) AS INTEGER), 9) AS bucket, count(*) AS n,
            count(*) FILTER (WHERE mastery >= ${threshold}) AS mastered
          FROM latest GROUP BY bucket ORDER BY bucket`;
    case 'errors':
      return `SELECT properties->>'$.code' AS code, count(*) AS events, count(DISTINCT learner) AS learners,
            count(*) FILTER (WHERE TRY_CAST(properties->>'$.fatal' AS BOOLEAN)) AS fatal
          FROM events WHERE ${where} AND type = 'app_error'
          GROUP BY ALL ORDER BY events DESC, code LIMIT 20`;
  }
}

describe('reports over daily rollups', () => {
  const lake = tempLakeDir();
  const store = createTestDirBlobStore(lake.dir);
  const remote = createTestDirBlobStore(lake.dir, { as: 's3' });
  const cache = tempLakeDir('kidslearn-rollup-cache-');
  const cacheDir = cache.dir;
  let engine: LakeQueryEngine;
  let s3Engine: LakeQueryEngine;
  let encoder: ParquetEncoder;
  let duck: DuckDBConnection;
  let closeDuck: () => void;
  /** Rollup files the last rollup-reading query covered. */
  const used: number[] = [];
  const spy = (e: LakeQueryEngine) => ({
    query: async (sql: string, options?: LakeQueryOptions) => {
      const r = await e.query(sql, options);
      if (options?.rollup && !options.rawOnly) used.push(r.rollupFiles ?? 0);
      return r;
    },
  });

  const RANGES = [
    { from: FIRST_DAY, to: dayOf(DAYS - 1) }, // the whole lake
    { from: '2026-10-30', to: '2026-11-05' }, // a week across the month end
    { from: '2026-11-03', to: '2026-11-03' }, // one day
    { from: '2026-11-06', to: '2026-11-20' }, // partly rolled up, partly raw, partly after the lake
    { from: '2026-10-20', to: '2026-10-31' }, // from before the lake
  ];

  /** Every report on every range, with rollups and from the raw events only; they must be equal. Returns the bodies. */
  const compareAll = async (label: string, e: LakeQueryEngine = engine): Promise<Map<string, ReportBody>> => {
    const out = new Map<string, ReportBody>();
    for (const range of RANGES) {
      for (const report of REPORT_NAMES) {
        const options = { masteryThreshold: 0.8, now: () => new Date(0) };
        const withRollups = await runReport(spy(e), report, { app: 'alpha', ...range }, options);
        const raw = await runReport(e, report, { app: 'alpha', ...range }, { ...options, rollups: false });
        assert.deepEqual(withRollups, raw, `${label}: ${report} ${range.from}..${range.to}`);
        const plan = reportPlan(report, { app: 'alpha', ...range }, options.masteryThreshold);
        const oracle = plan.finish(rowObjects(await e.query(oracleSql(report, 'alpha', range.from, range.to, options.masteryThreshold), { scope: plan.scope, maxRows: 200_000 })));
        assert.deepEqual(raw.rows, oracle.rows, `${label}: ${report} ${range.from}..${range.to} (oracle)`);
        if (oracle.extras) for (const [k, v] of Object.entries(oracle.extras)) assert.deepEqual(raw[k], v, `${label}: ${report} ${k} (oracle)`);
        out.set(`${report} ${range.from}..${range.to}`, raw);
      }
    }
    return out;
  };

  const rollupKeys = async () => (await store.list(LAKE_ROLLUPS_PREFIX)).map((b) => b.key);

  /** Rows of every rollup file holding `learner`. */
  const rollupRowsOf = async (learner: string): Promise<number> => {
    const files = (await store.list(LAKE_ROLLUPS_PREFIX)).map((b) => path.join(lake.dir, b.key));
    if (!files.length) return 0;
    const withKey = files.filter((f) => /\/(learners|funnel|mastery|errors)-/.test(f));
    const r = await duck.runAndReadAll(`select count(*) from read_parquet([${withKey.map((f) => `'${f}'`).join(', ')}], union_by_name = true, hive_partitioning = false) where learner = '${learner}'`);
    return Number(r.getRows()[0]![0]);
  };

  before(async () => {
    encoder = await openParquetEncoder();
    const instance = await openLakeDuckDB();
    duck = await instance.connect();
    closeDuck = () => {
      duck.closeSync();
      instance.closeSync();
    };
    const rnd = seededRandom(20261204);
    for (let d = 0; d < DAYS; d++) {
      const day = dayOf(d);
      // Some learners are away some days (so weekly and daily counts differ), one file to three per day.
      const present = LEARNERS.filter(() => rnd() < 0.7);
      const rows = Array.from({ length: 60 + Math.floor(rnd() * 40) }, () => randomEvent('alpha', day, rnd, present.length ? present : LEARNERS));
      const parts = 1 + Math.floor(rnd() * 3);
      const size = Math.ceil(rows.length / parts);
      for (let p = 0; p < parts; p++) await putFile(store, encoder, lake.dir, 'alpha', rows.slice(p * size, (p + 1) * size));
      // Another app on the same days: never in alpha's figures.
      await putFile(store, encoder, lake.dir, 'beta', Array.from({ length: 20 }, () => randomEvent('beta', day, rnd)));
    }
    engine = new LakeQueryEngine({ store, cacheDir: path.join(cacheDir, 'unused'), timeoutMs: 60_000 });
    s3Engine = new LakeQueryEngine({ store: remote, cacheDir, timeoutMs: 60_000 });
  });
  after(async () => {
    await engine?.close();
    await s3Engine?.close();
    await encoder?.close();
    closeDuck?.();
    lake.dispose();
    cache.dispose();
  });

  it('without rollups both paths read the events; with rollups built through a day, the same figures', { timeout: 240_000 }, async () => {
    const raw = await compareAll('no rollups');
    assert.deepEqual(await rollupKeys(), []);
    // Sanity: the lake has what the reports count.
    const whole = raw.get(`active-learners ${FIRST_DAY}..${dayOf(DAYS - 1)}`)!.rows as { daily: number; weekly: number }[];
    assert.ok(whole.some((r) => r.weekly > r.daily), 'weekly counts differ from daily ones');
    assert.ok((raw.get(`mastery ${FIRST_DAY}..${dayOf(DAYS - 1)}`)!.rows as { count: number }[]).some((b) => b.count > 0));

    const built = await buildRollups(store, 'alpha', { throughDay: '2026-11-09' });
    assert.deepEqual(built, { app: 'alpha', written: 13 * ROLLUP_KINDS.length, upToDate: 0, deleted: 0 });
    assert.ok((await rollupKeys()).every((k) => parseRollupKey(k)?.app === 'alpha' && parseRollupKey(k)!.day <= '2026-11-09'));
    used.length = 0;
    const rolled = await compareAll('rolled up through 11-09');
    assert.deepEqual(rolled, raw, 'rollups change no figure');
    assert.ok(used.filter((n) => n > 0).length >= 20, `the reports read rollups (${used.join(',')})`);
    // The same through the S3 path (rollups copied into the query cache).
    await compareAll('rolled up, S3 path', s3Engine);
    // Idempotent.
    assert.deepEqual(await buildRollups(store, 'alpha', { throughDay: '2026-11-09' }), { app: 'alpha', written: 0, upToDate: 13, deleted: 0 });
  });

  it('a late event in a rolled-up day is counted at once (that day is read raw) and the next build replaces the stale rollups', { timeout: 240_000 }, async () => {
    const before = await compareAll('before the late events');
    const rnd = seededRandom(7);
    // A late batch for 11-02: a learner never seen before, plus answers that change some pairs' latest mastery.
    const newcomer = 'l_9999latecomer000000000'.slice(0, 24);
    const late = [
      ...Array.from({ length: 30 }, () => randomEvent('alpha', '2026-11-02', rnd, [newcomer])),
      ...Array.from({ length: 30 }, () => randomEvent('alpha', '2026-11-02', rnd)),
    ].sort((a, b) => Number(a.seq - b.seq));
    await putFile(store, encoder, lake.dir, 'alpha', late);
    const withLate = await compareAll('late events, stale rollups');
    assert.notDeepEqual(withLate.get('active-learners 2026-10-30..2026-11-05'), before.get('active-learners 2026-10-30..2026-11-05'), 'the late events count');
    assert.notDeepEqual(withLate.get(`mastery ${FIRST_DAY}..${dayOf(DAYS - 1)}`), before.get(`mastery ${FIRST_DAY}..${dayOf(DAYS - 1)}`));

    const rebuilt = await buildRollups(store, 'alpha', { throughDay: '2026-11-09' });
    // 11-02's six rollups, then the cumulative mastery of every later day up to 11-09; the stale ones deleted.
    assert.deepEqual(rebuilt, { app: 'alpha', written: ROLLUP_KINDS.length + 7, upToDate: 5, deleted: ROLLUP_KINDS.length + 7 });
    used.length = 0;
    assert.deepEqual(await compareAll('late events, rebuilt'), withLate);
    assert.ok(used.every((n) => n > 0));
  });

  it('compaction keeps every figure, before and after the rollups are rebuilt', { timeout: 240_000 }, async () => {
    const before = await compareAll('before compaction');
    const files = await liveEventFiles(store, { app: 'alpha', fromDay: '2026-11-02', toDay: '2026-11-02' });
    assert.ok(files.length >= 2);
    const result = await compactPartition(store, encoder, { app: 'alpha', day: '2026-11-02', claimed: [] });
    assert.ok(result);
    assert.deepEqual(await compareAll('compacted'), before);
    const rebuilt = await buildRollups(store, 'alpha', { throughDay: '2026-11-09' });
    assert.ok(rebuilt.written >= ROLLUP_KINDS.length);
    assert.deepEqual(await compareAll('compacted, rebuilt'), before);
  });

  it('erasure removes the learner from every rollup (and from the S3 query cache), and the figures still equal the raw ones', { timeout: 240_000 }, async () => {
    const learner = LEARNERS[2]!;
    await compareAll('before erasure', s3Engine); // fills the S3 query cache with rollups holding her
    assert.ok((await rollupRowsOf(learner)) > 0);
    // A build that reads files still holding her, with her erasure recorded: no rollup row of hers.
    await store.delete(await rollupKeys());
    await buildRollups(store, 'alpha', { throughDay: '2026-11-09', erasedLearners: async () => [learner] });
    assert.equal(await rollupRowsOf(learner), 0);
    await store.delete(await rollupKeys());
    await buildRollups(store, 'alpha', { throughDay: '2026-11-09' });
    assert.ok((await rollupRowsOf(learner)) > 0);
    const daysOfHers = new Set(
      (await duck.runAndReadAll(`select distinct strftime(occurred_at, '%Y-%m-%d') from read_parquet('${lake.dir}/events/app=alpha/**/*.parquet', hive_partitioning = false) where learner = '${learner}'`))
        .getRows()
        .map((r) => String(r[0])),
    );

    const erased = await eraseLearnersFromLake(store, 'alpha', [learner]);
    assert.ok(erased.rowsRemoved > 0);
    // The whole lake of the app, events and rollups: nothing of hers (keys are per app; beta's test rows reuse them).
    const everything = (await store.list('')).filter((b) => b.key.endsWith('.parquet') && b.key.includes('/app=alpha/')).map((b) => path.join(lake.dir, b.key));
    const left = await duck.runAndReadAll(`select count(*) from read_parquet([${everything.map((f) => `'${f}'`).join(', ')}], union_by_name = true, hive_partitioning = false) where learner = '${learner}'`);
    assert.equal(Number(left.getRows()[0]![0]), 0);
    // Aggregated rollups (no learner column) are gone for her days, kept for the others.
    const aggregated = (await rollupKeys()).map((k) => parseRollupKey(k)!).filter((k) => k.kind === 'sessions' || k.kind === 'accuracy');
    const herRolledDays = [...daysOfHers].filter((d) => d <= '2026-11-09').length;
    assert.ok(herRolledDays > 0 && herRolledDays < 13);
    assert.ok(aggregated.every((k) => !daysOfHers.has(k.day)));
    assert.equal(aggregated.length, 2 * (13 - herRolledDays));

    used.length = 0;
    await compareAll('erased, not rebuilt');
    await compareAll('erased, not rebuilt, S3 path', s3Engine);
    // No cached copy of a file that held her is left in the S3 query cache.
    const cached = (readdirSync(cacheDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).map((f) => path.join(cacheDir, f));
    const inCache = await duck.runAndReadAll(`select count(*) from read_parquet([${cached.map((f) => `'${f}'`).join(', ')}], union_by_name = true, hive_partitioning = false) where learner = '${learner}'`);
    assert.equal(Number(inCache.getRows()[0]![0]), 0);

    await buildRollups(store, 'alpha', { throughDay: '2026-11-09', erasedLearners: async () => [learner] });
    await compareAll('erased, rebuilt');
    assert.equal(await rollupRowsOf(learner), 0);
  });

  it('builds over a remote store too (each day\'s files fetched from it), with the same figures', { timeout: 240_000 }, async () => {
    await store.delete(await rollupKeys());
    remote.gets.length = 0;
    const built = await buildRollups(remote, 'alpha', { throughDay: '2026-11-09' });
    assert.equal(built.written, 13 * ROLLUP_KINDS.length);
    assert.ok(remote.gets.some((k) => k.startsWith('events/app=alpha/year=2026/month=10/')));
    assert.ok(remote.gets.every((k) => k.includes('/app=alpha/')));
    used.length = 0;
    await compareAll('built over S3', s3Engine);
    assert.ok(used.some((n) => n > 0));
  });

  it('fingerprints: a rollup counts only for the exact files it was built from, and mastery only for an unbroken chain', () => {
    const f = (key: string) => ({ key, size: 1, modifiedAt: new Date(0) });
    const a = eventObjectKey('alpha', '2026-11-01', 1, 5);
    const b = eventObjectKey('alpha', '2026-11-02', 6, 9);
    const c = eventObjectKey('alpha', '2026-11-02', 10, 12);
    const days = dayFingerprints([f(a), f(b)]);
    const later = dayFingerprints([f(a), f(b), f(c)]);
    assert.equal(days[0]!.dayFp, later[0]!.dayFp);
    assert.notEqual(days[1]!.dayFp, later[1]!.dayFp);
    const rollup = (kind: 'learners' | 'mastery', day: string, fp: string) => f(`rollups/app=alpha/year=2026/month=11/day=${day.slice(8)}/${kind}-${fp}.parquet`);
    const built = ['learners', 'mastery'] as const;
    // Simulate a build over [a, b]: what the builder would name.
    const names = (files: typeof days) =>
      files.flatMap((d) => built.map((k) => rollup(k, d.day, rollupFingerprint(k, d))));
    const stored = names(days);
    const sameFiles = planRollupRead('learners', [f(a), f(b)], stored);
    assert.equal(sameFiles.rollups.length, 2);
    assert.deepEqual(sameFiles.events, []);
    const withLate = planRollupRead('learners', [f(a), f(b), f(c)], stored);
    assert.deepEqual(withLate.events.map((x) => x.key), [b, c], 'the changed day is read raw');
    assert.equal(withLate.rollups.length, 1);
    const mastery = planRollupRead('mastery', [f(a), f(b), f(c)], stored);
    assert.equal(mastery.rollups.length, 1, "the last day whose chain is unchanged: 11-01's");
    assert.ok(mastery.rollups[0]!.key.includes('day=01'));
    assert.deepEqual(mastery.events.map((x) => x.key), [b, c]);
    // A change in an early day breaks every later cumulative rollup.
    const a2 = eventObjectKey('alpha', '2026-11-01', 1, 4);
    assert.deepEqual(planRollupRead('mastery', [f(a2), f(b)], stored).rollups, []);
  });
});
