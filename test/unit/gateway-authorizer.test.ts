import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { base64url, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { loadConfig } from '../../src/config/config.ts';
import { createGatewayAuthorizer, type GatewayAuthorizer, type GatewayAuthorizerEvent, type GatewayDecision } from '../../src/features/auth/gateway-authorizer.ts';
import { generatePrivateJwk, importSigningKey, type SigningKey } from '../../src/features/auth/signing-keys.ts';
import { TOKEN_AUDIENCE, TokenService } from '../../src/features/auth/tokens.ts';

const OIDC_ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool';
const CLIENT = '4l0ngc0gn1t0c1i3ntid';
const KEY_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kidslearn/jwt-AbCdEf';

/** An HTTP API REQUEST authorizer event (payload 2.0) with the given Authorization header. */
function event(authorization?: string): GatewayAuthorizerEvent {
  return {
    type: 'REQUEST',
    routeKey: 'GET /api/{proxy+}',
    identitySource: authorization === undefined ? [] : [authorization],
    headers: { host: 'api.example.org', ...(authorization === undefined ? {} : { authorization }) },
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('gateway authorizer (HTTP API Lambda REQUEST authorizer, simple responses)', () => {
  // kidslearn's keys: the current one (JWT_PRIVATE_KEY) and a previous one (JWT_PREVIOUS_PUBLIC_KEYS).
  let currentJwk: JWK;
  let current: SigningKey;
  let previous: SigningKey;
  let stranger: SigningKey;
  // The OIDC provider: an RS256 key served as a JWKS by a local server that counts its requests.
  let idpKey: { privateKey: CryptoKey; jwk: JWK };
  let jwksRequests = 0;
  const idp = createServer((_req, res) => {
    jwksRequests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [idpKey.jwk] }));
  });
  const hanging = createServer(() => {
    /* never answers */
  });
  let jwksUrl = '';
  let hangingUrl = '';
  let env: Record<string, string>;
  let authorizer: GatewayAuthorizer;
  const decisions: GatewayDecision[] = [];

  before(async () => {
    currentJwk = await generatePrivateJwk();
    current = await importSigningKey(currentJwk);
    previous = await importSigningKey(await generatePrivateJwk());
    stranger = await importSigningKey(await generatePrivateJwk());
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    idpKey = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' } };
    jwksUrl = await listen(idp);
    hangingUrl = await listen(hanging);
    env = {
      KIDSLEARN_DATA_DIR: '/nonexistent/kidslearn',
      JWT_ISSUER: 'https://api.kidslearn.example',
      JWT_PRIVATE_KEY: JSON.stringify(currentJwk),
      JWT_PREVIOUS_PUBLIC_KEYS: JSON.stringify([previous.publicJwk]),
      OIDC_ISSUER,
      OIDC_AUDIENCE: CLIENT,
      OIDC_JWKS_URL: jwksUrl,
      OIDC_ROLE_MAP: 'guardians=guardian,teachers=teacher,admins=admin',
      LOG_LEVEL: 'silent',
    };
    authorizer = await createGatewayAuthorizer(loadConfig(env, { envFile: null }), { onDecision: (d) => decisions.push(d) });
  });
  after(() => Promise.all([close(idp), close(hanging)]));

  /** A kidslearn token signed the way the app signs (TokenService), by `key`, for `issuer`. */
  const kidslearnToken = (claims: { sub: string; app: string; role: 'child' | 'guardian' | 'teacher' | 'admin' }, key: SigningKey = current, issuer = env.JWT_ISSUER!) =>
    new TokenService([key], issuer).issue(claims, 600);

  /** A kidslearn-shaped token with arbitrary claims (for the ones TokenService would never write). */
  const rawToken = (claims: JWTPayload, key: SigningKey = current) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: env.JWT_ISSUER, aud: TOKEN_AUDIENCE, sub: 'c1', app: 'alpha', role: 'child', iat: now, exp: now + 600, ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  };

  /** A Cognito ID token of the provider. */
  const oidcToken = (claims: JWTPayload = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: OIDC_ISSUER, sub: 'cognito-user-1', aud: CLIENT, token_use: 'id', iat: now, exp: now + 600, 'cognito:groups': ['guardians'], 'custom:app': 'alpha', email: 'parent@example.org', name: 'Pat Parent', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .sign(idpKey.privateKey);
  };

  const lastDecision = () => decisions.at(-1)!;

  describe('allows, with only role, app and issuer as context', () => {
    it("a child's kidslearn token (signed by the current key)", async () => {
      const token = await kidslearnToken({ sub: 'child-42', app: 'alpha', role: 'child' });
      const result = await authorizer.authorize(event(`Bearer ${token}`));
      assert.deepEqual(result, { isAuthorized: true, context: { role: 'child', app: 'alpha', issuer: 'kidslearn' } });
      assert.deepEqual(lastDecision(), { allowed: true, route: 'GET /api/{proxy+}', issuer: 'kidslearn' });
    });

    it('a kidslearn token of a previous key (JWT_PREVIOUS_PUBLIC_KEYS), scheme in any case', async () => {
      const token = await kidslearnToken({ sub: 'adm-1', app: 'beta', role: 'admin' }, previous);
      assert.deepEqual(await authorizer.authorize(event(`bearer ${token}`)), { isAuthorized: true, context: { role: 'admin', app: 'beta', issuer: 'kidslearn' } });
    });

    it("an OIDC (Cognito) token: its groups mapped to the role, no name, e-mail or subject passed on", async () => {
      const result = await authorizer.authorize(event(`Bearer ${await oidcToken()}`));
      assert.deepEqual(result, { isAuthorized: true, context: { role: 'guardian', app: 'alpha', issuer: 'oidc' } });
    });

    it('reads the Authorization value from the identity source when the headers are absent', async () => {
      const token = await kidslearnToken({ sub: 'g-1', app: 'alpha', role: 'guardian' });
      assert.equal((await authorizer.authorize({ identitySource: [`Bearer ${token}`] })).isAuthorized, true);
    });
  });

  describe('denies', () => {
    const denied = async (authorization: string | undefined, code: string) => {
      assert.deepEqual(await authorizer.authorize(event(authorization)), { isAuthorized: false });
      assert.equal(lastDecision().allowed, false);
      assert.equal(lastDecision().code, code);
    };

    it('a request without an Authorization header', () => denied(undefined, 'missing_token'));

    it('another scheme (Basic) and a bearer value that is not a token', async () => {
      await denied(`Basic ${Buffer.from('guardian@example.org:secret').toString('base64')}`, 'invalid_token');
      await denied('Bearer ', 'invalid_token');
      await denied('Bearer a.b.c, Bearer d.e.f', 'invalid_token');
    });

    it('an expired kidslearn token', async () => {
      const past = Math.floor(Date.now() / 1000) - 3000;
      await denied(`Bearer ${await rawToken({ iat: past - 600, exp: past })}`, 'token_expired');
    });

    it("a kidslearn token for another audience, or with another issuer than JWT_ISSUER", async () => {
      await denied(`Bearer ${await rawToken({ aud: 'another-api' })}`, 'invalid_token');
      await denied(`Bearer ${await kidslearnToken({ sub: 'c1', app: 'alpha', role: 'child' }, current, 'https://evil.example')}`, 'invalid_token');
    });

    it('a tampered token (role changed to admin, signature kept)', async () => {
      const token = await kidslearnToken({ sub: 'child-42', app: 'alpha', role: 'child' });
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as JWTPayload;
      await denied(`Bearer ${header}.${base64url.encode(JSON.stringify({ ...claims, role: 'admin' }))}.${signature}`, 'invalid_token');
    });

    it('a token signed by a key kidslearn does not have, under its own kid and issuer', () =>
      rawToken({}, stranger).then((token) => denied(`Bearer ${token}`, 'invalid_token')));

    it('a token that lives longer than an access token may (the app’s own lifetime rule)', async () => {
      const now = Math.floor(Date.now() / 1000);
      await denied(`Bearer ${await rawToken({ iat: now, exp: now + 24 * 3600 })}`, 'invalid_token');
    });

    it('OIDC tokens for another client, expired, or with an unknown group', async () => {
      await denied(`Bearer ${await oidcToken({ aud: 'another-client' })}`, 'invalid_token');
      await denied(`Bearer ${await oidcToken({ exp: Math.floor(Date.now() / 1000) - 600 })}`, 'token_expired');
      await denied(`Bearer ${await oidcToken({ 'cognito:groups': ['strangers'] })}`, 'invalid_token');
      assert.equal(lastDecision().issuer, 'oidc');
    });

    it('a token naming the OIDC issuer but signed with a kidslearn key', async () => {
      await denied(`Bearer ${await rawToken({ iss: OIDC_ISSUER, aud: CLIENT, 'cognito:groups': ['admins'], 'custom:app': 'alpha' })}`, 'invalid_token');
    });
  });

  it("does not cache a denial when the provider's keys cannot be fetched in time: it throws (API Gateway answers 500)", async () => {
    const slow = await createGatewayAuthorizer(loadConfig({ ...env, OIDC_JWKS_URL: hangingUrl }, { envFile: null }));
    const started = Date.now();
    await assert.rejects(slow.authorize(event(`Bearer ${await oidcToken()}`)), (e: Error & { code?: string }) => e.code === 'identity_provider_unavailable');
    // OidcVerifier's JWKS timeout (2 s by default) bounds the wait.
    assert.ok(Date.now() - started < 5000);
  });

  it('refuses to start without a signing key', async () => {
    const { JWT_PRIVATE_KEY: _key, ...withoutKey } = env;
    await assert.rejects(createGatewayAuthorizer(loadConfig(withoutKey, { envFile: null })), /JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_SECRET_ARN/);
  });

  describe('the Lambda entry (src/runtimes/lambda/authorizer.ts)', () => {
    const sm = mockClient(SecretsManagerClient);
    const saved = { ...process.env };
    after(() => {
      sm.restore();
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    });

    it('reads the signing key secret and the provider keys once per execution environment, across invocations', async () => {
      sm.on(GetSecretValueCommand, { SecretId: KEY_ARN }).resolves({ SecretString: JSON.stringify(currentJwk) });
      const { JWT_PRIVATE_KEY: _key, ...rest } = env;
      delete process.env.JWT_PRIVATE_KEY;
      delete process.env.DATABASE_URL;
      Object.assign(process.env, rest, { JWT_PRIVATE_KEY_SECRET_ARN: KEY_ARN });
      const fetchesBefore = jwksRequests;
      const { handler } = await import('../../src/runtimes/lambda/authorizer.ts');
      const results = [];
      for (let i = 0; i < 3; i++) {
        results.push(await handler(event(`Bearer ${await kidslearnToken({ sub: `child-${i}`, app: 'alpha', role: 'child' })}`)));
        results.push(await handler(event(`Bearer ${await oidcToken({ sub: `user-${i}` })}`)));
      }
      results.push(await handler(event(`Bearer ${await rawToken({ aud: 'another-api' })}`)));
      assert.deepEqual(
        results.map((r) => (r.isAuthorized ? r.context.issuer : 'denied')),
        ['kidslearn', 'oidc', 'kidslearn', 'oidc', 'kidslearn', 'oidc', 'denied'],
      );
      // Once per stage: AWSCURRENT (the key) and AWSPREVIOUS (the key before the last rotation, if any).
      assert.equal(sm.commandCalls(GetSecretValueCommand).length, 2);
      assert.deepEqual(sm.commandCalls(GetSecretValueCommand, { SecretId: KEY_ARN }).map((c) => c.args[0].input.VersionStage ?? 'AWSCURRENT').sort(), ['AWSCURRENT', 'AWSPREVIOUS']);
      assert.equal(jwksRequests - fetchesBefore, 1, 'the JWKS is fetched once, then cached');
    });
  });
});
