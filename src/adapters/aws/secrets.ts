import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { JWK } from 'jose';
import { z } from 'zod';
import { PublicJwk } from '../../config/public-jwks.ts';
import type { PublicKeySource } from '../../features/auth/key-refresh.ts';

/**
 * Secrets from AWS Secrets Manager turned into the settings the rest of the
 * code reads (config/config.ts): database credentials into `DATABASE_URL`
 * (where the proxy takes passwords; on AWS it takes IAM tokens, see
 * adapters/db/connection.ts), the signing key into `JWT_PRIVATE_KEY`, the
 * ElastiCache AUTH token into `REDIS_URL`'s password. Used by the AWS entry
 * points (Lambda: runtimes/lambda/aws-config.ts; Fargate: the engine, lake
 * writer and API processes) before the configuration is loaded, so no
 * secret sits in an environment variable of the function or task definition.
 */

/** A Secrets Manager secret's ARN. */
const SECRET_ARN = z.string().trim().regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/, 'a Secrets Manager secret ARN');

/** `env` through `schema`; the first problem as a SecretError naming the variable (never its value). */
function parseSecretEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new SecretError(`Invalid ${String(issue.path[0])}: expected ${issue.message}`);
}

/** The variables this step reads (validated here: they are read before `loadConfig`). */
const SecretEnvSchema = z.object({
  DATABASE_SECRET_ARN: SECRET_ARN,
  DATABASE_HOST: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.string().trim().regex(/^[A-Za-z0-9.-]{1,253}$/, 'a host name such as the RDS Proxy endpoint').optional(),
  ),
  DATABASE_NAME: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.string().trim().regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, 'a database name').optional(),
  ),
  DATABASE_SECRET_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(3000),
});

/** The JSON of an RDS/Aurora secret (what `rds.DatabaseSecret` and the secret attachment store). */
const DatabaseSecretSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  host: z.string().min(1).optional(),
  port: z.coerce.number().int().min(1).max(65535).optional(),
  dbname: z.string().min(1).optional(),
});

/** A secret that cannot be read or used; the message names the secret (never its value) and what is wrong. */
export class SecretError extends Error {
  override name = 'SecretError';
}

/** Which version of a secret to read, and a signal that stops the read early. */
export interface ReadSecretOptions {
  /** A staging label (AWSCURRENT when not given, as Secrets Manager does). */
  stage?: 'AWSCURRENT' | 'AWSPREVIOUS';
  signal?: AbortSignal;
}

/**
 * Reads one secret's string: one `GetSecretValue` (at most two attempts),
 * bounded by `timeoutMs` in all. `what` names the secret in errors.
 */
