import { AppError } from '../domain/errors.ts';
import type { LakeFileScope } from './lake-files.ts';
import { rowObjects, type LakeQueryOptions, type LakeQueryResult } from './lake-query.ts';
import { latestMasterySql, rollupRowsSql, ROLLUP_COLUMNS, type RollupKind } from './lake-rollups.ts';

/**
 * The lake's reports (`GET /admin/reports/{report}`, `kidslearn lake
 * report`): each one SQL statement over the typed columns of one app's
 * events, computed from the lake only (never from production tables). The
 * date range is both the file listing (only those days' partitions are
 * listed and read) and a filter on the partition columns. Rates and counts
 * are finished in TypeScript by the pure functions below.
 *
 * Four reports read daily rollups (lake-rollups.ts) where they are up to
 * date: their SQL unions the `rollup` view with the same rows computed from
 * the raw events of the days no rollup covers, so the figures are the same
 * whichever days are rolled up.
 */

export const REPORT_NAMES = ['active-learners', 'sessions', 'accuracy', 'funnel', 'mastery', 'errors'] as const;
export type ReportName = (typeof REPORT_NAMES)[number];

/** One app and an inclusive range of UTC days (`YYYY-MM-DD`). */
export interface ReportRange {
  app: string;
  from: string;
  to: string;
}

/** What a report answers: `rows` plus report-specific extras (funnel `totals`, mastery `mastered` and `threshold`). */
export interface ReportBody {
  report: ReportName;
  app: string;
  from: string;
  to: string;
  generatedAt: string;
  rows: Record<string, unknown>[];
  [extra: string]: unknown;
}

/** What a report needs of the query engine. */
export interface ReportQueries {
  query(sql: string, options?: LakeQueryOptions): Promise<LakeQueryResult>;
}

export interface ReportOptions {
  /** Mastery at or above which a concept counts as mastered (config `MASTERY_THRESHOLD`). */
  masteryThreshold: number;
  /** Deadline of the report's query. */
  timeoutMs?: number;
  now?: () => Date;
  /** false: compute from the raw events only, ignoring rollups (tests and benchmarks compare both). */
  rollups?: boolean;
}

/** How many (app, concept, day) rows a report may return; a year of 100 concepts is 36,600. */
const REPORT_MAX_ROWS = 200_000;
/** Rows of the errors report. */
export const TOP_ERRORS = 20;
/** Mastery buckets: [0, 0.1), [0.1, 0.2), …, [0.9, 1.0]. */
const BUCKETS = 10;

// ---- pure helpers ----

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `day` is a real calendar day written `YYYY-MM-DD`. */
export function isValidDay(day: string): boolean {
  const m = DAY.exec(day);
  if (!m) return false;
  const d = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === day;
}

