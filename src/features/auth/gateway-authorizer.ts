import type { Config } from '../../config/config.ts';
import { AppError } from '../../domain/errors.ts';
import type { Role } from '../../domain/principal.ts';
import { bearerToken } from './bearer.ts';
import { OidcVerifier } from './oidc.ts';
import type { KeyRefresher } from './key-refresh.ts';
import { loadVerificationKeys, publicHalfOf } from './signing-keys.ts';
import { TokenVerifier } from './tokens.ts';

/**
 * The API Gateway authorizer's decision (runtimes/lambda/authorizer.ts): an
 * HTTP API Lambda REQUEST authorizer (payload format 2.0, simple responses)
 * in front of the token-protected routes. kidslearn accepts tokens of two
 * issuers, its own (children's PIN and device sign-ins, guardians' and
 * teachers' kidslearn accounts, admin tokens made on the command line) and,
 * when OIDC_* is set, an OpenID Connect provider's (Cognito): API Gateway's
 * built-in JWT authorizer trusts one issuer, so it would turn every child
 * away. This decides with the very classes the app authenticates with
 * ({@link TokenVerifier}, the public half of the signing key plus the
 * previous public keys; {@link OidcVerifier}), without the database; the app
 * checks everything again (the app exists, X-App-Id, roles, the account).
 */

/** What API Gateway sends to a REQUEST authorizer (HTTP API, payload format 2.0): the parts read here. */
export interface GatewayAuthorizerEvent {
  type?: string;
  routeKey?: string;
  /** The identity source values: the `Authorization` header here. */
  identitySource?: readonly string[] | null;
  /** Request headers, names in lower case (payload 2.0). */
  headers?: Readonly<Record<string, string | undefined>> | null;
}

/**
 * What the integration receives as `$context.authorizer.lambda` (and the
 * function as `requestContext.authorizer.lambda`): no personal data, neither
 * the subject nor a name, only what the token says about its kind.
 */
export interface GatewayAuthorizerContext {
  role: Role;
  app: string;
  /** Who issued the token: kidslearn itself, or the OIDC provider. */
  issuer: 'kidslearn' | 'oidc';
}

/** A simple response (API Gateway answers 403 to `isAuthorized: false`). */
export type GatewayAuthorizerResult = { isAuthorized: true; context: GatewayAuthorizerContext } | { isAuthorized: false };

/** One decision, for the log: never the token, never the subject. */
export interface GatewayDecision {
  allowed: boolean;
  route: string | undefined;
  issuer?: 'kidslearn' | 'oidc';
  /** Why a token was refused (the app's error code: missing_token, token_expired, invalid_token...). */
  code?: string;
}

/** Decides on each request's bearer token; built once per execution environment by {@link createGatewayAuthorizer}. */
export class GatewayAuthorizer {
  readonly #tokens: TokenVerifier;
  readonly #oidc: OidcVerifier | undefined;
  readonly #onDecision: (decision: GatewayDecision) => void;

  constructor(options: { tokens: TokenVerifier; oidc?: OidcVerifier | undefined; onDecision?: (decision: GatewayDecision) => void }) {
    this.#tokens = options.tokens;
    this.#oidc = options.oidc;
    this.#onDecision = options.onDecision ?? (() => {});
  }

  /**
   * Allows a request whose `Authorization: Bearer <token>` verifies, with
   * the token's role and app as context; denies every other one (no or
   * another scheme, a bad signature, an unknown key, wrong issuer or
   * audience, expired, missing claims). The one exception: when the OIDC
   * provider's keys cannot be fetched in time, it throws, so API Gateway
   * answers 500 for this request without caching a denial of a token that
   * may well be valid (the app answers 503 `identity_provider_unavailable`
   * in that case).
   */
  async authorize(event: GatewayAuthorizerEvent): Promise<GatewayAuthorizerResult> {
    const route = event.routeKey;
    const header = event.headers?.authorization ?? event.identitySource?.[0];
    const token = header === undefined ? undefined : bearerToken(header);
    if (token === undefined) return this.#deny(route, header === undefined ? 'missing_token' : 'invalid_token');
    const issuer = this.#oidc?.claims(token) ? 'oidc' : 'kidslearn';
    try {
      const principal = issuer === 'oidc' ? await this.#oidc!.verify(token) : await this.#tokens.verify(token);
      this.#onDecision({ allowed: true, route, issuer });
      return { isAuthorized: true, context: { role: principal.role, app: principal.app, issuer } };
    } catch (error) {
      if (error instanceof AppError && error.kind === 'unavailable') throw error;
      return this.#deny(route, error instanceof AppError ? error.code : 'invalid_token', issuer);
    }
  }

  #deny(route: string | undefined, code: string, issuer?: 'kidslearn' | 'oidc'): GatewayAuthorizerResult {
    this.#onDecision({ allowed: false, route, code, ...(issuer ? { issuer } : {}) });
    return { isAuthorized: false };
  }
}

/**
 * Builds the authorizer from the configuration: the public half of
 * `JWT_PRIVATE_KEY` (on AWS read from `JWT_PRIVATE_KEY_SECRET_ARN` before the
 * configuration is loaded) and the keys of `JWT_PREVIOUS_PUBLIC_KEYS` verify
 * kidslearn's tokens, exactly as in the app; `OIDC_*`, when set, the
 * provider's (its JWKS fetched on first use, with the configured timeout,
 * then cached). No private key is kept. `refresher` (on AWS: the signing key
 * secret, wiring/jwt-keys.ts) supplies keys rotated in after the start.
 */
export async function createGatewayAuthorizer(
  config: Pick<Config, 'dataDir' | 'jwt' | 'oidc'>,
  options: { onDecision?: (decision: GatewayDecision) => void; refresher?: KeyRefresher | undefined } = {},
): Promise<GatewayAuthorizer> {
  if (!config.jwt.privateKeyJwk) {
    throw new Error('The gateway authorizer needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_SECRET_ARN: the key the api function signs with (only its public half is used)');
  }
  const keys = [await publicHalfOf(config.jwt.privateKeyJwk), ...(await loadVerificationKeys({ dataDir: config.dataDir, previousPublicJwks: config.jwt.previousPublicJwks }))];
  return new GatewayAuthorizer({
    tokens: new TokenVerifier(keys, config.jwt.issuer, { refresher: options.refresher }),
    oidc: config.oidc ? new OidcVerifier(config.oidc) : undefined,
    ...(options.onDecision ? { onDecision: options.onDecision } : {}),
  });
}
