/**
 * Domain errors carry a kind (what went wrong, in HTTP-free terms) and a stable
 * machine-readable code. Only `src/http/errors.ts` turns a kind into a status.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** An expected failure with a code clients can branch on. */
export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly details: unknown;

  constructor(kind: ErrorKind, code: string, message: string, options?: { details?: unknown; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.kind = kind;
    this.code = code;
    this.details = options?.details;
  }
}

/**
 * The lake's blob store (directory or S3) cannot serve now: unreachable, a
 * call past its timeout, a full disk or refused write. 503; the lake writer
 * retries its batch later, nothing acknowledged is lost.
 */
export function blobStoreUnavailable(message: string, cause?: unknown): AppError {
  return new AppError('unavailable', 'blob_store_unavailable', message, { details: { retryAfterSeconds: 5 }, cause });
}

/** Shorthand for the common "this thing does not exist (for you)" failure. */
export function notFound(code: string, message: string): AppError {
  return new AppError('not_found', code, message);
}

/** Shorthand for invalid input that names what is wrong. */
export function invalid(code: string, message: string, details?: unknown): AppError {
  return new AppError('invalid', code, message, { details });
}

/**
 * A valid token whose subject has no account row in the app (for example one
 * minted with `kidslearn token` without `--sub`). Creating children or
 * classrooms needs a real account: each must belong to someone who can be
 * reached, sign in, export and erase, so the service refuses instead of
 * inventing one.
 */
export function accountRequired(): AppError {
  return new AppError(
    'forbidden',
    'account_required',
    'This needs an account in this app, and the token’s subject has none. Sign in with an account (tokens from `kidslearn token` need `--sub <account id>`).',
  );
}

/** Is `error` PostgreSQL's foreign-key violation (SQLSTATE 23503), as both database adapters raise it? */
export function isForeignKeyViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23503';
}

/**
 * 503 `lake_backlog_full`: the analytics outbox holds more unexported events
 * than `LAKE_MAX_BACKLOG` (the lake writer is behind or down). Only event
 * ingest is refused; the client keeps its events and retries after
 * `retryAfterSeconds` (sent as `Retry-After`).
 */
export function lakeBacklogFull(backlog: number, maxBacklog: number, retryAfterSeconds: number): AppError {
  return new AppError('unavailable', 'lake_backlog_full', `Analytics events are not being accepted right now (${backlog} waiting for export, limit ${maxBacklog}); keep them and retry in ${retryAfterSeconds} s`, {
    details: { retryAfterSeconds },
  });
}
