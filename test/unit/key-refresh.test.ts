import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { SignJWT, decodeProtectedHeader, type JWK } from 'jose';
import { resolveJwtKeySecret, resolveSecrets, signingKeySecretSource } from '../../src/adapters/aws/secrets.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createGatewayAuthorizer } from '../../src/features/auth/gateway-authorizer.ts';
import { KeyRefresher, type PublicKeySource } from '../../src/features/auth/key-refresh.ts';
import { generatePrivateJwk, importSigningKey, loadVerificationKeys, type SigningKey } from '../../src/features/auth/signing-keys.ts';
import { TokenService, TokenVerifier } from '../../src/features/auth/tokens.ts';
import { AppError } from '../../src/domain/errors.ts';
import { jwtKeyRefresher } from '../../src/wiring/jwt-keys.ts';

/**
 * Verifiers across a rotation of the signing key secret: a process that
 * started before the rotation accepts tokens of the new key after one
 * re-read; re-reads are rate-limited and bounded; a failed one keeps the
 * keys that work; the AWS source reads AWSCURRENT and AWSPREVIOUS.
 */

const ISSUER = 'kidslearn';
const claims = { sub: 'child-1', app: 'alpha', role: 'child' as const };
const publicOf = (key: SigningKey): JWK => key.publicJwk;
const newKey = async () => importSigningKey(await generatePrivateJwk());
/** A token signed with `key` (as an api process holding it would). */
const tokenOf = (key: SigningKey) => new TokenService([key], ISSUER).issue(claims, 600);

/** A key source over a mutable list of public JWKs, counting reads; `fail` makes reads reject. */
function fakeSource() {
  const state = { jwks: [] as JWK[], reads: 0, fail: false, hang: false };
  const source: PublicKeySource = {
    read: (signal) => {
      state.reads++;
      if (state.hang) return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
      return state.fail ? Promise.reject(new Error('AccessDeniedException')) : Promise.resolve([...state.jwks]);
    },
  };
  return { state, source };
}

