import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { buildLambdas, type BuiltLambda } from '../../scripts/build-lambda.ts';
import { generatePrivateJwk, importSigningKey } from '../../src/features/auth/signing-keys.ts';
import { TokenService } from '../../src/features/auth/tokens.ts';

const run = promisify(execFile);
const ISSUER = 'https://api.kidslearn.example';
const OIDC_ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_BundlePool';
const CLIENT = 'bundleclient123';

/** Imports the bundle in a fresh Node process, invokes its handler with each event, and returns the results and every stdout line. */
const RUNNER = `
const [bundle, events] = process.argv.slice(2);
const { handler } = await import(bundle);
const results = [];
for (const event of JSON.parse(events)) {
  try { results.push(await handler(event, { awsRequestId: 'authz-1', functionName: 'kidslearn-authorizer' })); }
  catch (error) { results.push({ thrown: error.code ?? error.message }); }
}
process.stdout.write('\\n' + JSON.stringify({ __results: results }) + '\\n');
`;

function authorizerEvent(authorization?: string) {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:eu-west-1:123456789012:abcdef123/$default/GET/api/lessons',
    identitySource: authorization === undefined ? [] : [authorization],
    routeKey: 'GET /api/{proxy+}',
    rawPath: '/api/lessons',
    rawQueryString: '',
    headers: { host: 'api.example.org', ...(authorization === undefined ? {} : { authorization }) },
    requestContext: { accountId: '123456789012', apiId: 'abcdef123', http: { method: 'GET', path: '/api/lessons', protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'test' }, requestId: 'gw-1', routeKey: 'GET /api/{proxy+}', stage: '$default', time: '04/Dec/2026:10:00:00 +0000', timeEpoch: 0 },
  };
}

