import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openLakeDuckDB } from './duckdb.ts';
import type { BlobInfo, BlobStore } from '../adapters/blobs/blob-store.ts';
import { LEARNER_KEY_PATTERN } from '../domain/analytics/pseudonym.ts';
import { listingPrefixes, liveEventFiles, type LakeFileScope } from './lake-files.ts';
import { LAKE_PARTITION_COLUMNS, parseEventObjectKey } from './lake-layout.ts';

/**
 * Daily rollups: small Parquet files derived from one (app, day)'s event
 * files, so the reports read thousands of rows instead of millions
 * (docs/analytics.md, "Rollups"). Layout, beside `events/`:
 *
 *   rollups/app=<app>/year=YYYY/month=MM/day=DD/<kind>-<fingerprint>.parquet
 *
 * A rollup is only a cache of what the day's events say, and it says which
 * events it was computed from: the fingerprint is a hash of the sorted keys
 * of the day's live event files it read (for `mastery`, a chain over every
 * day up to it). A query uses a rollup only when its fingerprint equals the
 * one of the files it lists now; any other day is computed from the raw
 * events with the same SQL the rollup was built with. So a late event (a new
 * file in a rolled-up day), a compaction (new names) or a rewrite by the
 * writer never make a report read stale figures: that day is read raw until
 * `lake compact` builds its rollups again.
 *
 * Erasing a learner (lake-erasure.ts) reaches the rollups too: kinds whose
 * rows keep the pseudonymous learner key lose that learner's rows (exactly
 * what recomputing without them gives); kinds aggregated over learners are
 * deleted for the days the learner had events.
 */

export const LAKE_ROLLUPS_PREFIX = 'rollups/';

/** The rollup kinds and the reports that read them. */
export const ROLLUP_KINDS = ['learners', 'sessions', 'accuracy', 'funnel', 'mastery', 'errors'] as const;
export type RollupKind = (typeof ROLLUP_KINDS)[number];

/** Columns of each kind's files (the partition columns come from the path). */
export const ROLLUP_COLUMNS: Readonly<Record<RollupKind, readonly (readonly [string, string])[]>> = {
  // The day's distinct learners (active-learners).
  learners: [['learner', 'VARCHAR']],
  // The day's sessions report row: distinct sessions and learners started, session_end minutes (sessions).
  sessions: [
    ['sessions', 'BIGINT'],
    ['learners', 'BIGINT'],
    ['duration_ms', 'BIGINT'],
  ],
  // Answers and correct ones per concept (accuracy).
  accuracy: [
    ['concept_id', 'VARCHAR'],
    ['answers', 'BIGINT'],
    ['correct', 'BIGINT'],
  ],
  // kind 's': distinct (lesson, learner) started; 'c': completed (funnel).
  funnel: [
    ['kind', 'VARCHAR'],
    ['lesson_id', 'VARCHAR'],
    ['learner', 'VARCHAR'],
  ],
  // Cumulative: the latest mastery per (learner, concept) over every answer up to the end of the day (mastery).
  mastery: [
    ['learner', 'VARCHAR'],
    ['concept_id', 'VARCHAR'],
    ['mastery', 'DOUBLE'],
  ],
  // app_error events and fatal ones per (code, learner) (errors).
  errors: [
    ['code', 'VARCHAR'],
    ['learner', 'VARCHAR'],
    ['events', 'BIGINT'],
    ['fatal', 'BIGINT'],
  ],
};

/**
 * Whether a kind's rows carry the learner key (erasure removes that learner's rows, which is what recomputing
 * without them gives) or are aggregated over learners (`sessions`, `accuracy`: erasure deletes the file of
 * each day the learner had events, and the day is read raw until the next build).
 */
export const hasLearnerColumn = (kind: RollupKind) => ROLLUP_COLUMNS[kind].some(([c]) => c === 'learner');

const DAY_COLUMNS = 'year, month, day';

/**
 * The rows a per-day rollup holds, as SQL over the `events` view filtered by
 * `where` (columns: year, month, day, then the kind's columns). The builder
 * writes exactly this for one day; a report computes it over the days no
 * valid rollup covers, and unions both, so the two paths cannot differ.
 */
