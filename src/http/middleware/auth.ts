import { createMiddleware } from 'hono/factory';
import type { RateLimiter, RateLimitRule } from '../../adapters/rate-limit/rate-limiter.ts';
import { authorize, type AccessFunction } from '../../domain/access-policy.ts';
import { AppError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { AppsService } from '../../features/apps/apps.service.ts';
import type { AppEnv } from '../context.ts';
import { requestHeader } from '../request-headers.ts';
import { enforceLimit } from './rate-limit.ts';

const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i;

/**
 * Authenticated routes: a bearer token decides the caller and the app. A
 * request whose `X-App-Id` names another app than its token is refused (401),
 * so a token of app A can never be pointed at app B. With `limit`, each caller
 * (app, role, subject: every token of one sign-in) is held to a request rate
 * (429 beyond it).
 */
export function authenticate(
  verify: (token: string) => Promise<Principal>,
  apps: AppsService,
  limit?: { limiter: RateLimiter; rule: RateLimitRule },
) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = requestHeader(c, 'authorization');
    if (!header) throw new AppError('unauthenticated', 'missing_token', 'Authorization: Bearer <token> is required');
    const match = BEARER.exec(header);
    if (!match) throw new AppError('unauthenticated', 'invalid_token', 'Authorization header must be "Bearer <token>"');
    const principal = await verify(match[1]!);
    const claimedApp = requestHeader(c, 'x-app-id');
    if (claimedApp !== undefined && claimedApp !== principal.app) {
      throw new AppError('unauthenticated', 'app_mismatch', 'X-App-Id does not match the app of the token');
    }
    await apps.require(principal.app);
    c.set('principal', principal);
    c.set('appId', principal.app);
    // Keyed by the caller, not the token id, so refreshing does not reset the budget.
    if (limit) await enforceLimit(limit.limiter, limit.rule, `${principal.app}:${principal.role}:${principal.sub}`);
    await next();
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
