// @lambda-shared: a module the Lambda entry points share, not an entry (scripts/build-lambda.ts).
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { resolveJwtKeySecret, resolveSecrets } from '../../adapters/aws/secrets.ts';
import { ConfigError, loadConfig, type Config } from '../../config/config.ts';

/**
 * What every Lambda entry point starts from (a shared module, not an entry
 * of its own: scripts/build-lambda.ts leaves it out). It is read at module
 * scope, during the function's init phase, once per execution environment:
 * the secrets named by `JWT_PRIVATE_KEY_SECRET_ARN` (the signing key),
 * `REDIS_PASSWORD_SECRET_ARN` (the ElastiCache AUTH token, put into
 * `REDIS_URL`) and, where the proxy takes passwords, `DATABASE_SECRET_ARN`
 * are fetched from Secrets Manager once, then `loadConfig` validates the
 * result. On AWS the database takes IAM auth tokens instead
 * (`DATABASE_AUTH=iam`, `DATABASE_HOST`, `DATABASE_USER`): no database
 * secret is read, and tokens are signed per new connection
 * (adapters/db/connection.ts).
 */

// Node creates the fetch classes lazily on first use; touching them here moves that work
// (~20 ms, ARCHITECTURE.md) from the first invocation into the init phase.
new Request('http://localhost/');
new Response(null);

/** Defaults that differ on Lambda: the only writable directory is /tmp. */
const LAMBDA_DEFAULTS = { KIDSLEARN_DATA_DIR: '/tmp/kidslearn' } as const;

/**
 * Resolves the secrets and loads the configuration for a Lambda function:
 * PostgreSQL is required (PGlite is for one long-lived process) and so is a
 * shared signing key (each execution environment would otherwise make its
 * own, and tokens would verify only where they were issued).
 */
export async function loadLambdaConfig(env: NodeJS.ProcessEnv = process.env, options: LambdaConfigOptions & { client?: SecretsManagerClient } = {}): Promise<Config> {
  const config = loadConfig(await resolveSecrets({ ...LAMBDA_DEFAULTS, ...env }, options), { envFile: null });
  if (config.database.kind !== 'postgres') throw new ConfigError('Invalid DATABASE_URL: the Lambda runtime needs DATABASE_URL, DATABASE_SECRET_ARN or DATABASE_AUTH=iam with DATABASE_HOST (PGlite is for a single long-lived process)');
  if (options.signsTokens !== false && !config.jwt.privateKeyJwk) {
    throw new ConfigError('Invalid JWT_PRIVATE_KEY: the Lambda runtime needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_SECRET_ARN (every execution environment must sign with the same key)');
  }
  return config;
}

/**
 * The configuration of the gateway authorizer (runtimes/lambda/authorizer.ts):
 * only the signing key secret is read (the function may read nothing else,
 * and needs no database), and a signing key is required: its public half is
 * what verifies kidslearn's tokens.
 */
export async function loadAuthorizerConfig(env: NodeJS.ProcessEnv = process.env, options: { client?: SecretsManagerClient } = {}): Promise<Config> {
  const config = loadConfig(await resolveJwtKeySecret({ ...LAMBDA_DEFAULTS, ...env }, options), { envFile: null });
  if (!config.jwt.privateKeyJwk) throw new ConfigError('Invalid JWT_PRIVATE_KEY: the gateway authorizer needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_SECRET_ARN (the key the api function signs with)');
  return config;
}

/** What a function needs besides the database. */
export interface LambdaConfigOptions {
  /** false for functions that issue and verify no kidslearn token (migrate, events-consumer): no signing key required. Default true. */
  signsTokens?: boolean;
}

let environment: Promise<Config> | undefined;

/** This execution environment's configuration: resolved on the first call, the same promise after. */
export function lambdaConfig(options: LambdaConfigOptions = {}): Promise<Config> {
  environment ??= loadLambdaConfig(process.env, options);
  return environment;
}
