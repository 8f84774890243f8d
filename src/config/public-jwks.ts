import { z } from 'zod';

/**
 * The shape of a public JSON Web Key as configuration accepts it: an object
 * with a `kty` and no private part. Lives beside the configuration (not in
 * `features/auth/`) because configuration is read before anything is built;
 * the auth feature imports it from here to turn the keys into crypto keys.
 */
export const PublicJwk = z
  .looseObject({ kty: z.string().min(1), d: z.undefined({ error: 'must hold public keys only (one has a private part "d")' }).optional() })
  .transform(({ d: _d, ...jwk }) => jwk);

/** A public JWK as parsed from configuration (other members are kept as they are). */
export type PublicJwk = z.infer<typeof PublicJwk>;

/**
 * Parses `JWT_PREVIOUS_PUBLIC_KEYS`: a JSON array of public JWKs. Only checks
 * the shape. Throws a one-line message that never echoes the value (a
 * private key pasted by mistake must not reach a log).
 */
export function parsePublicJwkList(value: string): PublicJwk[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new Error('JWT_PREVIOUS_PUBLIC_KEYS must be a JSON array of public JWKs', { cause: error });
  }
  const result = z.array(PublicJwk).safeParse(parsed);
  if (result.success) return result.data;
  const privatePart = result.error.issues.some((i) => i.path.at(-1) === 'd');
  throw new Error(privatePart ? 'JWT_PREVIOUS_PUBLIC_KEYS must hold public keys only (one has a private part "d")' : 'JWT_PREVIOUS_PUBLIC_KEYS must be a JSON array of public JWKs');
}