/** `day` plus `n` days (may be negative). */
export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Days from `from` to `to` inclusive (1 for the same day). */
export function daysInRange(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

/** Every day from `from` to `to`, inclusive. */
export function eachDay(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/**
 * A count or sum from DuckDB as a JS number: BIGINT and HUGEINT arrive as
 * bigint; one beyond 2^53 cannot be a number without losing digits, so it
 * throws rather than reporting a wrong figure. null (an empty sum) is 0.
 */
export function toNumber(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError(`${value} is too large for a JSON number`);
    return Number(value);
  }
  if (typeof value === 'number') return value;
  throw new TypeError(`expected a number, got ${typeof value}`);
}

/** Rounded to 4 decimals. */
export function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** `n / d` rounded to 4 decimals; 0 when `d` is 0. */
export function ratio(n: number, d: number): number {
  return d ? round4(n / d) : 0;
}

/** One row per day of the range, zeros where the query had none. */
export function fillDays<T extends { day: string }>(from: string, to: string, rows: readonly T[], zero: (day: string) => T): T[] {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  return eachDay(from, to).map((day) => byDay.get(day) ?? zero(day));
}

/** Ten buckets of (learner, concept) counts from `{bucket, n}` rows (bucket 0–9). */
export function masteryBuckets(rows: readonly { bucket: number; n: number }[]): { from: number; to: number; count: number }[] {
  const counts = new Array<number>(BUCKETS).fill(0);
  for (const r of rows) counts[Math.min(BUCKETS - 1, Math.max(0, r.bucket))]! += r.n;
  return counts.map((count, i) => ({ from: i / BUCKETS, to: (i + 1) / BUCKETS, count }));
}

// ---- SQL ----

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
const PARTITION_DAY = 'make_date(year, month, day)';

/** `(year, month, day)` of a day, as SQL. */
const dayTuple = (day: string) => `(${Number(day.slice(0, 4))}, ${Number(day.slice(5, 7))}, ${Number(day.slice(8, 10))})`;

/**
 * The partition filter of an app and a range of days (`from` may be open).
 * Written as row comparisons on the partition columns themselves: DuckDB
 * prunes files with these (checked with EXPLAIN ANALYZE), but not with an
 * expression such as `make_date(year, month, day) BETWEEN …`.
 */
export function partitionFilter(app: string, from: string | undefined, to: string): string {
  const lower = from ? `(year, month, day) >= ${dayTuple(from)} AND ` : '';
  return `app = ${quote(app)} AND ${lower}(year, month, day) <= ${dayTuple(to)}`;
}

const ISO_DAY = `strftime(${PARTITION_DAY}, '%Y-%m-%d')`;

/** A per-day rollup's rows for the days matching `where`: from the `rollup` view, plus the same rows computed from the raw `events` (the days no rollup covers). */
function rollupSource(kind: Exclude<RollupKind, 'mastery'>, where: string): string {
  const columns = ['year', 'month', 'day', ...ROLLUP_COLUMNS[kind].map(([c]) => c)].join(', ');
  return `(SELECT ${columns} FROM rollup WHERE ${where} UNION ALL SELECT ${columns} FROM (${rollupRowsSql(kind, where)}))`;
}

interface ReportPlan {
  scope: LakeFileScope;
  /** The rollup kind the SQL reads beside the raw events, if any. */
  rollup?: RollupKind;
  sql: string;
  finish(rows: Record<string, unknown>[]): { rows: Record<string, unknown>[]; extras?: Record<string, unknown> };
}

/** The SQL and finishing step of a report (pure: nothing runs here). */
export function reportPlan(name: ReportName, range: ReportRange, masteryThreshold: number): ReportPlan {
  const { app, from, to } = range;
  const where = partitionFilter(app, from, to);
  const scope = { app, fromDay: from, toDay: to };
  switch (name) {
    case 'active-learners': {
      // Weekly counts need the six days before the range too.
      const first = addDays(from, -6);
      return {
        scope: { app, fromDay: first, toDay: to },
        rollup: 'learners',
        // Weekly: a learner active on day d counts for the windows ending on d … d+6. Per learner, the day
        // after the previous active day's windows (prev + 7) or d, whichever is later, starts a run of windows
        // that ends at d + 6; runs do not overlap, so a window's count is (runs started) − (runs ended) up to
        // its day: count(DISTINCT learner) over each 7-day window without joining every day to it. Each
        // learner's days come from one list (a hash aggregate: cheaper here than a window function's sort).
        // `d` holds each (day, learner) once: a day's rows come from its rollup or from its events, never both.
        sql: `WITH d AS (
            SELECT ${PARTITION_DAY} AS day, learner FROM ${rollupSource('learners', partitionFilter(app, first, to))}),
          l AS (SELECT list_sort(list(day)) AS days FROM d GROUP BY learner),
          runs AS (
            SELECT day, prev FROM (SELECT unnest(days) AS day, unnest(list_prepend(NULL::DATE, days)) AS prev FROM l)
            WHERE day IS NOT NULL),
          deltas AS (
            SELECT x, sum(delta) AS delta FROM (
              SELECT CASE WHEN prev IS NULL OR prev + 7 < day THEN day ELSE prev + 7 END AS x, 1 AS delta FROM runs
              UNION ALL SELECT day + 7 AS x, -1 AS delta FROM runs)
            GROUP BY x),
          days AS (SELECT CAST(unnest(generate_series(DATE ${quote(from)}, DATE ${quote(to)}, INTERVAL 1 DAY)) AS DATE) AS day),
          weekly AS (SELECT days.day, sum(deltas.delta) AS weekly FROM days JOIN deltas ON deltas.x <= days.day GROUP BY days.day),
          daily AS (SELECT day, count(*) AS daily FROM d GROUP BY day)
          SELECT strftime(days.day, '%Y-%m-%d') AS day, coalesce(daily.daily, 0) AS daily, coalesce(weekly.weekly, 0) AS weekly
          FROM days LEFT JOIN daily ON daily.day = days.day LEFT JOIN weekly ON weekly.day = days.day
          ORDER BY days.day`,
        finish: (rows) => ({
          rows: fillDays(
            from,
            to,
            rows.map((r) => ({ day: String(r.day), daily: toNumber(r.daily), weekly: toNumber(r.weekly) })),
            (day) => ({ day, daily: 0, weekly: 0 }),
          ),
        }),
      };
    }
    case 'sessions':
      return {
        scope,
        rollup: 'sessions',
        sql: `SELECT ${ISO_DAY} AS day, sum(sessions) AS sessions, sum(learners) AS learners, sum(duration_ms) AS duration_ms
          FROM ${rollupSource('sessions', where)}
          GROUP BY ALL ORDER BY day`,
        finish: (rows) => ({ rows: rows.map(sessionRow) }),
      };
    case 'accuracy':
      return {
        scope,
        rollup: 'accuracy',
        sql: `SELECT ${ISO_DAY} AS day, concept_id, sum(answers) AS answers, sum(correct) AS correct
          FROM ${rollupSource('accuracy', where)} GROUP BY ALL ORDER BY day, concept_id`,
        finish: (rows) => ({
          rows: rows.map((r) => {
            const answers = toNumber(r.answers);
            const correct = toNumber(r.correct);
            return { day: String(r.day), conceptId: String(r.concept_id), answers, correct, accuracy: ratio(correct, answers) };
          }),
        }),
      };
    case 'funnel':
      // A learner counts as completing a lesson only if they started it in the range too, so completed ≤ started.
      return {
        scope,
        rollup: 'funnel',
        // One row per (lesson, learner) started in the range, flagged if also completed; then per learner.
        sql: `WITH pairs AS (
            SELECT lesson_id, learner, bool_or(kind = 'c') AS completed FROM ${rollupSource('funnel', where)}
            GROUP BY lesson_id, learner HAVING bool_or(kind = 's')),
          learners AS (SELECT learner, bool_or(completed) AS completed FROM pairs GROUP BY learner)
          SELECT lesson_id, count(*) AS started, count(*) FILTER (WHERE completed) AS completed FROM pairs GROUP BY lesson_id
          UNION ALL
          SELECT NULL, count(*), count(*) FILTER (WHERE completed) FROM learners
          ORDER BY started DESC, lesson_id NULLS FIRST`,
        finish: (rows) => {
          const funnel = (r: Record<string, unknown>) => {
            const started = toNumber(r.started);
            const completed = toNumber(r.completed);
            return { started, completed, completionRate: ratio(completed, started) };
          };
          const totals = rows.find((r) => r.lesson_id === null);
          return {
            rows: rows.filter((r) => r.lesson_id !== null).map((r) => ({ lessonId: String(r.lesson_id), ...funnel(r) })),
            extras: { totals: totals ? funnel(totals) : { started: 0, completed: 0, completionRate: 0 } },
          };
        },
      };
    case 'mastery':
      // The state at the end of `to`: every answer up to then counts, not only the range's. The latest
      // answer per (learner, concept) by time, then sequence (arg_max: about 30% faster than a window here).
      // `rollup` is that state at the end of an earlier day (or nothing) and `events` the days after it: their
      // answers all occurred later (files are partitioned by the UTC day of occurred_at), so a pair they touch
      // takes their latest value and every other pair keeps the rollup's.
      return {
        scope: { app, toDay: to },
        rollup: 'mastery',
        sql: `WITH tail AS (${latestMasterySql(partitionFilter(app, undefined, to))}),
          latest AS (
            SELECT mastery FROM (SELECT learner, concept_id, mastery FROM rollup WHERE ${partitionFilter(app, undefined, to)}) r ANTI JOIN tail USING (learner, concept_id)
            UNION ALL SELECT mastery FROM tail)
          SELECT least(CAST(floor(mastery * ${BUCKETS}) AS INTEGER), ${BUCKETS - 1}) AS bucket, count(*) AS n,
            count(*) FILTER (WHERE mastery >= ${Number(masteryThreshold)}) AS mastered
          FROM latest GROUP BY bucket ORDER BY bucket`,
        finish: (rows) => ({
          rows: masteryBuckets(rows.map((r) => ({ bucket: toNumber(r.bucket), n: toNumber(r.n) }))),
          extras: { mastered: rows.reduce((sum, r) => sum + toNumber(r.mastered), 0), threshold: masteryThreshold },
        }),
      };
    case 'errors':
      return {
        scope,
        rollup: 'errors',
        sql: `SELECT code, sum(events) AS events, count(DISTINCT learner) AS learners, sum(fatal) AS fatal
          FROM ${rollupSource('errors', where)} GROUP BY code ORDER BY events DESC, code LIMIT ${TOP_ERRORS}`,
        finish: (rows) => ({
          rows: rows.map((r) => ({ code: String(r.code), events: toNumber(r.events), learners: toNumber(r.learners), fatal: toNumber(r.fatal) })),
        }),
      };
  }
}

/** One sessions row from its counts: minutes and per-learner figures rounded to 4 decimals (0 per learner on a day without learners). */
export function sessionRow(r: Record<string, unknown>): Record<string, unknown> {
  const sessions = toNumber(r.sessions);
  const learners = toNumber(r.learners);
  const minutes = toNumber(r.duration_ms) / 60_000;
  return {
    day: String(r.day),
    sessions,
    learners,
    minutes: round4(minutes),
    sessionsPerLearner: ratio(sessions, learners),
    minutesPerLearner: ratio(minutes, learners),
  };
}

/** Runs one report over the lake. */
export async function runReport(queries: ReportQueries, name: ReportName, range: ReportRange, options: ReportOptions): Promise<ReportBody> {
  const plan = reportPlan(name, range, options.masteryThreshold);
  const result = await queries.query(plan.sql, { scope: plan.scope, rollup: plan.rollup, rawOnly: options.rollups === false, maxRows: REPORT_MAX_ROWS, timeoutMs: options.timeoutMs });
  const { rows, extras } = plan.finish(rowObjects(result));
  return { report: name, app: range.app, from: range.from, to: range.to, generatedAt: (options.now?.() ?? new Date()).toISOString(), rows, ...extras };
}

/** Longest range a report covers, in days. */
export const MAX_REPORT_DAYS = 366;
/** Days a report covers when no range is given (ending today, UTC). */
export const DEFAULT_REPORT_DAYS = 30;

/**
 * The inclusive range of a request: `to` defaults to today (UTC), `from` to
 * 29 days before `to`. Both must be real days (the route's schema checked
 * the format), `from` ≤ `to`, at most {@link MAX_REPORT_DAYS} days; else a
 * 400 `validation_failed` naming the field.
 */
export function resolveReportRange(query: { from?: string; to?: string }, today: string): { from: string; to: string } {
  const to = query.to ?? today;
  const from = query.from ?? addDays(to, -(DEFAULT_REPORT_DAYS - 1));
  const refuse = (field: 'from' | 'to', message: string) =>
    new AppError('invalid', 'validation_failed', `Invalid query parameter "${field}": ${message}`, { details: [{ in: 'query', field, message }] });
  for (const [field, day] of [['from', from], ['to', to]] as const) if (!isValidDay(day)) throw refuse(field, 'must be a calendar day written YYYY-MM-DD');
  if (from > to) throw refuse('from', `must be on or before to (${to})`);
  if (daysInRange(from, to) > MAX_REPORT_DAYS) throw refuse('from', `the range ${from}..${to} spans ${daysInRange(from, to)} days; at most ${MAX_REPORT_DAYS} are allowed`);
  return { from, to };
}
