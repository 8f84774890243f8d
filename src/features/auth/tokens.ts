import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { lruCache } from '../../adapters/cache/lru.ts';
import { z } from 'zod';
import { AppError } from '../../domain/errors.ts';
import { Role, type Principal } from '../../domain/principal.ts';
import { APP_ID_PATTERN } from '../../domain/tenancy.ts';
import type { KeyRefresher } from './key-refresh.ts';
import type { SigningKey, VerificationKey } from './signing-keys.ts';

/** `aud` of every access token this server issues: the kidslearn API. */
export const TOKEN_AUDIENCE = 'kidslearn-api';

/**
 * The longest an access token of this server may live, at issue and at
 * verification: one hour. Sign-in tokens live at most 15 minutes
 * (ACCESS_TOKEN_TTL); the command line may mint up to this for scripts.
 * Anything needing longer access uses refresh tokens or mints again, so a
 * leaked token is worth an hour at most.
 */
export const MAX_TOKEN_TTL_SECONDS = 3600;

/**
 * Clock difference tolerated between the issuing and the verifying process:
 * an `iat` up to this far in the future is accepted, further is refused.
 */
export const CLOCK_SKEW_SECONDS = 60;

const Claims = z.object({
  sub: z.string().min(1).max(200),
  app: z.string().regex(APP_ID_PATTERN),
  role: Role,
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.string().max(200).optional(),
});

/**
 * Parses a duration such as `900`, `90s`, `15m` or `1h` into seconds, at most
 * `maxSeconds` (default {@link MAX_TOKEN_TTL_SECONDS}): a longer one is refused
 * rather than shortened, so nobody believes they hold a ten-year token.
 */
export function parseTtl(ttl: string, maxSeconds: number = MAX_TOKEN_TTL_SECONDS): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(ttl.trim());
  if (!m) throw new AppError('invalid', 'invalid_ttl', `Invalid TTL "${ttl}": use e.g. 900, 15m or 1h`);
  const n = Number(m[1]);
  const unit = m[2] === 'd' ? 86400 : m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1;
  if (n <= 0) throw new AppError('invalid', 'invalid_ttl', 'TTL must be positive');
  if (n * unit > maxSeconds) {
    throw new AppError('invalid', 'invalid_ttl', `TTL "${ttl}" is longer than the ${maxSeconds} s an access token may live; use refresh tokens or mint a new one`);
  }
  return n * unit;
}

/** A token names a key id this verifier does not know (yet: see {@link TokenVerifierOptions.refresher}). */
class UnknownKeyError extends AppError {
  constructor() {
    super('unauthenticated', 'invalid_token', 'Token was not signed by a known key');
  }
}

/** Options of {@link TokenVerifier} and {@link TokenService}. */
export interface TokenVerifierOptions {
  /**
   * Where keys can be read again while the process runs (the rotating signing
   * key secret on AWS): a token whose `kid` is unknown triggers one refresh
   * (rate-limited by the refresher) and one more verification. The keys given
   * to the constructor always stay.
   */
  refresher?: KeyRefresher | undefined;
}

/** `keys` without a key id listed twice (the first wins). */
const distinct = (keys: readonly VerificationKey[]) => keys.filter((k, i) => keys.findIndex((other) => other.kid === k.kid) === i);

/**
 * Verifies the server's own access tokens with public keys only: what
 * {@link TokenService} verifies with, and all the API Gateway authorizer
 * (gateway-authorizer.ts) has, so a token passes the gateway exactly when it
 * passes the app. Verification results are memoised per exact token string
 * (bounded LRU, never past `exp`): the same bytes carry the same, already
 * checked, signature, and this keeps the per-request cost of auth far below
 * that of the signature check.
 */
export class TokenVerifier {
  readonly #initial: readonly VerificationKey[];
  #keys: VerificationKey[];
  readonly #issuer: string;
  readonly #refresher: KeyRefresher | undefined;
  readonly #verified = lruCache<string, Principal>(50_000);

  /** Every key verifies; a key id listed twice counts once (the first wins). */
  constructor(keys: readonly VerificationKey[], issuer: string, options: TokenVerifierOptions = {}) {
    if (keys.length === 0) throw new Error('TokenVerifier needs at least one public key');
    this.#initial = distinct(keys);
    this.#keys = [...this.#initial];
    this.#issuer = issuer;
    this.#refresher = options.refresher;
  }

