import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { SignJWT, jwtVerify } from 'jose';
import { importSigningKey } from '../../src/features/auth/signing-keys.ts';
// @ts-expect-error -- a plain ESM file (deployed as is to Lambda), no type declarations.
import { handler } from '../../infra/lib/handlers/jwt-signing-key/rotate.mjs';
// @ts-expect-error -- a plain ESM file (deployed as is to Lambda), no type declarations.
import { newSigningJwk } from '../../infra/lib/handlers/jwt-signing-key/key.mjs';

/**
 * The rotation function of the signing key secret, against a small
 * in-memory Secrets Manager (versions and their stages) behind
 * aws-sdk-client-mock: each step of AWS's rotation contract, retries of
 * each step, a bad pending key refused, the stages moved at the end.
 */

const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:JwtSigningKey-abc123';
type Step = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
const run = handler as (event: { SecretId: string; ClientRequestToken: string; Step: Step }) => Promise<void>;
const newJwk = newSigningJwk as () => Record<string, string>;

/** version id → { value, stages } */
let versions: Map<string, { value: string; stages: string[] }>;
const stagesOf = () => Object.fromEntries([...versions].map(([id, v]) => [id, [...v.stages]]));
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });

function install(): void {
  sm.reset();
  sm.on(DescribeSecretCommand).callsFake(() => ({ ARN, RotationEnabled: true, VersionIdsToStages: stagesOf() }));
  sm.on(GetSecretValueCommand).callsFake((input: { VersionId?: string; VersionStage?: string }) => {
    const hit = [...versions].find(([id, v]) => (input.VersionId === undefined || id === input.VersionId) && (input.VersionStage === undefined || v.stages.includes(input.VersionStage)));
    if (!hit) throw notFound();
    return { ARN, VersionId: hit[0], SecretString: hit[1].value, VersionStages: hit[1].stages };
  });
  sm.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken: string; SecretString: string; VersionStages: string[] }) => {
    const existing = versions.get(input.ClientRequestToken);
    if (existing) {
      // Secrets Manager: the same token with other content is an error.
      if (existing.value !== input.SecretString) throw new Error('ResourceExistsException');
    } else {
      versions.set(input.ClientRequestToken, { value: input.SecretString, stages: [...input.VersionStages] });
    }
    return { ARN, VersionId: input.ClientRequestToken };
  });
  sm.on(UpdateSecretVersionStageCommand).callsFake((input: { VersionStage: string; MoveToVersionId: string; RemoveFromVersionId?: string }) => {
    if (input.VersionStage === 'AWSCURRENT') {
      for (const v of versions.values()) v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
      const from = versions.get(input.RemoveFromVersionId!)!;
      from.stages = [...from.stages.filter((s) => s !== 'AWSCURRENT'), 'AWSPREVIOUS'];
    }
    const to = versions.get(input.MoveToVersionId)!;
    to.stages = [...to.stages.filter((s) => s !== 'AWSPENDING'), input.VersionStage];
    return { ARN };
  });
}

const OLD = 'v-old';
const NEW = 'v-new';
const event = (Step: Step) => ({ SecretId: ARN, ClientRequestToken: NEW, Step });
const pendingValue = () => versions.get(NEW)?.value;