describe('token verification across a signing key rotation', () => {
  let clock: number;
  const now = () => clock;
  beforeEach(() => {
    clock = 1_000_000;
  });

  it('accepts a token of a key rotated in after the verifier started, after one re-read; keeps signing with its own key', async () => {
    const [oldKey, rotated] = [await newKey(), await newKey()];
    const { state, source } = fakeSource();
    const service = new TokenService([oldKey], ISSUER, { refresher: new KeyRefresher(source, { now }) });
    assert.equal((await service.verify(await tokenOf(oldKey))).sub, 'child-1');
    assert.equal(state.reads, 0, 'known keys need no read');
    // The secret rotates: AWSCURRENT is the new key, AWSPREVIOUS the old one.
    state.jwks = [publicOf(rotated), publicOf(oldKey)];
    const principal = await service.verify(await tokenOf(rotated));
    assert.deepEqual([principal.sub, principal.app, principal.role], ['child-1', 'alpha', 'child']);
    assert.equal(state.reads, 1);
    assert.equal(decodeProtectedHeader(await service.issue(claims, 600)).kid, oldKey.kid, 'signs with the key it read at start');
    assert.deepEqual(service.jwks().keys.map((k) => (k as JWK).kid).sort(), [oldKey.kid, rotated.kid].sort());
    // Another token of the new key: no further read.
    assert.equal((await service.verify(await new TokenService([rotated], ISSUER).issue({ ...claims, sub: 'child-2' }, 600))).sub, 'child-2');
    assert.equal(state.reads, 1);
  });

  it('re-reads at most once per interval, however many unknown kids arrive (concurrent ones share one read)', async () => {
    const { state, source } = fakeSource();
    const start = await newKey();
    state.jwks = [publicOf(start)];
    const verifier = new TokenVerifier([start], ISSUER, { refresher: new KeyRefresher(source, { now, minIntervalMs: 60_000 }) });
    const strangers = await Promise.all(Array.from({ length: 20 }, async () => tokenOf(await newKey())));
    const results = await Promise.allSettled(strangers.map((t) => verifier.verify(t)));
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof AppError && r.reason.code === 'invalid_token'));
    assert.equal(state.reads, 1, 'one read for twenty concurrent unknown kids');
    for (const t of strangers) await assert.rejects(verifier.verify(t), { code: 'invalid_token' });
    assert.equal(state.reads, 1, 'none within the interval');
    clock += 59_999;
    await assert.rejects(verifier.verify(strangers[0]!), { code: 'invalid_token' });
    assert.equal(state.reads, 1);
    clock += 1;
    await assert.rejects(verifier.verify(strangers[0]!), { code: 'invalid_token' });
    assert.equal(state.reads, 2, 'one more once the interval has passed');
  });

  it('tokens of a rotated-in key arriving together wait for the one re-read and are all accepted', async () => {
    const [start, rotated] = [await newKey(), await newKey()];
    const { state, source } = fakeSource();
    state.jwks = [publicOf(rotated), publicOf(start)];
    const verifier = new TokenVerifier([start], ISSUER, { refresher: new KeyRefresher(source, { now }) });
    const tokens = await Promise.all(Array.from({ length: 5 }, (_, i) => new TokenService([rotated], ISSUER).issue({ ...claims, sub: `child-${i}` }, 600)));
    const principals = await Promise.all(tokens.map((t) => verifier.verify(t)));
    assert.deepEqual(principals.map((p) => p.sub), ['child-0', 'child-1', 'child-2', 'child-3', 'child-4']);
    assert.equal(state.reads, 1);
  });

  it('refuses a token whose kid is in neither AWSCURRENT nor AWSPREVIOUS', async () => {
    const [current, previous, other] = [await newKey(), await newKey(), await newKey()];
    const { state, source } = fakeSource();
    state.jwks = [publicOf(current), publicOf(previous)];
    const verifier = new TokenVerifier([current], ISSUER, { refresher: new KeyRefresher(source, { now }) });
    await assert.rejects(verifier.verify(await tokenOf(other)), (e: AppError) => e.kind === 'unauthenticated' && e.code === 'invalid_token' && /not signed by a known key/.test(e.message));
    assert.equal(state.reads, 1);
    // A token carrying a known kid but signed by another key is refused too (the kid alone proves nothing).
    const forged = await new TokenService([{ ...other, kid: current.kid }], ISSUER).issue(claims, 600);
    await assert.rejects(verifier.verify(forged), { code: 'invalid_token' });
    assert.equal((await verifier.verify(await tokenOf(previous))).sub, 'child-1', 'AWSPREVIOUS verifies after the read');
    // A token without a kid: refused, and no read (nothing to look for).
    clock += 60_000;
    const noKid = await new SignJWT({ app: 'alpha', role: 'child' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(ISSUER).setAudience('kidslearn-api').setSubject('c').setIssuedAt().setExpirationTime('5m').sign(current.privateKey);
    await assert.rejects(verifier.verify(noKid), { code: 'invalid_token' });
    assert.equal(state.reads, 1);
  });

  it('a failed or timed-out re-read keeps the existing keys working, and the next interval tries again', async () => {
    const [start, rotated] = [await newKey(), await newKey()];
    const { state, source } = fakeSource();
    const outcomes: { ok: boolean; error?: string }[] = [];
    const verifier = new TokenVerifier([start], ISSUER, { refresher: new KeyRefresher(source, { now, timeoutMs: 50, onRefresh: (o) => outcomes.push(o) }) });
    state.fail = true;
    await assert.rejects(verifier.verify(await tokenOf(rotated)), { code: 'invalid_token' });
    assert.equal((await verifier.verify(await tokenOf(start))).sub, 'child-1');
    clock += 60_000;
    state.fail = false;
    state.hang = true;
    await assert.rejects(verifier.verify(await tokenOf(rotated)), { code: 'invalid_token' });
    assert.equal((await verifier.verify(await tokenOf(start))).sub, 'child-1');
    assert.deepEqual(outcomes.map((o) => [o.ok, o.error]), [[false, 'AccessDeniedException'], [false, 'no answer within 50 ms']]);
    clock += 60_000;
    state.hang = false;
    state.jwks = [publicOf(rotated), publicOf(start)];
    assert.equal((await verifier.verify(await tokenOf(rotated))).sub, 'child-1');
    assert.equal(state.reads, 3);
  });

  it('the gateway authorizer re-reads too: a token of a rotated-in key is allowed', async () => {
    const startJwk = await generatePrivateJwk();
    const [start, rotated] = [await importSigningKey(startJwk), await newKey()];
    const { state, source } = fakeSource();
    state.jwks = [publicOf(rotated), publicOf(start)];
    const config = loadConfig({ JWT_PRIVATE_KEY: JSON.stringify(startJwk), JWT_ISSUER: ISSUER, KIDSLEARN_DATA_DIR: '/nonexistent' }, { envFile: null });
    const authorizer = await createGatewayAuthorizer(config, { refresher: new KeyRefresher(source, { now }) });
    const result = await authorizer.authorize({ headers: { authorization: `Bearer ${await tokenOf(rotated)}` } });
    assert.deepEqual(result, { isAuthorized: true, context: { role: 'child', app: 'alpha', issuer: 'kidslearn' } });
    assert.equal(state.reads, 1);
  });
});

