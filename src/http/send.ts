import type { Context } from 'hono';
import type { AppEnv } from './context.ts';
import { standardHeaders } from './middleware/response-headers.ts';

/**
 * UTF-8 bytes of recently sent bodies, keyed by the body string. A cached
 * body is the same string on every hit, and a string holding any character
 * beyond Latin-1 (lesson texts do: "−", "’") is stored by V8 as UTF-16: Node
 * would measure and transcode it on every response (~9 µs for a 2 KB lesson,
 * measured), where bytes are written as they are. Bounded by entry count;
 * the oldest entry goes first. Keyed by content, so it can never be stale.
 */
const ENCODED_MAX_ENTRIES = 512;
/** Bodies above this size are encoded per response rather than kept. */
const ENCODED_MAX_LENGTH = 64 * 1024;
const encoded = new Map<string, Buffer>();

function bytesOf(body: string): Buffer | string {
  if (body.length > ENCODED_MAX_LENGTH) return body;
  let bytes = encoded.get(body);
  if (bytes === undefined) {
    if (encoded.size >= ENCODED_MAX_ENTRIES) encoded.delete(encoded.keys().next().value!);
    bytes = Buffer.from(body);
    encoded.set(body, bytes);
  }
  return bytes;
}

/**
 * A JSON response from an already serialised body, with every header given at
 * once as a plain object (the request id included). The Node adapter writes
 * such a response without building a Fetch `Headers` object, which is what
 * keeps a cached read close to a bare `node:http` server. The standard
 * security and cache headers are included here, for the same reason. Pass `reused` for a
 * body that is sent again and again (a cached entry): its bytes are kept.
 */
export function sendJson(c: Context<AppEnv>, body: string, status: number, headers: Record<string, string> = {}, reused = false): Response {
  c.set('requestIdSent', true);
  c.set('headersSent', true);
  return new Response(reused ? bytesOf(body) : body, {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': c.get('requestId'), ...standardHeaders(c.req.path), ...headers },
  });
}
