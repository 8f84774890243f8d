import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import path from 'node:path';
import { z } from 'zod';
import { parsePublicJwkList } from './public-jwks.ts';

/**
 * Configuration, read once at start from the environment (and an optional
 * `.env` file) and validated here. Nothing else in the code reads
 * `process.env`; everything receives a `Config`.
 */


/**
 * Default of `RATE_LIMIT_AUTH_IP_PER_MINUTE`. A school puts every tablet and
 * laptop behind one address: at the start of a lesson thirty children sign in
 * with PINs and refresh their tokens at once, and one pupil sending wrong
 * passwords must not shut the whole school out of sign-in. So the limit per
 * address is only flood protection (five requests a second); guessing is
 * held by the limits per account, client, device and family.
 */
export const DEFAULT_AUTH_IP_PER_MINUTE = 300;

/**
 * Default of `RATE_LIMIT_AUTH_HASH_IP_PER_MINUTE`: requests per address a
 * minute to the routes that hash a password or PIN (scrypt, ~250 ms of a
 * core at the default cost). Enough for a class of thirty signing in with
 * PINs and its teachers; at 300 a minute one address could keep the hashing
 * threads busy and make every sign-in wait.
 */
export const DEFAULT_AUTH_HASH_IP_PER_MINUTE = 60;
const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const intFrom = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

const urlWithProtocol = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

