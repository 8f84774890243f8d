/* global AbortSignal, console */
// The Secrets Manager rotation function of the token signing key secret (ApiStack's RotationSchedule),
// following AWS's rotation Lambda contract: Secrets Manager calls it four times per rotation with the
// same ClientRequestToken (the new version's id) and retries any step that fails, so every step is
// idempotent.
//   createSecret  a new Ed25519 private JWK with a fresh kid (key.mjs, the code the first key comes from)
//                 stored as AWSPENDING; nothing if that version already exists (a retried step)
//   setSecret     nothing: no other system holds the key
//   testSecret    AWSPENDING parses as a private Ed25519 JWK (public part matches, kid = thumbprint)
//   finishSecret  AWSCURRENT moves to the new version; Secrets Manager moves AWSPREVIOUS to the old one
// Running processes keep signing with the key they read at start; they verify tokens of the new key
// after re-reading the secret on the first unknown kid, and new processes verify the old key's tokens
// through AWSPREVIOUS (src/adapters/aws/secrets.ts). Runs on nodejs24.x, whose runtime provides the AWS SDK.
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { checkSigningJwk, newSigningJwk } from './key.mjs';

const client = new SecretsManagerClient({});
/** Each call to Secrets Manager; a rotation function may run for at most its own timeout (30 s). */
const call = (command) => client.send(command, { abortSignal: AbortSignal.timeout(5_000) });

/** The rotation event Secrets Manager sends. */
export async function handler(event) {
  const { SecretId: arn, ClientRequestToken: token, Step: step, RotationToken: rotationToken } = event;
  const secret = await call(new DescribeSecretCommand({ SecretId: arn }));
  if (secret.RotationEnabled === false) throw new Error(`Secret ${arn} does not have rotation enabled`);
  const stages = secret.VersionIdsToStages?.[token];
  if (!stages) throw new Error(`Secret version ${token} has no stage for rotation of secret ${arn}`);
  if (stages.includes('AWSCURRENT')) {
    // Already rotated (a retry after finishSecret succeeded): nothing left to do.
    console.log(JSON.stringify({ step, message: 'version is already AWSCURRENT' }));
    return;
  }
  if (!stages.includes('AWSPENDING')) throw new Error(`Secret version ${token} is not AWSPENDING for rotation of secret ${arn}`);
  switch (step) {
    case 'createSecret':
      return createSecret(arn, token, rotationToken);
    case 'setSecret':
      return; // Nothing holds the key but this secret.
    case 'testSecret':
      return testSecret(arn, token);
    case 'finishSecret':
      return finishSecret(arn, token, secret.VersionIdsToStages);
    default:
      throw new Error(`Unknown rotation step ${String(step)}`);
  }
}

async function createSecret(arn, token, rotationToken) {
  // The current version must exist (and be readable) before a new one is made.
  await call(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }));
  try {
    await call(new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' }));
    console.log(JSON.stringify({ step: 'createSecret', message: 'AWSPENDING exists; kept' }));
    return;
  } catch (error) {
    if (error?.name !== 'ResourceNotFoundException') throw error;
  }
  const jwk = newSigningJwk();
  await call(new PutSecretValueCommand({ SecretId: arn, ClientRequestToken: token, SecretString: JSON.stringify(jwk), VersionStages: ['AWSPENDING'], ...(rotationToken ? { RotationToken: rotationToken } : {}) }));
  console.log(JSON.stringify({ step: 'createSecret', message: 'new key stored as AWSPENDING', kid: jwk.kid }));
}

async function testSecret(arn, token) {
  const pending = await call(new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' }));
  try {
    checkSigningJwk(pending.SecretString ?? '');
  } catch (error) {
    throw new Error(`The pending signing key of ${arn} is not usable: ${error.message}`, { cause: error });
  }
}

async function finishSecret(arn, token, versions) {
  const current = Object.entries(versions).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
  if (current === token) return;
  await call(new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'AWSCURRENT', MoveToVersionId: token, ...(current ? { RemoveFromVersionId: current } : {}) }));
  console.log(JSON.stringify({ step: 'finishSecret', message: 'AWSCURRENT moved', from: current, to: token }));
}
