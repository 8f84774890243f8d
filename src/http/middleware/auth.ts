import { createMiddleware } from 'hono/factory';
import { AppError } from '../../domain/errors.ts';
import type { Role } from '../../domain/principal.ts';
import type { AppsService } from '../../features/apps/apps.service.ts';
import type { TokenService } from '../../features/auth/tokens.ts';
import type { AppEnv } from '../context.ts';
import { requestHeader } from '../request-headers.ts';

/**
 * Authenticated routes: a bearer token decides the caller and the app. A
 * request whose `X-App-Id` names another app than its token is refused (401),
 * so a token of app A can never be pointed at app B.
 */
export function authenticate(tokens: TokenService, apps: AppsService) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = requestHeader(c, 'authorization');
    if (!header) throw new AppError('unauthenticated', 'missing_token', 'Authorization: Bearer <token> is required');
    const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(header);
    if (!match) throw new AppError('unauthenticated', 'invalid_token', 'Authorization header must be "Bearer <token>"');
    const principal = await tokens.verify(match[1]!);
    const claimedApp = requestHeader(c, 'x-app-id');
    if (claimedApp !== undefined && claimedApp !== principal.app) {
      throw new AppError('unauthenticated', 'app_mismatch', 'X-App-Id does not match the app of the token');
    }
    await apps.require(principal.app);
    c.set('principal', principal);
    c.set('appId', principal.app);
    await next();
  });
}

/** 403 `forbidden` unless the caller has one of `roles`. Runs after {@link authenticate}. */
export function requireRole(...roles: Role[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = c.get('principal');
    if (!principal || !roles.includes(principal.role)) {
      throw new AppError('forbidden', 'forbidden', `This requires the ${roles.join(' or ')} role`);
    }
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
