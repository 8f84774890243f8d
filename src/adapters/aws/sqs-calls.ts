import type * as SqsSdk from '@aws-sdk/client-sqs';
import type { SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';
import { lazyModule } from '../lazy-module.ts';
import { abortableSleep } from '../abortable-sleep.ts';

/** The SQS client package, loaded with the first queue call (not at import: ~70 ms of a Lambda cold start). */
export const loadSqsSdk = lazyModule((): Promise<typeof SqsSdk> => import('@aws-sdk/client-sqs'));

/**
 * What the SQS adapters (job queue, event producer) share: one client
 * factory with timeouts, which failures are worth another try, backoff with
 * full jitter, and SendMessageBatch that resends only the entries SQS did
 * not take. The SDK's own retries are off (`maxAttempts: 1`): these loops
 * retry instead, within the caller's deadline, so a call never outlives it.
 */

/** Error names SQS answers when a caller is going too fast (the JSON protocol says ThrottlingException, the query protocol RequestThrottled). */
const THROTTLING = new Set(['ThrottlingException', 'RequestThrottled', 'Throttling', 'ThrottledException', 'TooManyRequestsException', 'KmsThrottled', 'SlowDown']);

/** Server-side or transient error names worth another try. */
const TRANSIENT = new Set(['ServiceUnavailable', 'InternalError', 'InternalFailure', 'ServiceUnavailableException', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError']);

/** Whether an SQS error means "slow down". */
export function isThrottling(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean } } | null;
  return THROTTLING.has(e?.name ?? '') || e?.$metadata?.httpStatusCode === 429 || e?.$retryable?.throttling === true;
}

/**
 * Whether a failed SQS call may succeed when tried again: throttling, 5xx,
 * errors the SDK marks retryable, and no answer at all (refused, reset,
 * DNS). Validation, access and "no such queue" errors are not.
 */
export function isRetryableSqsError(error: unknown): boolean {
  if (isThrottling(error)) return true;
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; $fault?: string; code?: string } | null;
  if (!e) return false;
  const status = e.$metadata?.httpStatusCode;
  if (TRANSIENT.has(e.name ?? '') || Boolean(e.$retryable) || (status !== undefined && status >= 500) || e.$fault === 'server') return true;
  // No HTTP answer: a network error (ECONNRESET, ENOTFOUND…), not a service exception.
  return status === undefined && typeof e.code === 'string' && /^E[A-Z]+/.test(e.code);
}

/** A delay for retry `attempt` (1-based): uniformly random in [0, min(cap, base·2^(attempt−1))] ("full jitter"). */
export function fullJitterMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1)));
}

/** How an SQS call is retried. */
export interface RetryPolicy {
  /** Tries in all (the first included). */
  maxAttempts: number;
  /** Backoff base; the n-th retry waits up to base·2^(n−1), capped. */
  baseDelayMs: number;
  capDelayMs: number;
}

/** Defaults: 5 tries, 50 ms base, 2 s cap. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 50, capDelayMs: 2000 };

/** Raised when an AWS call (SQS, SES) failed for good or ran past its deadline; `cause` is the last SDK error. */
export class AwsCallError extends Error {
  override name = 'AwsCallError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Runs one SQS call, retrying retryable failures with full-jitter backoff,
 * all within `timeoutMs`: the signal handed to `run` aborts the request in
 * flight (and any backoff) at the deadline, and the call rejects then.
 */
export function callSqs<T>(what: string, run: (signal: AbortSignal) => Promise<T>, options: { timeoutMs: number; retry?: RetryPolicy; signal?: AbortSignal }): Promise<T> {
  return callAws('SQS', what, run, options);
}

/** {@link callSqs} for any AWS service (`service` names it in errors): the same retries of throttling and transient failures, within the deadline. */
export async function callAws<T>(service: string, what: string, run: (signal: AbortSignal) => Promise<T>, options: { timeoutMs: number; retry?: RetryPolicy; signal?: AbortSignal }): Promise<T> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  const timedOut = () => new AwsCallError(`${service} ${what} got no answer within ${options.timeoutMs} ms`);
  // The mocked client (tests) does not watch the signal; the race makes the deadline hold either way.
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(options.signal?.aborted ? (options.signal.reason as Error) : timedOut());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  for (let attempt = 1; ; attempt++) {
    try {
      return await Promise.race([run(signal), aborted]);
    } catch (error) {
      if (signal.aborted) throw options.signal?.aborted ? (options.signal.reason as Error) : timedOut();
      if (attempt >= retry.maxAttempts || !isRetryableSqsError(error)) throw new AwsCallError(`${service} ${what} failed: ${describeAwsError(error)}`, { cause: error });
      await Promise.race([abortableSleep(fullJitterMs(attempt, retry.baseDelayMs, retry.capDelayMs), signal), aborted]).catch(() => {});
      if (signal.aborted) throw options.signal?.aborted ? (options.signal.reason as Error) : timedOut();
    }
  }
}

