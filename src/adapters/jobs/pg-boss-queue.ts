import { createHash, randomUUID } from 'node:crypto';
import { PgBoss, type ConstructorOptions, type Db } from 'pg-boss';
import { pgConnectionOptions, type PostgresAuth } from '../db/connection.ts';
import type { Database, EmbeddedSession } from '../db/database.ts';
import { withTimeout } from '../db/database.ts';
import { queueUnavailable, type JobQueue, type JobRecord, type JobState, type Worker } from './job-queue.ts';

/** How to open the pg-boss queue; see {@link openJobQueue}. */
export interface JobQueueOptions {
  /**
   * The application's database. Embedded PGlite: the queue shares its one
   * session (through {@link EmbeddedSession}). PostgreSQL: only its kind is
   * read; pg-boss opens a small pool of its own from `databaseUrl`, since a
   * worker holds connections for seconds and must not starve API requests.
   */
  database: Database;
  /** PostgreSQL connection string; required when `database.kind` is `postgres`. */
  databaseUrl?: string | undefined;
  /** How the queue's connections (its pool and its LISTEN connection) sign in; default the password in `databaseUrl`. */
  databaseAuth?: PostgresAuth | undefined;
  /** The queue's own schema, created (with its tables) on start. Default `pgboss`. */
  schema?: string;
  /** Bound on every call: a connection wait, a statement, a send, get or list. */
  timeoutMs: number;
  /** Connections in the queue's pool (PostgreSQL only). Default 4. */
  poolSize?: number;
  /** How often an idle worker looks for jobs; at least 0.5. Default 2. */
  pollingIntervalSeconds?: number;
  /**
   * How often expired jobs (timed out, or their worker died) are released
   * for a retry and finished jobs are cleaned up; at least 1. Default 10.
   */
  maintenanceIntervalSeconds?: number;
  /** Background failures (maintenance, a lost connection): pg-boss reports them as events, never as throws. */
  onError?: (error: Error) => void;
  /** Shown in `pg_stat_activity`. Default `kidslearn-jobs`. */
  applicationName?: string;
}

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The job-queue port on pg-boss 12, on embedded PGlite or a PostgreSQL
 * server, in its own schema (default `pgboss`), created or migrated on start.
 *
 * How the port maps onto pg-boss:
 * - Every queue is created with policy `singleton`: pg-boss lets at most one
 *   job per (queue, singleton key) be `active` (a unique partial index, and
 *   fetch skips a key that is active). A job sent without a key gets a key
 *   of its own (`~<job id>`), so only jobs that share a key wait for each other.
 * - `retryLimit`, `retryDelay`, `retryBackoff` and `expireInSeconds` are set
 *   per job. pg-boss fails an overrunning attempt itself (and aborts
 *   `job.signal`); a job whose worker died stays `active` until a
 *   maintenance pass finds it expired and moves it to `retry`.
 * - `idempotencyKey` becomes the job id (a UUID from a hash of queue and
 *   key): pg-boss inserts with `on conflict do nothing`.
 * - `get`, `list` read the schema's `job` table (all queues' partitions).
 *
 * Each call is bounded by `timeoutMs`; a failure to reach the database is
 * 503 `queue_unavailable`.
 */
