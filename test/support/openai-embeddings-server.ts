import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server, in the test process, that speaks the OpenAI embeddings
 * API (`POST /v1/embeddings` `{model, input}` → `{data: [{index, embedding}]}`)
 * the way Ollama, vLLM and OpenAI do, so the `openai` embedder is tested over
 * actual HTTP. Vectors are a deterministic function of the text
 * (`fakeVector`), deliberately not unit length and returned in reverse order
 * with their `index`, so the adapter's normalising and reordering are tested.
 * Faults are scripted per request with `next(...)`.
 */
export type Fault = 'ok' | '429' | '500' | 'malformed' | 'hang' | 'short' | 'drop';

export interface FakeEmbeddingsServer {
  url: string;
  apiKey: string;
  dimension: number;
  /** Requests received, in order (body as parsed, and the authorization header). */
  requests: { input: string[]; model: string; authorization: string | undefined }[];
  /** Behaviour of the next requests, in order; when the script is empty every request is `ok`. */
  next(...faults: Fault[]): void;
  close(): Promise<void>;
}

/** Characters one input may have, like a model's context limit: longer inputs get a 400, as real servers answer. */
export const FAKE_MAX_INPUT_CHARS = 8192;

/** The server's vector for `text`: SHA-256 bytes of the text, stretched over `dimension`, centred, not normalised. */
export function fakeVector(text: string, dimension: number): number[] {
  const out: number[] = [];
  for (let block = 0; out.length < dimension; block++) {
    const digest = createHash('sha256').update(`${block}:${text}`).digest();
    for (const byte of digest) if (out.length < dimension) out.push((byte - 127.5) / 10);
  }
  return out;
}

/** Starts the server on a free port of 127.0.0.1. */
export async function startFakeEmbeddingsServer(options: { dimension?: number; apiKey?: string } = {}): Promise<FakeEmbeddingsServer> {
  const dimension = options.dimension ?? 48;
  const apiKey = options.apiKey ?? 'sk-test-not-a-secret';
  const script: Fault[] = [];
  const requests: FakeEmbeddingsServer['requests'] = [];
  const hanging = new Set<ServerResponse>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') return send(404, { error: { message: 'not found' } });
    let body: { model?: unknown; input?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      return send(400, { error: { message: 'invalid JSON' } });
    }
    const input = Array.isArray(body.input) ? (body.input as string[]) : [];
    requests.push({ input, model: String(body.model), authorization: req.headers.authorization });
    if (req.headers.authorization !== `Bearer ${apiKey}`) return send(401, { error: { message: 'invalid api key' } });
    if (input.length === 0 || !input.every((t) => typeof t === 'string')) return send(400, { error: { message: 'input must be a non-empty array of strings' } });
    if (input.some((t) => t.length > FAKE_MAX_INPUT_CHARS)) return send(400, { error: { message: 'input is longer than the model context' } });
    const fault = script.shift() ?? 'ok';
    switch (fault) {
      case '429':
        return send(429, { error: { message: 'rate limited' } }, { 'retry-after': '0' });
      case '500':
        return send(500, { error: { message: 'model crashed' } });
      case 'malformed':
        return send(200, '{"data": [{"embedding": [0.1, ');
      case 'short':
        return send(200, { object: 'list', data: input.slice(1).map((t, index) => ({ object: 'embedding', index, embedding: fakeVector(t, dimension) })) });
      case 'hang':
        hanging.add(res);
        return;
      case 'drop':
        req.socket.destroy();
        return;
      case 'ok': {
        const data = input.map((t, index) => ({ object: 'embedding', index, embedding: fakeVector(t, dimension) })).reverse();
        return send(200, { object: 'list', model: body.model, data, usage: { prompt_tokens: input.join(' ').split(/\s+/).length, total_tokens: 0 } });
      }
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    dimension,
    requests,
    next: (...faults) => script.push(...faults),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
