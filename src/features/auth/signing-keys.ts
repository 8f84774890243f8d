import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { parsePublicJwkList } from '../../config/public-jwks.ts';

/** The algorithm of keys we generate: EdDSA over Ed25519 (small, fast, deterministic signatures). */
export const SIGNING_ALG = 'EdDSA';

/**
 * How long a rotated-out key keeps verifying: one hour, comfortably longer
 * than the longest access token the server issues (ACCESS_TOKEN_TTL is at most
 * 15 minutes), so every token signed just before a rotation expires before its
 * key is dropped.
 */
export const PREVIOUS_KEY_GRACE_MS = 60 * 60 * 1000;

/** A public key that verifies tokens (the current key's public half, or a previous key's). */
export interface VerificationKey {
  kid: string;
  alg: string;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/** A private signing key with its public half and key id. */
export interface SigningKey extends VerificationKey {
  privateKey: CryptoKey;
}

/** `<dataDir>/keys/jwt-signing-key.json`: the current private key (mode 0600). */
export const signingKeyFile = (dataDir: string) => path.join(dataDir, 'keys', 'jwt-signing-key.json');

/** `<dataDir>/keys/previous/`: public keys of rotated-out keys, one `<kid>.json` each. */
export const previousKeysDir = (dataDir: string) => path.join(dataDir, 'keys', 'previous');

/** What a file in {@link previousKeysDir} holds. */
interface PreviousKeyFile {
  retireAfter: string;
  jwk: JWK;
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
    const file = signingKeyFile(options.dataDir);
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

/** The JWS algorithm of a JWK: its `alg`, or inferred from the key type. Only EdDSA and ES256 are accepted. */
function algOf(jwk: JWK, what: string): string {
  const alg = jwk.alg ?? (jwk.kty === 'OKP' ? 'EdDSA' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined);
  if (alg !== 'EdDSA' && alg !== 'ES256') throw new Error(`${what} must be EdDSA (Ed25519) or ES256 (P-256)`);
  return alg;
}

/** Turns a private JWK (EdDSA or ES256) into a signing key. */
export async function importSigningKey(jwk: JWK): Promise<SigningKey> {
  if (!jwk.d) throw new Error('JWT signing key must be a private key');
  const alg = algOf(jwk, 'JWT signing key');
  const { d: _d, ...pub } = jwk;
  const publicJwk: JWK = { ...pub, alg, use: 'sig' };
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwk));
  publicJwk.kid = kid;
  const privateKey = (await importJWK({ ...jwk, alg }, alg)) as CryptoKey;
  const publicKey = (await importJWK(publicJwk, alg)) as CryptoKey;
  return { kid, alg, privateKey, publicKey, publicJwk };
}

/** Turns a public JWK (EdDSA or ES256) into a verification key; refuses private keys. */
export async function importVerificationKey(jwk: JWK, what = 'a previous JWT key'): Promise<VerificationKey> {
  if (jwk.d !== undefined) throw new Error(`${what} must be a public key (it has a private part "d")`);
  const alg = algOf(jwk, what);
  const publicJwk: JWK = { ...jwk, alg, use: 'sig' };
  publicJwk.kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwk));
  const publicKey = (await importJWK(publicJwk, alg)) as CryptoKey;
  return { kid: publicJwk.kid, alg, publicKey, publicJwk };
}

/**
 * The public half of a private JWK given as JSON (`JWT_PRIVATE_KEY`), as a
 * verification key with the same `kid` the signing key gets: for a process
 * that verifies tokens but must never sign (the API Gateway authorizer). The
 * private part is dropped before anything is imported.
 */
export async function publicHalfOf(privateKeyJwk: string): Promise<VerificationKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(privateKeyJwk) as JWK;
  } catch {
    throw new Error('JWT_PRIVATE_KEY must be a private JWK in JSON');
  }
  if (typeof jwk !== 'object' || jwk === null || !jwk.d) throw new Error('JWT signing key must be a private key');
  const { d: _d, ...pub } = jwk;
  return importVerificationKey(pub, 'JWT signing key');
}

/**
 * Parses `JWT_PREVIOUS_PUBLIC_KEYS` (a JSON array of public JWKs); the shape
 * is defined with the configuration, which checks it before anything starts.
 */
export function parsePreviousPublicJwks(value: string): JWK[] {
  return parsePublicJwkList(value) as JWK[];
}

/**
 * Loads the keys that verify but no longer sign: the files in
 * `<dataDir>/keys/previous/` whose `retireAfter` has not passed (expired ones
 * are skipped and left in place), plus the public JWKs of
 * `JWT_PREVIOUS_PUBLIC_KEYS` when given. Pass them after the signing key to
 * `TokenService`.
 */