export async function readSecretString(arn: string, timeoutMs: number, what: string, client_?: SecretsManagerClient, options: ReadSecretOptions = {}): Promise<string> {
  // Loaded here: processes without a secret (every one-machine setup) never load the client.
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const region = /^arn:[^:]+:secretsmanager:([^:]+):/.exec(arn)?.[1];
  const client =
    client_ ?? new SecretsManagerClient({ region, maxAttempts: 2, requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true } });
  let text: string | undefined;
  try {
    const abortSignal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    const answer = await client.send(new GetSecretValueCommand({ SecretId: arn, ...(options.stage ? { VersionStage: options.stage } : {}) }), { abortSignal });
    text = answer.SecretString;
  } catch (error) {
    const name = (error as { name?: string } | null)?.name ?? 'Error';
    const why = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${timeoutMs} ms` : name;
    const version = options.stage ? ` (${options.stage})` : '';
    throw new SecretError(`Could not read the ${what} ${arn}${version} from Secrets Manager (${why})`, { cause: error });
  } finally {
    if (!client_) client.destroy();
  }
  if (!text) throw new SecretError(`The ${what} ${arn} has no SecretString`);
  return text;
}

/** Options for tests: a client (aws-sdk-client-mock mocks every client anyway). */
export interface DatabaseSecretOptions {
  client?: SecretsManagerClient;
}

/**
 * Returns `env` with `DATABASE_URL` built from the secret named by
 * `DATABASE_SECRET_ARN`, or `env` unchanged when that is not set (a plain
 * `DATABASE_URL` keeps working). Host: `DATABASE_HOST` (the RDS Proxy
 * endpoint), else the secret's `host`; database: `DATABASE_NAME`, else the
 * secret's `dbname`, else `postgres`. TLS is required and verified
 * (`sslmode=verify-full`): RDS Proxy presents an ACM certificate, which
 * Node's default CA store trusts. One call to Secrets Manager, bounded by
 * `DATABASE_SECRET_TIMEOUT_MS` (default 3 s) for all its attempts.
 */
export async function resolveDatabaseSecret(env: NodeJS.ProcessEnv, options: DatabaseSecretOptions = {}): Promise<NodeJS.ProcessEnv> {
  if (!env.DATABASE_SECRET_ARN?.trim()) return env;
  if (env.DATABASE_AUTH?.trim() === 'iam') throw new SecretError('Invalid DATABASE_SECRET_ARN: expected none with DATABASE_AUTH=iam (connections sign in with an IAM auth token, not the secret\'s password)');
  const settings = parseSecretEnv(SecretEnvSchema, env);
  if (env.DATABASE_URL?.trim()) throw new SecretError('Invalid DATABASE_URL: set either DATABASE_URL or DATABASE_SECRET_ARN, not both');
  const { DATABASE_SECRET_ARN: arn, DATABASE_SECRET_TIMEOUT_MS: timeoutMs } = settings;
  const text = await readSecretString(arn, timeoutMs, 'database secret', options.client);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SecretError(`The database secret ${arn} is not JSON (a JSON object with username and password is expected)`);
  }
  const secret = DatabaseSecretSchema.safeParse(json);
  if (!secret.success) {
    const fields = [...new Set(secret.error.issues.map((i) => String(i.path[0] ?? 'secret')))].join(', ');
    throw new SecretError(`The database secret ${arn} is missing or has invalid fields: ${fields} (expected username, password and optionally host, port, dbname)`);
  }
  const host = settings.DATABASE_HOST ?? secret.data.host;
  if (!host) throw new SecretError(`Invalid DATABASE_HOST: expected the RDS Proxy endpoint (the database secret ${arn} names no host)`);
  const url = new URL('postgresql://placeholder');
  url.hostname = host;
  url.port = String(secret.data.port ?? 5432);
  url.username = encodeURIComponent(secret.data.username);
  url.password = encodeURIComponent(secret.data.password);
  url.pathname = `/${encodeURIComponent(settings.DATABASE_NAME ?? secret.data.dbname ?? 'postgres')}`;
  url.searchParams.set('sslmode', 'verify-full');
  return { ...env, DATABASE_URL: url.toString() };
}

const JwtSecretEnvSchema = z.object({
  JWT_PRIVATE_KEY_SECRET_ARN: SECRET_ARN,
  DATABASE_SECRET_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(3000),
});

/**
 * The public half of the private JWK in `text`, or `undefined` when `text`
 * is not a private JWK (never echoed: it may be a key).
 */
function publicHalfOfSecret(text: string): JWK | undefined {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!jwk || typeof jwk !== 'object' || typeof (jwk as { d?: unknown }).d !== 'string') return undefined;
  const { d: _d, ...pub } = jwk as Record<string, unknown>;
  const parsed = PublicJwk.safeParse(pub);
  return parsed.success ? (parsed.data as JWK) : undefined;
}

/**
 * The public half of the secret's AWSPREVIOUS version: the key that signed
 * until the last rotation. `undefined` when there is none (never rotated),
 * when it is not a private JWK (before the first rotation it is the random
 * value the secret was created with) or when it cannot be read: the process
 * then starts with the current key alone and reads again on the first token
 * it cannot verify (KeyRefresher).
 */
async function readPreviousPublicJwk(arn: string, timeoutMs: number, client?: SecretsManagerClient, signal?: AbortSignal): Promise<JWK | undefined> {
  try {
    return publicHalfOfSecret(await readSecretString(arn, timeoutMs, 'signing key secret', client, { stage: 'AWSPREVIOUS', ...(signal ? { signal } : {}) }));
  } catch {
    return undefined;
  }
}

/**
 * Returns `env` with `JWT_PRIVATE_KEY` read from the secret named by
 * `JWT_PRIVATE_KEY_SECRET_ARN` (AWSCURRENT: its string is the private JWK's
 * JSON, the key this process signs with) and the public half of its
 * AWSPREVIOUS version, when there is one, added to `JWT_PREVIOUS_PUBLIC_KEYS`
 * (tokens signed before the last rotation keep verifying); `env` unchanged
 * when no ARN is set. Every API process on AWS must sign with the same key:
 * without one, each would generate its own in its data dir.
 */
export async function resolveJwtKeySecret(env: NodeJS.ProcessEnv, options: DatabaseSecretOptions = {}): Promise<NodeJS.ProcessEnv> {
  if (!env.JWT_PRIVATE_KEY_SECRET_ARN?.trim()) return env;
  const settings = parseSecretEnv(JwtSecretEnvSchema, env);
  if (env.JWT_PRIVATE_KEY?.trim()) throw new SecretError('Invalid JWT_PRIVATE_KEY: set either JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_SECRET_ARN, not both');
  const arn = settings.JWT_PRIVATE_KEY_SECRET_ARN;
  const timeoutMs = settings.DATABASE_SECRET_TIMEOUT_MS;
  const [text, previous] = await Promise.all([readSecretString(arn, timeoutMs, 'signing key secret', options.client), readPreviousPublicJwk(arn, timeoutMs, options.client)]);
  if (!publicHalfOfSecret(text)) throw new SecretError(`The signing key secret ${arn} is not a private JWK in JSON`);
  if (!previous) return { ...env, JWT_PRIVATE_KEY: text };
  return { ...env, JWT_PRIVATE_KEY: text, JWT_PREVIOUS_PUBLIC_KEYS: JSON.stringify([...previousPublicKeys(env.JWT_PREVIOUS_PUBLIC_KEYS), previous]) };
}

/** The keys already in `JWT_PREVIOUS_PUBLIC_KEYS` (the emergency procedure's); refuses a value that is not a JSON array (the configuration checks each key). */
function previousPublicKeys(value: string | undefined): unknown[] {
  if (!value?.trim()) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new SecretError('Invalid JWT_PREVIOUS_PUBLIC_KEYS: expected a JSON array of public JWKs');
  }
  if (!Array.isArray(parsed)) throw new SecretError('Invalid JWT_PREVIOUS_PUBLIC_KEYS: expected a JSON array of public JWKs');
  return parsed;
}

/**
 * The signing key secret as a {@link PublicKeySource}: the public halves of
 * AWSCURRENT (must be a private JWK) and AWSPREVIOUS (when there is a usable
 * one), read concurrently, each bounded by `timeoutMs`. What a running
 * process re-reads when a token names a key it does not know (the secret
 * rotated since it started). The private part is dropped at once: a
 * process keeps signing with the key it read at start.
 */
export function signingKeySecretSource(arn: string, options: { timeoutMs: number; client?: SecretsManagerClient }): PublicKeySource {
  return {
    async read(signal) {
      const [text, previous] = await Promise.all([
        readSecretString(arn, options.timeoutMs, 'signing key secret', options.client, { stage: 'AWSCURRENT', signal }),
        readPreviousPublicJwk(arn, options.timeoutMs, options.client, signal),
      ]);
      const current = publicHalfOfSecret(text);
      if (!current) throw new SecretError(`The signing key secret ${arn} is not a private JWK in JSON`);
      return previous ? [current, previous] : [current];
    },
  };
}

const RedisSecretEnvSchema = z.object({
  REDIS_PASSWORD_SECRET_ARN: SECRET_ARN,
  REDIS_URL: z.string().trim().refine((v) => {
    try {
      const url = new URL(v);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && !url.password;
    } catch {
      return false;
    }
  }, 'a redis:// or rediss:// URL without a password (the password comes from REDIS_PASSWORD_SECRET_ARN)'),
  DATABASE_SECRET_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(3000),
});

/**
 * Returns `env` with `REDIS_URL` carrying the password read from the secret
 * named by `REDIS_PASSWORD_SECRET_ARN` (its string is the ElastiCache AUTH
 * token as is), or `env` unchanged when that is not set. Read once per
 * process (Lambda: per execution environment), like the other secrets: a
 * rotated token reaches running processes only when they restart, which is
 * why rotation goes through ElastiCache's ROTATE step (both tokens accepted)
 * before SET (docs/deploy-aws.md).
 */
export async function resolveRedisSecret(env: NodeJS.ProcessEnv, options: DatabaseSecretOptions = {}): Promise<NodeJS.ProcessEnv> {
  if (!env.REDIS_PASSWORD_SECRET_ARN?.trim()) return env;
  const settings = parseSecretEnv(RedisSecretEnvSchema, env);
  const arn = settings.REDIS_PASSWORD_SECRET_ARN;
  const token = await readSecretString(arn, settings.DATABASE_SECRET_TIMEOUT_MS, 'Redis AUTH token secret', options.client);
  // ElastiCache AUTH tokens: 16 to 128 printable characters without spaces, quotes, slashes or @.
  if (!/^[!#-.0-?A-~]{16,128}$/.test(token)) throw new SecretError(`The Redis AUTH token secret ${arn} does not hold an AUTH token (16 to 128 printable characters, no space, ", / or @)`);
  const url = new URL(settings.REDIS_URL);
  url.password = encodeURIComponent(token);
  return { ...env, REDIS_URL: url.toString() };
}

/**
 * The secrets above, read concurrently: `DATABASE_URL`, `JWT_PRIVATE_KEY`
 * and the password in `REDIS_URL` filled in when their `*_SECRET_ARN` is set.
 */
export async function resolveSecrets(env: NodeJS.ProcessEnv, options: DatabaseSecretOptions = {}): Promise<NodeJS.ProcessEnv> {
  const results = await Promise.all([resolveDatabaseSecret(env, options), resolveJwtKeySecret(env, options), resolveRedisSecret(env, options)]);
  // Each step returns `env` with what it filled in; every variable a step changed is kept.
  const changed = (out: NodeJS.ProcessEnv) => Object.fromEntries(Object.entries(out).filter(([name, value]) => env[name] !== value));
  return Object.assign({ ...env }, ...results.map(changed)) as NodeJS.ProcessEnv;
}