describe('the signing key secret as a key source (AWSCURRENT and AWSPREVIOUS)', () => {
  const sm = mockClient(SecretsManagerClient);
  const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:JwtSigningKey-abc123';
  const client = new SecretsManagerClient({ region: 'eu-west-1' });
  let current: JWK;
  let previous: JWK;
  beforeEach(async () => {
    sm.reset();
    [current, previous] = [await generatePrivateJwk(), await generatePrivateJwk()];
  });
  const stageOf = (c: { args: [{ input: object }] }) => (c.args[0].input as { VersionStage?: string }).VersionStage;
  const answer = (stages: Record<string, string | Error>) =>
    sm.on(GetSecretValueCommand).callsFake((input: { VersionStage?: string }) => {
      const value = stages[input.VersionStage ?? 'AWSCURRENT'];
      if (value instanceof Error) throw value;
      if (value === undefined) throw new ResourceNotFoundException({ message: 'no such version', $metadata: {} });
      return { SecretString: value };
    });

  it('reads both stages and returns their public halves (no private part)', async () => {
    answer({ AWSCURRENT: JSON.stringify(current), AWSPREVIOUS: JSON.stringify(previous) });
    const jwks = await signingKeySecretSource(ARN, { timeoutMs: 1000, client }).read(new AbortController().signal);
    assert.deepEqual(jwks.map((j) => j.kid), [current.kid, previous.kid]);
    assert.ok(jwks.every((j) => j.d === undefined && typeof j.x === 'string'));
    assert.deepEqual(sm.commandCalls(GetSecretValueCommand).map(stageOf).sort(), ['AWSCURRENT', 'AWSPREVIOUS']);
  });

  it('leaves out an AWSPREVIOUS that is missing (never rotated) or not a key (the value the secret was created with)', async () => {
    answer({ AWSCURRENT: JSON.stringify(current) });
    assert.deepEqual((await signingKeySecretSource(ARN, { timeoutMs: 1000, client }).read(new AbortController().signal)).map((j) => j.kid), [current.kid]);
    sm.reset();
    answer({ AWSCURRENT: JSON.stringify(current), AWSPREVIOUS: 'Zx8!random-initial-password' });
    assert.deepEqual((await signingKeySecretSource(ARN, { timeoutMs: 1000, client }).read(new AbortController().signal)).map((j) => j.kid), [current.kid]);
  });

  it('rejects when AWSCURRENT cannot be read or is not a private JWK', async () => {
    answer({ AWSCURRENT: Object.assign(new Error('denied'), { name: 'AccessDeniedException' }), AWSPREVIOUS: JSON.stringify(previous) });
    await assert.rejects(signingKeySecretSource(ARN, { timeoutMs: 1000, client }).read(new AbortController().signal), /Could not read the signing key secret .* \(AWSCURRENT\).*AccessDeniedException/);
    sm.reset();
    const { d: _d, ...pub } = current;
    answer({ AWSCURRENT: JSON.stringify(pub) });
    await assert.rejects(signingKeySecretSource(ARN, { timeoutMs: 1000, client }).read(new AbortController().signal), /not a private JWK/);
  });

  it('at start: JWT_PRIVATE_KEY is AWSCURRENT, AWSPREVIOUS\'s public half joins JWT_PREVIOUS_PUBLIC_KEYS and verifies tokens signed before the rotation', async () => {
    answer({ AWSCURRENT: JSON.stringify(current), AWSPREVIOUS: JSON.stringify(previous) });
    const emergency = (await generatePrivateJwk()) as JWK;
    const { d: _d, ...emergencyPublic } = emergency;
    const env = await resolveJwtKeySecret({ JWT_PRIVATE_KEY_SECRET_ARN: ARN, JWT_PREVIOUS_PUBLIC_KEYS: JSON.stringify([emergencyPublic]) }, { client });
    assert.equal(env.JWT_PRIVATE_KEY, JSON.stringify(current));
    const listed = JSON.parse(env.JWT_PREVIOUS_PUBLIC_KEYS!) as JWK[];
    assert.deepEqual(listed.map((j) => j.kid), [emergency.kid, previous.kid]);
    assert.ok(listed.every((j) => j.d === undefined));
    const config = loadConfig({ ...env, KIDSLEARN_DATA_DIR: '/nonexistent' }, { envFile: null });
    assert.equal(config.jwt.keySecretArn, ARN);
    const service = new TokenService([await importSigningKey(current), ...(await loadVerificationKeys({ dataDir: '/nonexistent', previousPublicJwks: config.jwt.previousPublicJwks }))], ISSUER);
    assert.equal((await service.verify(await tokenOf(await importSigningKey(previous)))).sub, 'child-1');
  });

  it('at start through resolveSecrets (what the Lambda and Fargate entry points call): AWSPREVIOUS joins JWT_PREVIOUS_PUBLIC_KEYS there too', async () => {
    answer({ AWSCURRENT: JSON.stringify(current), AWSPREVIOUS: JSON.stringify(previous) });
    const env = await resolveSecrets({ JWT_PRIVATE_KEY_SECRET_ARN: ARN }, { client });
    assert.equal(env.JWT_PRIVATE_KEY, JSON.stringify(current));
    assert.deepEqual((JSON.parse(env.JWT_PREVIOUS_PUBLIC_KEYS!) as JWK[]).map((j) => [j.kid, j.d]), [[previous.kid, undefined]]);
  });

  it('at start: no AWSPREVIOUS, or an unreadable one, leaves JWT_PREVIOUS_PUBLIC_KEYS as it was', async () => {
    answer({ AWSCURRENT: JSON.stringify(current) });
    assert.equal((await resolveJwtKeySecret({ JWT_PRIVATE_KEY_SECRET_ARN: ARN }, { client })).JWT_PREVIOUS_PUBLIC_KEYS, undefined);
    sm.reset();
    answer({ AWSCURRENT: JSON.stringify(current), AWSPREVIOUS: Object.assign(new Error('slow'), { name: 'TimeoutError' }) });
    assert.equal((await resolveJwtKeySecret({ JWT_PRIVATE_KEY_SECRET_ARN: ARN }, { client })).JWT_PREVIOUS_PUBLIC_KEYS, undefined);
  });

  it('is wired only where a key secret is configured: none locally (data-dir key or JWT_PRIVATE_KEY as is); with the ARN, re-reads the secret', async () => {
    const local = loadConfig({ KIDSLEARN_DATA_DIR: '/nonexistent' }, { envFile: null });
    assert.equal(local.jwt.keySecretArn, undefined);
    assert.equal(jwtKeyRefresher(local), undefined);
    assert.equal(jwtKeyRefresher(loadConfig({ JWT_PRIVATE_KEY: JSON.stringify(current), KIDSLEARN_DATA_DIR: '/nonexistent' }, { envFile: null })), undefined);
    answer({ AWSCURRENT: JSON.stringify(current), AWSPREVIOUS: JSON.stringify(previous) });
    const onAws = loadConfig({ JWT_PRIVATE_KEY_SECRET_ARN: ARN, JWT_PRIVATE_KEY: JSON.stringify(current), KIDSLEARN_DATA_DIR: '/nonexistent' }, { envFile: null });
    const refresher = jwtKeyRefresher(onAws);
    assert.ok(refresher);
    assert.deepEqual((await refresher.refresh())?.map((k) => k.kid), [current.kid, previous.kid]);
    assert.deepEqual(sm.commandCalls(GetSecretValueCommand).map((c) => [(c.args[0].input as { SecretId: string }).SecretId, stageOf(c)]).sort(), [[ARN, 'AWSCURRENT'], [ARN, 'AWSPREVIOUS']]);
  });
});
