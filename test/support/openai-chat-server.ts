import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { solveQuestion } from '../../src/domain/item-solver.ts';

/**
 * A real HTTP server, in the test process, that speaks OpenAI's chat
 * completions API (`POST /v1/chat/completions` → `{choices: [{message:
 * {content}}], usage}`) the way OpenAI, Ollama and vLLM do, so the `openai`
 * language model is tested over actual HTTP. By default it answers with
 * correct practice items (addition questions, answers computed) in the
 * requested JSON schema's shape; faults are scripted per request with
 * `next(...)`: HTTP errors, a hang (the client's timeout), a dropped
 * connection, malformed JSON content, or items with a wrong key, an unsafe
 * word, two correct choices, a key outside the choices.
 */
export type ChatFault = 'ok' | '429' | '500' | '400' | 'hang' | 'drop' | 'not_json' | 'malformed_content' | 'wrong_key' | 'unsafe_word' | 'two_correct' | 'key_outside' | 'refusal';

export interface ChatRequestRecord {
  body: { model?: string; messages?: { role: string; content: string }[]; response_format?: { type?: string; json_schema?: { name?: string; strict?: boolean; schema?: unknown } }; max_tokens?: number };
  authorization: string | undefined;
  /** Every message's content, joined: what a model would read. */
  text: string;
}

export interface FakeChatServer {
  url: string;
  apiKey: string;
  requests: ChatRequestRecord[];
  next(...faults: ChatFault[]): void;
  /** Usage reported per answer. */
  usage: { prompt_tokens: number; completion_tokens: number };
  close(): Promise<void>;
}

/** `count` correct addition items with fresh numbers, starting at `offset` so different answers do not repeat. */
export function goodItems(count: number, offset = 0): { type: string; prompt: string; choices: { id: string; text: string }[]; answer: string; alsoAccept: string[] }[] {
  return Array.from({ length: count }, (_, i) => {
    const a = 11 + ((offset + i) % 40);
    const b = 3 + ((offset + 7 * i) % 6);
    const prompt = `A farmer has ${a} sheep. He buys ${b} more. How many sheep does he have now?`;
    const value = (solveQuestion(prompt) as { value: number }).value;
    return { type: 'numeric', prompt, choices: [], answer: String(value), alsoAccept: [] };
  });
}

/** Starts the server on a free port of 127.0.0.1. */
export async function startFakeChatServer(options: { apiKey?: string } = {}): Promise<FakeChatServer> {
  const apiKey = options.apiKey ?? 'sk-chat-test-not-a-secret';
  const script: ChatFault[] = [];
  const requests: ChatRequestRecord[] = [];
  const hanging = new Set<ServerResponse>();
  const usage = { prompt_tokens: 420, completion_tokens: 180 };
  let served = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return send(404, { error: { message: 'not found' } });
    let body: ChatRequestRecord['body'];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequestRecord['body'];
    } catch {
      return send(400, { error: { message: 'invalid JSON' } });
    }
    requests.push({ body, authorization: req.headers.authorization, text: (body.messages ?? []).map((m) => m.content).join('\n') });
    if (req.headers.authorization !== `Bearer ${apiKey}`) return send(401, { error: { message: 'invalid api key' } });
    if (!Array.isArray(body.messages) || body.messages.length === 0) return send(400, { error: { message: 'messages required' } });
    const count = Number(/Write (\d+) new practice questions/.exec(body.messages.at(-1)!.content)?.[1] ?? 3);
    const fault = script.shift() ?? 'ok';
    const answer = (content: string | null, extra: Record<string, unknown> = {}) =>
      send(200, { id: `chatcmpl-${++served}`, object: 'chat.completion', model: body.model, choices: [{ index: 0, message: { role: 'assistant', content, ...extra }, finish_reason: 'stop' }], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
    const items = goodItems(count, served * 13);
    switch (fault) {
      case '429':
        return send(429, { error: { message: 'rate limited' } });
      case '500':
        return send(500, { error: { message: 'model crashed' } });
      case '400':
        return send(400, { error: { message: 'response_format not supported' } });
      case 'hang':
        hanging.add(res);
        return;
      case 'drop':
        req.socket.destroy();
        return;
      case 'not_json':
        return send(200, '{"choices": [{"message": {"content": "');
      case 'refusal':
        return answer(null, { refusal: 'I cannot help with that.' });
      case 'malformed_content':
        return answer(`Here you go! ${JSON.stringify({ items }).slice(0, 60)}`);
      case 'wrong_key':
        return answer(JSON.stringify({ items: items.map((it) => ({ ...it, answer: String(Number(it.answer) + 1) })) }));
      case 'unsafe_word':
        return answer(JSON.stringify({ items: items.map((it) => ({ ...it, prompt: it.prompt.replace('A farmer', 'A stupid farmer') })) }));
      case 'two_correct':
      case 'key_outside':
        return answer(
          JSON.stringify({
            items: items.map((it) => ({
              ...it,
              type: 'multiple_choice',
              choices: [
                { id: 'a', text: it.answer },
                { id: 'b', text: fault === 'two_correct' ? `${it.answer}.0` : String(Number(it.answer) + 1) },
                { id: 'c', text: String(Number(it.answer) + 2) },
                { id: 'd', text: String(Number(it.answer) - 1) },
              ],
              answer: fault === 'two_correct' ? 'a' : 'e',
            })),
          }),
        );
      case 'ok':
        return answer(JSON.stringify({ items }));
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
    requests,
    usage,
    next: (...faults) => script.push(...faults),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
