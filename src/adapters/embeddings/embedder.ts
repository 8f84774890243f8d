import { AppError } from '../../domain/errors.ts';
import { abortableSleep as sleep } from '../abortable-sleep.ts';

/**
 * The embedder port: turns texts (concept, lesson and item text of the
 * curriculum, or a teacher's search query) into vectors for the vector store.
 * Three adapters: `local` (default, offline word vectors, see
 * local-embedder.ts), `openai` (any OpenAI-compatible `/v1/embeddings`
 * server) and `bedrock` (Amazon Titan Text Embeddings v2). Only the wiring
 * module picks one, through `createEmbedder(config)`.
 *
 * Every vector is L2-normalised, so cosine similarity is a dot product, and
 * the model id and dimension are recorded with each stored vector: vectors
 * of different models are never compared.
 */
export type EmbeddingsProvider = 'local' | 'openai' | 'bedrock';

/** Options of one `embed` call. */
export interface EmbedOptions {
  /** Aborts the call (and any retry wait); the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What the adapters have in common. */
export interface Embedder {
  readonly provider: EmbeddingsProvider;
  /** Model id stored with each vector, e.g. `local-wink-sg100-tfidf-v1` or `amazon.titan-embed-text-v2:0`. */
  readonly model: string;
  /**
   * Length of every vector. Known from the start for `local` and `bedrock`
   * (and `openai` with `EMBEDDINGS_DIMENSIONS`); an `openai` embedder without
   * it learns the dimension from the server's first answer and reports 0
   * until then, so call `ready()` before relying on it.
   */
  readonly dimension: number;
  /** Resolves once model and dimension are known (asks an `openai` server once when it has to; loads the local word vectors). */
  ready(options?: EmbedOptions): Promise<{ model: string; dimension: number }>;
  /**
   * One unit-length vector per text, in the order given; `[]` for `[]`.
   * Texts longer than the adapter's limit are cut at a word boundary first
   * (see `maxInputChars`). Rejects with AppError `embeddings_unavailable`
   * (kind `unavailable`) when the provider fails, times out, or answers
   * something that is not a vector per text.
   */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array[]>;
  close(): Promise<void>;
}

/** Why a call failed, in `details.reason` of the AppError. */
export type EmbeddingFailure = 'timeout' | 'rate_limited' | 'server_error' | 'rejected' | 'unreachable' | 'bad_response' | 'not_installed';

/**
 * The one error embedders raise: the embedding provider cannot give vectors
 * now. `details` names the provider, the reason and the HTTP status if any;
 * never the API key or the texts (a query may be a teacher's free text).
 */
export function embeddingUnavailable(provider: EmbeddingsProvider, reason: EmbeddingFailure, message: string, options: { cause?: unknown; status?: number; attempts?: number } = {}): AppError {
  return new AppError('unavailable', 'embeddings_unavailable', `Embeddings (${provider}) are unavailable: ${message}`, {
    cause: options.cause,
    details: { provider, reason, ...(options.status === undefined ? {} : { status: options.status }), ...(options.attempts === undefined ? {} : { attempts: options.attempts }) },
  });
}

/** Is `error` the port's `embeddings_unavailable` error? */
export function isEmbeddingUnavailable(error: unknown): error is AppError {
  return error instanceof AppError && error.code === 'embeddings_unavailable';
}

/**
 * Scales `v` to unit length in place and returns it. Returns undefined for a
 * vector that cannot be normalised (zero, NaN or infinite entries), which
 * the remote adapters treat as a bad response.
 */
export function normalize(v: Float32Array): Float32Array | undefined {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  if (!Number.isFinite(sum) || sum === 0) return undefined;
  const inv = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

/** Dot product (= cosine for unit vectors). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Cuts `text` to at most `maxChars` characters, at the last whitespace
 * before the limit when there is one in the last fifth (so a word is not
 * split), without splitting a surrogate pair. Curriculum texts are far
 * shorter; this only keeps a pathological input within a provider's limit.
 */
export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = maxChars;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  const space = text.lastIndexOf(' ', cut);
  if (space > maxChars * 0.8) cut = space;
  return text.slice(0, cut);
}

/** Splits `items` into consecutive batches of at most `size`. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, keeping the
 * results in input order. The first failure rejects (calls already started
 * finish in the background; their results are dropped).
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** How the remote adapters retry: attempts in all, and the backoff between them. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 4: one call and three retries). */
  attempts: number;
  /** First backoff; doubled each retry, with full jitter, capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The default retry policy: 4 attempts, 200 ms doubling to at most 4 s. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 4000 };

/** One failed attempt, as the remote adapters classify it. */
export class AttemptError extends Error {
  override name = 'AttemptError';
  readonly reason: EmbeddingFailure;
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** The server's Retry-After, in ms, if it sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(reason: EmbeddingFailure, message: string, options: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.retryable = options.retryable;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Calls `attempt` until it succeeds, fails with a non-retryable error, or
 * the policy's attempts are spent; waits with exponential backoff and full
 * jitter between attempts (or the server's Retry-After, capped at
 * `maxDelayMs`). A caller's abort ends the wait at once and rejects with the
 * signal's reason; every other failure becomes `embeddings_unavailable`.
 * `random` is injectable so tests can make the jitter deterministic.
 */
export async function withRetries<T>(
  provider: EmbeddingsProvider,
  attempt: () => Promise<T>,
  options: { policy: RetryPolicy; signal?: AbortSignal | undefined; random?: () => number },
): Promise<T> {
  const { policy, signal } = options;
  const random = options.random ?? Math.random;
  for (let n = 1; ; n++) {
    signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const failure = error instanceof AttemptError ? error : new AttemptError('unreachable', error instanceof Error ? error.message : String(error), { retryable: false, cause: error });
      if (!failure.retryable || n >= policy.attempts) {
        throw embeddingUnavailable(provider, failure.reason, `${failure.message}${n > 1 ? ` (after ${n} attempts)` : ''}`, {
          cause: error,
          ...(failure.status === undefined ? {} : { status: failure.status }),
          attempts: n,
        });
      }
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)) * random();
      const wait = failure.retryAfterMs === undefined ? backoff : Math.min(policy.maxDelayMs, Math.max(backoff, failure.retryAfterMs));
      await sleep(wait, signal);
    }
  }
}

/** Is an HTTP status worth retrying (rate limited, or a server-side failure)? */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** Parses a Retry-After header (seconds or an HTTP date) into ms. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
