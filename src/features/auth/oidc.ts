import {
  createRemoteJWKSet,
  decodeJwt,
  errors as joseErrors,
  jwtVerify,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTPayload,
  type RemoteJWKSet,
} from 'jose';
import { lruCache } from '../../adapters/cache/lru.ts';
import { z } from 'zod';
import { AppError } from '../../domain/errors.ts';
import { Role, type Principal } from '../../domain/principal.ts';
import { APP_ID_PATTERN } from '../../domain/tenancy.ts';
import { toAuthError } from './tokens.ts';

/** Settings for verifying tokens of one external OpenID Connect issuer (e.g. an Amazon Cognito user pool). */
export interface OidcOptions {
  /** Expected `iss`, exactly as the provider writes it (Cognito: `https://cognito-idp.<region>.amazonaws.com/<poolId>`). */
  issuer: string;
  /** Our client id: must be in `aud` (ID tokens) or equal `client_id` of a Cognito access token (`token_use: "access"`). */
  audience: string;
  /** Where the provider publishes its public keys. Default: `${issuer}/.well-known/jwks.json` (Cognito's location). */
  jwksUrl?: string;
  /** Claim holding the caller's groups, e.g. `cognito:groups`; a string or an array of strings. */
  roleClaim: string;
  /** Group → our role, e.g. `{ guardians: 'guardian', teachers: 'teacher' }`. Groups mapping to two different roles are rejected. */
  roleMap: Record<string, Role>;
  /** Claim holding the app (tenant) id, e.g. `custom:app`. */
  appClaim: string;
  /** App used when the token has no app claim; without it such tokens are rejected. */
  defaultApp?: string;
  /** Accepted signature algorithms. Default `['RS256', 'ES256', 'EdDSA']`; `none` and HMAC are refused. */
  algorithms?: string[];
  /** Timeout of one JWKS fetch in milliseconds. Default 2000. */
  timeoutMs?: number;
  /** Allowed clock skew for `exp`/`nbf` in seconds. Default 5. */
  clockToleranceSec?: number;
}

const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];

const Claims = z.object({
  sub: z.string().min(1).max(200),
  exp: z.number(),
  jti: z.string().max(200).optional(),
});

/**
 * Verifies access and ID tokens issued by an external OpenID Connect provider
 * and turns them into a {@link Principal}. Keys come from the provider's JWKS
 * (cached for 10 minutes; an unknown `kid` refetches at most every 30 s, so
 * key rotation is picked up). Successful verifications are memoised per exact
 * token string, never past `exp`. Token problems are `unauthenticated` (401);
 * an unreachable JWKS is `unavailable` (503) with code `identity_provider_unavailable`.
 */
export class OidcVerifier {
  readonly #issuer: string;
  readonly #audience: string;
  readonly #roleClaim: string;
  readonly #roleMap: ReadonlyMap<string, Role>;
  readonly #appClaim: string;
  readonly #defaultApp: string | undefined;
  readonly #algorithms: string[];
  readonly #clockTolerance: number;
  readonly #jwks: RemoteJWKSet;
  readonly #verified = lruCache<string, Principal>(50_000);