export function rollupRowsSql(kind: Exclude<RollupKind, 'mastery'>, where: string): string {
  switch (kind) {
    case 'learners':
      return `SELECT DISTINCT ${DAY_COLUMNS}, learner FROM events WHERE ${where} AND learner IS NOT NULL`;
    case 'sessions':
      return `SELECT ${DAY_COLUMNS},
            count(DISTINCT coalesce(session_id, event_id)) FILTER (WHERE type = 'session_start') AS sessions,
            count(DISTINCT learner) FILTER (WHERE type = 'session_start') AS learners,
            CAST(sum(duration_ms) FILTER (WHERE type = 'session_end') AS BIGINT) AS duration_ms
          FROM events WHERE ${where} AND type IN ('session_start', 'session_end') GROUP BY ${DAY_COLUMNS}`;
    case 'accuracy':
      return `SELECT ${DAY_COLUMNS}, concept_id, count(*) AS answers, count(*) FILTER (WHERE correct) AS correct
          FROM events WHERE ${where} AND type = 'answer_recorded' AND concept_id IS NOT NULL GROUP BY ${DAY_COLUMNS}, concept_id`;
    case 'errors':
      // app_error has no column for its code: the JSON of these (few) rows is read.
      return `SELECT ${DAY_COLUMNS}, properties->>'$.code' AS code, learner, count(*) AS events,
            count(*) FILTER (WHERE TRY_CAST(properties->>'$.fatal' AS BOOLEAN)) AS fatal
          FROM events WHERE ${where} AND type = 'app_error' GROUP BY ${DAY_COLUMNS}, code, learner`;
    case 'funnel':
      return `SELECT DISTINCT ${DAY_COLUMNS}, 's' AS kind, lesson_id, learner
          FROM events WHERE ${where} AND type = 'lesson_start' AND lesson_id IS NOT NULL AND learner IS NOT NULL
        UNION ALL
        SELECT DISTINCT ${DAY_COLUMNS}, 'c' AS kind, lesson_id, learner
          FROM events WHERE ${where} AND type IN ('lesson_complete', 'lesson_recorded') AND lesson_id IS NOT NULL AND learner IS NOT NULL`;
  }
}

/** The latest mastery per (learner, concept) among the answers of `events` matching `where`, by time then sequence. */
export function latestMasterySql(where: string): string {
  return `SELECT learner, concept_id, arg_max(mastery, (occurred_at, seq)) AS mastery FROM events
    WHERE ${where} AND type = 'answer_recorded' AND learner IS NOT NULL AND concept_id IS NOT NULL AND mastery IS NOT NULL
    GROUP BY learner, concept_id`;
}

// ---- keys and fingerprints ----

const ROLLUP_KEY = /^rollups\/app=([a-z][a-z0-9_]{1,30})\/year=(\d{4})\/month=(\d{2})\/day=(\d{2})\/([a-z]+)-([0-9a-f]{32})\.parquet$/;

/** What a rollup's key says. */
export interface ParsedRollupKey {
  app: string;
  day: string;
  kind: RollupKind;
  fingerprint: string;
}

export function parseRollupKey(key: string): ParsedRollupKey | undefined {
  const m = ROLLUP_KEY.exec(key);
  if (!m || !(ROLLUP_KINDS as readonly string[]).includes(m[5]!)) return undefined;
  return { app: m[1]!, day: `${m[2]}-${m[3]}-${m[4]}`, kind: m[5] as RollupKind, fingerprint: m[6]! };
}