/** An SQS queue URL: https://sqs.<region>.amazonaws.com/<account>/<name> (or another https/http endpoint's path-style URL). */
const sqsQueueUrl = () =>
  urlWithProtocol(['https:', 'http:']).refine((v) => /^\/[^/]+\/[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(new URL(v).pathname), 'an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/jobs.fifo');

/** The region in an SQS URL's host (`sqs.<region>.amazonaws.com`), if it names one. */
function regionOfSqsUrl(url: string): string | undefined {
  return /^sqs\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com/.exec(new URL(url).hostname)?.[1];
}

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const EnvSchema = z.object({
  PORT: intFrom(3000, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  KIDSLEARN_DATA_DIR: z.string().min(1).default('./data'),
  PGLITE_SHARED_BUFFERS_MB: intFrom(32, 1, 4096),
  DATABASE_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['postgres:', 'postgresql:']).optional()),
  DATABASE_SECRET_ARN: z.preprocess(emptyToUndefined, z.string().trim().startsWith('arn:').optional()),
  DATABASE_AUTH: z.preprocess(emptyToUndefined, z.enum(['password', 'iam']).default('password')),
  DATABASE_USER: z.preprocess(emptyToUndefined, z.string().trim().regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, 'a database user name').optional()),
  DATABASE_HOST: z.preprocess(emptyToUndefined, z.string().trim().regex(/^[A-Za-z0-9.-]{1,253}$/, 'a host name such as the RDS Proxy endpoint').optional()),
  DATABASE_PORT: intFrom(5432, 1, 65535),
  DATABASE_NAME: z.preprocess(emptyToUndefined, z.string().trim().regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, 'a database name').optional()),
  DATABASE_IAM_REGION: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1').optional()),
  AWS_REGION: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1').optional()),
  DATABASE_POOL_SIZE: intFrom(10, 1, 200),
  DATABASE_CONNECT_TIMEOUT_MS: intFrom(5000, 100, 120000),
  DATABASE_STATEMENT_TIMEOUT_MS: intFrom(10000, 100, 600000),
  REDIS_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['redis:', 'rediss:']).optional()),
  REDIS_PASSWORD_SECRET_ARN: z.preprocess(emptyToUndefined, z.string().trim().startsWith('arn:').optional()),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{0,64}$/).default('kidslearn:'),
  CACHE_TIMEOUT_MS: intFrom(500, 10, 10000),
  CACHE_MAX_ENTRIES: intFrom(10000, 100, 10_000_000),
  LOG_LEVEL: LogLevel.default('info'),
  METRICS_EMF: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.union([z.literal('*'), urlWithProtocol(['http:', 'https:'])]))),
  JWT_PRIVATE_KEY: z.preprocess(emptyToUndefined, z.string().optional()),
  JWT_PRIVATE_KEY_SECRET_ARN: z.preprocess(emptyToUndefined, z.string().trim().startsWith('arn:').optional()),
  JWT_ISSUER: z.string().min(1).default('kidslearn'),
  JWT_PREVIOUS_PUBLIC_KEYS: z.preprocess(emptyToUndefined, z.string().optional()),
  SEED_DEMO_APPS: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  SHUTDOWN_TIMEOUT_MS: intFrom(10000, 0, 120000),
  ENGINE_MODE: z.preprocess(emptyToUndefined, z.enum(['inline', 'separate']).optional()),
  ENGINE_PORT: intFrom(3001, 0, 65535),
  ENGINE_CONCURRENCY: intFrom(2, 1, 64),
  ENGINE_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(1),
  JOB_QUEUE_TIMEOUT_MS: intFrom(5000, 100, 120000),
  JOB_QUEUE: z.enum(['pg-boss', 'sqs']).default('pg-boss'),
  JOBS_QUEUE_URL: z.preprocess(emptyToUndefined, sqsQueueUrl().optional()),
  EVENT_QUEUE: z.enum(['database', 'packed', 'sqs']).default('database'),
  EVENTS_QUEUE_URL: z.preprocess(emptyToUndefined, sqsQueueUrl().optional()),
  EVENT_QUEUE_TIMEOUT_MS: intFrom(5000, 100, 60000),
  LAKE_ENABLED: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  LAKE_MODE: z.preprocess(emptyToUndefined, z.enum(['inline', 'separate']).optional()),
  LAKE_PORT: intFrom(3002, 0, 65535),
  LAKE_FLUSH_SECONDS: z.coerce.number().min(0.1).max(3600).default(60),
  LAKE_FLUSH_EVENTS: intFrom(100_000, 1, 10_000_000),
  LAKE_MAX_BACKLOG: intFrom(2_000_000, 1, 1_000_000_000),
  LAKE_MAX_ATTEMPTS: intFrom(5, 1, 100),
  LAKE_DEDUP_DAYS: intFrom(7, 7, 365),
  LAKE_DIR: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
  LAKE_S3_BUCKET: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name').optional()),
  LAKE_S3_PREFIX: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9=._/-]{0,200}$/, 'an object key prefix such as analytics-lake/').optional()),
  LAKE_S3_ENDPOINT: z.preprocess(emptyToUndefined, urlWithProtocol(['http:', 'https:']).optional()),
  LAKE_S3_REGION: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1').optional()),
  LAKE_TIMEOUT_MS: intFrom(10000, 100, 300000),
  LAKE_REPORT_CACHE_SECONDS: intFrom(60, 0, 3600),
  ALERT_WEBHOOK_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['http:', 'https:']).optional()),
  ACCESS_TOKEN_TTL: ttl('15m', 60, 15 * 60),
  REFRESH_TOKEN_TTL: ttl('30d', 60 * 60, 365 * 86400),
  PASSWORD_SCRYPT_LOG_N: intFrom(14, 12, 20),
  PASSWORD_SCRYPT_P: intFrom(5, 1, 16),
  MASTERY_THRESHOLD: z.coerce.number().gt(0.5).lt(1).default(0.95),
  RATE_LIMIT_AUTH_PER_MINUTE: intFrom(10, 1, 1_000_000),
  RATE_LIMIT_AUTH_IP_PER_MINUTE: intFrom(DEFAULT_AUTH_IP_PER_MINUTE, 1, 1_000_000),
  RATE_LIMIT_AUTH_HASH_IP_PER_MINUTE: intFrom(DEFAULT_AUTH_HASH_IP_PER_MINUTE, 1, 1_000_000),
  RATE_LIMIT_API_PER_MINUTE: intFrom(600, 1, 10_000_000),
  TRUST_PROXY: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  SMTP_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['smtp:', 'smtps:']).optional()),
  MAIL_FROM: z
    .string()
    .trim()
    .regex(/^(?:[^<>\r\n]{1,100} <[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/, 'an address such as kidslearn <no-reply@example.com>')
    .default('kidslearn <no-reply@localhost>'),
  MAIL_TIMEOUT_MS: intFrom(10000, 100, 120000),
  MAIL_TRANSPORT: z.preprocess(emptyToUndefined, z.enum(['outbox', 'smtp', 'ses']).optional()),
  SES_REGION: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1').optional()),
  MAIL_LINK_BASE_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['https:', 'http:']).optional()),
  OIDC_ISSUER: z.preprocess(emptyToUndefined, urlWithProtocol(['https:', 'http:']).optional()),
  OIDC_AUDIENCE: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
  OIDC_JWKS_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['https:', 'http:']).optional()),
  OIDC_ROLE_CLAIM: z.string().min(1).default('cognito:groups'),
  OIDC_ROLE_MAP: z
    .string()
    .default('guardians=guardian,teachers=teacher,admins=admin')
    .refine((v) => parseRoleMap(v) !== undefined, 'a list like guardians=guardian,teachers=teacher,admins=admin (roles: guardian, teacher, admin)'),
  OIDC_APP_CLAIM: z.string().min(1).default('custom:app'),
  OIDC_DEFAULT_APP: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z][a-z0-9_]{1,30}$/, 'an app id').optional()),
  EMBEDDINGS_PROVIDER: z.enum(['local', 'openai', 'bedrock']).default('local'),
  EMBEDDINGS_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['http:', 'https:']).optional()),
  EMBEDDINGS_MODEL: z.preprocess(emptyToUndefined, z.string().trim().min(1).max(200).optional()),
  EMBEDDINGS_API_KEY: z.preprocess(emptyToUndefined, z.string().trim().min(1).optional()),
  EMBEDDINGS_DIMENSIONS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(16384).optional()),
  EMBEDDINGS_TIMEOUT_MS: intFrom(10000, 100, 120000),
  BEDROCK_REGION: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1').optional()),
  EMBEDDINGS_BEDROCK_MODEL: z.string().trim().min(1).max(200).default('amazon.titan-embed-text-v2:0'),
  LLM_PROVIDER: z.enum(['offline', 'openai', 'bedrock']).default('offline'),
  LLM_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['http:', 'https:']).optional()),
  LLM_MODEL: z.preprocess(emptyToUndefined, z.string().trim().min(1).max(200).optional()),
  LLM_API_KEY: z.preprocess(emptyToUndefined, z.string().trim().min(1).optional()),
  LLM_BEDROCK_MODEL: z.string().trim().min(1).max(200).default('amazon.nova-lite-v1:0'),
  LLM_TIMEOUT_MS: intFrom(20000, 100, 300000),
  LLM_RETRIES: intFrom(2, 0, 5),
  LLM_DAILY_TOKEN_BUDGET: intFrom(200000, 0, 1_000_000_000),
});

