import { createHash, randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { sql, type Selectable } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/database.ts';
import { withTimeout } from '../db/database.ts';
import type { JobsTable } from '../db/tables.ts';
import { abortableSleep } from '../abortable-sleep.ts';
import { callSqs, createSqsClient, describeAwsError, fullJitterMs, type RetryPolicy } from '../aws/sqs-calls.ts';
import { queueUnavailable, type JobQueue, type JobRecord, type JobState, type Worker } from './job-queue.ts';

/** How to open the SQS job queue; see {@link openSqsJobQueue}. */
export interface SqsJobQueueOptions {
  /** The application's database: job records live in `kidslearn.jobs` (control migration 6). */
  database: Database;
  /**
   * The SQS FIFO queue's URL (`JOBS_QUEUE_URL`): every named job queue is
   * delivered through it (the message says which). A function gives each
   * named queue a FIFO queue of its own (tests).
   */
  queueUrl: string | ((queue: string) => string);
  /** Region of the queue; the SDK's default chain otherwise (AWS_REGION on Lambda and ECS). */
  region?: string | undefined;
  /** A client you pass in (tests: one mocked with aws-sdk-client-mock); `close` then leaves it open. */
  client?: SQSClient;
  /** Bound on every call: a database statement, an SQS request with its retries. */
  timeoutMs: number;
  /** Long-poll wait of ReceiveMessage, 1–20 s. Default 20 (SQS's maximum: fewest empty receives). */
  waitTimeSeconds?: number;
  /**
   * Added to a job's `expireInSeconds` for its message's visibility timeout:
   * a worker that died has its job delivered again this long after the
   * attempt's own timeout. Default 5.
   */
  visibilityMarginSeconds?: number;
  /** Retries of each SQS call (throttling, 5xx, network). */
  retry?: RetryPolicy;
  /** Finished job records (completed, failed, cancelled) are deleted this long after they finished. Default 7 days, as pg-boss. */
  keepFinishedDays?: number;
  /** Background failures (a receive that failed, a message that could not be released); never thrown. */
  onError?: (error: Error) => void;
}

/** The body of every message: which job (its record holds the rest) of which named queue. */
const JobMessageSchema = z.object({ v: z.literal(1), jobId: z.uuid(), queue: z.string().min(1).max(200) }).strict();
type JobMessage = z.infer<typeof JobMessageSchema>;

/** Visibility of a message received for a named queue this registration does not work: another consumer may take it. */
const FOREIGN_RELEASE_SECONDS = 5;
/** SQS's longest visibility timeout (12 hours). */
const MAX_VISIBILITY_SECONDS = 43_200;
/** How often a process that works a queue deletes old finished job records. */
const PRUNE_INTERVAL_MS = 10 * 60_000;
/** Pause after a failed receive before the next (a worker must not spin while SQS or the network is down). */
const RECEIVE_ERROR_PAUSE_MS = 1000;

/**
 * The job-queue port on Amazon SQS (a FIFO queue) for delivery and the
 * application's database for job records. SQS alone cannot answer `get`,
 * `list`, `counts` or `retry`, so every job is a row of `kidslearn.jobs`
 * (state, attempts, output, error, times, keys) and its message carries only
 * the job's id.
 *
 * How the port maps onto SQS:
 * - `send` inserts the record (`on conflict do nothing`: with an
 *   `idempotencyKey` the id is a hash of queue and key, so a repeated send
 *   finds the first job) and then sends one message: MessageGroupId = the
 *   singleton key (or the job id), MessageDeduplicationId = the job id.
 *   FIFO delivers one message of a group at a time, so jobs sharing a key
 *   never run together. If SQS does not take the message, the record is
 *   removed again and the call fails 503 (the client's retry sends afresh).
 * - A worker long-polls, claims the record (`active`, attempts + 1, guarded
 *   by the attempts it read) and sets the message's visibility to the
 *   attempt timeout plus a margin. Success: record `completed`, message
 *   deleted. Failure with attempts left: record `retry`, message made
 *   visible again after the backoff (retryDelay·2^(n−1), up to as much
 *   jitter again) with ChangeMessageVisibility — FIFO queues have no
 *   per-message delay, and the job's group waits meanwhile, in order. Out of
 *   attempts: `failed`, message deleted.
 * - Redelivery is expected (at least once): a message for a job already
 *   `completed`, `failed` or `cancelled` is deleted without running it; one
 *   whose record is still `active` (its worker died or overran) starts the
 *   next attempt, or fails the job when that was its last.
 * - An attempt running past `expireInSeconds` has its signal aborted and is
 *   failed ("handler execution exceeded Ns"); what a late handler returns is
 *   ignored (the record's attempts no longer match).
 *
 * Every SQS call retries throttling and transient failures with full-jitter
 * backoff within `timeoutMs`; database calls are bounded by it too. A
 * failure is 503 `queue_unavailable`.
 */
export async function openSqsJobQueue(options: SqsJobQueueOptions): Promise<JobQueue> {
  const { database, timeoutMs } = options;
  const db = database.db;
  const waitTimeSeconds = Math.min(20, Math.max(1, Math.round(options.waitTimeSeconds ?? 20)));
  const margin = Math.max(0, Math.round(options.visibilityMarginSeconds ?? 5));
  const client = options.client ?? await createSqsClient({ region: options.region, connectTimeoutMs: timeoutMs, longestCallMs: waitTimeSeconds * 1000 + timeoutMs });
  const ownsClient = !options.client;
  const urlOf = typeof options.queueUrl === 'string' ? () => options.queueUrl as string : options.queueUrl;
  const report = (error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error)));
  let stopped = false;
  const open = () => {
    if (stopped) throw queueUnavailable('The job queue is stopped');
  };

  /** One database step, bounded; a database that cannot serve is `queue_unavailable`. */
  const bounded = <T>(what: string, promise: Promise<T>): Promise<T> =>
    withTimeout(promise, timeoutMs, () => queueUnavailable(`The job queue did not answer in time (${what})`)).catch((error: unknown) => {
      const code = (error as { code?: unknown }).code;
      throw code === 'queue_unavailable' ? error : code === 'database_unavailable' ? queueUnavailable(`The job queue's database cannot be reached (${what})`, error) : error;
    });
  /** One SQS call with retries, bounded; failure is `queue_unavailable`. */
  const sqs = <T>(what: string, run: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> =>
    callSqs(what, run, { timeoutMs, ...(options.retry ? { retry: options.retry } : {}), ...(signal ? { signal } : {}) }).catch((error: unknown) => {
      if (signal?.aborted) throw error;
      throw queueUnavailable(`The job queue (SQS) cannot be reached (${what}: ${describeAwsError(error)})`, error);
    });
  const changeVisibility = (url: string, message: Message, seconds: number) =>
    sqs('ChangeMessageVisibility', (signal) =>
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.ceil(seconds))) }), { abortSignal: signal }),
    );
  const deleteMessage = (url: string, message: Message) =>
    sqs('DeleteMessage', (signal) => client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle! }), { abortSignal: signal }));
  const sendMessage = (queue: string, jobId: string, groupId: string, dedupId: string) =>
    sqs('SendMessage', (signal) =>
      client.send(
        new SendMessageCommand({ QueueUrl: urlOf(queue), MessageBody: JSON.stringify({ v: 1, jobId, queue } satisfies JobMessage), MessageGroupId: groupId, MessageDeduplicationId: dedupId }),
        { abortSignal: signal },
      ),
    );

  /** Records the end of an attempt, if the record is still this attempt's (a late or stale worker changes nothing). */
  const finish = (id: string, attempt: number, set: Partial<Record<'state' | 'output' | 'error', string | null>> & { finished?: boolean; runAfterSeconds?: number }) =>
    bounded(
      'finish',
      db
        .updateTable('kidslearn.jobs')
        .set({
          ...(set.state ? { state: set.state as JobState } : {}),
          ...('output' in set ? { output: set.output ?? null } : {}),
          ...('error' in set ? { error: set.error ?? null } : {}),
          ...(set.finished ? { finished_at: sql<Date>`now()` } : {}),
          ...(set.runAfterSeconds !== undefined ? { run_after: sql<Date>`now() + make_interval(secs => ${set.runAfterSeconds})` } : {}),
        })
        .where('id', '=', id)
        .where('attempts', '=', attempt)
        .where('state', '=', 'active')
        .executeTakeFirst()
        .then((r) => Number(r.numUpdatedRows) === 1),
    );

  interface Running {
    id: string;
    attempt: number;
    url: string;
    message: Message;
    controller: AbortController;
    row: JobsRow;
    /** Settles when this attempt's outcome is recorded (or given up). */
    done: Promise<void>;
    /** Set once the outcome is decided (by the handler, its timeout or a stop), so only one path records it. */
    settled: boolean;
  }
  const running = new Set<Running>();

  /** Fails the attempt: `retry` after the backoff while attempts are left, else `failed` and the message deleted. */
  const failAttempt = async (r: Running, message: string) => {
    const { row } = r;
    const retriesUsed = r.attempt - 1;
    if (r.attempt <= row.retry_limit) {
      const delay = retryDelaySeconds(row, retriesUsed + 1);
      if (await finish(r.id, r.attempt, { state: 'retry', error: message, runAfterSeconds: delay })) await changeVisibility(r.url, r.message, delay);
    } else if (await finish(r.id, r.attempt, { state: 'failed', error: message, finished: true })) {
      await deleteMessage(r.url, r.message);
    }
  };

  /** Runs one received message to its outcome. */
  const handle = async (queue: string, url: string, message: Message, handler: (job: JobForHandler) => Promise<unknown>, track: Set<Promise<void>>) => {
    let body: JobMessage;
    try {
      body = JobMessageSchema.parse(JSON.parse(message.Body ?? ''));
    } catch {
      // A message this adapter did not write: nothing can ever run it.
      report(new Error(`job queue: deleting a message that is not a job (${message.MessageId})`));
      await deleteMessage(url, message);
      return;
    }
    if (body.queue !== queue) {
      await changeVisibility(url, message, FOREIGN_RELEASE_SECONDS);
      return;
    }
    const row = await bounded('claim', db.selectFrom('kidslearn.jobs').selectAll().where('id', '=', body.jobId).executeTakeFirst());
    if (!row || row.state === 'completed' || row.state === 'failed' || row.state === 'cancelled') {
      // Delivered again (at least once) after the job ended, or its record is gone: do not run it again.
      await deleteMessage(url, message);
      return;
    }
    const receives = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
    if (row.state === 'active' && row.attempts >= row.retry_limit + 1) {
      // Its last attempt's worker died (or overran) without recording an outcome.
      const ended = await bounded(
        'expire',
        db
          .updateTable('kidslearn.jobs')
          .set({ state: 'failed', error: 'job timed out', finished_at: sql<Date>`now()` })
          .where('id', '=', row.id)
          .where('attempts', '=', row.attempts)
          .where('state', '=', 'active')
          .executeTakeFirst(),
      );
      if (Number(ended.numUpdatedRows) === 1) await deleteMessage(url, message);
      return;
    }
    // The message stays hidden for the attempt's timeout (plus the margin) — set before the claim, so a
    // failure here costs no attempt: the message simply comes back after the receive's visibility.
    await changeVisibility(url, message, row.expire_seconds + margin);
    const claimed = await bounded(
      'claim',
      db
        .updateTable('kidslearn.jobs')
        .set({
          state: 'active',
          attempts: row.attempts + 1,
          started_at: sql<Date>`now()`,
          // A redelivered message of an attempt that never finished: that attempt timed out.
          ...(row.state === 'active' ? { error: 'job timed out' } : {}),
        })
        .where('id', '=', row.id)
        .where('attempts', '=', row.attempts)
        .where('state', '=', row.state)
        .executeTakeFirst(),
    );
    if (Number(claimed.numUpdatedRows) !== 1) return; // another worker claimed it in between; its receipt decides
    const attempt = row.attempts + 1;
    if (receives > attempt) report(new Error(`job queue: job ${row.id} was received ${receives} times for attempt ${attempt}`));
    const expire = row.expire_seconds;
    const controller = new AbortController();
    let resolveDone!: () => void;
    const r: Running = { id: row.id, attempt, url, message, controller, row, done: new Promise((resolve) => (resolveDone = resolve)), settled: false };
    running.add(r);
    track.add(r.done);
    try {
      let timer: NodeJS.Timeout | undefined;
      const outcome = await new Promise<{ ok: true; value: unknown } | { ok: false; message: string }>((resolve) => {
        timer = setTimeout(() => {
          const error = new Error(`handler execution exceeded ${expire}s`);
          controller.abort(error);
          resolve({ ok: false, message: error.message });
        }, expire * 1000);
        // Through a promise, so a handler that throws before returning one fails the attempt like any other.
        Promise.resolve()
          .then(() => handler({ id: row.id, queue, data: row.data as object, attempt, signal: controller.signal }))
          .then(
          (value) => resolve({ ok: true, value }),
          (error: unknown) => resolve({ ok: false, message: error instanceof Error ? error.message : String(error) }),
        );
      });
      clearTimeout(timer);
      if (r.settled) return; // a stop released it already
      r.settled = true;
      if (outcome.ok) {
        if (await finish(row.id, attempt, { state: 'completed', output: JSON.stringify(outcome.value ?? null), error: null, finished: true })) await deleteMessage(url, message);
      } else {
        await failAttempt(r, outcome.message);
      }
    } catch (error) {
      // The outcome could not be recorded (database or SQS down): the message stays and is delivered again after its visibility.
      report(error);
    } finally {
      running.delete(r);
      resolveDone();
      track.delete(r.done);
    }
  };

  // Working processes prune old finished records now and then (pg-boss's maintenance does the same for its jobs).
  const keepDays = options.keepFinishedDays ?? 7;
  let pruneTimer: NodeJS.Timeout | undefined;
  const startPruning = () => {
    if (pruneTimer) return;
    const prune = () => void pruneJobRecords(database, keepDays).catch(report);
    prune();
    pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
    pruneTimer.unref();
  };

  /** Stops of every work registration, so `stop` can end them all. */
  const registrations = new Set<{ stop(): void; loops: Promise<void>[]; handlers: Set<Promise<void>> }>();

  const queue: JobQueue = {
    kind: 'sqs',

    async send(name, data, o) {
      open();
      const id = o.idempotencyKey === undefined ? randomUUID() : keyToUuid(name, o.idempotencyKey);
      const inserted = await bounded(
        'send',
        db
          .insertInto('kidslearn.jobs')
          .values({
            id,
            queue: name,
            state: 'created',
            data: JSON.stringify(data),
            singleton_key: o.singletonKey ?? null,
            idempotency_key: o.idempotencyKey ?? null,
            retry_limit: o.retryLimit,
            retry_delay_seconds: o.retryDelaySeconds,
            retry_backoff: o.retryBackoff,
            expire_seconds: o.expireInSeconds,
            output: null,
            error: null,
            started_at: null,
            finished_at: null,
            sent_at: null,
          })
          .onConflict((c) => c.doNothing())
          .returning('id')
          .executeTakeFirst(),
      );
      if (!inserted) {
        // The idempotency key was used before: that job stands. If its message may never have gone
        // out (the first sender died between the insert and SendMessage), send it now: the same
        // deduplication id makes SQS drop a second copy within five minutes, and a later copy of a
        // finished job is deleted unrun.
        const existing = await bounded('send', db.selectFrom('kidslearn.jobs').select(['sent_at', 'singleton_key', 'state']).where('id', '=', id).executeTakeFirst());
        if (existing && existing.sent_at === null && existing.state === 'created') {
          await sendMessage(name, id, groupIdOf(existing.singleton_key ?? id), id);
          await db.updateTable('kidslearn.jobs').set({ sent_at: sql<Date>`now()` }).where('id', '=', id).execute().catch(report);
        }
        return id;
      }
      try {
        await sendMessage(name, id, groupIdOf(o.singletonKey ?? id), id);
      } catch (error) {
        // No message, no job: remove the record so nothing waits for a delivery that will not come.
        await db.deleteFrom('kidslearn.jobs').where('id', '=', id).where('sent_at', 'is', null).where('state', '=', 'created').execute().catch(report);
        throw error;
      }
      // Only a marker (the message is out, the job will run): failing to write it must not fail the send.
      await db.updateTable('kidslearn.jobs').set({ sent_at: sql<Date>`now()` }).where('id', '=', id).execute().catch(report);
      return id;
    },

    async work(name, o, handler) {
      open();
      startPruning();
      const url = urlOf(name);
      const stopping = new AbortController();
      const handlers = new Set<Promise<void>>();
      const loop = async () => {
        while (!stopping.signal.aborted) {
          let messages: Message[];
          const receiving = sqs(
            'ReceiveMessage',
            (signal) =>
              client
                .send(
                  new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: waitTimeSeconds, VisibilityTimeout: 30, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
                  { abortSignal: signal },
                )
                .then((answer) => answer.Messages ?? []),
            stopping.signal,
          );
          try {
            messages = await receiving;
          } catch (error) {
            if (stopping.signal.aborted) {
              // A receive cut short by stop may still deliver (a mocked client does not abort): hand those messages back at once.
              receiving.catch(() => []).then((late) => Promise.all(late.map((m) => changeVisibility(url, m, 0).catch(report))), report);
              break;
            }
            report(error);
            await abortableSleep(RECEIVE_ERROR_PAUSE_MS, stopping.signal).catch(() => {});
            continue;
          }
          for (const message of messages) {
            if (stopping.signal.aborted) {
              await changeVisibility(url, message, 0).catch(report);
              continue;
            }
            await handle(name, url, message, handler as (job: JobForHandler) => Promise<unknown>, handlers).catch(report);
          }
        }
      };
      const loops = Array.from({ length: Math.max(1, o.concurrency) }, () => loop());
      const registration = { stop: () => stopping.abort(new Error('worker stopped')), loops, handlers };
      registrations.add(registration);
      const worker: Worker = {
        async stop() {
          registration.stop();
          await Promise.all(loops);
          registrations.delete(registration);
        },
      };
      return worker;
    },

    async get(jobId) {
      open();
      if (!UUID.test(jobId)) return null;
      const row = await bounded('get', db.selectFrom('kidslearn.jobs').selectAll().where('id', '=', jobId).executeTakeFirst());
      return row ? toRecord(row) : null;
    },

    async list(filter) {
      open();
      const limit = Math.min(1000, Math.max(1, Math.floor(filter.limit)));
      let q = db.selectFrom('kidslearn.jobs').selectAll();
      if (filter.queue !== undefined) q = q.where('queue', '=', filter.queue);
      if (filter.state !== undefined) q = q.where('state', '=', filter.state);
      const rows = await bounded('list', q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute());
      return rows.map(toRecord);
    },

    async counts() {
      open();
      const rows = await bounded(
        'counts',
        db.selectFrom('kidslearn.jobs').select(['queue', 'state', sql<number>`count(*)::int`.as('count')]).groupBy(['queue', 'state']).orderBy('queue').orderBy('state').execute(),
      );
      return rows.map((r) => ({ queue: r.queue, state: r.state, count: Number(r.count) }));
    },

    async retry(jobId) {
      open();
      if (!UUID.test(jobId)) return false;
      // One more attempt: the limit grows by one, so the next run is allowed whatever the attempts so far.
      const row = await bounded(
        'retry',
        db
          .updateTable('kidslearn.jobs')
          .set((eb) => ({ state: 'retry', retry_limit: eb('retry_limit', '+', 1), finished_at: null, run_after: sql<Date>`now()` }))
          .where('id', '=', jobId)
          .where('state', '=', 'failed')
          .returning(['id', 'queue', 'singleton_key', 'attempts'])
          .executeTakeFirst(),
      );
      if (!row) return false;
      try {
        // A fresh deduplication id: the first message's id may still be within SQS's five-minute window.
        await sendMessage(row.queue, row.id, groupIdOf(row.singleton_key ?? row.id), `${row.id}.${row.attempts}`);
      } catch (error) {
        await db.updateTable('kidslearn.jobs').set((eb) => ({ state: 'failed', retry_limit: eb('retry_limit', '-', 1), finished_at: sql<Date>`now()` })).where('id', '=', jobId).where('state', '=', 'retry').execute().catch(report);
        throw error;
      }
      return true;
    },

    async stop(o) {
      if (stopped) return;
      stopped = true;
      clearInterval(pruneTimer);
      for (const r of registrations) r.stop();
      const all = [...registrations];
      const waitMs = o.graceful ? Math.max(0, o.timeoutMs) : 0;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(all.flatMap((r) => [...r.handlers])), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
      // Handlers still running are released: their attempt fails (retried while attempts are left) and their signal aborts.
      await Promise.all(
        [...running].map(async (r) => {
          if (r.settled) return;
          r.settled = true;
          r.controller.abort(new Error('the job queue shut down before the job finished'));
          await failAttempt(r, 'the job queue shut down before the job finished').catch(report);
        }),
      );
      await Promise.race([Promise.all(all.flatMap((r) => r.loops)), abortableSleep(1000, undefined)]);
      registrations.clear();
      if (ownsClient) client.destroy();
    },

    async health() {
      if (stopped) return { ok: false, reason: 'stopped' };
      try {
        await bounded('health', sql`select 1`.execute(db));
        if (typeof options.queueUrl === 'string') {
          const url = options.queueUrl;
          await sqs('GetQueueAttributes', (signal) => client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }), { abortSignal: signal }));
        }
        return { ok: true };
      } catch (error) {
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },
  };
  return queue;
}