  /** Checks the options (throws `Error` on a misconfiguration); fetches nothing until the first verification. */
  constructor(options: OidcOptions) {
    if (!options.issuer) throw new Error('OIDC issuer is required');
    if (!options.audience) throw new Error('OIDC audience is required');
    if (!options.roleClaim || !options.appClaim) throw new Error('OIDC role and app claim names are required');
    if (options.defaultApp !== undefined && !APP_ID_PATTERN.test(options.defaultApp)) {
      throw new Error(`OIDC default app "${options.defaultApp}" must match ${APP_ID_PATTERN.source}`);
    }
    const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
    if (algorithms.length === 0 || algorithms.some((a) => a === 'none' || a.startsWith('HS'))) {
      throw new Error('OIDC algorithms must be a non-empty list of asymmetric algorithms');
    }
    const timeoutMs = options.timeoutMs ?? 2000;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new Error('OIDC JWKS timeout must be a positive integer (ms)');
    this.#clockTolerance = options.clockToleranceSec ?? 5;
    if (!(this.#clockTolerance >= 0)) throw new Error('OIDC clock tolerance must be >= 0');

    this.#issuer = options.issuer;
    this.#audience = options.audience;
    this.#roleClaim = options.roleClaim;
    const roleMap = Object.entries(options.roleMap);
    const bad = roleMap.find(([, role]) => !Role.safeParse(role).success);
    if (bad) throw new Error(`OIDC role map: "${bad[0]}" maps to unknown role "${bad[1]}" (use ${Role.options.join(', ')})`);
    if (roleMap.length === 0) throw new Error('OIDC role map is empty');
    this.#roleMap = new Map(roleMap);
    this.#appClaim = options.appClaim;
    this.#defaultApp = options.defaultApp;
    this.#algorithms = algorithms;
    const jwksUrl = new URL(options.jwksUrl ?? `${options.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`);
    this.#jwks = createRemoteJWKSet(jwksUrl, { timeoutDuration: timeoutMs, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  }

  /**
   * The unverified `iss` of a JWT, or `undefined` if `token` is not a decodable JWT.
   * Only for routing a token to the right verifier: it proves nothing.
   */
  static issuerOf(token: string): string | undefined {
    try {
      const { iss } = decodeJwt(token);
      return typeof iss === 'string' ? iss : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether `token` claims to come from this provider (its unverified `iss`
   * is our issuer): such tokens go to {@link verify}, every other one to the
   * server's own verifier. Routing only, it proves nothing.
   */
  claims(token: string): boolean {
    return OidcVerifier.issuerOf(token) === this.#issuer;
  }

  /** Verifies a bearer token from the provider and maps its claims to a principal. */
  async verify(token: string): Promise<Principal> {
    const now = Date.now() / 1000;
    const hit = this.#verified.get(token);
    if (hit) {
      if (now < hit.exp + this.#clockTolerance) return hit;
      this.#verified.delete(token);
      throw new AppError('unauthenticated', 'token_expired', 'Token has expired');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header, jws) => this.#key(header, jws), {
        issuer: this.#issuer,
        algorithms: this.#algorithms,
        clockTolerance: this.#clockTolerance,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw toAuthError(error);
    }
    const principal = this.#principal(payload);
    this.#verified.set(token, principal, { ttl: Math.max(1, (principal.exp + this.#clockTolerance - now) * 1000) });
    return principal;
  }

  #principal(payload: JWTPayload): Principal {
    if (!this.#audienceMatches(payload)) {
      throw new AppError('unauthenticated', 'invalid_token', `Token audience does not match: expected "aud" to contain, or an access token's "client_id" to be, "${this.#audience}"`);
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) throw new AppError('unauthenticated', 'invalid_token', 'Token claims "sub", "exp" or "jti" are malformed');
    const claimed = payload[this.#appClaim];
    const app = claimed === undefined ? this.#defaultApp : claimed;
    if (typeof app !== 'string' || !APP_ID_PATTERN.test(app)) {
      throw new AppError('unauthenticated', 'invalid_token', `Token claim "${this.#appClaim}" is missing or not a valid app id`);
    }
    const { sub, exp, jti } = claims.data;
    return { sub, app, role: this.#role(payload), exp, ...(jti === undefined ? {} : { jti }) };
  }

  #audienceMatches(payload: JWTPayload): boolean {
    const { aud } = payload;
    if (aud === this.#audience || (Array.isArray(aud) && aud.includes(this.#audience))) return true;
    // Cognito access tokens carry no "aud"; the app client is in "client_id".
    return payload.token_use === 'access' && payload.client_id === this.#audience;
  }

  #role(payload: JWTPayload): Role {
    const value = payload[this.#roleClaim];
    const groups = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];
    const roles = new Set(groups.flatMap((g) => this.#roleMap.get(g) ?? []));
    const [role, ...others] = roles;
    if (role === undefined) throw new AppError('unauthenticated', 'invalid_token', 'Token carries no role this app knows');
    if (others.length > 0) {
      throw new AppError('unauthenticated', 'ambiguous_role', `Token groups map to several roles (${[...roles].join(', ')}); the user must be in exactly one`);
    }
    return role;
  }

  /** Key resolver: tells a token signed by an unknown key (401) from a provider we cannot reach (503). */
  async #key(header: JWSHeaderParameters, jws: FlattenedJWSInput) {
    try {
      return await this.#jwks(header, jws);
    } catch (error) {
      if (
        error instanceof joseErrors.JWKSNoMatchingKey ||
        error instanceof joseErrors.JWKSMultipleMatchingKeys ||
        error instanceof joseErrors.JOSENotSupported
      ) {
        throw new AppError('unauthenticated', 'invalid_token', 'Token was not signed by a known key of the identity provider', { cause: error });
      }
      throw new AppError('unavailable', 'identity_provider_unavailable', 'The identity provider did not provide its signing keys in time', { cause: error });
    }
  }
}