export async function openJobQueue(options: JobQueueOptions): Promise<JobQueue> {
  const schema = options.schema ?? 'pgboss';
  if (!SCHEMA.test(schema)) throw new Error(`Invalid job queue schema name: ${schema}`);
  const timeoutMs = options.timeoutMs;
  const maintenance = Math.max(1, Math.round(options.maintenanceIntervalSeconds ?? 10));
  const common: ConstructorOptions = {
    schema,
    application_name: options.applicationName ?? 'kidslearn-jobs',
    // Cron schedules are not used; their timers would only cost queries.
    schedule: false,
    superviseIntervalSeconds: maintenance,
    monitorIntervalSeconds: maintenance,
    persistWarnings: false,
    openTelemetry: { enabled: false },
  };
  let boss: PgBoss;
  if (options.database.kind === 'pglite') {
    const session = options.database.embedded;
    if (!session) throw new Error('The embedded database does not expose its session; cannot run the job queue on it');
    boss = new PgBoss({ ...common, backend: 'pglite', db: embeddedDb(session) });
  } else {
    if (!options.databaseUrl) throw new Error('The job queue on PostgreSQL needs the database URL');
    boss = new PgBoss({
      ...common,
      // With IAM auth: the URL's parts and a password function (pg-boss passes both to its pool and its LISTEN client).
      ...(pgConnectionOptions({ url: options.databaseUrl, auth: options.databaseAuth, connectTimeoutMs: timeoutMs }) as object),
      // One connection LISTENs: a job sent by any process (the API) wakes idle workers in every
      // other (the engines) at once instead of at their next poll. Polling stays as the floor.
      useListenNotify: true,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: timeoutMs,
      options: `-c statement_timeout=${Math.max(timeoutMs, 1000)}`,
      // Not in pg-boss's types but passed on to pg.Pool: the client-side bound for a silent network,
      // which statement_timeout (enforced by the server) cannot catch.
      ...({ query_timeout: Math.max(timeoutMs, 1000) + 1000 } as object),
    });
  }
  // An `error` event without a listener would throw out of pg-boss's timers and end the process.
  boss.on('error', (error) => options.onError?.(error));

  const bounded = <T>(what: string, promise: Promise<T>): Promise<T> =>
    withTimeout(promise, timeoutMs, () => queueUnavailable(`The job queue did not answer in time (${what})`)).catch((error: unknown) => {
      throw isAppError(error) || !isConnectionFailure(error) ? error : queueUnavailable(`The job queue cannot be reached (${what})`, error);
    });

  // Creating the schema is dozens of statements; on a fresh embedded database that takes a few seconds.
  await withTimeout(boss.start(), Math.max(timeoutMs, 60_000), () => queueUnavailable('The job queue did not start in time'));

  const queues = new Map<string, Promise<void>>();
  const ensureQueue = (name: string) => {
    let ready = queues.get(name);
    if (!ready) {
      // notify: creating a job NOTIFYs the listeners (PostgreSQL; PGlite has none and polls).
      // updateQueue turns it on for queues created before it existed.
      ready = boss.createQueue(name, { policy: 'singleton', notify: true }).then(() => boss.updateQueue(name, { notify: true }));
      ready.catch(() => queues.delete(name));
      queues.set(name, ready);
    }
    return ready;
  };
  const sql = async (text: string, values: unknown[]) => (await boss.getDb().executeSql(text, values)).rows as JobRow[];
  const polling = Math.max(0.5, options.pollingIntervalSeconds ?? 2);
  /** This process's workers per queue, woken when a job is sent here. */
  const local = new Map<string, Set<string>>();
  let stopped = false;
  const open = () => {
    if (stopped) throw queueUnavailable('The job queue is stopped');
  };

  return {
    kind: 'pg-boss',

    async send(queue, data, o) {
      open();
      const id = o.idempotencyKey === undefined ? randomUUID() : keyToUuid(queue, o.idempotencyKey);
      return bounded(
        'send',
        (async () => {
          await ensureQueue(queue);
          const sent = await boss.send(queue, data, {
            id,
            singletonKey: o.singletonKey ?? `~${id}`,
            retryLimit: o.retryLimit,
            retryDelay: o.retryDelaySeconds,
            retryBackoff: o.retryBackoff,
            expireInSeconds: o.expireInSeconds,
          });
          // A worker of this queue in this process (the engine inline in `npm start`)
          // starts on it now instead of at its next poll: plans are ready in
          // milliseconds, not after up to a polling interval.
          for (const workId of local.get(queue) ?? []) boss.notifyWorker(workId);
          // null: a job with this id exists already (the idempotency key was used before).
          return sent ?? id;
        })(),
      );
    },

    async work(queue, o, handler) {
      open();
      await bounded('work', ensureQueue(queue));
      const workId = await boss.work<object>(queue, { localConcurrency: o.concurrency, batchSize: 1, pollingIntervalSeconds: polling, notifyPollingIntervalSeconds: polling }, async ([job]) => {
        const value = await handler({ id: job!.id, queue, data: job!.data as never, attempt: job!.retryCount + 1, signal: job!.signal });
        // Always an object, so pg-boss stores it as is and `get` finds it under `value`.
        return { value: value ?? null };
      });
      const ids = local.get(queue) ?? new Set<string>();
      local.set(queue, ids.add(workId));
      const worker: Worker = {
        stop: () => {
          ids.delete(workId);
          return boss.offWork(queue, { id: workId, wait: true });
        },
      };
      return worker;
    },

    async get(jobId) {
      open();
      if (!UUID.test(jobId)) return null;
      const rows = await bounded('get', sql(`select ${COLUMNS} from ${schema}.job where id = $1`, [jobId]));
      return rows[0] ? toRecord(rows[0]) : null;
    },

    async list(filter) {
      open();
      const limit = Math.min(1000, Math.max(1, Math.floor(filter.limit)));
      const rows = await bounded(
        'list',
        sql(
          `select ${COLUMNS} from ${schema}.job
           where ($1::text is null or name = $1) and ($2::text is null or state::text = $2)
           order by created_on desc, id desc limit $3`,
          [filter.queue ?? null, filter.state ?? null, limit],
        ),
      );
      return rows.map(toRecord);
    },

    async counts() {
      open();
      const rows = (await bounded('counts', sql(`select name, state::text as state, count(*)::int as count from ${schema}.job group by name, state order by name, state`, []))) as unknown as {
        name: string;
        state: JobState;
        count: number;
      }[];
      return rows.map((r) => ({ queue: r.name, state: r.state, count: Number(r.count) }));
    },

    async retry(jobId) {
      open();
      if (!UUID.test(jobId)) return false;
      return bounded(
        'retry',
        (async () => {
          const [row] = await sql(`select name from ${schema}.job where id = $1 and state = 'failed'`, [jobId]);
          if (!row) return false;
          const result = await boss.retry(row.name, jobId);
          return (result as { affected?: number }).affected === 1;
        })(),
      );
    },

    async stop(o) {
      if (stopped) return;
      stopped = true;
      // pg-boss waits up to the timeout for running handlers, then fails the
      // jobs still running (each goes to `retry` while attempts are left) and
      // aborts their signals, then closes its pool.
      await boss.stop({ graceful: o.graceful, timeout: o.timeoutMs, close: true });
    },

    async health() {
      if (stopped) return { ok: false, reason: 'stopped' };
      try {
        await bounded('health', sql('select 1 as ok', []));
        return { ok: true };
      } catch (error) {
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}

/**
 * pg-boss's database interface over the embedded session. Each statement
 * (pg-boss sends multi-statement blocks such as `BEGIN; …; COMMIT` as one
 * text without parameters, which only `exec` runs) holds the connection
 * lock the application's queries take, so waiting behind a long request is
 * bounded like theirs, and a failed block is rolled back before the lock is
 * released: no application query ever lands in a transaction pg-boss left
 * aborted. (A request's own transactions are safe from pg-boss either way:
 * Kysely runs them in PGlite's exclusive transaction mode.) LISTEN/NOTIFY
 * is not offered: workers poll.
 */
function embeddedDb(session: EmbeddedSession): Db {
  return {
    executeSql: (text, values) =>
      session.run(async (pglite) => {
        try {
          if (values?.length) return { rows: (await pglite.query(text, values)).rows as unknown[] };
          const results = await pglite.exec(text);
          return { rows: results.flatMap((r) => r.rows ?? []) };
        } catch (error) {
          await pglite.query('ROLLBACK').catch(() => {});
          throw error;
        }
      }),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A stable UUID for (queue, idempotency key): the same pair always names the same job. */
function keyToUuid(queue: string, key: string): string {
  const h = createHash('sha256').update(`${queue}\u0000${key}`).digest('hex');
  // Shaped as a version-8 (custom) UUID with the RFC 4122 variant.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const COLUMNS = `id::text as id, name, state::text as state, data, singleton_key, retry_count, retry_limit, output,
  created_on, started_on, completed_on, start_after`;

interface JobRow {
  id: string;
  name: string;
  state: JobState;
  data: unknown;
  singleton_key: string | null;
  retry_count: number;
  retry_limit: number;
  output: unknown;
  created_on: Date;
  started_on: Date | null;
  completed_on: Date | null;
  start_after: Date;
}

function toRecord(row: JobRow): JobRecord {
  const output = row.output as { value?: unknown; message?: unknown } | null;
  const failedAttempt = row.state === 'retry' || row.state === 'failed';
  return {
    id: row.id,
    queue: row.name,
    state: row.state,
    data: row.data,
    // Our own per-job keys (`~<id>`) are an implementation detail.
    singletonKey: row.singleton_key?.startsWith('~') ? null : row.singleton_key,
    attempts: row.retry_count + (row.started_on ? 1 : 0),
    maxAttempts: row.retry_limit + 1,
    output: row.state === 'completed' ? (output?.value ?? null) : null,
    error: failedAttempt && output ? errorMessage(output) : null,
    createdAt: new Date(row.created_on),
    startedAt: row.started_on ? new Date(row.started_on) : null,
    finishedAt: row.completed_on ? new Date(row.completed_on) : null,
    runAfter: new Date(row.start_after),
  };
}

/**
 * pg-boss stores a thrown Error serialised ({name, message, stack}) and
 * anything else as `{value}`: its own shutdown reason as a string, and the
 * maintenance pass's expiry as `{value: {message: 'job timed out'}}`.
 */
function errorMessage(output: { value?: unknown; message?: unknown }): string {
  if (typeof output.message === 'string') return output.message;
  if (typeof output.value === 'string') return output.value;
  const inner = output.value as { message?: unknown } | null | undefined;
  if (typeof inner?.message === 'string') return inner.message;
  return JSON.stringify(output);
}

function isAppError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AppError';
}

/** Errno codes and `pg` messages of a database that cannot be reached now. */
function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (/^(ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)/.test(code) || code.startsWith('08') || code === '57P01' || code === '57014')) return true;
  return /^(Connection terminated|Query read timeout|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(error.message);
}
