import { serve, type ServerType } from '@hono/node-server';
import { SecretError, resolveSecrets } from '../adapters/aws/secrets.ts';
import { ConfigError, loadConfig, type Config } from '../config/config.ts';

/**
 * Reads and validates the configuration, or prints its one-line error and
 * exits 1. With `DATABASE_SECRET_ARN` or `JWT_PRIVATE_KEY_SECRET_ARN` (AWS Fargate) the database URL or signing key is
 * read from Secrets Manager first, once at start.
 */
export async function loadConfigOrExit(): Promise<Config> {
  try {
    return loadConfig(await resolveSecrets(process.env));
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SecretError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

/** Starts an HTTP server and resolves with it and its port once it listens. */
export async function listen(fetch: (request: Request) => Response | Promise<Response>, port: number, hostname: string): Promise<{ server: ServerType; port: number }> {
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch, port, hostname }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : port };
}

/**
 * Closes an HTTP server: stops accepting, lets in-flight requests finish,
 * and closes what is still open after `timeoutMs`.
 */
export async function closeServer(server: ServerType, timeoutMs: number, onForced?: () => void): Promise<void> {
  const forced = setTimeout(() => {
    onForced?.();
    if ('closeAllConnections' in server) server.closeAllConnections();
  }, timeoutMs);
  forced.unref();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
  clearTimeout(forced);
}

/** Runs `stop` once on the first SIGTERM or SIGINT. */
export function onStopSignal(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    void stop(signal);
  };
  process.on('SIGTERM', () => handle('SIGTERM'));
  process.on('SIGINT', () => handle('SIGINT'));
}

/** The last words of a runtime that could not start. */
export function exitOnStartFailure(what: string): (error: unknown) => never {
  return (error) => {
    console.error(`${what} failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  };
}
