import type { Context, Next } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { RateLimiter, RateLimitRule } from '../../adapters/rate-limit/rate-limiter.ts';
import { authorize, type AccessFunction } from '../../domain/access-policy.ts';
import { AppError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { AppsService } from '../../features/apps/apps.service.ts';
import { bearerToken } from '../../features/auth/bearer.ts';
import type { AppEnv } from '../context.ts';
import { requestHeader } from '../request-headers.ts';
import { enforceLimit } from './rate-limit.ts';

/**
 * Authenticated routes: a bearer token decides the caller and the app. A
 * request whose `X-App-Id` names another app than its token is refused (401),
 * so a token of app A can never be pointed at app B. With `limit`, each caller
 * (app, role, subject: every token of one sign-in) is held to a request rate
 * (429 beyond it). `known` answers, without waiting, for a token verified
 * before (see `TokenService.verified`); a token it does not know goes to
 * `verify`. A known token of a memoised app with an in-process limiter is
 * admitted without a single await.
 */
export function authenticate(
  verify: (token: string) => Promise<Principal>,
  apps: AppsService,
  limit?: { limiter: RateLimiter; rule: RateLimitRule },
  known?: (token: string) => Principal | undefined,
) {
  const admit = (c: Context<AppEnv>, next: Next, principal: Principal): Promise<void> => {
    const claimedApp = requestHeader(c, 'x-app-id');
    if (claimedApp !== undefined && claimedApp !== principal.app) {
      throw new AppError('unauthenticated', 'app_mismatch', 'X-App-Id does not match the app of the token');
    }
    c.set('principal', principal);
    c.set('appId', principal.app);
    // Keyed by the caller, not the token id, so refreshing does not reset the budget.
    const pending = limit && enforceLimit(limit.limiter, limit.rule, `${principal.app}:${principal.role}:${principal.sub}`);
    return pending ? pending.then(next) : next();
  };
  const slow = async (c: Context<AppEnv>, next: Next, token: string): Promise<void> => {
    const principal = await verify(token);
    const claimedApp = requestHeader(c, 'x-app-id');
    if (claimedApp !== undefined && claimedApp !== principal.app) {
      throw new AppError('unauthenticated', 'app_mismatch', 'X-App-Id does not match the app of the token');
    }
    await apps.require(principal.app);
    return admit(c, next, principal);
  };
  return createMiddleware<AppEnv>((c, next) => {
    const header = requestHeader(c, 'authorization');
    if (!header) throw new AppError('unauthenticated', 'missing_token', 'Authorization: Bearer <token> is required');
    const token = bearerToken(header);
    if (token === undefined) throw new AppError('unauthenticated', 'invalid_token', 'Authorization header must be "Bearer <token>"');
    const principal = known?.(token);
    if (principal === undefined || apps.known(principal.app) === undefined) return slow(c, next, token);
    return admit(c, next, principal);
  });
}

/** 403 `forbidden` unless the access policy lets the caller's role use `fn`. Runs after {@link authenticate}. */
export function requireFunction(fn: AccessFunction) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = c.get('principal');
    if (!principal) throw new AppError('unauthenticated', 'missing_token', 'Authorization: Bearer <token> is required');
    authorize(principal, fn);
    await next();
  });
}

/** Public routes bound to an app: the app comes from `X-App-Id`. */
export function appFromHeader(apps: AppsService) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const id = requestHeader(c, 'x-app-id');
    if (!id) throw new AppError('invalid', 'missing_app_id', 'The X-App-Id header is required');
    const app = await apps.require(id);
    c.set('appId', app.id);
    await next();
  });
}
