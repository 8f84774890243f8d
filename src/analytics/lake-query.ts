import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { loadDuckDB, openLakeDuckDB } from './duckdb.ts';
import type { BlobInfo, BlobStore } from '../adapters/blobs/blob-store.ts';
import { AppError } from '../domain/errors.ts';
import { listingPrefixes, liveEventFiles, type LakeFileScope } from './lake-files.ts';
import { LAKE_COLUMNS, LAKE_PARTITION_COLUMNS, parseEventObjectKey } from './lake-layout.ts';
import { LAKE_ROLLUPS_PREFIX, listRollups, parseRollupKey, planRollupRead, rollupViewSql, type RollupKind } from './lake-rollups.ts';

/**
 * SQL over the lake with DuckDB. One DuckDB instance per engine (in memory,
 * opened on first use), one connection per query. Each query gets the view
 * `events` over an explicit list of the live files of its scope (so
 * compaction manifests are honoured even for free-form SQL), Hive
 * partitioning with typed partition columns (app VARCHAR, year/month/day
 * INTEGER: a filter on them skips other partitions' files unread), and typed
 * views per event type over it.
 *
 * A directory store is read in place (`localRoot`); on S3 the needed files
 * are first copied into a local cache (`<dataDir>/lake-cache`, one file per
 * object key and size) because DuckDB's httpfs extension is not available.
 * The instance may read only that folder (external access is otherwise off
 * and the configuration locked), runs one read-only statement per query,
 * and every query has a deadline after which the connection is interrupted.
 */

export interface LakeQueryEngineOptions {
  store: BlobStore;
  /** Where S3 objects are copied for DuckDB (`<dataDir>/lake-cache`); unused for a directory store. */
  cacheDir: string;
  /** Default deadline of a query, listing and downloads included. */
  timeoutMs: number;
  /** Default row limit of a query's output. */
  maxRows?: number;
  /** Copies from S3 running at once. */
  downloadConcurrency?: number;
}

export interface LakeQueryOptions {
  /** Which files the views cover; the whole lake by default. */
  scope?: LakeFileScope;
  maxRows?: number;
  timeoutMs?: number;
  /**
   * SQL from a person (the CLI): a failure to parse or bind is a 400-class
   * `invalid_lake_query`. Otherwise (reports) any SQL failure means the lake
   * could not be read: 503 `lake_unavailable`.
   */
  freeForm?: boolean;
  /**
   * Read this kind of daily rollup where it is up to date (lake-rollups.ts):
   * the view `rollup` covers those rollup files and `events` only the event
   * files of the days they do not cover, so the SQL must combine both.
   */
  rollup?: RollupKind;
  /** With `rollup`: ignore every rollup (an empty `rollup` view, every event file raw); tests and benchmarks compare both paths. */
  rawOnly?: boolean;
}

export interface LakeColumnInfo {
  name: string;
  /** DuckDB's type name (`BIGINT`, `VARCHAR`, `TIMESTAMP`, ...). */
  type: string;
}

export interface LakeQueryResult {
  columns: LakeColumnInfo[];
  /** Values as @duckdb/node-api converts them to JS: BIGINT/HUGEINT as bigint, TIMESTAMP/DATE as Date. */
  rows: unknown[][];
  /** More rows existed than the limit. */
  truncated: boolean;
  /** How many lake files the `events` view covered. */
  files: number;
  /** How many rollup files the `rollup` view covered (queries with `rollup` only). */
  rollupFiles?: number;
}

const DEFAULT_MAX_ROWS = 10_000;
const DEFAULT_DOWNLOADS = 8;

/** Seconds a client is asked to wait after a 503 from the lake. */
const LAKE_RETRY_AFTER_SECONDS = 5;

/** 503 `lake_query_timeout`: the query passed its deadline and was interrupted. */
export function lakeQueryTimeout(timeoutMs: number): AppError {
  return new AppError('unavailable', 'lake_query_timeout', `The lake query did not finish within ${timeoutMs} ms and was stopped`, {
    details: { retryAfterSeconds: LAKE_RETRY_AFTER_SECONDS },
  });
}

