import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { codeIn, mailTo } from '../support/mail.ts';
import { stacks } from '../support/servers.ts';

type Pair = { accessToken: string; refreshToken: string; expiresIn: number; tokenType: string };
type ErrorJson = { error: { code: string; message: string; requestId: string } };

const PASSWORD = 'correct horse battery';
/** The register answer, identical for every address. */
const inBetaBody = async () => ({ status: 'accepted', message: 'Check your email: we sent a message to this address with what to do next.' });

for (const stack of await stacks()) {
  describe(`accounts and sign-in on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;

    const post = (path: string, body: unknown, app = 'alpha') =>
      t.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'x-app-id': app } });
    const login = async (email: string, password = PASSWORD, app = 'alpha') => {
      const res = await post('/auth/login', { email, password }, app);
      return { res, body: (await res.json()) as Pair & ErrorJson };
    };

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      await createFixtureApp(t.container, 'beta');
      // The account the tests below sign in with, so none depends on the registration test.
      await t.container.accounts.register('alpha', { email: 'parent@example.com', password: PASSWORD, role: 'guardian' });
    });
    after(async () => dispose());

    it('registers a guardian (202, then the emailed code creates the account) and signs in with a case-insensitive email', async () => {
      const res = await post('/auth/register', { email: 'New.Parent@Example.com', password: PASSWORD, role: 'guardian' });
      assert.equal(res.status, 202);
      assert.equal(((await res.json()) as { status: string }).status, 'accepted');
      assert.equal((await login('new.parent@example.com')).res.status, 401, 'no account before the address is verified');
      const [mail] = mailTo(t, 'new.parent@example.com');
      assert.match(mail!.subject, /Confirm your email address/);
      const verified = await post('/auth/email/verify', { token: codeIn(mail), password: PASSWORD });
      assert.equal(verified.status, 201);
      const account = (await verified.json()) as { id: string; email: string; role: string };
      assert.deepEqual({ email: account.email, role: account.role }, { email: 'new.parent@example.com', role: 'guardian' });
      const { res: ok, body } = await login('NEW.PARENT@example.com');
      assert.equal(ok.status, 200);
      assert.equal(body.tokenType, 'Bearer');
      assert.ok(body.expiresIn > 0 && body.expiresIn <= 900);
      const claims = decodeJwt(body.accessToken);
      assert.equal(claims.sub, account.id);
      assert.equal(claims.app, 'alpha');
      assert.equal(claims.role, 'guardian');
      assert.equal(typeof claims.jti, 'string');
      assert.ok(claims.exp! - claims.iat! <= 900, 'access tokens live at most 15 minutes');
      assert.match(body.refreshToken, /^rt_[\w-]{40,}$/);
      // The token works on /api and is valid for its own app only.
      assert.equal((await t.request('/api/children', { token: body.accessToken })).status, 200);
      assert.equal((await t.request('/api/children', { token: body.accessToken, headers: { 'x-app-id': 'beta' } })).status, 401);
    });

    it('publishes the public keys at /.well-known/jwks.json and they verify access tokens', async () => {
      const res = await t.request('/.well-known/jwks.json');
      assert.equal(res.status, 200);
      const jwks = (await res.json()) as { keys: Record<string, unknown>[] };
      assert.ok(jwks.keys.length >= 1);
      assert.ok(jwks.keys.every((k) => k.kid && !('d' in k)), 'public keys only, each with a kid');
      const { body } = await login('parent@example.com');
      const { payload, protectedHeader } = await jwtVerify(body.accessToken, createLocalJWKSet(jwks as never));
      assert.equal(payload.app, 'alpha');
      assert.ok(['EdDSA', 'ES256'].includes(protectedHeader.alg));
    });

    it('keeps accounts per app: the same email signs up separately in another app; a known address gets a notice, not a second account', async () => {
      const inBeta = await post('/auth/register', { email: 'parent@example.com', password: PASSWORD, role: 'teacher' }, 'beta');
      assert.equal(inBeta.status, 202);
      const betaMail = mailTo(t, 'parent@example.com').at(-1)!;
      assert.match(betaMail.subject, /Confirm your email address \(beta\)/);
      assert.equal((await post('/auth/email/verify', { token: codeIn(betaMail), password: PASSWORD }, 'beta')).status, 201);
      // In alpha the address has an account: same answer as for a new one, and the owner is told instead.
      const dup = await post('/auth/register', { email: 'parent@example.com', password: PASSWORD, role: 'teacher' });
      assert.equal(dup.status, 202);
      assert.deepEqual(await dup.json(), await inBetaBody());
      assert.match(mailTo(t, 'parent@example.com').at(-1)!.subject, /Someone tried to create an account with your address \(alpha\)/);
      const roles = await t.container.database.db.withSchema('app_alpha').selectFrom('accounts').select('role').where('email', '=', 'parent@example.com').execute();
      assert.deepEqual(roles, [{ role: 'guardian' }], 'still one account, role unchanged');
    });

    it('refuses weak passwords, admin sign-up, unknown fields and a missing X-App-Id', async () => {
      const short = await post('/auth/register', { email: 'a@example.com', password: 'short', role: 'guardian' });
      assert.equal(short.status, 400);
      assert.match(((await short.json()) as ErrorJson).error.message, /password.*10 characters/);
      const admin = await post('/auth/register', { email: 'b@example.com', password: PASSWORD, role: 'admin' });
      assert.equal(admin.status, 400);
      const extra = await post('/auth/register', { email: 'c@example.com', password: PASSWORD, role: 'guardian', app: 'beta' });
      assert.equal(extra.status, 400);
      assert.match(((await extra.json()) as ErrorJson).error.message, /app/);
      const noApp = await t.request('/auth/login', { method: 'POST', body: JSON.stringify({ email: 'parent@example.com', password: PASSWORD }) });
      assert.equal(noApp.status, 400);
      assert.equal(((await noApp.json()) as ErrorJson).error.code, 'missing_app_id');
    });

    it('fails an unknown email and a wrong password identically', async () => {
      const unknown = await login('nobody@example.com', 'wrong password!');
      const wrong = await login('parent@example.com', 'wrong password!');
      assert.equal(unknown.res.status, 401);
      assert.equal(wrong.res.status, 401);
      const strip = (b: ErrorJson) => ({ ...b.error, requestId: undefined });
      assert.deepEqual(strip(unknown.body), strip(wrong.body));
      assert.equal(unknown.body.error.code, 'invalid_credentials');
      assert.deepEqual([...unknown.res.headers.keys()].sort(), [...wrong.res.headers.keys()].sort());
    });

    it('never writes passwords or tokens to the log', async () => {
      const { body } = await login('parent@example.com');
      await post('/auth/refresh', { refreshToken: body.refreshToken });
      const log = JSON.stringify(t.logLines());
      assert.ok(!log.includes(PASSWORD));
      assert.ok(!log.includes(body.refreshToken));
      assert.ok(!log.includes(body.accessToken));
    });

    it('rotates refresh tokens; a reused one revokes the whole family', async () => {
      const { body: first } = await login('parent@example.com');
      const r1 = await post('/auth/refresh', { refreshToken: first.refreshToken });
      assert.equal(r1.status, 200);
      const second = (await r1.json()) as Pair;
      assert.notEqual(second.refreshToken, first.refreshToken);
      assert.equal(decodeJwt(second.accessToken).role, 'guardian');
      // Replaying the first token: someone copied it. Everything in the family stops working.
      const replay = await post('/auth/refresh', { refreshToken: first.refreshToken });
      assert.equal(replay.status, 401);
      assert.equal(((await replay.json()) as ErrorJson).error.code, 'refresh_token_reused');
      const afterReplay = await post('/auth/refresh', { refreshToken: second.refreshToken });
      assert.equal(afterReplay.status, 401);
      assert.equal(((await afterReplay.json()) as ErrorJson).error.code, 'invalid_refresh_token');
      // Another sign-in (another family) is unaffected.
      const { body: other } = await login('parent@example.com');
      assert.equal((await post('/auth/refresh', { refreshToken: other.refreshToken })).status, 200);
    });

    it('signs out: the refresh token and its family stop working; unknown tokens are fine', async () => {
      const { body } = await login('parent@example.com');
      assert.equal((await post('/auth/logout', { refreshToken: body.refreshToken })).status, 204);
      assert.equal((await post('/auth/refresh', { refreshToken: body.refreshToken })).status, 401);
      assert.equal((await post('/auth/logout', { refreshToken: 'rt_unknown' })).status, 204);
    });

    it('does not accept a refresh token of one app in another', async () => {
      const { body } = await login('parent@example.com');
      const res = await post('/auth/refresh', { refreshToken: body.refreshToken }, 'beta');
      assert.equal(res.status, 401);
    });
  });
}

describe('rate limits', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  before(async () => {
    const [embedded] = await stacks();
    const opened = await embedded!.open();
    dispose = opened.dispose;
    t = await createTestApp({ database: opened.database, cache: opened.cache, env: { RATE_LIMIT_AUTH_PER_MINUTE: '3', RATE_LIMIT_AUTH_IP_PER_MINUTE: '5', RATE_LIMIT_API_PER_MINUTE: '5' } });
    await createFixtureApp(t.container, 'alpha');
  });
  after(async () => dispose());

  const attempt = (email: string) =>
    t.request('/auth/login', { method: 'POST', body: JSON.stringify({ email, password: 'not the password' }), headers: { 'x-app-id': 'alpha' } });

  it('limits sign-in attempts per (account, client), then per IP, with 429 and Retry-After', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await attempt('victim@example.com')).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    const limited = await attempt('victim@example.com');
    assert.equal(limited.status, 429);
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 15 * 60, `Retry-After ${retry}`); // the per-(account, client) window is 15 minutes
    const body = (await limited.json()) as ErrorJson;
    assert.equal(body.error.code, 'rate_limited');
    // The per-address limit (5 requests a minute here) is spent as well: another account from the same address is refused too.
    const flooded = await attempt('someone-else@example.com');
    assert.equal(flooded.status, 429);
    assert.deepEqual(((await flooded.json()) as { error: { details: { limit: number } } }).error.details.limit, 5, 'refused by the per-address limit');
  });

  it('does not count successful sign-ins against the account', async () => {
    const t2 = await createTestApp({ database: t.container.database, cache: t.container.cache, env: { RATE_LIMIT_AUTH_PER_MINUTE: '3', TRUST_PROXY: 'true' } });
    await t2.container.accounts.register('alpha', { email: 'busy@example.com', password: 'correct horse battery', role: 'teacher' });
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      // A different address each time (TRUST_PROXY), so only the per-account limit applies.
      const res = await t2.request('/auth/login', {
        method: 'POST',
        body: JSON.stringify({ email: 'busy@example.com', password: 'correct horse battery' }),
        headers: { 'x-app-id': 'alpha', 'x-forwarded-for': `10.0.0.${i}` },
      });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  });

  it('limits each token on /api (default 600 a minute; 5 here)', async () => {
    const token = await t.token('alpha', 'guardian');
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await t.request('/api/lessons', { token })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    const other = await t.token('alpha', 'guardian', { sub: 'guardian-2' });
    assert.equal((await t.request('/api/lessons', { token: other })).status, 200, 'another token has its own budget');
  });
});
