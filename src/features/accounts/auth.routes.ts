import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { RateLimiter, RateLimitRule } from '../../adapters/rate-limit/rate-limiter.ts';
import { ResourceId } from '../../domain/curriculum.ts';
import { AppError } from '../../domain/errors.ts';
import { opaqueToken } from '../../domain/input-rules.ts';
import { Pin } from '../../domain/family.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { enforceLimit } from '../../http/middleware/rate-limit.ts';
import { validationHook } from '../../http/validation.ts';
import type { TokenService } from '../auth/tokens.ts';
import type { ChildrenService } from '../families/children.service.ts';
import { Email, Password, type AccountsService } from './accounts.service.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
const appHeader = z.object({ 'x-app-id': z.string().openapi({ example: 'mathkids', description: 'The app to sign in to' }) });

export const TokenPairSchema = z
  .object({
    accessToken: z.string().openapi({ description: 'JWT, valid for at most 15 minutes' }),
    refreshToken: z.string().openapi({ description: 'Opaque; single use — every refresh returns a new one' }),
    expiresIn: z.number().int().openapi({ description: 'Seconds until the access token expires', example: 900 }),
    tokenType: z.literal('Bearer'),
  })
  .openapi('TokenPair');

const Credentials = z.object({ email: Email.openapi({ example: 'parent@example.com' }), password: Password.openapi({ example: 'correct horse battery' }) }).strict();
const Registration = Credentials.extend({ role: z.enum(['guardian', 'teacher']).openapi({ description: 'Admins are created from the command line' }) })
  .strict()
  .openapi('Registration');
const Account = z.object({ id: z.string(), email: z.string(), role: z.enum(['guardian', 'teacher', 'admin']) }).openapi('Account');
const RefreshBody = z.object({ refreshToken: opaqueToken }).strict().openapi('RefreshRequest');
const PinSignIn = z.object({ childId: ResourceId, pin: Pin }).strict().openapi('PinSignIn');

const tags = ['auth'];

const register = createRoute({
  method: 'post',
  path: '/auth/register',
  tags,
  summary: 'Create a guardian or teacher account in the app named by X-App-Id',
  request: { headers: appHeader, body: body(Registration) },
  responses: { 201: json(Account, 'Created'), ...errorResponses(400, 404, 409, 413, 415, 429) },
});

const login = createRoute({
  method: 'post',
  path: '/auth/login',
  tags,
  summary: 'Sign in with email and password',
  description: 'An unknown email and a wrong password fail the same way: 401 `invalid_credentials`, in the same time.',
  request: { headers: appHeader, body: body(Credentials.openapi('Credentials')) },
  responses: { 200: json(TokenPairSchema, 'Signed in'), ...errorResponses(400, 401, 404, 413, 415, 429) },
});

const refresh = createRoute({
  method: 'post',
  path: '/auth/refresh',
  tags,
  summary: 'Exchange a refresh token for a new token pair',
  description: 'Refresh tokens are single use. Presenting one that was already used signs out every session of its family (401 `refresh_token_reused`).',
  request: { headers: appHeader, body: body(RefreshBody) },
  responses: { 200: json(TokenPairSchema, 'New tokens'), ...errorResponses(400, 401, 404, 413, 415, 429) },
});

const logout = createRoute({
  method: 'post',
  path: '/auth/logout',
  tags,
  summary: 'Sign out: the refresh token and its family stop working',
  request: { headers: appHeader, body: body(RefreshBody) },
  responses: { 204: { description: 'Signed out (also for an unknown token)' }, ...errorResponses(400, 404, 413, 415, 429) },
});

const pinSignIn = createRoute({
  method: 'post',
  path: '/auth/pin',
  tags,
  summary: 'A child signs in on a shared device with the PIN their guardian set',
  description: `After ${5} wrong PINs in a row, PIN sign-in for that child is locked (403 \`pin_locked\`) until the guardian unlocks it.`,
  request: { headers: appHeader, body: body(PinSignIn) },
  responses: { 200: json(TokenPairSchema, 'Child-scoped tokens'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
});

const jwks = createRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  tags,
  summary: 'Public keys that verify this server’s access tokens',
  responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi('Jwks'), 'JSON Web Key Set') },
});

function appOf(c: { get(key: 'appId'): string | undefined }): string {
  const appId = c.get('appId');
  if (!appId) throw new AppError('internal', 'app_not_bound', 'Request reached a handler without an app');
  return appId;
}

/** Public sign-in routes (`/auth/*`, app from `X-App-Id`) and the JWKS document. */
export function authRoutes(deps: { accounts: AccountsService; children: ChildrenService; tokens: TokenService; limiter: RateLimiter; perAccount: RateLimitRule }): OpenAPIHono<AppEnv> {
  const { accounts, children, tokens, limiter, perAccount } = deps;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(register, async (c) => {
    const input = c.req.valid('json');
    return c.json(await accounts.register(appOf(c), input), 201);
  });

  app.openapi(login, async (c) => {
    const appId = appOf(c);
    const input = c.req.valid('json');
    const key = `${appId}:${input.email}`;
    await enforceLimit(limiter, perAccount, key);
    const { accountId: _id, ...pair } = await accounts.login(appId, input);
    // Only failed attempts should use up an account's budget: someone who signs
    // in often (a teacher on several devices) is not slowed down by it.
    await limiter.reset(perAccount, key);
    return c.json(pair, 200);
  });

  app.openapi(refresh, async (c) => c.json(await accounts.refresh(appOf(c), c.req.valid('json').refreshToken), 200));

  app.openapi(logout, async (c) => {
    await accounts.logout(appOf(c), c.req.valid('json').refreshToken);
    return c.body(null, 204);
  });

  app.openapi(pinSignIn, async (c) => {
    const appId = appOf(c);
    const { childId, pin } = c.req.valid('json');
    await enforceLimit(limiter, perAccount, `${appId}:child:${childId}`);
    return c.json(await children.signInWithPin(appId, childId, pin), 200);
  });

  app.openapi(jwks, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(tokens.jwks(), 200);
  });

  return app;
}
