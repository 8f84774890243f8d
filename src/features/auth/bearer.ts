/** `Authorization: Bearer <token>`: the scheme case-insensitive, the token in the characters of RFC 6750's b64token. */
const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i;

/**
 * The token of an `Authorization` header value, or `undefined` when the
 * value is not `Bearer <token>` (another scheme such as `Basic`, or a
 * malformed token). The one rule for the app's auth middleware and the API
 * Gateway authorizer alike.
 */
export function bearerToken(header: string): string | undefined {
  return BEARER.exec(header)?.[1];
}
