import type { Context } from 'hono';
import type { AppEnv } from './context.ts';

/**
 * A JSON response from an already serialised body, with every header given at
 * once as a plain object (the request id included). The Node adapter writes
 * such a response without building a Fetch `Headers` object, which is what
 * keeps a cached read close to a bare `node:http` server.
 */
export function sendJson(c: Context<AppEnv>, body: string, status: number, headers: Record<string, string> = {}): Response {
  c.set('requestIdSent', true);
  return new Response(body, {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': c.get('requestId'), ...headers },
  });
}
