import { AppError } from '../../domain/errors.ts';

/**
 * The job-queue port: durable background jobs for the adaptive engine (plan
 * requests) and later the lake writer. Engine-agnostic on purpose: the
 * adapters are pg-boss (on embedded PGlite or a PostgreSQL server) and SQS
 * with job records in the database (AWS), chosen in `wiring/`. So the
 * port speaks of queues, jobs, attempts and states only; nothing here names
 * a table, a policy or a pg-boss option. Only `wiring/` picks the adapter.
 *
 * Delivery is at least once: a worker that dies mid-job (or overruns its
 * timeout) has its job run again, so handlers must be idempotent (write
 * keyed by the job id, `on conflict do nothing`).
 */
export interface JobQueue {
  /** Which adapter this is; only for logs, health and metrics. */
  readonly kind: 'pg-boss' | 'sqs';

  /**
   * Adds a job to `queue` (created on first use) and returns its id. With
   * `idempotencyKey`, sending the same key to the same queue again returns
   * the first job's id and adds nothing (a client retrying its request).
   */
  send(queue: string, data: object, options: SendOptions): Promise<string>;

  /**
   * Runs `handler` for jobs of `queue`, up to `concurrency` at a time in this
   * process, until the returned worker (or the queue) is stopped. The
   * handler's resolved value is stored as the job's output; a throw fails
   * the attempt (retried while attempts are left) with the error's message.
   */
  work<T extends object = object>(queue: string, options: WorkOptions, handler: JobHandler<T>): Promise<Worker>;

  /** One job as stored, or null when there is none with that id (or it was deleted after its retention). */
  get(jobId: string): Promise<JobRecord | null>;

  /** Stored jobs, newest first, optionally of one queue and/or one state. */
  list(filter: ListFilter): Promise<JobRecord[]>;

  /** How many stored jobs each queue has in each state (for metrics and `engine jobs`). */
  counts(): Promise<JobCount[]>;

  /**
   * Requeues a `failed` job with one more attempt (an operator's "try
   * again"). Resolves false when there is no failed job with that id.
   */
  retry(jobId: string): Promise<boolean>;

  /**
   * Stops taking jobs. Graceful: running handlers get up to `timeoutMs` to
   * finish; any still running then is released (its attempt fails and it
   * is retried, by this or another process, while attempts are left).
   * Not graceful: released at once. Closes the adapter's connections.
   */
  stop(options: StopOptions): Promise<void>;

  /** Whether the queue's database answers now (for `/health`); never throws. */
  health(): Promise<QueueHealth>;
}

/** How one job is run. Each field has no default on purpose: the caller decides per kind of job. */
export interface SendOptions {
  /**
   * Jobs with the same key never run at the same time (across all workers
   * and processes); they wait their turn. A child's plan requests carry the
   * child's id. Jobs without a key run independently.
   */
  singletonKey?: string;
  /** Sending the same key to the same queue again adds nothing and returns the first job's id. */
  idempotencyKey?: string;
  /** Attempts after the first: 2 means at most 3 runs. */
  retryLimit: number;
  /** Seconds before the first retry (whole seconds, at least 1 with backoff). */
  retryDelaySeconds: number;
  /** Exponential backoff: each retry waits about twice as long as the one before (with jitter). */
  retryBackoff: boolean;
  /**
   * The attempt's timeout. A handler still running after it has its attempt
   * failed (and its `signal` aborted); a job whose worker died is released
   * for another worker this long after it started (plus the adapter's
   * maintenance interval).
   */
  expireInSeconds: number;
}

/** How a worker takes jobs. */
export interface WorkOptions {
  /** Jobs of this queue run at once in this process. */
  concurrency: number;
}

/** One attempt of a job, as a handler sees it. */
export interface Job<T extends object = object> {
  id: string;
  queue: string;
  data: T;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
  /** Aborted when the attempt timed out or the queue stops without waiting: stop work then. */
  signal: AbortSignal;
}

/** A handler for one job; what it resolves with is stored as the job's output. */
export type JobHandler<T extends object = object> = (job: Job<T>) => Promise<unknown>;

/** A running `work` registration. */
export interface Worker {
  /** Takes no more jobs for this registration and waits for its running handlers. */
  stop(): Promise<void>;
}

/**
 * A job's lifecycle: `created` (waiting), `active` (a worker has it),
 * `retry` (an attempt failed; waiting for the next), `completed`, `failed`
 * (attempts exhausted; kept for inspection and `retry`), `cancelled`.
 */
export type JobState = 'created' | 'retry' | 'active' | 'completed' | 'failed' | 'cancelled';

/** Every state, for validation of filters (CLI `--state`). */
export const JOB_STATES: readonly JobState[] = ['created', 'retry', 'active', 'completed', 'failed', 'cancelled'];

/** A stored job, as `get` and `list` return it. */
export interface JobRecord {
  id: string;
  queue: string;
  state: JobState;
  data: unknown;
  singletonKey: string | null;
  /** Runs started so far (0 while it never ran). */
  attempts: number;
  /** Attempts allowed in all (1 + retries). */
  maxAttempts: number;
  /** What the handler resolved with, once completed. */
  output: unknown;
  /** The last failed attempt's error message (state `retry` or `failed`). */
  error: string | null;
  createdAt: Date;
  /** When the latest attempt started. */
  startedAt: Date | null;
  /** When it completed, failed or was cancelled. */
  finishedAt: Date | null;
  /** Not run before this time (the backoff of the next retry). */
  runAfter: Date;
}

/** One row of `counts`. */
export interface JobCount {
  queue: string;
  state: JobState;
  count: number;
}

/** Which jobs `list` returns. */
export interface ListFilter {
  queue?: string;
  state?: JobState;
  /** At most this many (1–1000). */
  limit: number;
}

/** How `stop` treats running handlers. */
export interface StopOptions {
  graceful: boolean;
  /** How long a graceful stop waits for running handlers. */
  timeoutMs: number;
}

/** The answer of `health`. */
export type QueueHealth = { ok: true } | { ok: false; reason: string };

/** Seconds a client is asked to wait after 503 `queue_unavailable`. */
export const QUEUE_RETRY_AFTER_SECONDS = 5;

/**
 * The one error every queue adapter raises when the queue cannot serve now
 * (database unreachable, a call past its timeout, the queue stopped): 503
 * `queue_unavailable` with `Retry-After`; the cause is kept for the log.
 */
export function queueUnavailable(message: string, cause?: unknown): AppError {
  return new AppError('unavailable', 'queue_unavailable', message, { details: { retryAfterSeconds: QUEUE_RETRY_AFTER_SECONDS }, cause });
}
