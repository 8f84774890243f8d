import { AppError } from '../../domain/errors.ts';
import { abortableSleep as sleep } from '../abortable-sleep.ts';

/**
 * The language-model port: writes candidate practice items for one concept.
 * Three adapters: `offline` (default: the curriculum's own templates, no
 * model, see offline-model.ts), `openai` (any OpenAI-compatible chat
 * completions server, JSON-schema output) and `bedrock` (the Converse API).
 * Only the wiring module picks one, through `createLanguageModel(config)`.
 *
 * Every adapter answers with raw text (JSON of the output schema) and token
 * usage; nothing an adapter returns is trusted: the item generator runs every
 * candidate through the checks in domain/generated-item-checks.ts.
 */
export type LlmProvider = 'offline' | 'openai' | 'bedrock';

/** Curriculum facts a generation is about: never anything about a child. */
export interface GenerationTask {
  conceptId: string;
  conceptName: string;
  conceptDescription: string;
  subject: string;
  grade: number;
  lessonTitle: string;
  /** Teaching text of the lesson (text, tip and example blocks). */
  lessonText: string;
  /** Existing items of the concept, as examples of the style (answers included: they are curriculum). */
  examples: readonly { type: string; prompt: string; choices?: readonly { id: string; text: string }[] | undefined }[];
  /** How many items to write. */
  count: number;
}

/** One call: the task (the offline adapter reads it), the prompt the remote models read, and the output schema. */
export interface GenerationRequest {
  task: GenerationTask;
  system: string;
  user: string;
  /** JSON Schema of the output (`{items: [...]}`). */
  schema: Record<string, unknown>;
  schemaName: string;
  maxOutputTokens: number;
}

/** Tokens a call used, as the provider reported them (0 for `offline`). */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/** What a model answered: its raw text, which model and how many tokens. */
export interface GenerationResponse {
  text: string;
  model: string;
  usage: TokenUsage;
  /** Attempts the call took (1 without retries). */
  attempts: number;
}

/** Options of one call. */
export interface GenerateOptions {
  /** Aborts the call (and any retry wait). */
  signal?: AbortSignal;
}

/** What the adapters have in common. */
export interface LanguageModel {
  readonly provider: LlmProvider;
  /** Model id recorded in each generated item's provenance. */
  readonly model: string;
  /**
   * Asks the model once (with the adapter's timeout and bounded retries).
   * Rejects with AppError `llm_unavailable` (kind `unavailable`) when the
   * provider fails, times out or answers no text; a text that is not valid
   * output is *not* an error here (the checks count it as `malformed_output`).
   */
  generate(request: GenerationRequest, options?: GenerateOptions): Promise<GenerationResponse>;
  close(): Promise<void>;
}

/** Why a call failed, in `details.reason`. */
export type LlmFailure = 'timeout' | 'rate_limited' | 'server_error' | 'rejected' | 'unreachable' | 'bad_response';

/**
 * The one error the adapters raise. `details` names the provider, the reason,
 * the HTTP status and attempts; never the key or the prompt.
 */
export function llmUnavailable(provider: LlmProvider, reason: LlmFailure, message: string, options: { cause?: unknown; status?: number | undefined; attempts?: number } = {}): AppError {
  return new AppError('unavailable', 'llm_unavailable', `Language model (${provider}) is unavailable: ${message}`, {
    cause: options.cause,
    details: { provider, reason, ...(options.status === undefined ? {} : { status: options.status }), ...(options.attempts === undefined ? {} : { attempts: options.attempts }) },
  });
}

/** Is `error` the port's `llm_unavailable` error? */
export function isLlmUnavailable(error: unknown): error is AppError {
  return error instanceof AppError && error.code === 'llm_unavailable';
}

/** One failed attempt, classified: retried or not. */
export class LlmAttemptError extends Error {
  override name = 'LlmAttemptError';
  readonly reason: LlmFailure;
  readonly retryable: boolean;
  readonly status: number | undefined;
  constructor(reason: LlmFailure, message: string, options: { retryable: boolean; status?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

/** How calls are bounded: a timeout per attempt and a number of retries after the first attempt. */
export interface CallPolicy {
  timeoutMs: number;
  retries: number;
  /** First backoff (doubled per retry, full jitter); default 250 ms. */
  baseDelayMs?: number;
  random?: () => number;
}

/**
 * Runs `attempt` with a per-attempt timeout (its signal aborts at
 * `timeoutMs`), retrying retryable failures (429, 5xx, unreachable) at most
 * `retries` times with exponential backoff. A timeout is not retried: a
 * model that hung once usually hangs again, and a plan waits for this call.
 * The caller's abort rejects with its reason at once.
 */
export async function callWithRetries<T>(provider: LlmProvider, policy: CallPolicy, attempt: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<{ value: T; attempts: number }> {
  const random = policy.random ?? Math.random;
  for (let n = 1; ; n++) {
    signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      return { value: await attempt(combined), attempts: n };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const failure =
        error instanceof LlmAttemptError
          ? error
          : timeout.aborted
            ? new LlmAttemptError('timeout', `no answer within ${policy.timeoutMs} ms`, { retryable: false, cause: error })
            : new LlmAttemptError('unreachable', error instanceof Error ? error.message : String(error), { retryable: true, cause: error });
      if (!failure.retryable || n > policy.retries) {
        throw llmUnavailable(provider, failure.reason, `${failure.message}${n > 1 ? ` (after ${n} attempts)` : ''}`, { cause: error, status: failure.status, attempts: n });
      }
      await sleep(Math.min(4000, (policy.baseDelayMs ?? 250) * 2 ** (n - 1)) * random(), signal);
    }
  }
}
