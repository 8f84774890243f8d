import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { base64url, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { AppError, type ErrorKind } from '../../src/domain/errors.ts';
import { OidcVerifier, type OidcOptions } from '../../src/features/auth/oidc.ts';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool';
const CLIENT = '4l0ngc0gn1t0c1i3ntid';

interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function rsaKey(kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, alg: 'RS256', privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** Starts an HTTP server on 127.0.0.1 with a random port. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Asserts that `promise` rejects with an AppError of `kind` and `code`. */
function rejectsWith(promise: Promise<unknown>, kind: ErrorKind, code: string, message?: RegExp) {
  return assert.rejects(promise, (e) => {
    assert.ok(e instanceof AppError, `expected AppError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('OidcVerifier', () => {
  let keyA: TestKey;
  let keyB: TestKey;
  // The fake identity provider: serves `served` as its JWKS and counts requests.
  let served: JWK[] = [];
  let failing = false;
  let jwksRequests = 0;
  const idp = createServer((_req, res) => {
    jwksRequests++;
    if (failing) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }));
  });
  const hanging = createServer(() => {
    /* never answers */
  });
  let jwksUrl = '';
  let hangingUrl = '';

  before(async () => {
    keyA = await rsaKey('key-a');
    keyB = await rsaKey('key-b');
    jwksUrl = `http://127.0.0.1:${await listen(idp)}/.well-known/jwks.json`;
    hangingUrl = `http://127.0.0.1:${await listen(hanging)}/.well-known/jwks.json`;
  });
  after(() => Promise.all([close(idp), close(hanging)]));
  beforeEach(() => {
    served = [keyA.jwk];
    failing = false;
  });

  const verifier = (options: Partial<OidcOptions> = {}) =>
    new OidcVerifier({
      issuer: ISSUER,
      audience: CLIENT,
      jwksUrl,
      roleClaim: 'cognito:groups',
      roleMap: { guardians: 'guardian', teachers: 'teacher', staff: 'teacher', admins: 'admin' },
      appClaim: 'custom:app',
      ...options,
    });

  /** A Cognito-style ID token; `claims` override the defaults (`undefined` removes one). */
  const sign = (claims: JWTPayload = {}, key: TestKey = keyA) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: ISSUER,
      sub: 'b1c2d3e4-user',
      aud: CLIENT,
      token_use: 'id',
      iat: now,
      exp: now + 600,
      'cognito:groups': ['teachers'],
      'custom:app': 'mathkids',
      ...claims,
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .sign(key.privateKey);
  };

  const b64json = (value: object) => base64url.encode(JSON.stringify(value));

  describe('accepts', () => {
    it('a Cognito ID token whose aud is our client, mapping group and app', async () => {
      const token = await sign({ jti: 'tok-1' });
      const p = await verifier().verify(token);
      assert.deepEqual({ ...p, exp: typeof p.exp }, { sub: 'b1c2d3e4-user', app: 'mathkids', role: 'teacher', jti: 'tok-1', exp: 'number' });
      assert.ok(Math.abs(p.exp - (Date.now() / 1000 + 600)) < 5);
    });

    it('a Cognito access token (no aud, token_use access, client_id = our client)', async () => {
      const token = await sign({ aud: undefined, token_use: 'access', client_id: CLIENT, 'cognito:groups': 'guardians' });
      const p = await verifier().verify(token);
      assert.deepEqual([p.role, p.app, 'jti' in p], ['guardian', 'mathkids', false]);
    });

    it('an aud array containing our client, and several groups that map to the same role', async () => {
      const p = await verifier().verify(await sign({ aud: ['other', CLIENT], 'cognito:groups': ['staff', 'teachers', 'unrelated'] }));
      assert.equal(p.role, 'teacher');
    });
  });

  describe('rejects with 401', () => {
    it('another audience', async () => {
      await rejectsWith(verifier().verify(await sign({ aud: 'someone-else' })), 'unauthenticated', 'invalid_token', /audience/);
    });

    it('an access token of another client, and an ID token that only has client_id', async () => {
      const v = verifier();
      await rejectsWith(v.verify(await sign({ aud: undefined, token_use: 'access', client_id: 'other' })), 'unauthenticated', 'invalid_token', /audience/);
      await rejectsWith(v.verify(await sign({ aud: undefined, token_use: 'id', client_id: CLIENT })), 'unauthenticated', 'invalid_token', /audience/);
    });

    it('another issuer', async () => {
      await rejectsWith(verifier().verify(await sign({ iss: 'https://evil.example' })), 'unauthenticated', 'invalid_token', /iss/);
    });

    it('an expired token, past the clock tolerance', async () => {
      const now = Math.floor(Date.now() / 1000);
      await rejectsWith(verifier().verify(await sign({ iat: now - 700, exp: now - 60 })), 'unauthenticated', 'token_expired');
    });

    it('a token that is not yet valid (nbf in the future)', async () => {
      const nbf = Math.floor(Date.now() / 1000) + 120;
      await rejectsWith(verifier().verify(await sign({ nbf })), 'unauthenticated', 'invalid_token', /nbf/);
    });

    it('missing sub or exp', async () => {
      const v = verifier();
      await rejectsWith(v.verify(await sign({ sub: undefined })), 'unauthenticated', 'invalid_token', /sub/);
      await rejectsWith(v.verify(await sign({ exp: undefined })), 'unauthenticated', 'invalid_token', /exp/);
    });

    it('an unsigned alg "none" token, without fetching keys', async () => {
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss: ISSUER, sub: 'x', aud: CLIENT, token_use: 'id', exp: now + 600, 'cognito:groups': ['admins'], 'custom:app': 'mathkids' };
      const before = jwksRequests;
      for (const token of [`${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(payload)}.`, `${b64json({ alg: 'none' })}.${b64json(payload)}`]) {
        await rejectsWith(verifier().verify(token), 'unauthenticated', 'invalid_token');
      }
      assert.equal(jwksRequests, before);
    });

    it('an HS256 token (HMAC is not an allowed algorithm)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ sub: 'x', aud: CLIENT, token_use: 'id', exp: now + 600, 'cognito:groups': ['admins'], 'custom:app': 'mathkids' })
        .setProtectedHeader({ alg: 'HS256', kid: keyA.kid })
        .setIssuer(ISSUER)
        .sign(new TextEncoder().encode(JSON.stringify(keyA.jwk)));
      await rejectsWith(verifier().verify(token), 'unauthenticated', 'invalid_token');
    });

    it('a tampered payload', async () => {
      const [header, payload, signature] = (await sign()).split('.') as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload;
      const forged = `${header}.${b64json({ ...claims, 'cognito:groups': ['admins'] })}.${signature}`;
      await rejectsWith(verifier().verify(forged), 'unauthenticated', 'invalid_token', /signature/);
    });

    it('garbage', async () => {
      for (const token of ['', 'abc', 'a.b.c', `${b64json({ alg: 'RS256' })}.${b64json({})}.`]) {
        await rejectsWith(verifier().verify(token), 'unauthenticated', 'invalid_token');
      }
    });

    it('groups that map to no role', async () => {
      const v = verifier();
      for (const groups of [['students'], [], 'constructor', '__proto__', undefined, 42, [7]]) {
        await rejectsWith(v.verify(await sign({ 'cognito:groups': groups })), 'unauthenticated', 'invalid_token', /no role/);
      }
    });

    it('groups that map to several roles (ambiguous_role)', async () => {
      await rejectsWith(verifier().verify(await sign({ 'cognito:groups': ['guardians', 'teachers'] })), 'unauthenticated', 'ambiguous_role');
    });
  });

  describe('app claim', () => {
    it('uses defaultApp when the claim is absent, and rejects a missing app without one', async () => {
      const token = await sign({ 'custom:app': undefined });
      assert.equal((await verifier({ defaultApp: 'readkids' }).verify(token)).app, 'readkids');
      await rejectsWith(verifier().verify(token), 'unauthenticated', 'invalid_token', /custom:app/);
    });

    it('rejects an app value that is not a valid app id, even with a defaultApp', async () => {
      const v = verifier({ defaultApp: 'readkids' });
      for (const app of ['Math-Kids', 'x', 'a'.repeat(40), 'app; drop schema', 12, ['mathkids'], null]) {
        await rejectsWith(v.verify(await sign({ 'custom:app': app })), 'unauthenticated', 'invalid_token', /custom:app/);
      }
    });
  });

  describe('signing keys', () => {
    it('refetches the JWKS for an unknown kid, at most once per 30 s cooldown', async (t) => {
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const v = verifier();
      const start = jwksRequests;
      await v.verify(await sign());
      assert.equal(jwksRequests, start + 1);
      const stranger = await sign({}, keyB); // keyB is not published
      await rejectsWith(v.verify(stranger), 'unauthenticated', 'invalid_token', /known key/);
      assert.equal(jwksRequests, start + 1, 'no refetch within the cooldown');
      t.mock.timers.tick(31_000);
      await rejectsWith(v.verify(stranger), 'unauthenticated', 'invalid_token', /known key/);
      assert.equal(jwksRequests, start + 2, 'refetched after the cooldown');
    });

    it('picks up a rotated key', async (t) => {
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const v = verifier();
      await v.verify(await sign());
      served = [keyB.jwk, keyA.jwk];
      t.mock.timers.tick(31_000);
      const start = jwksRequests;
      assert.equal((await v.verify(await sign({ sub: 'rotated' }, keyB))).sub, 'rotated');
      assert.equal(jwksRequests, start + 1);
      assert.equal((await v.verify(await sign({ sub: 'old-key' }))).sub, 'old-key', 'old key still verifies');
    });
  });

  describe('identity provider unavailable (503)', () => {
    it('when nothing listens on the JWKS port', async () => {
      const gone = createServer();
      const port = await listen(gone);
      await close(gone);
      await rejectsWith(verifier({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }).verify(await sign()), 'unavailable', 'identity_provider_unavailable');
    });

    it('when the JWKS request times out', async () => {
      const started = Date.now();
      await rejectsWith(verifier({ jwksUrl: hangingUrl, timeoutMs: 200 }).verify(await sign()), 'unavailable', 'identity_provider_unavailable');
      assert.ok(Date.now() - started < 2000);
    });

    it('when the JWKS endpoint fails or serves something else than a key set', async () => {
      failing = true;
      await rejectsWith(verifier().verify(await sign()), 'unavailable', 'identity_provider_unavailable');
      failing = false;
      served = [{ kty: 'nonsense' }, 'not a key' as unknown as JWK];
      await rejectsWith(verifier().verify(await sign()), 'unavailable', 'identity_provider_unavailable');
    });
  });

  describe('memoisation', () => {
    it('verifies the same token again without the identity provider', async (t) => {
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const v = verifier();
      const now = Math.floor(Date.now() / 1000);
      const token = await sign({ exp: now + 3600 });
      const first = await v.verify(token);
      const start = jwksRequests;
      failing = true;
      t.mock.timers.tick(11 * 60_000); // past the JWKS cache age: any key lookup now refetches, and fails
      assert.deepEqual(await v.verify(token), first);
      assert.equal(jwksRequests, start, 'memo hit, no JWKS request');
      await rejectsWith(v.verify(await sign({ exp: now + 3600, jti: 'new' })), 'unavailable', 'identity_provider_unavailable');
    });

    it('reports a memoised token that has since expired as token_expired', async (t) => {
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const v = verifier();
      const token = await sign({ exp: Math.floor(Date.now() / 1000) + 60 });
      await v.verify(token);
      t.mock.timers.tick(66_000);
      await rejectsWith(v.verify(token), 'unauthenticated', 'token_expired');
      await rejectsWith(v.verify(token), 'unauthenticated', 'token_expired');
    });
  });

  describe('issuerOf', () => {
    it('reads the unverified iss, or undefined for anything else', async () => {
      assert.equal(OidcVerifier.issuerOf(await sign()), ISSUER);
      assert.equal(OidcVerifier.issuerOf(await sign({ iss: 'https://evil.example' })), 'https://evil.example');
      assert.equal(OidcVerifier.issuerOf(await sign({ iss: undefined })), undefined);
      assert.equal(OidcVerifier.issuerOf(await sign({ iss: 42 as unknown as string })), undefined);
      for (const token of ['', 'abc', 'a.b.c', '..', `${b64json({ alg: 'RS256' })}.bm90IGpzb24.x`]) {
        assert.equal(OidcVerifier.issuerOf(token), undefined, token);
      }
    });
  });

  describe('configuration', () => {
    it('refuses unsafe or unusable options', () => {
      assert.throws(() => verifier({ algorithms: ['RS256', 'HS256'] }), /asymmetric/);
      assert.throws(() => verifier({ algorithms: ['none'] }), /asymmetric/);
      assert.throws(() => verifier({ algorithms: [] }), /asymmetric/);
      assert.throws(() => verifier({ roleMap: { teachers: 'superuser' as never } }), /unknown role/);
      assert.throws(() => verifier({ roleMap: {} }), /empty/);
      assert.throws(() => verifier({ defaultApp: 'Bad App' }), /default app/);
      assert.throws(() => verifier({ timeoutMs: 0 }), /timeout/);
      assert.throws(() => verifier({ jwksUrl: 'not a url' }));
    });
  });
});
