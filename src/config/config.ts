import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import path from 'node:path';
import { z } from 'zod';

/**
 * Configuration, read once at start from the environment (and an optional
 * `.env` file) and validated here. Nothing else in the code reads
 * `process.env`; everything receives a `Config`.
 */

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

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const EnvSchema = z.object({
  PORT: intFrom(3000, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  KIDSLEARN_DATA_DIR: z.string().min(1).default('./data'),
  PGLITE_SHARED_BUFFERS_MB: intFrom(32, 1, 4096),
  DATABASE_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['postgres:', 'postgresql:']).optional()),
  DATABASE_POOL_SIZE: intFrom(10, 1, 200),
  DATABASE_CONNECT_TIMEOUT_MS: intFrom(5000, 100, 120000),
  DATABASE_STATEMENT_TIMEOUT_MS: intFrom(10000, 100, 600000),
  REDIS_URL: z.preprocess(emptyToUndefined, urlWithProtocol(['redis:', 'rediss:']).optional()),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{0,64}$/).default('kidslearn:'),
  CACHE_TIMEOUT_MS: intFrom(500, 10, 10000),
  CACHE_MAX_ENTRIES: intFrom(10000, 100, 10_000_000),
  LOG_LEVEL: LogLevel.default('info'),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.union([z.literal('*'), urlWithProtocol(['http:', 'https:'])]))),
  JWT_PRIVATE_KEY: z.preprocess(emptyToUndefined, z.string().optional()),
  JWT_ISSUER: z.string().min(1).default('kidslearn'),
  SEED_DEMO_APPS: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  SHUTDOWN_TIMEOUT_MS: intFrom(10000, 0, 120000),
});

/** The validated configuration every module receives. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  database:
    | { kind: 'pglite'; dataDir: string; sharedBuffersMb: number }
    | { kind: 'postgres'; url: string; poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number };
  statementTimeoutMs: number;
  cache:
    | { kind: 'memory'; maxEntries: number }
    | { kind: 'redis'; url: string; keyPrefix: string; timeoutMs: number };
  logLevel: z.infer<typeof LogLevel>;
  corsOrigins: string[];
  jwt: { issuer: string; privateKeyJwk: string | undefined };
  seedDemoApps: boolean;
  shutdownTimeoutMs: number;
  version: string;
}

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
    const got = merged[name];
    throw new ConfigError(`Invalid ${name}${got === undefined ? '' : `="${got}"`}: expected ${describeIssue(issue)}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.KIDSLEARN_DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    database: e.DATABASE_URL
      ? {
          kind: 'postgres',
          url: e.DATABASE_URL,
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
    corsOrigins: e.CORS_ORIGINS,
    jwt: { issuer: e.JWT_ISSUER, privateKeyJwk: e.JWT_PRIVATE_KEY },
    seedDemoApps: e.SEED_DEMO_APPS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    version: packageVersion(),
  };
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