describe('the bundled gateway authorizer (dist/lambda/authorizer/index.mjs)', () => {
  let dir: string;
  let built: BuiltLambda[];
  let authorizer: BuiltLambda;
  let env: Record<string, string>;
  let tokens: TokenService;
  let idpKey: { privateKey: CryptoKey; jwk: JWK };
  let jwksRequests = 0;
  const idp = createServer((_req, res) => {
    jwksRequests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [idpKey.jwk] }));
  });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-authorizer-bundle-'));
    // Like the nodejs24.x runtime: the AWS SDK can be imported, nothing else that is not in the bundle.
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(path.resolve('node_modules', '@aws-sdk'), path.join(dir, 'node_modules', '@aws-sdk'));
    built = await buildLambdas({ outDir: path.join(dir, 'lambda') });
    authorizer = built.find((b) => b.name === 'authorizer')!;
    const jwk = await generatePrivateJwk();
    tokens = new TokenService([await importSigningKey(jwk)], ISSUER);
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    idpKey = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'idp-es', alg: 'ES256', use: 'sig' } };
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    env = {
      PATH: process.env.PATH ?? '',
      JWT_PRIVATE_KEY: JSON.stringify(jwk),
      JWT_ISSUER: ISSUER,
      OIDC_ISSUER,
      OIDC_AUDIENCE: CLIENT,
      OIDC_JWKS_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`,
      LOG_LEVEL: 'info',
    };
  });

  after(async () => {
    idp.closeAllConnections();
    await new Promise((resolve) => idp.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const invoke = async (events: unknown[]) => {
    const runner = path.join(dir, 'runner.mjs');
    writeFileSync(runner, RUNNER);
    const { stdout } = await run(process.execPath, [runner, authorizer.file, JSON.stringify(events)], { env, timeout: 30_000 }).catch((error: Error & { stderr?: string }) => {
      throw new Error(`authorizer failed: ${error.stderr?.slice(0, 2000) ?? error.message}`);
    });
    const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const results = lines.find((l) => '__results' in l)!.__results as Record<string, unknown>[];
    return { results, lines: lines.filter((l) => !('__results' in l)), stdout };
  };

  it('is a small bundle: no database driver, query builder, job queue, PGlite, DuckDB or AWS SDK inside', () => {
    assert.ok(authorizer, `built: ${built.map((b) => b.name).join(', ')}`);
    const packages = Object.keys(authorizer.packages);
    for (const forbidden of ['pg', 'pg-pool', 'kysely', 'pg-boss', 'ioredis', 'hono', 'nodemailer', '@aws-lambda-powertools/tracer']) {
      assert.ok(!packages.includes(forbidden), `${forbidden} is in the authorizer bundle (${packages.join(', ')})`);
    }
    assert.ok(!packages.some((p) => /^@(aws-sdk|electric-sql|duckdb)\//.test(p)), packages.join(', '));
    assert.ok(packages.includes('jose'));
    // Mostly zod (the configuration's schema); a fraction of the api bundle.
    const api = built.find((b) => b.name === 'api')!;
    assert.ok(authorizer.bytes < 1024 * 1024, `${authorizer.bytes} bytes`);
    assert.ok(authorizer.bytes * 3 < api.bytes, `authorizer ${authorizer.bytes} bytes, api ${api.bytes} bytes`);
    assert.doesNotMatch(readFileSync(authorizer.file, 'utf8'), /from\s*"(?:pg|kysely|@electric-sql\/[^"]*|@duckdb\/[^"]*)"/);
  });

  it('allows kidslearn and OIDC tokens with role and app as context, denies the rest; one JWKS fetch; logs no token', async () => {
    const child = await tokens.issue({ sub: 'child-7', app: 'alpha', role: 'child' }, 300);
    const teacher = await tokens.issue({ sub: 'teacher-1', app: 'beta', role: 'teacher' }, 300);
    const now = Math.floor(Date.now() / 1000);
    const oidc = (sub: string) =>
      new SignJWT({ iss: OIDC_ISSUER, aud: CLIENT, sub, token_use: 'id', iat: now, exp: now + 300, 'cognito:groups': ['teachers'], 'custom:app': 'alpha', name: 'Terry Teacher' })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp-es' })
        .sign(idpKey.privateKey);
    const expired = await new SignJWT({ app: 'alpha', role: 'child' })
      .setProtectedHeader({ alg: 'EdDSA', kid: JSON.parse(env.JWT_PRIVATE_KEY!).kid as string })
      .setIssuer(ISSUER)
      .setAudience('kidslearn-api')
      .setSubject('child-7')
      .setIssuedAt(now - 1200)
      .setExpirationTime(now - 600)
      .sign((await importSigningKey(JSON.parse(env.JWT_PRIVATE_KEY!) as JWK)).privateKey);
    const fetches = jwksRequests;
    const { results, lines, stdout } = await invoke([
      authorizerEvent(`Bearer ${child}`),
      authorizerEvent(`Bearer ${await oidc('user-1')}`),
      authorizerEvent(`Bearer ${await oidc('user-2')}`),
      authorizerEvent(`Bearer ${teacher}`),
      authorizerEvent(`Bearer ${expired}`),
      authorizerEvent(`Bearer ${child.slice(0, -4)}AAAA`),
      authorizerEvent('Basic dXNlcjpwYXNz'),
      authorizerEvent(),
    ]);
    assert.deepEqual(results, [
      { isAuthorized: true, context: { role: 'child', app: 'alpha', issuer: 'kidslearn' } },
      { isAuthorized: true, context: { role: 'teacher', app: 'alpha', issuer: 'oidc' } },
      { isAuthorized: true, context: { role: 'teacher', app: 'alpha', issuer: 'oidc' } },
      { isAuthorized: true, context: { role: 'teacher', app: 'beta', issuer: 'kidslearn' } },
      { isAuthorized: false },
      { isAuthorized: false },
      { isAuthorized: false },
      { isAuthorized: false },
    ]);
    assert.equal(jwksRequests - fetches, 1);
    const decisions = lines.filter((l) => l.msg === 'authorizer');
    assert.deepEqual(
      decisions.map((d) => [d.allowed, d.issuer ?? null, d.code ?? null, d.route, d.service]),
      [
        [true, 'kidslearn', null, 'GET /api/{proxy+}', 'kidslearn'],
        [true, 'oidc', null, 'GET /api/{proxy+}', 'kidslearn'],
        [true, 'oidc', null, 'GET /api/{proxy+}', 'kidslearn'],
        [true, 'kidslearn', null, 'GET /api/{proxy+}', 'kidslearn'],
        [false, 'kidslearn', 'token_expired', 'GET /api/{proxy+}', 'kidslearn'],
        [false, 'kidslearn', 'invalid_token', 'GET /api/{proxy+}', 'kidslearn'],
        [false, null, 'invalid_token', 'GET /api/{proxy+}', 'kidslearn'],
        [false, null, 'missing_token', 'GET /api/{proxy+}', 'kidslearn'],
      ],
    );
    for (const secret of [child.split('.')[2]!, teacher.split('.')[1]!, 'child-7', 'user-1', 'Terry']) assert.ok(!stdout.includes(secret), `the log holds ${secret}`);
  });
});
