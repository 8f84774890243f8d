import { createGatewayAuthorizer, type GatewayAuthorizerEvent, type GatewayAuthorizerResult } from '../../features/auth/gateway-authorizer.ts';
import { createLogger, flushLogger } from '../../observability/logger.ts';
import { jwtKeyRefresher } from '../../wiring/jwt-keys.ts';
import { loadAuthorizerConfig } from './aws-config.ts';

/**
 * AWS Lambda entry point "authorizer": API Gateway's Lambda REQUEST
 * authorizer (HTTP API, payload 2.0, simple responses) on the
 * token-protected routes (features/auth/gateway-authorizer.ts). The signing
 * key secret is read and the keys imported at module scope, once per
 * execution environment (a token of a key rotated in since triggers a
 * rate-limited re-read); each decision is one log line (route, allowed or
 * the refusal's code; never the token).
 */
const config = await loadAuthorizerConfig();
const logger = createLogger({ level: config.logLevel });
const refresher = jwtKeyRefresher(config, { onRefresh: (outcome) => (outcome.ok ? logger.info(outcome, 'token keys re-read') : logger.warn(outcome, 'token keys could not be re-read')) });
const authorizer = await createGatewayAuthorizer(config, { onDecision: (decision) => logger.info(decision, 'authorizer'), refresher });

/** The Lambda handler. */
export const handler = async (event: GatewayAuthorizerEvent): Promise<GatewayAuthorizerResult> => {
  try {
    return await authorizer.authorize(event);
  } finally {
    flushLogger(logger);
  }
};
