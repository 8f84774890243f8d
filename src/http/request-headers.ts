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

/**
 * The client's IP address: the socket's peer under the Node server, the
 * source IP API Gateway reports under Lambda. With `trustProxy` (behind a load
 * balancer) the first `X-Forwarded-For` entry wins.
 */
export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    // The entry the (one, trusted) load balancer appended is the last one;
    // anything before it was sent by the client and cannot be trusted.
    const forwarded = requestHeader(c, 'x-forwarded-for')?.split(',').at(-1)?.trim();
    if (forwarded) return forwarded;
  }
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } }; event?: { requestContext?: { http?: { sourceIp?: string } } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? env?.event?.requestContext?.http?.sourceIp ?? 'unknown';
}
