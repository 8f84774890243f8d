import type { Context } from 'hono';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Reads one request header by its lower-case name. Under the Node server the
 * raw `IncomingMessage` headers are read directly: going through
 * `c.req.header()` makes the adapter build a Fetch `Headers` object from
 * every header of the request, which costs more than the rest of a cached
 * read. Elsewhere (tests, Lambda) the standard request is used.
 */
export function requestHeader(c: Context, lowerCaseName: string): string | undefined {
  const incoming = (c.env as { incoming?: { headers: IncomingHttpHeaders } } | undefined)?.incoming;
  if (incoming) {
    const value = incoming.headers[lowerCaseName];
    return Array.isArray(value) ? value.join(', ') : value;
  }
  return c.req.header(lowerCaseName);
}