/** Variables whose value is never repeated in an error message. */
const SECRET_VARIABLES = new Set(['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'EMBEDDINGS_API_KEY', 'EMBEDDINGS_URL', 'LLM_API_KEY', 'LLM_URL', 'ALERT_WEBHOOK_URL']);

/** Parses `group=role,group=role`; children never sign in through an external provider. */
function parseRoleMap(v: string): Record<string, 'guardian' | 'teacher' | 'admin'> | undefined {
  const map: Record<string, 'guardian' | 'teacher' | 'admin'> = {};
  for (const pair of v.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [group, role] = pair.split('=').map((x) => x.trim());
    if (!group || (role !== 'guardian' && role !== 'teacher' && role !== 'admin')) return undefined;
    map[group] = role;
  }
  return Object.keys(map).length ? map : undefined;
}

/** A duration like `15m`, `12h`, `30d` or seconds, in seconds, within bounds. */
function ttl(def: string, minSeconds: number, maxSeconds: number) {
  return z
    .string()
    .default(def)
    .transform((v, ctx) => {
      const m = /^(\d+)\s*([smhd]?)$/.exec(v.trim());
      const seconds = m ? Number(m[1]) * (m[2] === 'd' ? 86400 : m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1) : NaN;
      if (!(seconds >= minSeconds && seconds <= maxSeconds)) {
        ctx.addIssue({ code: 'custom', message: `a duration such as 15m, 12h or 30d between ${minSeconds} s and ${maxSeconds} s` });
        return z.NEVER;
      }
      return seconds;
    });
}

/** The validated configuration every module receives. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  database:
    | { kind: 'pglite'; dataDir: string; sharedBuffersMb: number }
    | { kind: 'postgres'; url: string; auth: DatabaseAuth; poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number };
  statementTimeoutMs: number;
  cache:
    | { kind: 'memory'; maxEntries: number }
    | { kind: 'redis'; url: string; keyPrefix: string; timeoutMs: number };
  logLevel: z.infer<typeof LogLevel>;
  /**
   * `emf`: also write the HTTP request metrics to stdout in CloudWatch
   * embedded metric format (namespace `Kidslearn`), flushed per Lambda
   * invocation (`METRICS_EMF=true`; on Lambda nothing scrapes `/metrics`).
   */
  metrics: { emf: boolean };
  corsOrigins: string[];
  /**
   * `keySecretArn`: the secret `privateKeyJwk` was read from (JWT_PRIVATE_KEY_SECRET_ARN, AWS); when set, running
   * processes re-read it for keys rotated in since they started (wiring/jwt-keys.ts).
   */
  jwt: { issuer: string; privateKeyJwk: string | undefined; previousPublicJwks: string | undefined; keySecretArn?: string | undefined };
  seedDemoApps: boolean;
  shutdownTimeoutMs: number;
  /**
   * The adaptive engine's job worker: `inline` runs it inside `npm start`
   * (the default on embedded PGlite), `separate` leaves it to `npm run
   * engine` (the default with a PostgreSQL server). `port` is the engine's
   * own /health and /metrics server; `concurrency` plan jobs at once per
   * process; `pollSeconds` how often an idle worker looks for jobs (a job
   * sent by the same process wakes it at once); `queueTimeoutMs` bounds
   * every call to the job queue.
   */
  engine: { mode: 'inline' | 'separate'; port: number; concurrency: number; pollSeconds: number; queueTimeoutMs: number };
  /**
   * Which job-queue adapter carries the engine's jobs (`JOB_QUEUE`):
   * pg-boss in the database (default), or an SQS FIFO queue at `url`
   * (`JOBS_QUEUE_URL`) with the job records in the database. `region` is
   * read from the URL; the SDK's default (AWS_REGION) otherwise.
   */
  jobs: { kind: 'pg-boss' } | { kind: 'sqs'; url: string; region: string | undefined };
  /**
   * Where `POST /api/events` puts accepted client events (`EVENT_QUEUE`):
   * the database outbox in the request (default), one event pack per
   * request that the lake writer unpacks into the outbox (`packed`), or the SQS queue at
   * `url` (`EVENTS_QUEUE_URL`), from which the events-consumer Lambda
   * appends them to the outbox. `timeoutMs` bounds the sends of one request.
   */
  events: { kind: 'database' } | { kind: 'packed' } | { kind: 'sqs'; url: string; region: string | undefined; timeoutMs: number };
  /**
   * The analytics lake (see docs/analytics.md). `enabled` false: no server
   * events are written, `POST /api/events` acknowledges and drops every
   * event (reason `lake_disabled`) and no lake writer runs. `mode`: the lake writer runs
   * inside `npm start` (`inline`, the default on embedded PGlite) or as
   * `npm run lake` (`separate`, the default with a PostgreSQL server), with
   * its /health and /metrics on `port`. A batch is written every
   * `flushSeconds` or at `flushEvents` pending events; `maxBacklog` pending
   * events make `POST /api/events` answer 503; a batch failing
   * `maxAttempts` times goes to the dead letters; event ids are
   * deduplicated for `dedupDays`. Files go to `store`: a directory (default
   * `<dataDir>/lake`) or S3. `timeoutMs` bounds every call to the store;
   * reports are cached `reportCacheSeconds`; new dead letters are POSTed to
   * `alertWebhookUrl` when set.
   */
  lake: {
    enabled: boolean;
    mode: 'inline' | 'separate';
    port: number;
    flushSeconds: number;
    flushEvents: number;
    maxBacklog: number;
    maxAttempts: number;
    dedupDays: number;
    store: { kind: 'directory'; dir: string } | { kind: 's3'; bucket: string; prefix: string; region: string; endpoint: string | undefined };
    timeoutMs: number;
    reportCacheSeconds: number;
    alertWebhookUrl: string | undefined;
  };
  version: string;
  auth: {
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    scrypt: { logN: number; r: number; p: number };
  };
  /** `authPerMinute`: sign-in failures per account, client or device (per 15 min); `authIpPerMinute`: all `/auth/*` requests per address (flood protection). */
  rateLimits: { authPerMinute: number; authIpPerMinute: number; authHashIpPerMinute: number; apiPerMinute: number };
  /**
   * `MAIL_TRANSPORT`: SMTP (the default when `SMTP_URL` is set), Amazon SES
   * (`ses`: `from` must be a verified SES identity; `region` from
   * `SES_REGION` or the SDK's default), or the file outbox under the data
   * dir (the default otherwise).
   */
  mail: ({ kind: 'outbox'; dir: string } | { kind: 'smtp'; url: string; timeoutMs: number } | { kind: 'ses'; region: string | undefined; timeoutMs: number }) & { from: string; linkBaseUrl: string | undefined };
  trustProxy: boolean;
  masteryThreshold: number;
  oidc:
    | {
        issuer: string;
        audience: string;
        jwksUrl: string | undefined;
        roleClaim: string;
        roleMap: Record<string, 'guardian' | 'teacher' | 'admin'>;
        appClaim: string;
        defaultApp: string | undefined;
      }
    | undefined;
  /**
   * Which embedder turns curriculum text into vectors (see
   * adapters/embeddings): `local` word vectors (default, offline; cache of
   * the prepared vectors under the data dir), an OpenAI-compatible server,
   * or Bedrock Titan v2.
   */
  embeddings:
    | { provider: 'local'; cacheDir: string }
    | { provider: 'openai'; url: string; model: string; apiKey: string | undefined; dimensions: number | undefined; timeoutMs: number }
    | { provider: 'bedrock'; region: string | undefined; model: string; dimensions: 256 | 512 | 1024; timeoutMs: number };
  /**
   * Which language model writes practice items (see adapters/llm):
   * `offline` (default: the curriculum's own templates, no model), an
   * OpenAI-compatible chat server, or Bedrock's Converse API. Every call has
   * `timeoutMs` and at most `retries` retries; `dailyTokenBudget` tokens per
   * app per UTC day (0: no model calls at all), beyond which generation
   * falls back to `offline`.
   */
  llm: { timeoutMs: number; retries: number; dailyTokenBudget: number } & (
    | { provider: 'offline' }
    | { provider: 'openai'; url: string; model: string; apiKey: string | undefined }
    | { provider: 'bedrock'; region: string | undefined; model: string }
  );
}

/**
 * How the server's connections sign in (`DATABASE_AUTH`): the password in
 * `DATABASE_URL` (default), or an RDS IAM auth token (`iam`: RDS Proxy with
 * IAM authentication) signed for the URL's user, host and port in `region`
 * (`DATABASE_IAM_REGION`, else `AWS_REGION`), fresh for new connections
 * (adapters/db/connection.ts).
 */
export type DatabaseAuth = { kind: 'password' } | { kind: 'iam'; region: string };

/** Raised for an invalid environment; its message is the one line we print. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses and validates configuration. Pure apart from reading `.env` when
 * `envFile` exists (values already in `env` win, as with dotenv).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { envFile?: string | null } = {}): Config {
  const merged: Record<string, string | undefined> = { ...readEnvFile(options.envFile === undefined ? '.env' : options.envFile), ...env };
  const parsed = EnvSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    // A value that may carry a password (SMTP_URL's user:pass) is never echoed.
    const got = SECRET_VARIABLES.has(name) ? undefined : merged[name];
    throw new ConfigError(`Invalid ${name}${got === undefined ? '' : `="${got}"`}: expected ${describeIssue(issue)}`);
  }
  const e = parsed.data;
  if (e.JWT_PREVIOUS_PUBLIC_KEYS) {
    try {
      parsePublicJwkList(e.JWT_PREVIOUS_PUBLIC_KEYS);
    } catch (error) {
      throw new ConfigError(`Invalid JWT_PREVIOUS_PUBLIC_KEYS: expected a JSON array of public JWKs (${error instanceof Error ? error.message : 'unreadable'})`, { cause: error });
    }
  }
  const { url: databaseUrl, auth: databaseAuth } = databaseConnection(e);
  if (e.DATABASE_SECRET_ARN && !databaseUrl) {
    // The AWS entry points turn the secret into DATABASE_URL before this runs (adapters/aws/database-secret.ts).
    throw new ConfigError('Invalid DATABASE_SECRET_ARN: expected it to be resolved into DATABASE_URL by the entry point (resolveSecrets, adapters/aws/secrets.ts) before the configuration is loaded');
  }
  if (e.JWT_PRIVATE_KEY_SECRET_ARN && !e.JWT_PRIVATE_KEY) {
    throw new ConfigError('Invalid JWT_PRIVATE_KEY_SECRET_ARN: expected it to be resolved into JWT_PRIVATE_KEY by the entry point (resolveSecrets) before the configuration is loaded');
  }
  if (e.REDIS_PASSWORD_SECRET_ARN && !(e.REDIS_URL && new URL(e.REDIS_URL).password)) {
    throw new ConfigError('Invalid REDIS_PASSWORD_SECRET_ARN: expected it to be resolved into the password of REDIS_URL by the entry point (resolveSecrets) before the configuration is loaded');
  }
  if (e.OIDC_ISSUER && !e.OIDC_AUDIENCE) throw new ConfigError('Invalid OIDC_AUDIENCE: expected the client id (audience) tokens of OIDC_ISSUER are issued for');
  if (e.LAKE_MODE === 'separate' && !databaseUrl) {
    throw new ConfigError('Invalid LAKE_MODE="separate": expected inline without DATABASE_URL (the embedded database allows one process, so `npm start` must run the lake writer itself)');
  }
  if ((e.LAKE_S3_PREFIX || e.LAKE_S3_ENDPOINT || e.LAKE_S3_REGION) && !e.LAKE_S3_BUCKET) {
    throw new ConfigError('Invalid LAKE_S3_BUCKET: expected a bucket name when LAKE_S3_PREFIX, LAKE_S3_ENDPOINT or LAKE_S3_REGION is set');
  }
  if (e.ENGINE_MODE === 'separate' && !databaseUrl) {
    throw new ConfigError('Invalid ENGINE_MODE="separate": expected inline without DATABASE_URL (the embedded database allows one process, so `npm start` must run the engine itself)');
  }
  if (e.JOB_QUEUE === 'sqs' && !e.JOBS_QUEUE_URL) throw new ConfigError('Invalid JOBS_QUEUE_URL: expected the SQS FIFO queue URL (…/name.fifo) when JOB_QUEUE=sqs');
  if (e.JOB_QUEUE === 'sqs' && !e.JOBS_QUEUE_URL!.endsWith('.fifo')) throw new ConfigError(`Invalid JOBS_QUEUE_URL="${e.JOBS_QUEUE_URL}": expected a FIFO queue (its name ends in .fifo): jobs of one child must not run at once`);
  if (e.EVENT_QUEUE === 'sqs' && !e.EVENTS_QUEUE_URL) throw new ConfigError('Invalid EVENTS_QUEUE_URL: expected the SQS queue URL when EVENT_QUEUE=sqs');
  const dataDir = path.resolve(e.KIDSLEARN_DATA_DIR);
  const embeddings = embeddingsConfig(e, dataDir);
  const llm = llmConfig(e);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    database: databaseUrl
      ? {
          kind: 'postgres',
          url: databaseUrl,
          auth: databaseAuth,
          poolSize: e.DATABASE_POOL_SIZE,
          connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
          statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
        }
      : { kind: 'pglite', dataDir: path.join(dataDir, 'pglite'), sharedBuffersMb: e.PGLITE_SHARED_BUFFERS_MB },
    statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    cache: e.REDIS_URL
      ? { kind: 'redis', url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, timeoutMs: e.CACHE_TIMEOUT_MS }
      : { kind: 'memory', maxEntries: e.CACHE_MAX_ENTRIES },
    logLevel: e.LOG_LEVEL,
    metrics: { emf: e.METRICS_EMF },
    corsOrigins: e.CORS_ORIGINS,
    jwt: { issuer: e.JWT_ISSUER, privateKeyJwk: e.JWT_PRIVATE_KEY, previousPublicJwks: e.JWT_PREVIOUS_PUBLIC_KEYS, keySecretArn: e.JWT_PRIVATE_KEY_SECRET_ARN },
    seedDemoApps: e.SEED_DEMO_APPS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    engine: { mode: e.ENGINE_MODE ?? (databaseUrl ? 'separate' : 'inline'), port: e.ENGINE_PORT, concurrency: e.ENGINE_CONCURRENCY, pollSeconds: e.ENGINE_POLL_SECONDS, queueTimeoutMs: e.JOB_QUEUE_TIMEOUT_MS },
    jobs: e.JOB_QUEUE === 'sqs' ? { kind: 'sqs', url: e.JOBS_QUEUE_URL!, region: regionOfSqsUrl(e.JOBS_QUEUE_URL!) } : { kind: 'pg-boss' },
    events: e.EVENT_QUEUE === 'sqs' ? { kind: 'sqs', url: e.EVENTS_QUEUE_URL!, region: regionOfSqsUrl(e.EVENTS_QUEUE_URL!), timeoutMs: e.EVENT_QUEUE_TIMEOUT_MS } : e.EVENT_QUEUE === 'packed' ? { kind: 'packed' } : { kind: 'database' },
    lake: {
      enabled: e.LAKE_ENABLED,
      mode: e.LAKE_MODE ?? (databaseUrl ? 'separate' : 'inline'),
      port: e.LAKE_PORT,
      flushSeconds: e.LAKE_FLUSH_SECONDS,
      flushEvents: e.LAKE_FLUSH_EVENTS,
      maxBacklog: e.LAKE_MAX_BACKLOG,
      maxAttempts: e.LAKE_MAX_ATTEMPTS,
      dedupDays: e.LAKE_DEDUP_DAYS,
      store: e.LAKE_S3_BUCKET
        ? { kind: 's3', bucket: e.LAKE_S3_BUCKET, prefix: e.LAKE_S3_PREFIX ?? '', region: e.LAKE_S3_REGION ?? e.BEDROCK_REGION ?? 'us-east-1', endpoint: e.LAKE_S3_ENDPOINT }
        : { kind: 'directory', dir: e.LAKE_DIR ? path.resolve(e.LAKE_DIR) : path.join(dataDir, 'lake') },
      timeoutMs: e.LAKE_TIMEOUT_MS,
      reportCacheSeconds: e.LAKE_REPORT_CACHE_SECONDS,
      alertWebhookUrl: e.ALERT_WEBHOOK_URL,
    },
    version: packageVersion(),
    auth: {
      accessTtlSeconds: e.ACCESS_TOKEN_TTL,
      refreshTtlSeconds: e.REFRESH_TOKEN_TTL,
      scrypt: { logN: e.PASSWORD_SCRYPT_LOG_N, r: 8, p: e.PASSWORD_SCRYPT_P },
    },
    rateLimits: { authPerMinute: e.RATE_LIMIT_AUTH_PER_MINUTE, authIpPerMinute: e.RATE_LIMIT_AUTH_IP_PER_MINUTE, authHashIpPerMinute: e.RATE_LIMIT_AUTH_HASH_IP_PER_MINUTE, apiPerMinute: e.RATE_LIMIT_API_PER_MINUTE },
    mail: {
      ...mailTransport(e, dataDir),
      from: e.MAIL_FROM,
      linkBaseUrl: e.MAIL_LINK_BASE_URL,
    },
    trustProxy: e.TRUST_PROXY,
    masteryThreshold: e.MASTERY_THRESHOLD,
    oidc: e.OIDC_ISSUER
      ? {
          issuer: e.OIDC_ISSUER,
          audience: e.OIDC_AUDIENCE!,
          jwksUrl: e.OIDC_JWKS_URL,
          roleClaim: e.OIDC_ROLE_CLAIM,
          roleMap: parseRoleMap(e.OIDC_ROLE_MAP)!,
          appClaim: e.OIDC_APP_CLAIM,
          defaultApp: e.OIDC_DEFAULT_APP,
        }
      : undefined,
    embeddings,
    llm,
  };
}

/**
 * The server's URL and how it signs in. With `DATABASE_AUTH=iam` the URL
 * carries no password: it is `DATABASE_URL`, or built from `DATABASE_HOST`,
 * `DATABASE_PORT`, `DATABASE_NAME` (default `postgres`) with TLS verified
 * (`sslmode=verify-full`, as RDS Proxy requires for IAM); `DATABASE_USER`
 * names the user the token is signed for (else the URL's user).
 */
function databaseConnection(e: z.infer<typeof EnvSchema>): { url: string | undefined; auth: DatabaseAuth } {
  if (e.DATABASE_AUTH === 'password') return { url: e.DATABASE_URL, auth: { kind: 'password' } };
  if (e.DATABASE_SECRET_ARN) throw new ConfigError('Invalid DATABASE_SECRET_ARN: expected none with DATABASE_AUTH=iam (connections sign in with an IAM auth token, not the secret\'s password)');
  const region = e.DATABASE_IAM_REGION ?? e.AWS_REGION;
  if (!region) throw new ConfigError('Invalid DATABASE_IAM_REGION: expected the AWS region of the RDS Proxy (or AWS_REGION) when DATABASE_AUTH=iam');
  let url: URL;
  if (e.DATABASE_URL) {
    url = new URL(e.DATABASE_URL);
    if (url.password) throw new ConfigError('Invalid DATABASE_URL: expected no password when DATABASE_AUTH=iam (the password is an IAM auth token, signed per connection)');
  } else {
    if (!e.DATABASE_HOST) throw new ConfigError('Invalid DATABASE_HOST: expected the RDS Proxy endpoint (or DATABASE_URL without a password) when DATABASE_AUTH=iam');
    url = new URL('postgresql://placeholder');
    url.hostname = e.DATABASE_HOST;
    url.port = String(e.DATABASE_PORT);
    url.pathname = `/${encodeURIComponent(e.DATABASE_NAME ?? 'postgres')}`;
    url.searchParams.set('sslmode', 'verify-full');
  }
  if (e.DATABASE_USER) url.username = encodeURIComponent(e.DATABASE_USER);
  if (!url.username) throw new ConfigError('Invalid DATABASE_USER: expected the database user IAM auth tokens are signed for when DATABASE_AUTH=iam');
  return { url: url.toString(), auth: { kind: 'iam', region } };
}

/** The mail transport: `MAIL_TRANSPORT`, else SMTP when `SMTP_URL` is set, else the outbox. */
function mailTransport(e: z.infer<typeof EnvSchema>, dataDir: string): { kind: 'outbox'; dir: string } | { kind: 'smtp'; url: string; timeoutMs: number } | { kind: 'ses'; region: string | undefined; timeoutMs: number } {
  const transport = e.MAIL_TRANSPORT ?? (e.SMTP_URL ? 'smtp' : 'outbox');
  switch (transport) {
    case 'smtp':
      if (!e.SMTP_URL) throw new ConfigError('Invalid SMTP_URL: expected the SMTP server (smtp:// or smtps://) when MAIL_TRANSPORT=smtp');
      return { kind: 'smtp', url: e.SMTP_URL, timeoutMs: e.MAIL_TIMEOUT_MS };
    case 'ses':
      if (/@localhost>?$/.test(e.MAIL_FROM)) throw new ConfigError(`Invalid MAIL_FROM="${e.MAIL_FROM}": expected an address verified in SES (e.g. kidslearn <no-reply@example.org>) when MAIL_TRANSPORT=ses`);
      return { kind: 'ses', region: e.SES_REGION, timeoutMs: e.MAIL_TIMEOUT_MS };
    case 'outbox':
      return { kind: 'outbox', dir: path.join(dataDir, 'outbox') };
  }
}

/** The LLM section: an `openai` provider needs a URL and a model. */
function llmConfig(e: z.infer<typeof EnvSchema>): Config['llm'] {
  const common = { timeoutMs: e.LLM_TIMEOUT_MS, retries: e.LLM_RETRIES, dailyTokenBudget: e.LLM_DAILY_TOKEN_BUDGET };
  switch (e.LLM_PROVIDER) {
    case 'offline':
      return { ...common, provider: 'offline' };
    case 'openai':
      if (!e.LLM_URL) throw new ConfigError('Invalid LLM_URL: expected the base URL of an OpenAI-compatible chat server (e.g. http://127.0.0.1:11434 for Ollama) when LLM_PROVIDER=openai');
      if (!e.LLM_MODEL) throw new ConfigError('Invalid LLM_MODEL: expected the chat model name (e.g. llama3.1:8b or gpt-4o-mini) when LLM_PROVIDER=openai');
      return { ...common, provider: 'openai', url: e.LLM_URL, model: e.LLM_MODEL, apiKey: e.LLM_API_KEY };
    case 'bedrock':
      return { ...common, provider: 'bedrock', region: e.BEDROCK_REGION, model: e.LLM_BEDROCK_MODEL };
  }
}

/** The embeddings section: checks what each provider needs (a URL and model for `openai`, a Titan v2 size for `bedrock`). */
function embeddingsConfig(e: z.infer<typeof EnvSchema>, dataDir: string): Config['embeddings'] {
  switch (e.EMBEDDINGS_PROVIDER) {
    case 'local':
      return { provider: 'local', cacheDir: path.join(dataDir, 'cache', 'embeddings') };
    case 'openai':
      if (!e.EMBEDDINGS_URL) throw new ConfigError('Invalid EMBEDDINGS_URL: expected the base URL of an OpenAI-compatible server (e.g. http://127.0.0.1:11434 for Ollama) when EMBEDDINGS_PROVIDER=openai');
      if (!e.EMBEDDINGS_MODEL) throw new ConfigError('Invalid EMBEDDINGS_MODEL: expected the embedding model name (e.g. nomic-embed-text) when EMBEDDINGS_PROVIDER=openai');
      return { provider: 'openai', url: e.EMBEDDINGS_URL, model: e.EMBEDDINGS_MODEL, apiKey: e.EMBEDDINGS_API_KEY, dimensions: e.EMBEDDINGS_DIMENSIONS, timeoutMs: e.EMBEDDINGS_TIMEOUT_MS };
    case 'bedrock': {
      const dimensions = e.EMBEDDINGS_DIMENSIONS ?? 1024;
      if (dimensions !== 256 && dimensions !== 512 && dimensions !== 1024) throw new ConfigError(`Invalid EMBEDDINGS_DIMENSIONS="${dimensions}": expected 256, 512 or 1024 (Titan Text Embeddings v2) when EMBEDDINGS_PROVIDER=bedrock`);
      return { provider: 'bedrock', region: e.BEDROCK_REGION, model: e.EMBEDDINGS_BEDROCK_MODEL, dimensions, timeoutMs: e.EMBEDDINGS_TIMEOUT_MS };
    }
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return `a number >= ${String(issue.minimum)}`;
    case 'too_big':
      return `a number <= ${String(issue.maximum)}`;
    case 'invalid_type':
      return issue.expected === 'number' ? 'an integer' : `a ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}

function readEnvFile(file: string | null): Record<string, string> {
  if (!file || !existsSync(file)) return {};
  // Parse into a copy rather than process.loadEnvFile (which mutates
  // process.env) so precedence stays explicit and tests stay isolated.
  return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
