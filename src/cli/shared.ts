/**
 * What every `kidslearn` command shares: exit codes, the error type that
 * carries one, the I/O a command may use (replaceable in tests), the lazily
 * loaded config, a container opened for one command, and option parsers that
 * turn a bad value into a usage error.
 */
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { InvalidArgumentError } from 'commander';
import type { Config } from '../config/config.ts';
import { APP_ID_PATTERN, isValidAppId } from '../domain/tenancy.ts';
import { createLogger } from '../observability/logger.ts';
import { createContainer, type Container } from '../wiring/container.ts';

/** The process exit codes of `kidslearn`. */
export const ExitCode = {
  ok: 0,
  /** The command was understood but failed (unknown app, bad file, database down, ...). */
  failure: 1,
  /** The command line was wrong: unknown command or option, missing or extra argument, bad option value. */
  usage: 2,
  /** Ctrl-C at a prompt. */
  cancelled: 130,
} as const;

/** Fails a command with a message (printed as `kidslearn: <message>`) and an exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.failure, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A run-time failure (exit 1), keeping `cause`. */
export function failure(message: string, cause?: unknown): CliError {
  return new CliError(message, ExitCode.failure, cause === undefined ? undefined : { cause });
}

/** A wrong command line (exit 2). */
export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.usage);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a command may read or write besides its stdout text; tests replace parts of it. */
export interface CliIo {
  /** The password for `users create`. */
  readPassword(): Promise<string>;
  /** Where progress bars go; they are drawn only when it is a TTY. */
  progressStream: NodeJS.WritableStream & { isTTY?: boolean };
}

export const defaultIo: CliIo = { readPassword, progressStream: process.stderr };

/** Handed to every command module's `register`. */
export interface CliContext {
  /** The configuration, loaded on first use (so `--help` works without a valid environment). */
  config(): Config;
  io: CliIo;
  /** Adds text (one or more lines) to what the command prints on stdout. */
  print(text: string): void;
}

/** Opens the container (database, cache, ...) for one command and always closes it. */
export async function withContainer<T>(ctx: CliContext, fn: (c: Container) => Promise<T>, overrides: { skipMigrations?: boolean } = {}): Promise<T> {
  // No background index refreshes: this process ends with the command (`engine reindex` indexes content written here).
  const container = await createContainer(ctx.config(), { ...overrides, autoIndex: false, logger: createLogger({ level: 'warn', destination: process.stderr }) });
  try {
    return await fn(container);
  } finally {
    await container.close();
  }
}

// ---- option and argument parsers: a bad value is a usage error (exit 2) naming the option ----

/** An app id (`apps create <id>`, `--app <id>`). */
export function parseAppId(value: string): string {
  if (!isValidAppId(value)) throw new InvalidArgumentError(`an app id must match ${APP_ID_PATTERN.source} (a lowercase letter, then 1 to 30 lowercase letters, digits or _).`);
  return value;
}

/** A whole number of at least 1. */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more.');
  return n;
}

/** `true` or `false`. */
export function parseBoolean(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError('expected true or false.');
}

// ---- the password prompt ----

/**
 * The password for `users create`: all of stdin (minus one trailing newline)
 * when it is piped, otherwise prompted for twice on the terminal without echo.
 */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Repeat password: ');
  if (first !== second) throw failure('the two passwords do not match');
  return first;
}

/** Reads one line from the terminal without echoing it (the prompt goes to stderr). */
async function promptHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  const cancel = new AbortController();
  rl.on('SIGINT', () => cancel.abort());
  try {
    return await rl.question('', { signal: cancel.signal });
  } catch (error) {
    throw new CliError('cancelled', ExitCode.cancelled, { cause: error });
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
