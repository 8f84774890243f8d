import type pg from 'pg';
import { parse } from 'pg-connection-string';
import { databaseUnavailable, withTimeout } from './database.ts';

/**
 * How the server's connections authenticate (`DATABASE_AUTH`, config/config.ts):
 * with the password in `DATABASE_URL` (`password`, the default), or with an
 * RDS IAM auth token signed for the URL's user, host and port in `region`
 * (`iam`: RDS Proxy with IAM authentication; no password anywhere).
 */
export type PostgresAuth =
  | { kind: 'password' }
  | {
      kind: 'iam';
      region: string;
      /** Replaces `@aws-sdk/rds-signer` (tests: a stand-in that returns a test role's password). */
      createSigner?: RdsTokenProviderOptions['createSigner'];
    };

/** The settings every connection of the server is opened from (a `Config['database']` of kind `postgres`). */
export interface PostgresConnectionSettings {
  url: string;
  /** Default `password`. */
  auth?: PostgresAuth | undefined;
  /** Also bounds signing a token (credentials may have to be fetched first). */
  connectTimeoutMs: number;
}

/** An RDS auth token is valid for 15 minutes from its signing. */
export const RDS_TOKEN_LIFETIME_MS = 15 * 60_000;
/** A cached token is replaced once it is this old: a connection opened with it has 5 minutes to spare. */
export const RDS_TOKEN_RENEW_AFTER_MS = 10 * 60_000;

/** The part of `@aws-sdk/rds-signer`'s `Signer` used here (tests pass a stand-in). */
export interface RdsSigner {
  getAuthToken(): Promise<string>;
}

/** Options of {@link rdsTokenProvider}. */
export interface RdsTokenProviderOptions {
  hostname: string;
  port: number;
  username: string;
  region: string;
  /** Bound on loading the signer and signing one token (credentials included). */
  timeoutMs: number;
  /** Makes the signer; default: `@aws-sdk/rds-signer`, imported on the first call (never at import). */
  createSigner?: (o: { hostname: string; port: number; username: string; region: string }) => Promise<RdsSigner>;
  /** Clock (tests). */
  now?: () => number;
  /** Default {@link RDS_TOKEN_RENEW_AFTER_MS}. */
  renewAfterMs?: number;
}

/** The AWS SDK's signer, loaded on first use: processes that sign in with a password never load it. */
async function sdkSigner(o: { hostname: string; port: number; username: string; region: string }): Promise<RdsSigner> {
  const { Signer } = await import('@aws-sdk/rds-signer');
  return new Signer(o);
}

/**
 * A `password` function for `pg` (called for every new connection) that
 * answers with an RDS IAM auth token. One token is shared by the
 * connections opened within {@link RDS_TOKEN_RENEW_AFTER_MS} of its signing
 * (signing is local, but the credentials behind it may need a call to the
 * container's credential endpoint); concurrent callers share one signing;
 * a failed or slow signing (beyond `timeoutMs`) rejects with 503
 * `database_unavailable` and is not cached, so the next connection tries again.
 */
export function rdsTokenProvider(options: RdsTokenProviderOptions): () => Promise<string> {
  const now = options.now ?? Date.now;
  const renewAfter = options.renewAfterMs ?? RDS_TOKEN_RENEW_AFTER_MS;
  const createSigner = options.createSigner ?? sdkSigner;
  const target = { hostname: options.hostname, port: options.port, username: options.username, region: options.region };
  let signer: Promise<RdsSigner> | undefined;
  let cached: { token: string; signedAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const sign = async (): Promise<string> => {
    const signedAt = now();
    signer ??= createSigner(target);
    // A signer that failed to load is not kept: the next connection loads it again.
    signer.catch(() => (signer = undefined));
    const token = await (await signer).getAuthToken();
    cached = { token, signedAt };
    return token;
  };
  return () => {
    if (cached && now() - cached.signedAt < renewAfter) return Promise.resolve(cached.token);
    pending ??= withTimeout(sign(), options.timeoutMs, () =>
      databaseUnavailable(`No RDS IAM auth token for ${options.username}@${options.hostname} within ${options.timeoutMs} ms`),
    )
      .catch((error: unknown) => {
        throw (error as { kind?: unknown }).kind === undefined ? databaseUnavailable(`Could not sign an RDS IAM auth token for ${options.username}@${options.hostname}`, error) : error;
      })
      .finally(() => (pending = undefined));
    return pending;
  };
}

/** One token provider per user, host, port and region: the pool, pg-boss, the LISTEN and lock connections share it (a stand-in signer gets a provider of its own). */
const providers = new Map<string, () => Promise<string>>();

/**
 * The `pg` connection options of `settings`: the connection string as is
 * with password authentication; with IAM, its parts (host, port, user,
 * database, TLS) and a `password` function returning a token (`pg` would let
 * the connection string's empty password win over the function).
 */
export function pgConnectionOptions(settings: PostgresConnectionSettings): pg.ClientConfig {
  if (settings.auth === undefined || settings.auth.kind === 'password') return { connectionString: settings.url };
  const { password: _ignored, ...parts } = parse(settings.url);
  const url = new URL(settings.url);
  const hostname = url.hostname;
  const port = Number(url.port || 5432);
  const username = decodeURIComponent(url.username);
  const { region, createSigner } = settings.auth;
  const key = JSON.stringify([username, hostname, port, region]);
  let password = createSigner ? undefined : providers.get(key);
  if (!password) {
    password = rdsTokenProvider({ hostname, port, username, region, timeoutMs: settings.connectTimeoutMs, ...(createSigner ? { createSigner } : {}) });
    if (!createSigner) providers.set(key, password);
  }
  return { ...(parts as pg.ClientConfig), password };
}