/**
 * Deletes job records that finished (completed, failed, cancelled) more than
 * `days` ago; returns how many. Failed jobs stay inspectable and retryable
 * until then.
 */
export async function pruneJobRecords(database: Database, days: number): Promise<number> {
  const result = await database.db
    .deleteFrom('kidslearn.jobs')
    .where('state', 'in', ['completed', 'failed', 'cancelled'])
    .where('finished_at', '<', sql<Date>`now() - make_interval(days => ${days})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** What a handler receives (the port's `Job`, untyped data). */
interface JobForHandler {
  id: string;
  queue: string;
  data: object;
  attempt: number;
  signal: AbortSignal;
}

type JobsRow = Selectable<JobsTable>;

/**
 * Seconds before retry `n` (1 = the first retry): `retryDelaySeconds`, or
 * with backoff retryDelay·2^(n−1) plus up to as much random jitter again —
 * the same shape as pg-boss, so both adapters pass the same contract.
 */
function retryDelaySeconds(row: Pick<JobsRow, 'retry_delay_seconds' | 'retry_backoff'>, n: number): number {
  const base = Math.max(0, row.retry_delay_seconds);
  if (!row.retry_backoff) return base;
  const step = Math.max(1, base) * 2 ** (n - 1);
  return Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(step + fullJitterMs(1, step * 1000, step * 1000) / 1000));
}

/**
 * A MessageGroupId for a singleton key: the key itself when SQS allows it
 * (1–128 printable ASCII characters), otherwise its SHA-256 (the same key
 * always gives the same group).
 */
function groupIdOf(key: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(key) ? key : createHash('sha256').update(key).digest('hex');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A stable UUID for (queue, idempotency key), the same as the pg-boss adapter's: the same pair always names the same job. */
function keyToUuid(queue: string, key: string): string {
  const h = createHash('sha256').update(`${queue}\u0000${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function toRecord(row: JobsRow): JobRecord {
  return {
    id: row.id,
    queue: row.queue,
    state: row.state,
    data: row.data,
    singletonKey: row.singleton_key,
    attempts: row.attempts,
    maxAttempts: row.retry_limit + 1,
    output: row.state === 'completed' ? (row.output ?? null) : null,
    error: row.state === 'retry' || row.state === 'failed' ? row.error : null,
    createdAt: new Date(row.created_at),
    startedAt: row.started_at ? new Date(row.started_at) : null,
    finishedAt: row.finished_at ? new Date(row.finished_at) : null,
    runAfter: new Date(row.run_after),
  };
}
