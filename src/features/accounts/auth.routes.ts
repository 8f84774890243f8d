import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
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
/**
 * The device token from an earlier sign-in. Any token-shaped value is
 * accepted and an unknown one is simply not trusted: a client whose stored
 * token got mangled must still be able to sign in.
 */
const DeviceToken = opaqueToken.openapi({
  description: 'The `deviceToken` an earlier sign-in on this device returned: while valid, guessers elsewhere cannot lock this device out',
  example: 'dv_…',
});
const SignInBody = Credentials.extend({ deviceToken: DeviceToken.optional() }).strict().openapi('Credentials');
/** What a password sign-in returns: a token pair and the device token to keep. */
export const SignedInSchema = TokenPairSchema.extend({
  deviceToken: z.string().openapi({
    description:
      'Store it on this device and send it with later sign-ins: it exempts this device from the per-account limit that guessers elsewhere ' +
      'can reach. Valid 90 days from the sign-in that issued it; the same value comes back while it is valid, a new one otherwise. A password reset revokes it.',
    example: 'dv_…',
  }),
}).openapi('SignedIn');
const Registration = Credentials.extend({ role: z.enum(['guardian', 'teacher']).openapi({ description: 'Admins are created from the command line' }) })
  .strict()
  .openapi('Registration');
const Account = z.object({ id: z.string(), email: z.string(), role: z.enum(['guardian', 'teacher', 'admin']) }).openapi('Account');
const RefreshBody = z.object({ refreshToken: opaqueToken }).strict().openapi('RefreshRequest');
/** The family device key a guardian created (`POST /api/family/device-key`); shape only, the value decides. */
const DeviceKey = z.string().regex(/^dk_[A-Za-z0-9_-]{43}$/, 'must be the family device key a guardian created').openapi({ example: 'dk_…' });
const PinSignIn = z.object({ childId: ResourceId, pin: Pin, deviceKey: DeviceKey }).strict().openapi('PinSignIn');
/** Codes sent by mail: 32 random bytes, base64url. */
const EmailCode = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be the code from the email').openapi({ description: 'The code from the email' });
const Accepted = z
  .object({ status: z.literal('accepted'), message: z.string() })
  .openapi('MailAccepted', { description: 'The same answer whether or not the address has an account' });
const VerifyBody = z
  .object({ token: EmailCode, password: Password.openapi({ description: 'The password chosen at registration: the code creates the account only with it' }) })
  .strict()
  .openapi('VerifyEmail');
const ForgotBody = z.object({ email: Email.openapi({ example: 'parent@example.com' }) }).strict().openapi('ForgotPassword');
const ResetBody = z.object({ token: EmailCode, password: Password }).strict().openapi('ResetPassword');

const tags = ['auth'];

const register = createRoute({
  method: 'post',
  path: '/auth/register',
  tags,
  summary: 'Sign up for a guardian or teacher account in the app named by X-App-Id: sends a verification email',
  description:
    'Always 202 with the same body, whether or not the address has an account (nothing tells who has one). A new address gets a code that ' +
    '`POST /auth/email/verify` turns into the account; an address that has an account gets a notice with a password reset code instead.',
  request: { headers: appHeader, body: body(Registration) },
  responses: { 202: json(Accepted, 'Accepted: check your email'), ...errorResponses(400, 404, 413, 415, 429, 503) },
});

const verifyEmail = createRoute({
  method: 'post',
  path: '/auth/email/verify',
  tags,
  summary: 'Confirm the address with the code from the sign-up email and the password chosen at sign-up; the account exists from then on',
  description:
    'A password other than the one registered answers 400 `invalid_email_token`, exactly like an unknown code, and leaves the code usable. ' +
    'Only the newest registration of an address has a working code; the first one verified voids the rest.',
  request: { headers: appHeader, body: body(VerifyBody) },
  responses: { 201: json(Account, 'Account created'), ...errorResponses(400, 404, 413, 415, 429) },
});

const forgotPassword = createRoute({
  method: 'post',
  path: '/auth/password/forgot',
  tags,
  summary: 'Ask for a password reset code by email',
  description: 'Always 202 with the same body. A known address gets a single-use code valid for 30 minutes.',
  request: { headers: appHeader, body: body(ForgotBody) },
  responses: { 202: json(Accepted, 'Accepted: check your email'), ...errorResponses(400, 404, 413, 415, 429, 503) },
});

const resetPassword = createRoute({
  method: 'post',
  path: '/auth/password/reset',
  tags,
  summary: 'Set a new password with the code from the reset email; signs out every session of the account',
  request: { headers: appHeader, body: body(ResetBody) },
  responses: { 204: { description: 'Password changed; every refresh token of the account is revoked' }, ...errorResponses(400, 404, 413, 415, 429) },
});

