import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { SignJWT, calculateJwkThumbprint, jwtVerify } from 'jose';
import { importSigningKey } from '../../src/features/auth/signing-keys.ts';
// @ts-expect-error -- a plain ESM file (deployed as is to Lambda), no type declarations.
import { handler } from '../../infra/lib/handlers/jwt-signing-key/index.mjs';

/**
 * The custom-resource handler that generates the token signing key into its
 * secret (ApiStack): the key it stores is one the app accepts and signs
 * with; it is made once, not on every deploy.
 */

const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:JwtSigningKey-abc123';
type Event = { RequestType: 'Create' | 'Update' | 'Delete'; ResourceProperties: { SecretArn: string }; OldResourceProperties?: { SecretArn: string }; PhysicalResourceId?: string };
const run = handler as (event: Event) => Promise<{ PhysicalResourceId: string }>;
const stored = () => sm.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input);

describe('jwt signing key generator', () => {
  beforeEach(() => {
    sm.reset();
    sm.on(PutSecretValueCommand).resolves({});
  });

  it('on Create stores a private Ed25519 JWK in the secret that the app signs and verifies tokens with', async () => {
    const result = await run({ RequestType: 'Create', ResourceProperties: { SecretArn: ARN } });
    assert.equal(result.PhysicalResourceId, `jwt-signing-key:${ARN}`);
    const [put] = stored();
    assert.equal(put?.SecretId, ARN);
    const jwk = JSON.parse(put!.SecretString!) as Record<string, string>;
    assert.deepEqual([jwk.kty, jwk.crv, jwk.alg], ['OKP', 'Ed25519', 'EdDSA']);
    assert.ok(jwk.d && jwk.x);
    const key = await importSigningKey(jwk);
    assert.equal(jwk.kid, key.kid, 'the stored kid is the thumbprint the app would derive');
    assert.equal(key.kid, await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }));
    const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
    assert.equal((await jwtVerify(token, key.publicKey)).payload.sub, 'x');
  });

  it('every Create makes a new key', async () => {
    await run({ RequestType: 'Create', ResourceProperties: { SecretArn: ARN } });
    await run({ RequestType: 'Create', ResourceProperties: { SecretArn: ARN } });
    const [a, b] = stored().map((p) => (JSON.parse(p.SecretString!) as { d: string }).d);
    assert.notEqual(a, b);
  });

  it('an Update of the same secret keeps the key (a deploy signs nobody out); a replaced secret gets a key', async () => {
    const id = `jwt-signing-key:${ARN}`;
    assert.deepEqual(await run({ RequestType: 'Update', ResourceProperties: { SecretArn: ARN }, OldResourceProperties: { SecretArn: ARN }, PhysicalResourceId: id }), { PhysicalResourceId: id });
    assert.equal(stored().length, 0);
    await run({ RequestType: 'Update', ResourceProperties: { SecretArn: `${ARN}x` }, OldResourceProperties: { SecretArn: ARN }, PhysicalResourceId: id });
    assert.equal(stored()[0]?.SecretId, `${ARN}x`);
  });

  it('Delete leaves the secret alone', async () => {
    await run({ RequestType: 'Delete', ResourceProperties: { SecretArn: ARN }, PhysicalResourceId: `jwt-signing-key:${ARN}` });
    assert.equal(stored().length, 0);
  });
});