describe('jwt signing key rotation', () => {
  let oldJwk: Record<string, string>;
  beforeEach(() => {
    oldJwk = newJwk();
    versions = new Map([[OLD, { value: JSON.stringify(oldJwk), stages: ['AWSCURRENT'] }]]);
    install();
    // The rotation has started: the token is known to the service with AWSPENDING (VersionIdsToStages lists it).
    sm.on(DescribeSecretCommand).callsFake(() => ({ ARN, RotationEnabled: true, VersionIdsToStages: { ...stagesOf(), ...(versions.has(NEW) ? {} : { [NEW]: ['AWSPENDING'] }) } }));
  });

  it('createSecret stores a new private Ed25519 JWK with a fresh kid as AWSPENDING, and the app signs with it', async () => {
    await run(event('createSecret'));
    const put = sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input;
    assert.deepEqual([put?.SecretId, put?.ClientRequestToken, put?.VersionStages], [ARN, NEW, ['AWSPENDING']]);
    const jwk = JSON.parse(pendingValue()!) as Record<string, string>;
    assert.deepEqual([jwk.kty, jwk.crv, jwk.alg], ['OKP', 'Ed25519', 'EdDSA']);
    assert.ok(jwk.kid && jwk.kid !== oldJwk.kid);
    assert.notEqual(jwk.d, oldJwk.d);
    const key = await importSigningKey(jwk);
    assert.equal(key.kid, jwk.kid, 'the stored kid is the one the app derives (thumbprint)');
    const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
    assert.equal((await jwtVerify(token, key.publicKey)).payload.sub, 'x');
    assert.deepEqual(versions.get(OLD)!.stages, ['AWSCURRENT'], 'the current key is untouched');
  });

  it('createSecret retried when AWSPENDING exists keeps that key (no second put)', async () => {
    await run(event('createSecret'));
    const first = pendingValue();
    await run(event('createSecret'));
    assert.equal(sm.commandCalls(PutSecretValueCommand).length, 1);
    assert.equal(pendingValue(), first);
  });

  it('setSecret changes nothing', async () => {
    await run(event('createSecret'));
    const before = JSON.stringify(stagesOf());
    await run(event('setSecret'));
    assert.equal(JSON.stringify(stagesOf()), before);
    assert.equal(sm.commandCalls(PutSecretValueCommand).length, 1);
    assert.equal(sm.commandCalls(UpdateSecretVersionStageCommand).length, 0);
  });

  it('testSecret passes a good pending key and refuses a bad one (not JSON, public key only, mismatched halves, wrong curve)', async () => {
    await run(event('createSecret'));
    await run(event('testSecret'));
    const good = JSON.parse(pendingValue()!) as Record<string, string>;
    const other = newJwk();
    const bad: [string, RegExp][] = [
      ['not json', /not JSON/],
      [JSON.stringify({ ...good, d: undefined }), /no private part/],
      [JSON.stringify({ ...good, x: other.x, kid: other.kid }), /public part does not match/],
      [JSON.stringify({ ...good, crv: 'X25519' }), /not an Ed25519 JWK/],
      [JSON.stringify({ ...good, kid: 'made-up' }), /kid/],
    ];
    for (const [value, why] of bad) {
      versions.get(NEW)!.value = value;
      await assert.rejects(run(event('testSecret')), (e: Error) => /not usable/.test(e.message) && why.test(e.message) && !e.message.includes(good.d!), value);
    }
  });

  it('finishSecret moves AWSCURRENT to the new key and AWSPREVIOUS to the old one; retried, it does nothing', async () => {
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) await run(event(step));
    const update = sm.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input;
    assert.deepEqual(update, { SecretId: ARN, VersionStage: 'AWSCURRENT', MoveToVersionId: NEW, RemoveFromVersionId: OLD });
    assert.deepEqual(stagesOf(), { [OLD]: ['AWSPREVIOUS'], [NEW]: ['AWSCURRENT'] });
    await run(event('finishSecret'));
    await run(event('createSecret'));
    assert.equal(sm.commandCalls(UpdateSecretVersionStageCommand).length, 1);
    assert.equal(sm.commandCalls(PutSecretValueCommand).length, 1);
  });

  it('refuses a token that is not a pending version of the secret, and a secret without rotation', async () => {
    versions.set('v-other', { value: '{}', stages: [] });
    await assert.rejects(run({ SecretId: ARN, ClientRequestToken: 'v-other', Step: 'createSecret' }), /not AWSPENDING/);
    await assert.rejects(run({ SecretId: ARN, ClientRequestToken: 'v-unknown', Step: 'createSecret' }), /has no stage/);
    sm.on(DescribeSecretCommand).resolves({ ARN, RotationEnabled: false, VersionIdsToStages: stagesOf() });
    await assert.rejects(run(event('createSecret')), /rotation enabled/);
    assert.equal(sm.commandCalls(PutSecretValueCommand).length, 0);
  });
});
