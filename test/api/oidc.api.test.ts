import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * External identity through the whole app: with OIDC_ISSUER and
 * OIDC_AUDIENCE configured, tokens of that issuer are accepted on /api next
 * to the server's own, mapped to role and app by configuration.
 */
describe('external OIDC tokens on the API', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let jwksServer: Server;
  let issuer: string;
  let key: CryptoKey;
  let jwksRequests = 0;

  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setSubject('cognito-user-1')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);

  before(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwksServer = createServer((req, res) => {
      jwksRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const address = jwksServer.address();
    issuer = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const [embedded] = await stacks();
    const opened = await embedded!.open();
    dispose = opened.dispose;
    t = await createTestApp({
      database: opened.database,
      cache: opened.cache,
      env: { OIDC_ISSUER: issuer, OIDC_AUDIENCE: 'client-123', OIDC_ROLE_MAP: 'parents=guardian,staff=teacher', OIDC_APP_CLAIM: 'custom:app' },
    });
    await createFixtureApp(t.container, 'alpha');
    await createFixtureApp(t.container, 'beta');
  });
  after(async () => {
    await dispose();
    await new Promise((resolve) => jwksServer.close(resolve));
  });

  it('accepts an ID token of the issuer, mapping groups to the role and the app claim to the app', async () => {
    const token = await sign({ aud: 'client-123', token_use: 'id', 'cognito:groups': ['parents'], 'custom:app': 'alpha' });
    const res = await t.request('/api/lessons/alpha-only', { token });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { title: string }).title, 'alpha alpha-only');
    const created = await t.request('/api/children', { method: 'POST', token, body: JSON.stringify({ nickname: 'Ext', grade: 1 }) });
    assert.equal(created.status, 201, 'an external guardian has an account its children can belong to');
    const children = (await (await t.request('/api/children', { token })).json()) as { items: { nickname: string }[] };
    assert.deepEqual(children.items.map((c) => c.nickname), ['Ext']);
    assert.equal((await t.request('/api/classrooms', { method: 'POST', token, body: '{"name":"x"}' })).status, 403, 'a guardian cannot create classrooms');
  });

  it('accepts a Cognito access token by client_id, and binds it to its app only', async () => {
    const token = await sign({ client_id: 'client-123', token_use: 'access', 'cognito:groups': ['staff'], 'custom:app': 'beta' });
    assert.equal((await t.request('/api/lessons/beta-only', { token })).status, 200);
    assert.equal((await t.request('/api/lessons/alpha-only', { token })).status, 404);
    assert.equal((await t.request('/api/lessons', { token, headers: { 'x-app-id': 'alpha' } })).status, 401);
  });

  it('refuses a wrong audience, an unmapped group and an unknown app', async () => {
    for (const claims of [
      { aud: 'someone-else', 'cognito:groups': ['parents'], 'custom:app': 'alpha' },
      { aud: 'client-123', 'cognito:groups': ['visitors'], 'custom:app': 'alpha' },
    ]) {
      assert.equal((await t.request('/api/lessons', { token: await sign(claims) })).status, 401, JSON.stringify(claims));
    }
    const unknownApp = await t.request('/api/lessons', { token: await sign({ aud: 'client-123', 'cognito:groups': ['parents'], 'custom:app': 'gamma' }) });
    assert.equal(unknownApp.status, 404);
  });

  it('still accepts the server’s own tokens, without asking the identity provider', async () => {
    const before = jwksRequests;
    const own = await t.token('alpha', 'guardian');
    assert.equal((await t.request('/api/lessons', { token: own })).status, 200);
    assert.equal(jwksRequests, before);
  });
});