const login = createRoute({
  method: 'post',
  path: '/auth/login',
  tags,
  summary: 'Sign in with email and password',
  description:
    'An unknown email and a wrong password fail the same way: 401 `invalid_credentials`, in the same time. Attempts since the last success are ' +
    'limited per (account, client address) and, with a ten times higher ceiling, per account (429 `rate_limited`), so one address guessing ' +
    'cannot lock the owner out elsewhere. With a valid `deviceToken` of the account, attempts are limited per device instead, and the ' +
    'per-account ceiling does not apply: guessers with many addresses cannot lock out a device the owner signed in on before. An unknown, ' +
    'expired or other account’s device token is ignored (the answer is the same as without one).',
  request: { headers: appHeader, body: body(SignInBody) },
  responses: { 200: json(SignedInSchema, 'Signed in'), ...errorResponses(400, 401, 404, 413, 415, 429) },
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
  summary: 'A child signs in on the family’s shared device with the PIN their guardian set',
  description:
    'Needs the family device key the guardian created on that device. Every failure (wrong PIN, no PIN, unknown child, wrong device key) is ' +
    'the same 401 `invalid_pin`. After four wrong PINs in a row each further one earns a growing wait (30 s, doubling, at most 15 min): ' +
    '429 `pin_retry_later` with `Retry-After`. A correct PIN or the guardian’s unlock clears it.',
  request: { headers: appHeader, body: body(PinSignIn) },
  responses: { 200: json(TokenPairSchema, 'Child-scoped tokens'), ...errorResponses(400, 401, 404, 413, 415, 429) },
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

/** The password sign-in limits (see docs/access.md). */
export interface SignInLimits {
  /** Attempts since the last success per (app, account email, client address). */
  perClient: RateLimitRule;
  /** Attempts since the last success per (app, account email), from anywhere: a much higher ceiling. */
  perAccount: RateLimitRule;
  /** Attempts since the last success per trusted device (app, device token digest), instead of the two above. */
  perDevice: RateLimitRule;
}

/** Public sign-in routes (`/auth/*`, app from `X-App-Id`) and the JWKS document. */
export function authRoutes(deps: {
  accounts: AccountsService;
  children: ChildrenService;
  tokens: TokenService;
  limiter: RateLimiter;
  limits: SignInLimits;
  /** The caller's address as the limits see it (X-Forwarded-For only behind a trusted proxy). */
  clientOf: (c: Context<AppEnv>) => string;
}): OpenAPIHono<AppEnv> {
  const { accounts, children, tokens, limiter, limits, clientOf } = deps;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const signInKeys = (c: Context<AppEnv>, appId: string, email: string) => {
    const account = `${appId}:${email}`;
    return { account, client: `${account}:${clientOf(c)}` };
  };

  app.openapi(register, async (c) => c.json(await accounts.requestRegistration(appOf(c), c.req.valid('json')), 202));

  app.openapi(verifyEmail, async (c) => {
    const input = c.req.valid('json');
    return c.json(await accounts.verifyEmail(appOf(c), input.token, input.password), 201);
  });

  app.openapi(forgotPassword, async (c) => c.json(await accounts.forgotPassword(appOf(c), c.req.valid('json').email), 202));

  app.openapi(resetPassword, async (c) => {
    const appId = appOf(c);
    const input = c.req.valid('json');
    const { email } = await accounts.resetPassword(appId, input.token, input.password);
    // The owner proved control of the address: clear what guessers ran up against the account.
    const keys = signInKeys(c, appId, email);
    await Promise.all([limiter.reset(limits.perAccount, keys.account), limiter.reset(limits.perClient, keys.client)]);
    return c.body(null, 204);
  });

  app.openapi(login, async (c) => {
    const appId = appOf(c);
    const { deviceToken, ...credentials } = c.req.valid('json');
    const keys = signInKeys(c, appId, credentials.email);
    // Counted before the password is checked (parallel guesses cannot slip
    // past) and cleared on success, so the counts are failures since the
    // last success.
    const device = await accounts.trustedDevice(appId, credentials.email, deviceToken);
    if (device) {
      // A device the account signed in on before (OWASP's device cookies):
      // its failures count against it alone, and the per-account ceiling
      // that guessers with many addresses can reach does not hold it up.
      const deviceKey = `${appId}:${device.digest}`;
      await enforceLimit(limiter, limits.perDevice, deviceKey);
      const { accountId: _id, ...signedIn } = await accounts.login(appId, credentials, device);
      // The per-account count stays: it holds the guessers' failures, not the owner's.
      await limiter.reset(limits.perDevice, deviceKey);
      return c.json(signedIn, 200);
    }
    // Per (account, client) first: a guesser spends their own budget; the
    // per-account ceiling is ten times higher, so only a guesser with many
    // addresses reaches it, and the owner still signs in from another
    // address (or, past the ceiling, from a trusted device) meanwhile.
    await enforceLimit(limiter, limits.perClient, keys.client);
    await enforceLimit(limiter, limits.perAccount, keys.account);
    const { accountId: _id, ...signedIn } = await accounts.login(appId, credentials);
    await Promise.all([limiter.reset(limits.perClient, keys.client), limiter.reset(limits.perAccount, keys.account)]);
    return c.json(signedIn, 200);
  });

  app.openapi(refresh, async (c) => c.json(await accounts.refresh(appOf(c), c.req.valid('json').refreshToken), 200));

  app.openapi(logout, async (c) => {
    await accounts.logout(appOf(c), c.req.valid('json').refreshToken);
    return c.body(null, 204);
  });

  // No limit keyed by the child here: anyone could spend it. The family
  // device key gates the attempts, the database counts them (growing waits),
  // and the per-address /auth limit still applies.
  app.openapi(pinSignIn, async (c) => c.json(await children.signInWithPin(appOf(c), c.req.valid('json')), 200));

  app.openapi(jwks, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(tokens.jwks(), 200);
  });

  return app;
}
