// The token signing key as both handlers in this folder make and check it: the custom resource that
// stores the first key (index.mjs) and the Secrets Manager rotation function (rotate.mjs). Plain
// node:crypto (the Lambda runtime has no jose); the key is the kind `kidslearn` makes itself on one
// machine (src/features/auth/signing-keys.ts generatePrivateJwk): Ed25519, alg EdDSA, kid the
// RFC 7638 thumbprint of the public key, which is also the kid the app derives when none is given.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

/** RFC 7638 thumbprint of an OKP public key: SHA-256 of its required members in lexicographic order, base64url. */
export function thumbprint(jwk) {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest('base64url');
}

/** A new private signing key as a JWK (`d` is the private part) with a fresh `kid`. */
export function newSigningJwk() {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return { ...jwk, alg: 'EdDSA', kid: thumbprint(jwk) };
}

/**
 * Checks that `text` is a private Ed25519 JWK whose public half matches its private part and whose
 * `kid` (when given) is its thumbprint; throws an Error saying what is wrong (never the key).
 */
export function checkSigningJwk(text) {
  let jwk;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new Error('the key is not JSON');
  }
  if (typeof jwk !== 'object' || jwk === null || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') throw new Error('the key is not an Ed25519 JWK');
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string') throw new Error('the key has no private part');
  if (jwk.alg !== undefined && jwk.alg !== 'EdDSA') throw new Error('the key\'s alg is not EdDSA');
  let derived;
  try {
    derived = createPublicKey(createPrivateKey({ key: jwk, format: 'jwk' })).export({ format: 'jwk' });
  } catch {
    throw new Error('the key cannot be imported');
  }
  if (derived.x !== jwk.x) throw new Error('the key\'s public part does not match its private part');
  if (typeof jwk.kid !== 'string' || jwk.kid !== thumbprint(jwk)) throw new Error('the key has no kid or a kid other than its thumbprint');
  return jwk;
}
