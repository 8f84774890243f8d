import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** The algorithm of keys we generate: EdDSA over Ed25519 (small, fast, deterministic signatures). */
export const SIGNING_ALG = 'EdDSA';

/** A private signing key with its public half and key id. */
export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * Loads the server's signing key: from `JWT_PRIVATE_KEY` (a private JWK as
 * JSON) when set, otherwise from `<dataDir>/keys/jwt-signing-key.json`,
 * generating and saving one (mode 0600) on first start.
 */
export async function loadSigningKey(options: { dataDir: string; privateKeyJwk: string | undefined }): Promise<SigningKey> {
  let jwk: JWK;
  if (options.privateKeyJwk) {
    try {
      jwk = JSON.parse(options.privateKeyJwk) as JWK;
    } catch {
      throw new Error('JWT_PRIVATE_KEY must be a private JWK in JSON');
    }
  } else {
    const file = path.join(options.dataDir, 'keys', 'jwt-signing-key.json');
    if (existsSync(file)) {
      jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } else {
      jwk = await generatePrivateJwk();
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, JSON.stringify(jwk, null, 2), { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    }
  }
  return importSigningKey(jwk);
}

/** Generates a new Ed25519 private JWK with a thumbprint `kid`. */
export async function generatePrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.alg = SIGNING_ALG;
  jwk.kid = await calculateJwkThumbprint(jwk);
  return jwk;
}

/** Turns a private JWK (EdDSA or ES256) into a signing key. */
export async function importSigningKey(jwk: JWK): Promise<SigningKey> {
  if (!jwk.d) throw new Error('JWT signing key must be a private key');
  const alg = jwk.alg ?? (jwk.kty === 'OKP' ? 'EdDSA' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined);
  if (alg !== 'EdDSA' && alg !== 'ES256') throw new Error('JWT signing key must be EdDSA (Ed25519) or ES256 (P-256)');
  const { d: _d, ...pub } = jwk;
  const publicJwk: JWK = { ...pub, alg, use: 'sig' };
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwk));
  publicJwk.kid = kid;
  const privateKey = (await importJWK({ ...jwk, alg }, alg)) as CryptoKey;
  const publicKey = (await importJWK(publicJwk, alg)) as CryptoKey;
  return { kid, alg, privateKey, publicKey, publicJwk };
}