/** 503 `lake_unavailable`: the lake's files could not be listed, fetched or read. */
export function lakeUnavailable(message: string, cause?: unknown): AppError {
  return new AppError('unavailable', 'lake_unavailable', message, { details: { retryAfterSeconds: LAKE_RETRY_AFTER_SECONDS }, cause });
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The `SELECT` list of `events`: the file columns, `app` after `event_id` as in the layout, then year, month, day. */
const EVENT_COLUMNS = ['seq', 'event_id', 'app', ...LAKE_COLUMNS.map(([c]) => c).filter((c) => c !== 'seq' && c !== 'event_id'), 'year', 'month', 'day'];

const HIVE_TYPES = `{${LAKE_PARTITION_COLUMNS.map(([c, t]) => `'${c}': ${t}`).join(', ')}}`;

/** The `events` view over exactly these local files (an empty, typed relation when there are none). */
export function eventsViewSql(files: readonly string[]): string {
  if (!files.length) {
    const types = new Map<string, string>([...LAKE_COLUMNS, ...LAKE_PARTITION_COLUMNS]);
    return `CREATE TEMP VIEW events AS SELECT ${EVENT_COLUMNS.map((c) => `NULL::${types.get(c)} AS ${c}`).join(', ')} WHERE false`;
  }
  return (
    `CREATE TEMP VIEW events AS SELECT ${EVENT_COLUMNS.join(', ')} FROM read_parquet([${files.map(sqlString).join(', ')}], ` +
    `hive_partitioning = true, hive_types = ${HIVE_TYPES}, hive_types_autocast = false)`
  );
}

const P = (name: string, type = 'VARCHAR') => `TRY_CAST(properties->>'$.${name}' AS ${type})`;
const BASE = 'app, year, month, day, occurred_at, learner, session_id';

/**
 * Typed views per event type, over `events`. They keep the partition
 * columns, so a filter on app/year/month/day through a view still prunes
 * files. Fields that have no column of their own come from `properties`.
 */
export const TYPED_VIEWS: Readonly<Record<string, string>> = {
  answers: `SELECT ${BASE}, item_id, lesson_id, concept_id, correct, duration_ms, mastery FROM events WHERE type = 'answer_recorded'`,
  lessons_started: `SELECT ${BASE}, lesson_id FROM events WHERE type = 'lesson_start'`,
  lessons_completed: `SELECT ${BASE}, type, lesson_id, duration_ms, ${P('score', 'DOUBLE')} AS score FROM events WHERE type IN ('lesson_complete', 'lesson_recorded')`,
  sessions: `SELECT ${BASE}, CASE type WHEN 'session_start' THEN 'start' ELSE 'end' END AS event, ${P('platform')} AS platform, ${P('appVersion')} AS app_version, ${P('deviceClass')} AS device_class, ${P('locale')} AS locale, duration_ms, ${P('screens', 'INTEGER')} AS screens FROM events WHERE type IN ('session_start', 'session_end')`,
  screen_views: `SELECT ${BASE}, ${P('screen')} AS screen, ${P('previousScreen')} AS previous_screen FROM events WHERE type = 'screen_view'`,
  app_errors: `SELECT ${BASE}, ${P('code')} AS code, ${P('screen')} AS screen, ${P('fatal', 'BOOLEAN')} AS fatal FROM events WHERE type = 'app_error'`,
  hints: `SELECT ${BASE}, item_id, lesson_id, ${P('hintLevel', 'INTEGER')} AS hint_level FROM events WHERE type = 'hint_used'`,
  items_shown: `SELECT ${BASE}, item_id, lesson_id, ${P('position', 'INTEGER')} AS position FROM events WHERE type = 'item_shown'`,
  plans: `SELECT ${BASE}, ${P('planId')} AS plan_id, replace(type, 'plan_', '') AS status, ${P('minutes', 'DOUBLE')} AS minutes, ${P('activities', 'INTEGER')} AS activities, ${P('code')} AS code FROM events WHERE type IN ('plan_requested', 'plan_ready', 'plan_failed')`,
};

/** Errors that mean a listed file was gone by the time it was read (a compaction finished meanwhile): worth one fresh listing. */
const VANISHED_FILE = /No files found|Cannot open file|No such file|blob_not_found|ENOENT/i;

export class LakeQueryEngine {
  readonly #store: BlobStore;
  readonly #cacheDir: string;
  readonly #timeoutMs: number;
  readonly #maxRows: number;
  readonly #downloads: number;
  #instance: Promise<DuckDBInstance> | undefined;
  readonly #inFlight = new Map<string, Promise<string>>();
  #closed = false;
  /** Queries run so far (for tests and metrics). */
  queries = 0;

  constructor(options: LakeQueryEngineOptions) {
    this.#store = options.store;
    this.#cacheDir = path.resolve(options.cacheDir);
    this.#timeoutMs = options.timeoutMs;
    this.#maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
    this.#downloads = options.downloadConcurrency ?? DEFAULT_DOWNLOADS;
  }

  /** The folder DuckDB reads: the directory store's root, or the S3 cache. */
  get readRoot(): string {
    return this.#store.localRoot ? path.resolve(this.#store.localRoot) : this.#cacheDir;
  }

  /**
   * Runs one read-only statement (SELECT or EXPLAIN) over the views of
   * `scope`'s live files and returns at most `maxRows` rows. Past the
   * deadline: 503 `lake_query_timeout`.
   */
  async query(sql: string, options: LakeQueryOptions = {}): Promise<LakeQueryResult> {
    if (this.#closed) throw lakeUnavailable('The lake query engine is closed');
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const deadline = Date.now() + timeoutMs;
    this.queries++;
    try {
      return await this.#attempt(sql, options, deadline, timeoutMs, true);
    } catch (error) {
      if (!(error instanceof VanishedFile)) throw error;
      // A file listed a moment ago is gone (a compaction finished meanwhile): list again, once.
      return this.#attempt(sql, options, deadline, timeoutMs, false);
    }
  }

  async #attempt(sql: string, options: LakeQueryOptions, deadline: number, timeoutMs: number, mayRetry: boolean): Promise<LakeQueryResult> {
    const remaining = () => deadline - Date.now();
    // DuckDB first: where it cannot be loaded (503 lake_query_unavailable), no file is listed or downloaded in vain.
    const instance = await this.#open();
    let files: { events: string[]; rollups: string[] };
    try {
      files = await beforeDeadline(this.#localFiles(options.scope ?? {}, options.rollup && !options.rawOnly ? options.rollup : undefined), remaining(), timeoutMs);
    } catch (error) {
      if (mayRetry && isVanished(error)) throw new VanishedFile(error);
      if (error instanceof AppError) throw error;
      throw lakeUnavailable('The lake could not be read', error);
    }
    const connection = await instance.connect();
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        connection.interrupt();
      },
      Math.max(0, remaining()),
    );
    try {
      await createViews(connection, files.events);
      if (options.rollup) await connection.run(rollupViewSql(options.rollup, files.rollups));
      if (timedOut) throw lakeQueryTimeout(timeoutMs);
      const extracted = await connection.extractStatements(sql);
      if (extracted.count !== 1) throw invalidQuery(`Expected exactly one SQL statement, got ${extracted.count}`);
      const prepared = await extracted.prepare(0);
      const { StatementType } = await loadDuckDB();
      if (prepared.statementType !== StatementType.SELECT && prepared.statementType !== StatementType.EXPLAIN) {
        throw invalidQuery('Only SELECT (or EXPLAIN) statements may run over the lake: it is read-only here');
      }
      const maxRows = options.maxRows ?? this.#maxRows;
      const reader = await prepared.streamAndReadUntil(maxRows + 1);
      const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() }));
      const rows = reader.getRowsJS().slice(0, maxRows) as unknown[][];
      if (timedOut) throw lakeQueryTimeout(timeoutMs);
      return {
        columns,
        rows,
        truncated: reader.currentRowCount > maxRows,
        files: files.events.length,
        ...(options.rollup ? { rollupFiles: files.rollups.length } : {}),
      };
    } catch (error) {
      if (timedOut) throw lakeQueryTimeout(timeoutMs);
      if (error instanceof AppError) throw error;
      if (mayRetry && isVanished(error)) throw new VanishedFile(error);
      if (options.freeForm) throw invalidQuery(messageOf(error), error);
      throw lakeUnavailable('The lake could not be read', error);
    } finally {
      clearTimeout(timer);
      connection.closeSync();
    }
  }

  /**
   * The local paths of `scope`'s live files (and, with `rollup`, of the
   * up-to-date rollups of that kind, the event files narrowed to the days
   * they do not cover): in place, or copied from S3 into the cache.
   */
  async #localFiles(scope: LakeFileScope, rollup?: RollupKind): Promise<{ events: string[]; rollups: string[] }> {
    let live: BlobInfo[];
    let rollups: BlobInfo[] = [];
    let read: { events: BlobInfo[]; rollups: BlobInfo[] };
    try {
      live = await liveEventFiles(this.#store, scope);
      if (rollup) rollups = await listRollups(this.#store, scope);
      read = rollup ? planRollupRead(rollup, live, rollups) : { events: live, rollups: [] };
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw lakeUnavailable('The lake could not be listed', error);
    }
    const root = this.#store.localRoot;
    const inPlace = (b: BlobInfo) => path.join(path.resolve(root!), ...b.key.split('/'));
    if (root) return { events: read.events.map(inPlace), rollups: read.rollups.map(inPlace) };
    await this.#prune(scope, live);
    if (rollup) await this.#prune(scope, rollups, LAKE_ROLLUPS_PREFIX);
    const wanted = [...read.events, ...read.rollups];
    const out: string[] = new Array<string>(wanted.length);
    let next = 0;
    const worker = async () => {
      while (next < wanted.length) {
        const i = next++;
        out[i] = await this.#cached(wanted[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#downloads, wanted.length) }, worker));
    return { events: out.slice(0, read.events.length), rollups: out.slice(read.events.length) };
  }

  /**
   * Removes cached copies in `scope` that are no longer live: objects deleted
   * or rewritten (compaction, erasure of a learner's rows), so no copy of
   * erased data outlives its object in the cache. Files outside the scope
   * are left for a query that covers them.
   */
  async #prune(scope: LakeFileScope, live: readonly BlobInfo[], under: 'events/' | typeof LAKE_ROLLUPS_PREFIX = 'events/'): Promise<void> {
    const keep = new Set(live.map((b) => cacheKey(b)));
    const inScope = (app: string, day: string) =>
      (!scope.app || app === scope.app) && (!scope.fromDay || day >= scope.fromDay) && (!scope.toDay || day <= scope.toDay);
    const parse = (key: string) => (under === 'events/' ? parseEventObjectKey(key) : parseRollupKey(key));
    for (const prefix of listingPrefixes(scope).map((p) => under + p.slice('events/'.length))) {
      const files = await readdir(path.join(this.#cacheDir, ...prefix.split('/').filter(Boolean)), { recursive: true }).catch(() => [] as string[]);
      for (const relative of files) {
        const cached = `${prefix}${relative.split(path.sep).join('/')}`;
        const parsed = parse(uncachedKey(cached));
        if (!parsed || keep.has(cached) || !inScope(parsed.app, parsed.day) || this.#inFlight.has(path.join(this.#cacheDir, ...cached.split('/')))) continue;
        await rm(path.join(this.#cacheDir, ...cached.split('/')), { force: true });
      }
    }
  }

  /** The cache file of an object (key + size), downloaded once; concurrent queries share a download. */
  #cached(blob: BlobInfo): Promise<string> {
    const file = path.join(this.#cacheDir, ...cacheKey(blob).split('/'));
    let pending = this.#inFlight.get(file);
    if (!pending) {
      pending = (async () => {
        const s = await stat(file).catch(() => undefined);
        if (s?.size === blob.size) return file;
        await mkdir(path.dirname(file), { recursive: true });
        const tmp = path.join(path.dirname(file), `.download-${randomUUID()}`);
        try {
          await this.#store.getFile(blob.key, tmp);
          await rename(tmp, file);
        } catch (error) {
          await rm(tmp, { force: true });
          throw error;
        }
        return file;
      })().finally(() => this.#inFlight.delete(file));
      this.#inFlight.set(file, pending);
    }
    return pending;
  }

  #open(): Promise<DuckDBInstance> {
    this.#instance ??= (async () => {
      const instance = await openLakeDuckDB({ autoinstall_known_extensions: 'false' });
      const connection = await instance.connect();
      try {
        // Only the lake's folder may be read; no writes or reads elsewhere, and no query can undo this.
        await connection.run(`SET allowed_directories = [${sqlString(`${this.readRoot}${path.sep}`)}]`);
        await connection.run('SET enable_external_access = false');
        await connection.run('SET lock_configuration = true');
      } finally {
        connection.closeSync();
      }
      return instance;
    })();
    this.#instance.catch(() => (this.#instance = undefined));
    return this.#instance;
  }

  /** Closes the DuckDB instance (idempotent). */
  async close(): Promise<void> {
    this.#closed = true;
    const instance = this.#instance;
    this.#instance = undefined;
    if (instance) (await instance.catch(() => undefined))?.closeSync();
  }
}

/**
 * Where an S3 object is cached: its key with a version tag before `.parquet` — the object's ETag
 * (else its size and modification time) — so an object rewritten under the same key (erasure,
 * rollups rebuilt) is fetched again, even when its size did not change.
 */
export function cacheKey(blob: BlobInfo): string {
  const tag = blob.etag && /^[0-9A-Za-z-]{1,80}$/.test(blob.etag) ? blob.etag.toLowerCase() : `${blob.size}-${blob.modifiedAt.getTime()}`;
  return blob.key.replace(/\.parquet$/, '') + `.${tag}.parquet`;
}

/** The object key of a cache file (its version tag taken out). */
function uncachedKey(cached: string): string {
  return cached.replace(/\.[0-9a-z-]+\.parquet$/, '.parquet');
}

async function createViews(connection: DuckDBConnection, files: readonly string[]): Promise<void> {
  await connection.run(eventsViewSql(files));
  for (const [name, body] of Object.entries(TYPED_VIEWS)) await connection.run(`CREATE TEMP VIEW ${name} AS ${body}`);
}

/** A listed file was gone when read: the query is tried once more with a fresh listing. */
class VanishedFile extends Error {
  constructor(cause: unknown) {
    super('a listed lake file vanished', { cause });
  }
}

function isVanished(error: unknown): boolean {
  if (error instanceof AppError) return error.code === 'blob_not_found';
  return VANISHED_FILE.test(messageOf(error));
}

function invalidQuery(message: string, cause?: unknown): AppError {
  return new AppError('invalid', 'invalid_lake_query', message, { cause });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Waits for `work`, failing with `lake_query_timeout` once `ms` pass (the work itself is bounded by the store's own timeouts). */
async function beforeDeadline<T>(work: Promise<T>, ms: number, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(lakeQueryTimeout(timeoutMs)), Math.max(0, ms))));
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The rows as objects keyed by column name. */
export function rowObjects(result: Pick<LakeQueryResult, 'columns' | 'rows'>): Record<string, unknown>[] {
  return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, row[i]])));
}