export function rollupKey(app: string, day: string, kind: RollupKind, fingerprint: string): string {
  const [y, m, d] = day.split('-');
  return `${LAKE_ROLLUPS_PREFIX}app=${app}/year=${y}/month=${m}/day=${d}/${kind}-${fingerprint}.parquet`;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/**
 * The fingerprints of each day of one app's live event files (sorted by
 * day): `day` from the day's file keys, `chain` from the previous day's
 * chain and this day's (what a cumulative rollup depends on). Pure.
 */
export function dayFingerprints(files: readonly BlobInfo[]): { day: string; files: BlobInfo[]; dayFp: string; chainFp: string }[] {
  const byDay = new Map<string, BlobInfo[]>();
  for (const f of files) {
    const k = parseEventObjectKey(f.key);
    if (!k) continue;
    const list = byDay.get(k.day) ?? [];
    list.push(f);
    byDay.set(k.day, list);
  }
  let chain = '';
  return [...byDay.keys()].sort().map((day) => {
    const dayFiles = byDay.get(day)!.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const dayFp = hash(dayFiles.map((f) => f.key).join('\n'));
    chain = hash(`${chain}\n${day}:${dayFp}`);
    return { day, files: dayFiles, dayFp, chainFp: chain };
  });
}

/**
 * The fingerprint a `kind` rollup of day `d` is stored under: the day's (or,
 * for `mastery`, the chain's) fingerprint together with the kind's columns
 * and SQL, so rollups written by an earlier version of that SQL are never read.
 */
export function rollupFingerprint(kind: RollupKind, d: { dayFp: string; chainFp: string }): string {
  const sql = kind === 'mastery' ? latestMasterySql('?') : rollupRowsSql(kind, '?');
  return hash(`${kind}\n${JSON.stringify(ROLLUP_COLUMNS[kind])}\n${sql}\n${kind === 'mastery' ? d.chainFp : d.dayFp}`);
}

/**
 * Which rollup files a query of `kind` reads and which event files remain
 * to be read raw (pure). Per-day kinds: every day whose rollup matches its
 * files' fingerprint is read from the rollup. `mastery`: the latest day
 * whose cumulative rollup matches its chain (the files must be every day up
 * to the report's end), and the days after it raw.
 */
export function planRollupRead(kind: RollupKind, eventFiles: readonly BlobInfo[], rollupFiles: readonly BlobInfo[]): { rollups: BlobInfo[]; events: BlobInfo[] } {
  const available = new Map<string, BlobInfo>();
  for (const r of rollupFiles) {
    const k = parseRollupKey(r.key);
    if (k?.kind === kind) available.set(`${k.day}/${k.fingerprint}`, r);
  }
  const days = dayFingerprints(eventFiles);
  if (kind === 'mastery') {
    for (let i = days.length - 1; i >= 0; i--) {
      const hit = available.get(`${days[i]!.day}/${rollupFingerprint(kind, days[i]!)}`);
      if (hit) return { rollups: [hit], events: days.slice(i + 1).flatMap((d) => d.files) };
    }
    return { rollups: [], events: days.flatMap((d) => d.files) };
  }
  const rollups: BlobInfo[] = [];
  const events: BlobInfo[] = [];
  for (const d of days) {
    const hit = available.get(`${d.day}/${rollupFingerprint(kind, d)}`);
    if (hit) rollups.push(hit);
    else events.push(...d.files);
  }
  return { rollups, events };
}

/** The rollup files listed for a scope (same months as the event listing). */
export async function listRollups(store: BlobStore, scope: LakeFileScope): Promise<BlobInfo[]> {
  const prefixes = listingPrefixes(scope).map((p) => LAKE_ROLLUPS_PREFIX + p.slice('events/'.length));
  const lists = await Promise.all(prefixes.map((p) => store.list(p)));
  return lists.flat().filter((b) => {
    const k = parseRollupKey(b.key);
    return !!k && (!scope.app || k.app === scope.app) && (!scope.fromDay || k.day >= scope.fromDay) && (!scope.toDay || k.day <= scope.toDay);
  });
}

const HIVE_TYPES = `{${LAKE_PARTITION_COLUMNS.map(([c, t]) => `'${c}': ${t}`).join(', ')}}`;
const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The `rollup` view over these local files of one kind (an empty, typed relation when there are none). */
export function rollupViewSql(kind: RollupKind, files: readonly string[]): string {
  const columns = ROLLUP_COLUMNS[kind];
  if (!files.length) {
    const all = [...columns, ...LAKE_PARTITION_COLUMNS];
    return `CREATE TEMP VIEW rollup AS SELECT ${all.map(([c, t]) => `NULL::${t} AS ${c}`).join(', ')} WHERE false`;
  }
  return (
    `CREATE TEMP VIEW rollup AS SELECT ${[...columns.map(([c]) => c), 'app', 'year', 'month', 'day'].join(', ')} ` +
    `FROM read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = true, hive_types = ${HIVE_TYPES}, hive_types_autocast = false)`
  );
}

// ---- building ----

/** What one build did. */
export interface RollupBuildResult {
  app: string;
  /** Rollup files written (missing or out of date). */
  written: number;
  /** Days whose rollups were all up to date already. */
  upToDate: number;
  /** Stale rollup files deleted (their day's files changed, or the day has no events any more). */
  deleted: number;
}

/**
 * Builds the missing or out-of-date rollups of one app for every day up to
 * `throughDay` (inclusive; pass yesterday, the last closed day). Idempotent:
 * a day whose rollups match its files costs a listing only. The cumulative
 * `mastery` rollup of a day is built from the previous day's and the day's
 * answers, so after a late event every later day's is rebuilt in turn.
 * `erasedLearners` (read just before each file is stored) never get a row,
 * even when a source file was read before their erasure rewrote it.
 */
export async function buildRollups(
  store: BlobStore,
  app: string,
  options: { throughDay: string; erasedLearners?: () => Promise<readonly string[]>; log?: (line: string) => void },
): Promise<RollupBuildResult> {
  const result: RollupBuildResult = { app, written: 0, upToDate: 0, deleted: 0 };
  const live = await liveEventFiles(store, { app, toDay: options.throughDay });
  const days = dayFingerprints(live);
  const existing = await listRollups(store, { app, toDay: options.throughDay });
  const existingKeys = new Set(existing.map((b) => b.key));
  const erasedNow = async () => ((await options.erasedLearners?.()) ?? []).filter((l) => LEARNER_KEY_PATTERN.test(l));
  const work = await mkdtemp(path.join(tmpdir(), 'kidslearn-rollup-'));
  const instance = await openLakeDuckDB({ threads: '2' });
  const duck = await instance.connect();
  // On S3 each day's files are fetched for that day only (and removed after it), not the whole lake at once.
  const downloaded: string[] = [];
  const local = async (key: string): Promise<string> => {
    if (store.localRoot) return path.join(path.resolve(store.localRoot), ...key.split('/'));
    const file = path.join(work, `${randomBytes(8).toString('hex')}.parquet`);
    await store.getFile(key, file);
    downloaded.push(file);
    return file;
  };
  /**
   * Builds one rollup file from `select(keep)` (keep: the SQL condition that leaves erased learners out) and
   * stores it. The erased learners are read again after the file is stored: if one was added meanwhile, the
   * file is built again without them (the erasure may have looked at the rollups before this file existed).
   */
  const put = async (key: string, select: (keep: string) => string) => {
    const out = path.join(work, `${randomBytes(8).toString('hex')}.parquet`);
    let erased = await erasedNow();
    for (let attempt = 1; ; attempt++) {
      const keep = erased.length ? `(learner IS NULL OR learner NOT IN (${erased.map(sqlString).join(', ')}))` : 'true';
      await duck.run(`COPY (${select(keep)}) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`);
      await store.putFile(key, out);
      await rm(out, { force: true });
      const after = await erasedNow();
      if (after.every((l) => erased.includes(l))) break;
      if (attempt >= 5) throw new Error('learners kept being erased while a rollup was built; try again');
      erased = after;
    }
    result.written++;
  };
  try {
    let previousMastery: string | undefined; // the previous day's cumulative rollup (key)
    for (const d of days) {
      const wanted = new Set<string>(ROLLUP_KINDS.map((k) => rollupKey(app, d.day, k, rollupFingerprint(k, d))));
      const missing = [...wanted].filter((k) => !existingKeys.has(k));
      if (missing.length) {
        const files = await Promise.all(d.files.map((f) => local(f.key)));
        await duck.run('DROP VIEW IF EXISTS events');
        // The partition columns as the day's constants (copies fetched from S3 have no Hive path).
        const [y, m, dd] = d.day.split('-').map(Number);
        await duck.run(
          `CREATE TEMP VIEW events AS SELECT *, ${sqlString(app)} AS app, ${y}::INTEGER AS year, ${m}::INTEGER AS month, ${dd}::INTEGER AS day ` +
            `FROM read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = false)`,
        );
        for (const key of missing) {
          const kind = parseRollupKey(key)!.kind;
          if (kind === 'mastery') {
            // Every answer of this day occurred after every answer of earlier days (files are partitioned by the
            // UTC day of occurred_at), so the day's latest replaces the previous state of the pairs it touches.
            const previous = previousMastery ? await local(previousMastery) : undefined;
            await put(key, (keep) => {
              const before = previous ? `SELECT learner, concept_id, mastery FROM (SELECT * FROM read_parquet(${sqlString(previous)}) WHERE ${keep}) p ANTI JOIN d USING (learner, concept_id) UNION ALL ` : '';
              return `WITH d AS (${latestMasterySql(keep)}) ${before}SELECT learner, concept_id, mastery FROM d`;
            });
          } else {
            await put(key, (keep) => `SELECT * EXCLUDE (year, month, day) FROM (${rollupRowsSql(kind, keep)})`);
          }
        }
      } else result.upToDate++;
      for (const file of downloaded.splice(0)) await rm(file, { force: true });
      previousMastery = rollupKey(app, d.day, 'mastery', rollupFingerprint('mastery', d));
      // Out-of-date rollups of the day go once the current ones are stored.
      const stale = existing.filter((b) => parseRollupKey(b.key)!.day === d.day && !wanted.has(b.key)).map((b) => b.key);
      if (stale.length) {
        await store.delete(stale);
        result.deleted += stale.length;
      }
    }
    // Rollups of days that have no events any more (every file erased).
    const withEvents = new Set(days.map((d) => d.day));
    const orphans = existing.filter((b) => !withEvents.has(parseRollupKey(b.key)!.day)).map((b) => b.key);
    if (orphans.length) {
      await store.delete(orphans);
      result.deleted += orphans.length;
    }
    options.log?.(`${app}: rollups through ${options.throughDay}: ${result.written} written, ${result.upToDate} days up to date, ${result.deleted} stale deleted`);
    return result;
  } finally {
    duck.closeSync();
    instance.closeSync();
    await rm(work, { recursive: true, force: true });
  }
}
