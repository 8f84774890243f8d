/* global AbortSignal */
// The handler of the Custom::KidslearnJwtSigningKey resource (ApiStack): on Create, and when the
// secret is replaced, it generates an Ed25519 private JWK (the kind `kidslearn` generates itself
// on one machine, src/features/auth/signing-keys.ts) and stores it in the secret, so the key is
// never seen by anyone, never in a template, and the same for every Lambda execution environment.
// Updates keep the key (redeploying must not sign everybody out); Delete leaves the secret to its
// own removal policy. Later keys come from the rotation function (rotate.mjs), which makes them with the
// same code (key.mjs). Runs on nodejs24.x, whose runtime provides the AWS SDK.
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { newSigningJwk } from './key.mjs';

export { newSigningJwk };

const client = new SecretsManagerClient({});

/** CloudFormation custom-resource event (Provider framework onEvent). */
export async function handler(event) {
  const secretArn = event.ResourceProperties.SecretArn;
  const replaced = event.RequestType === 'Update' && event.OldResourceProperties?.SecretArn !== secretArn;
  if (event.RequestType === 'Create' || replaced) {
    await client.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify(newSigningJwk()) }), { abortSignal: AbortSignal.timeout(10_000) });
  }
  return { PhysicalResourceId: event.PhysicalResourceId ?? `jwt-signing-key:${secretArn}` };
}
