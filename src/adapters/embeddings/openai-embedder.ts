import { AttemptError, batches, DEFAULT_RETRY, embeddingUnavailable, isRetryableStatus, normalize, parseRetryAfter, truncateText, withRetries, type Embedder, type RetryPolicy } from './embedder.ts';

/** Options of the OpenAI-compatible embedder. */
export interface OpenAiEmbedderOptions {
  /** Server base URL, e.g. `http://127.0.0.1:11434` (Ollama) or `https://api.openai.com`; `/v1/embeddings` is appended. */
  url: string;
  model: string;
  /** Sent as `Authorization: Bearer …` when set; never logged or put in an error. */
  apiKey?: string | undefined;
  /** Expected vector length; when set it is also sent as `dimensions` (OpenAI text-embedding-3 shortens its vectors to it). Otherwise learnt from the first answer. */
  dimensions?: number | undefined;
  /** Longest wait for one HTTP call; a call that takes longer fails with reason `timeout` (not retried: retrying a hung server only multiplies the wait). */
  timeoutMs: number;
  /** Texts per request (default 64). */
  batchSize?: number;
  /** Characters of one text sent (default 8,000, about 2,000 tokens: within the context of common embedding models). */
  maxInputChars?: number;
  retry?: RetryPolicy;
  /** Injected for tests: jitter source. */
  random?: () => number;
}

/**
 * The `openai` embedder: any server speaking OpenAI's embeddings API (OpenAI,
 * Ollama, vLLM, LM Studio, llama.cpp…): `POST {url}/v1/embeddings` with
 * `{model, input: [...]}` → `{data: [{index, embedding}]}`. Texts go in
 * batches, one request at a time; every request has a timeout; 408/429/5xx
 * and dropped connections are retried with exponential backoff (honouring
 * Retry-After); answers are checked (one finite, non-zero vector per text, all
 * of one length) and normalised, since not every server returns unit vectors.
 */
export function createOpenAiEmbedder(options: OpenAiEmbedderOptions): Embedder {
  const endpoint = `${options.url.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1/embeddings`;
  const batchSize = options.batchSize ?? 64;
  const maxInputChars = options.maxInputChars ?? 8000;
  const policy = options.retry ?? DEFAULT_RETRY;
  let dimension = options.dimensions ?? 0;

  const request = async (input: string[], signal: AbortSignal | undefined): Promise<Float32Array[]> => {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    let body: unknown;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
        body: JSON.stringify({ model: options.model, input, encoding_format: 'float', ...(options.dimensions ? { dimensions: options.dimensions } : {}) }),
        signal: combined,
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new AttemptError(response.status === 429 ? 'rate_limited' : response.status >= 500 ? 'server_error' : 'rejected', `the server answered HTTP ${response.status}`, {
          retryable: isRetryableStatus(response.status),
          status: response.status,
          ...(response.headers.get('retry-after') ? { retryAfterMs: parseRetryAfter(response.headers.get('retry-after'))! } : {}),
        });
      }
      const text = await response.text();
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw new AttemptError('bad_response', 'the server’s answer is not JSON', { retryable: false, status: response.status, cause: error });
      }
    } catch (error) {
      if (error instanceof AttemptError) throw error;
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new AttemptError('timeout', `no answer within ${options.timeoutMs} ms`, { retryable: false, cause: error });
      // fetch failed: refused, reset or DNS. Retried: a restarting server comes back.
      throw new AttemptError('unreachable', `cannot reach ${new URL(endpoint).host}`, { retryable: true, cause: error });
    }
    return readVectors(body, input.length);
  };

  const readVectors = (body: unknown, count: number): Float32Array[] => {
    const bad = (why: string) => new AttemptError('bad_response', `the server’s answer ${why}`, { retryable: false });
    const data = (body as { data?: unknown } | null)?.data;
    if (!Array.isArray(data) || data.length !== count) throw bad(`does not hold ${count} embeddings in "data"`);
    const out = new Array<Float32Array>(count);
    data.forEach((row: unknown, position) => {
      const r = row as { index?: unknown; embedding?: unknown } | null;
      // `index` says which input a row belongs to; servers that omit it answer in order.
      const index = typeof r?.index === 'number' ? r.index : position;
      if (!Number.isInteger(index) || index < 0 || index >= count || out[index]) throw bad('has a missing or repeated index');
      if (!Array.isArray(r?.embedding) || r.embedding.length === 0 || !r.embedding.every((x) => typeof x === 'number')) throw bad('has a row without a numeric "embedding"');
      const v = normalize(Float32Array.from(r.embedding as number[]));
      if (!v) throw bad('has a zero or non-finite vector');
      out[index] = v;
    });
    const length = out[0]!.length;
    if (out.some((v) => v.length !== length)) throw bad('mixes vector lengths');
    if (dimension && length !== dimension) throw bad(`has ${length}-d vectors, ${dimension} expected (the model changed? reindex)`);
    dimension = length;
    return out;
  };

  const embedder: Embedder = {
    provider: 'openai',
    model: options.model,
    get dimension() {
      return dimension;
    },
    async ready(opts = {}) {
      if (!dimension) await embedder.embed(['dimension probe'], opts);
      return { model: options.model, dimension };
    },
    async embed(texts, opts = {}) {
      const out: Float32Array[] = [];
      for (const batch of batches(texts.map((t) => truncateText(t, maxInputChars)), batchSize)) {
        out.push(...(await withRetries('openai', () => request(batch, opts.signal), { policy, signal: opts.signal, ...(options.random ? { random: options.random } : {}) })));
      }
      return out;
    },
    async close() {},
  };
  if (!/^https?:\/\//.test(options.url)) throw embeddingUnavailable('openai', 'rejected', 'EMBEDDINGS_URL must be an http(s) URL');
  return embedder;
}
