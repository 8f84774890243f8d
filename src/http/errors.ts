import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from '@hono/zod-openapi';
import { AppError, type ErrorKind } from '../domain/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { AppEnv } from './context.ts';

/**
 * The one map from errors to HTTP. Every failure leaves the server as
 * `{"error":{"code","message","details?","requestId"}}`; unexpected errors
 * become a bare 500 and their detail goes to the log only.
 */
export const STATUS_BY_KIND: Record<ErrorKind, ContentfulStatusCode> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

/** The error body, as a schema for the OpenAPI document. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'lesson_not_found' }),
      message: z.string(),
      details: z.unknown().optional(),
      requestId: z.string(),
    }),
  })
  .openapi('Error');

/** Converts anything thrown into an AppError; unknown errors become `internal_error`. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof HTTPException) {
    // Hono raises these for a body it cannot parse as JSON, among others.
    if (error.status === 400) return new AppError('invalid', 'malformed_json', 'Request body is not valid JSON');
    if (error.status === 413) return new AppError('too_large', 'payload_too_large', 'Request body exceeds 1 MiB');
    if (error.status === 415) return new AppError('unsupported_media_type', 'unsupported_media_type', 'Request body must be application/json');
    if (error.status === 401) return new AppError('unauthenticated', 'invalid_token', 'Authentication failed');
  }
  return new AppError('internal', 'internal_error', 'Something went wrong on our side. Quote the request id if you report it.', { cause: error });
}

/** Builds the JSON error response for `error`, logging unexpected ones with the request id. */
export function errorResponse(c: Context<AppEnv>, error: unknown, logger: Logger): Response {
  const appError = toAppError(error);
  const status = STATUS_BY_KIND[appError.kind];
  const requestId = c.get('requestId') ?? 'unknown';
  if (status >= 500) {
    logger.error({ err: appError.kind === 'internal' ? (appError.cause ?? appError) : appError, requestId, code: appError.code }, 'request failed');
  }
  const body: { code: string; message: string; details?: unknown; requestId: string } = {
    code: appError.code,
    message: appError.message,
    requestId,
  };
  if (appError.details !== undefined && status < 500) body.details = appError.details;
  if (appError.kind === 'rate_limited' || appError.kind === 'unavailable') {
    const retry = (appError.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    if (retry) c.header('Retry-After', String(retry));
  }
  return c.json({ error: body }, status);
}

/** OpenAPI response entries for the given error statuses. */
export function errorResponses(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: 'Invalid input; `details` names the offending fields',
    401: 'Missing, malformed, expired or wrongly signed token',
    403: 'The caller may not use this function',
    404: 'Not found (or not visible to the caller)',
    409: 'Conflicts with existing data',
    413: 'Body larger than 1 MiB',
    415: 'Body is not application/json',
    429: 'Too many requests; `Retry-After` says how many seconds to wait',
    503: 'A dependency did not answer in time',
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: descriptions[s] ?? 'Error', content: { 'application/json': { schema: ErrorBody } } }]),
  );
}
