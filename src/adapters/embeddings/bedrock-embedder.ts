import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { AttemptError, DEFAULT_RETRY, mapLimited, normalize, truncateText, withRetries, type Embedder, type RetryPolicy } from './embedder.ts';
import { classifyBedrockError } from '../aws/bedrock-errors.ts';
import { instrumentAwsClient } from '../../observability/aws-clients.ts';

/** Titan Text Embeddings v2, the default Bedrock model. */
export const TITAN_V2 = 'amazon.titan-embed-text-v2:0';
/** Titan v2 accepts 8,192 tokens or 50,000 characters; 25,000 characters keeps even token-dense text under the token limit. */
export const BEDROCK_MAX_INPUT_CHARS = 25_000;

/** Options of the Bedrock embedder. */
export interface BedrockEmbedderOptions {
  /** A client you pass in (tests pass one mocked with aws-sdk-client-mock); otherwise one is made for `region` with the SDK's default credentials. */
  client?: BedrockRuntimeClient;
  region?: string | undefined;
  model?: string;
  /** Titan v2 output size: 256, 512 or 1024 (default). */
  dimensions?: 256 | 512 | 1024;
  /** Longest wait for one InvokeModel call (the SDK's own retries are off: ours apply). */
  timeoutMs: number;
  /** InvokeModel calls in flight at once (default 4): Titan v2 embeds one text per call, and Bedrock's per-account rate limits are low. */
  concurrency?: number;
  retry?: RetryPolicy;
  random?: () => number;
}

/**
 * The `bedrock` embedder: Amazon Titan Text Embeddings v2 through
 * `InvokeModel` with `{inputText, dimensions, normalize: true}` → `{embedding}`,
 * one call per text (Titan v2 takes one input), at most `concurrency` at a
 * time, each with a timeout, retried with backoff on throttling and
 * server-side errors. Vectors are normalised again (cheap, and the port
 * promises unit length whatever the model returns).
 */
export function createBedrockEmbedder(options: BedrockEmbedderOptions): Embedder {
  const model = options.model ?? TITAN_V2;
  const dimension = options.dimensions ?? 1024;
  const client = options.client ?? instrumentAwsClient(new BedrockRuntimeClient({ ...(options.region ? { region: options.region } : {}), maxAttempts: 1 }));
  const ownsClient = !options.client;
  const policy = options.retry ?? DEFAULT_RETRY;
  const concurrency = options.concurrency ?? 4;

  const invoke = async (text: string, signal: AbortSignal | undefined): Promise<Float32Array> => {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new AttemptError('timeout', `no answer within ${options.timeoutMs} ms`, { retryable: false }));
      }, options.timeoutMs);
    });
    try {
      const command = new InvokeModelCommand({
        modelId: model,
        contentType: 'application/json',
        accept: 'application/json',
        body: JSON.stringify({ inputText: text, dimensions: dimension, normalize: true }),
      });
      let output;
      try {
        output = await Promise.race([client.send(command, { abortSignal: controller.signal }), timedOut]);
      } catch (error) {
        if (error instanceof AttemptError) throw error;
        if (signal?.aborted) throw signal.reason;
        throw classify(error);
      }
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(output.body));
      } catch (error) {
        throw new AttemptError('bad_response', 'the model’s answer is not JSON', { retryable: false, cause: error });
      }
      const embedding = (body as { embedding?: unknown } | null)?.embedding;
      if (!Array.isArray(embedding) || embedding.length !== dimension || !embedding.every((x) => typeof x === 'number')) {
        throw new AttemptError('bad_response', `the model’s answer has no ${dimension}-d "embedding"`, { retryable: false });
      }
      const v = normalize(Float32Array.from(embedding as number[]));
      if (!v) throw new AttemptError('bad_response', 'the model returned a zero or non-finite vector', { retryable: false });
      return v;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  };

  return {
    provider: 'bedrock',
    model,
    dimension,
    async ready() {
      return { model, dimension };
    },
    async embed(texts, opts = {}) {
      return mapLimited(texts, concurrency, (text) =>
        withRetries('bedrock', () => invoke(truncateText(text, BEDROCK_MAX_INPUT_CHARS), opts.signal), { policy, signal: opts.signal, ...(options.random ? { random: options.random } : {}) }),
      );
    },
    async close() {
      if (ownsClient) client.destroy();
    },
  };
}

/** An SDK error as an attempt failure (see classifyBedrockError). */
function classify(error: unknown): AttemptError {
  const { reason, message, ...options } = classifyBedrockError(error, ['TimeoutError', 'RequestTimeout']);
  return new AttemptError(reason, message, { ...options, cause: error });
}
