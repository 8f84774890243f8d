import { signingKeySecretSource } from '../adapters/aws/secrets.ts';
import type { Config } from '../config/config.ts';
import { KeyRefresher, type KeyRefreshOutcome } from '../features/auth/key-refresh.ts';

/** Bound of one re-read of the signing key secret (both stages, read concurrently). */
const KEY_SECRET_TIMEOUT_MS = 3000;

/**
 * Where a running process reads its verification keys again: the signing
 * key secret (`JWT_PRIVATE_KEY_SECRET_ARN`, AWS, rotated by Secrets Manager)
 * when configured, at most once a minute and only for a token whose key it
 * does not know; `undefined` everywhere else (the data-dir key, or a
 * `JWT_PRIVATE_KEY` given as is, never changes under a running process).
 * Used by the container (api function, lake API service) and the gateway
 * authorizer.
 */
export function jwtKeyRefresher(config: Pick<Config, 'jwt'>, options: { onRefresh?: (outcome: KeyRefreshOutcome) => void } = {}): KeyRefresher | undefined {
  const arn = config.jwt.keySecretArn;
  if (!arn) return undefined;
  return new KeyRefresher(signingKeySecretSource(arn, { timeoutMs: KEY_SECRET_TIMEOUT_MS }), { timeoutMs: KEY_SECRET_TIMEOUT_MS + 500, ...(options.onRefresh ? { onRefresh: options.onRefresh } : {}) });
}