  /** Public keys as a JWKS document. */
  jwks(): { keys: object[] } {
    return { keys: this.#keys.map((k) => k.publicJwk) };
  }

  /**
   * The caller of a token this verifier verified before and that has not
   * expired, answered without waiting; `undefined` otherwise (then call
   * {@link verify}, which also says why a token is refused).
   */
  verified(token: string): Principal | undefined {
    const hit = this.#verified.get(token);
    return hit !== undefined && hit.exp > Date.now() / 1000 ? hit : undefined;
  }

  /** Verifies a bearer token. Any failure is `unauthenticated` (401) with a code saying why. */
  async verify(token: string): Promise<Principal> {
    const now = Date.now() / 1000;
    // Keyed by the token itself: bounded by entry count, and a hash per request would cost more than the lookup.
    const cacheKey = token;
    const hit = this.#verified.get(cacheKey);
    if (hit) {
      if (hit.exp > now) return hit;
      this.#verified.delete(cacheKey);
      throw new AppError('unauthenticated', 'token_expired', 'Token has expired');
    }
    let payload: JWTPayload;
    try {
      payload = await this.#verifySignature(token);
    } catch (error) {
      if (!(error instanceof UnknownKeyError) || !this.#refresher) throw toAuthError(error);
      // Maybe signed with a key rotated in after this process read its keys: read them again (at most once
      // per interval; a failed read keeps the keys as they are) and try once more.
      const fresh = await this.#refresher.refresh();
      if (!fresh) throw error;
      this.#keys = distinct([...this.#initial, ...fresh]);
      try {
        payload = await this.#verifySignature(token);
      } catch (again) {
        throw toAuthError(again);
      }
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) throw new AppError('unauthenticated', 'invalid_token', 'Token is missing required claims (sub, app, role, exp, iat)');
    checkAge(claims.data, now);
    const { iat: _iat, ...rest } = claims.data;
    const principal: Principal = { ...rest };
    this.#verified.set(cacheKey, principal, { ttl: Math.max(1, (principal.exp - now) * 1000) });
    return principal;
  }

  async #verifySignature(token: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, (header) => this.#keyFor(header.kid), {
      issuer: this.#issuer,
      audience: TOKEN_AUDIENCE,
      algorithms: ['EdDSA', 'ES256'],
      requiredClaims: ['sub', 'exp', 'iat'],
    });
    return payload;
  }

  #keyFor(kid: string | undefined) {
    // Without a kid there is nothing a re-read could find.
    if (!kid) throw new AppError('unauthenticated', 'invalid_token', 'Token was not signed by a known key');
    const key = this.#keys.find((k) => k.kid === kid);
    if (!key) throw new UnknownKeyError();
    return key.publicKey;
  }
}

/**
 * Issues and verifies the server's own access tokens: signs with the first
 * key, verifies with a {@link TokenVerifier} over all of them (and, with a
 * refresher, over keys rotated in since). It keeps signing with the key it
 * was built with: after a rotation, its tokens verify elsewhere because that
 * key is then the secret's AWSPREVIOUS.
 */
export class TokenService {
  readonly #signing: SigningKey;
  readonly #issuer: string;
  readonly #verifier: TokenVerifier;

  /**
   * `keys[0]` (a private key) signs; every key verifies, so tokens of a
   * previous key stay valid until they expire. A key id listed twice counts
   * once (the first wins).
   */
  constructor(keys: readonly [SigningKey, ...VerificationKey[]], issuer: string, options: TokenVerifierOptions = {}) {
    const signing = keys[0] as SigningKey | undefined;
    if (!signing?.privateKey) throw new Error('TokenService needs a private signing key first');
    this.#signing = signing;
    this.#issuer = issuer;
    this.#verifier = new TokenVerifier(keys, issuer, options);
  }

  /** Public keys as a JWKS document. */
  jwks(): { keys: object[] } {
    return this.#verifier.jwks();
  }

  /**
   * Signs an access token valid for `ttlSeconds`, with a fresh `jti`. Child
   * tokens also carry the child profile id as `child` (equal to `sub`).
   */
  async issue(claims: { sub: string; app: string; role: Role; jti?: string }, ttlSeconds: number): Promise<string> {
    // A programming error, not a client's: refuse instead of quietly shortening.
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
      throw new RangeError(`Access tokens live 1 to ${MAX_TOKEN_TTL_SECONDS} s (got ${ttlSeconds})`);
    }
    const key = this.#signing;
    const jwt = new SignJWT({ app: claims.app, role: claims.role, ...(claims.role === 'child' ? { child: claims.sub } : {}) })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuer(this.#issuer)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
    jwt.setJti(claims.jti ?? randomUUID());
    return jwt.sign(key.privateKey);
  }

  /** See {@link TokenVerifier.verified}. */
  verified(token: string): Principal | undefined {
    return this.#verifier.verified(token);
  }

  /** Verifies a bearer token (see {@link TokenVerifier.verify}). */
  verify(token: string): Promise<Principal> {
    return this.#verifier.verify(token);
  }
}

/**
 * The lifetime checks jose leaves to us (its `clockTolerance` would also
 * stretch `exp`, so they are done here): `iat` not further in the future than
 * {@link CLOCK_SKEW_SECONDS}, not older than {@link MAX_TOKEN_TTL_SECONDS}
 * (plus the skew), and a lifetime `exp - iat` within the cap. A token meant
 * to outlive the cap (minted by an old build, or with a leaked key) is
 * refused outright rather than trusted until its `iat` ages.
 */
function checkAge(claims: { iat: number; exp: number }, now: number): void {
  if (claims.iat > now + CLOCK_SKEW_SECONDS) throw new AppError('unauthenticated', 'invalid_token', 'Token claim "iat" is in the future');
  if (now - claims.iat > MAX_TOKEN_TTL_SECONDS + CLOCK_SKEW_SECONDS) throw new AppError('unauthenticated', 'token_expired', 'Token is older than an access token may be');
  if (claims.exp - claims.iat > MAX_TOKEN_TTL_SECONDS) {
    throw new AppError('unauthenticated', 'invalid_token', `Token lives longer than the ${MAX_TOKEN_TTL_SECONDS} s allowed`);
  }
}

/** Maps a jose verification failure to a 401 with a code saying why (shared by every verifier). */
export function toAuthError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof joseErrors.JWTExpired) return new AppError('unauthenticated', 'token_expired', 'Token has expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return new AppError('unauthenticated', 'invalid_token', `Token claim "${error.claim}" is invalid`);
  }
  return new AppError('unauthenticated', 'invalid_token', 'Token is malformed or its signature is invalid');
}