export async function loadVerificationKeys(options: { dataDir: string; previousPublicJwks?: string | undefined; now?: Date }): Promise<VerificationKey[]> {
  const now = (options.now ?? new Date()).getTime();
  const keys: VerificationKey[] = [];
  for (const entry of readPreviousKeyFiles(options.dataDir)) {
    if (Date.parse(entry.retireAfter) <= now) continue;
    keys.push(await importVerificationKey(entry.jwk));
  }
  for (const jwk of options.previousPublicJwks ? parsePreviousPublicJwks(options.previousPublicJwks) : []) {
    keys.push(await importVerificationKey(jwk));
  }
  return keys;
}

/** One rotated-out key as `keys list` shows it. */
export interface PreviousKeyInfo {
  kid: string;
  retireAfter: string;
  /** `retireAfter` has passed: the key is no longer loaded (the file can be deleted). */
  retired: boolean;
}

/** The current key id (undefined before the first start) and the rotated-out keys in the data directory. */
export async function listSigningKeys(options: { dataDir: string; privateKeyJwk: string | undefined; now?: Date }): Promise<{
  current: { kid: string; source: 'JWT_PRIVATE_KEY' | 'data dir' } | undefined;
  previous: PreviousKeyInfo[];
}> {
  const now = (options.now ?? new Date()).getTime();
  let current: { kid: string; source: 'JWT_PRIVATE_KEY' | 'data dir' } | undefined;
  if (options.privateKeyJwk || existsSync(signingKeyFile(options.dataDir))) {
    const key = await loadSigningKey(options);
    current = { kid: key.kid, source: options.privateKeyJwk ? 'JWT_PRIVATE_KEY' : 'data dir' };
  }
  const previous: PreviousKeyInfo[] = [];
  for (const entry of readPreviousKeyFiles(options.dataDir)) {
    const { kid } = await importVerificationKey(entry.jwk);
    previous.push({ kid, retireAfter: entry.retireAfter, retired: Date.parse(entry.retireAfter) <= now });
  }
  previous.sort((a, b) => b.retireAfter.localeCompare(a.retireAfter));
  return { current, previous };
}

/**
 * Replaces the data-dir signing key with a fresh Ed25519 key. The old key's
 * public half goes to `keys/previous/<kid>.json` with `retireAfter` = now +
 * {@link PREVIOUS_KEY_GRACE_MS} (written first, so a crash never loses it);
 * the old private key is discarded. The new private key is written to a
 * temporary 0600 file and renamed over the old one. Processes already
 * running keep their keys until they restart.
 */
export async function rotateSigningKey(options: { dataDir: string; privateKeyJwk: string | undefined; now?: Date }): Promise<{
  kid: string;
  retired: { kid: string; retireAfter: string } | undefined;
}> {
  if (options.privateKeyJwk) {
    throw new Error(
      'JWT_PRIVATE_KEY is set, so the signing key is managed outside the data directory: rotate it where it is stored, ' +
        'and list the old public key in JWT_PREVIOUS_PUBLIC_KEYS until its tokens have expired',
    );
  }
  const file = signingKeyFile(options.dataDir);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let retired: { kid: string; retireAfter: string } | undefined;
  if (existsSync(file)) {
    const old = await importSigningKey(JSON.parse(readFileSync(file, 'utf8')) as JWK);
    const retireAfter = new Date((options.now ?? new Date()).getTime() + PREVIOUS_KEY_GRACE_MS).toISOString();
    const name = /^[A-Za-z0-9_-]{1,128}$/.test(old.kid) ? old.kid : await calculateJwkThumbprint(old.publicJwk);
    const dir = previousKeysDir(options.dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const entry: PreviousKeyFile = { retireAfter, jwk: old.publicJwk };
    writeFileAtomic(path.join(dir, `${name}.json`), JSON.stringify(entry, null, 2), 0o644);
    retired = { kid: old.kid, retireAfter };
  }
  const jwk = await generatePrivateJwk();
  writeFileAtomic(file, JSON.stringify(jwk, null, 2), 0o600);
  return { kid: jwk.kid!, retired };
}

function readPreviousKeyFiles(dataDir: string): PreviousKeyFile[] {
  const dir = previousKeysDir(dataDir);
  if (!existsSync(dir)) return [];
  const entries: PreviousKeyFile[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    let entry: Partial<PreviousKeyFile>;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as Partial<PreviousKeyFile>;
    } catch (error) {
      throw new Error(`${file} is not valid JSON`, { cause: error });
    }
    if (typeof entry.retireAfter !== 'string' || Number.isNaN(Date.parse(entry.retireAfter)) || typeof entry.jwk !== 'object' || entry.jwk === null) {
      throw new Error(`${file} must hold {"retireAfter": "<ISO time>", "jwk": {<public JWK>}}`);
    }
    entries.push({ retireAfter: entry.retireAfter, jwk: entry.jwk });
  }
  return entries;
}

/** Writes `data` to a temporary file with `mode`, flushes it, then renames it over `file`. */
function writeFileAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.${randomUUID()}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