/** One entry that SQS did not take after every try. */
export interface FailedEntry {
  id: string;
  code: string;
  message: string;
  /** SQS says the entry itself is wrong (too large, invalid): retrying cannot help. */
  senderFault: boolean;
}

/** SendMessageBatch's most entries per request. */
export const SQS_BATCH_ENTRIES = 10;
/** SQS's largest message (and batch payload): 256 KiB. */
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * Sends up to 10 entries with SendMessageBatch. Entries SQS reports under
 * `Failed` (and the whole request, when it fails retryably) are resent —
 * only those — with full-jitter backoff, until every entry is taken, an
 * entry fails with `SenderFault` (not retried), the tries run out or the
 * deadline passes. Resolves with the entries that never got in (empty when
 * all did); rejects only when the deadline passes.
 */
export async function sendBatch(client: SQSClient, queueUrl: string, entries: SendMessageBatchRequestEntry[], options: { timeoutMs: number; retry?: RetryPolicy }): Promise<FailedEntry[]> {
  const { SendMessageBatchCommand } = await loadSqsSdk();
  if (entries.length > SQS_BATCH_ENTRIES) throw new Error(`SendMessageBatch takes at most ${SQS_BATCH_ENTRIES} entries, got ${entries.length}`);
  const retry = options.retry ?? DEFAULT_RETRY;
  const deadline = Date.now() + options.timeoutMs;
  let pending = entries;
  const failed: FailedEntry[] = [];
  for (let attempt = 1; pending.length > 0; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new AwsCallError(`SQS SendMessageBatch got no answer within ${options.timeoutMs} ms`);
    let answer;
    try {
      // One try per round here: the loop below decides what is resent.
      answer = await callSqs('SendMessageBatch', (signal) => client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }), { abortSignal: signal }), {
        timeoutMs: remaining,
        retry: { ...retry, maxAttempts: 1 },
      });
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (cause === undefined || !isRetryableSqsError(cause) || attempt >= retry.maxAttempts) {
        if (cause === undefined) throw error; // the deadline
        return [...failed, ...pending.map((e) => ({ id: e.Id!, code: (cause as { name?: string }).name ?? 'Error', message: describeAwsError(cause), senderFault: false }))];
      }
      await abortableSleep(Math.min(fullJitterMs(attempt, retry.baseDelayMs, retry.capDelayMs), Math.max(0, deadline - Date.now())), undefined);
      continue;
    }
    const retryable = new Set<string>();
    for (const f of answer.Failed ?? []) {
      const entry = { id: f.Id!, code: f.Code ?? 'Error', message: f.Message ?? '', senderFault: f.SenderFault === true };
      if (entry.senderFault || attempt >= retry.maxAttempts) failed.push(entry);
      else retryable.add(entry.id);
    }
    pending = pending.filter((e) => retryable.has(e.Id!));
    if (pending.length > 0) await abortableSleep(Math.min(fullJitterMs(attempt, retry.baseDelayMs, retry.capDelayMs), Math.max(0, deadline - Date.now())), undefined);
  }
  return failed;
}

/** `Name: message` of an AWS SDK error, for logs and error messages (never a request body). */
export function describeAwsError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.message && error.message !== error.name ? `${error.name}: ${error.message}` : error.name;
}

/**
 * An SQS client for these adapters: the SDK's retries off (ours run within
 * the caller's deadline), connection and request timeouts set. The request
 * timeout covers a long poll (`longestCallMs`).
 */
export async function createSqsClient(options: { region?: string | undefined; endpoint?: string | undefined; connectTimeoutMs: number; longestCallMs: number }): Promise<SQSClient> {
  const { SQSClient } = await loadSqsSdk();
  return new SQSClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: options.connectTimeoutMs, requestTimeout: options.longestCallMs, throwOnRequestTimeout: true },
  });
}
