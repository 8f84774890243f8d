import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { AppError } from '../../domain/errors.ts';
import type { AppEnv } from '../context.ts';

/** Largest request body we accept. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The methods that carry a request body; {@link bodyRules} is mounted for these only. */
export const BODY_METHODS = ['POST', 'PUT', 'PATCH'];

/** Routes that take whole content packs: a curriculum of a few hundred lessons is a few MiB of JSON. */
export const LARGE_BODY_BYTES = 16 * 1024 * 1024;
const LARGE_BODY_PATHS = new Set(['/admin/content/import']);

const limitTo = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new AppError('too_large', 'payload_too_large', `Request body exceeds ${maxSize} bytes`);
    },
  });
const limit = limitTo(MAX_BODY_BYTES);
const largeLimit = limitTo(LARGE_BODY_BYTES);

/**
 * 415 `unsupported_media_type` when a request carries a body that is not
 * JSON; 413 `payload_too_large` for bodies over 1 MiB (16 MiB for content
 * pack imports; checked while streaming, not only by Content-Length).
 * Mounted for {@link BODY_METHODS} only, so reads never pay for it.
 */
export const bodyRules = createMiddleware<AppEnv>(async (c, next) => {
  const length = c.req.header('content-length');
  const hasBody = length !== undefined ? length !== '0' : c.req.raw.body !== null;
  const type = c.req.header('content-type') ?? '';
  if (hasBody && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new AppError('unsupported_media_type', 'unsupported_media_type', 'Request body must be application/json');
  }
  // Large bodies are limited by {@link largeBodyLimit}, mounted after authentication: an
  // anonymous caller must not make the server buffer 16 MiB before being turned away.
  if (LARGE_BODY_PATHS.has(c.req.path)) return next();
  return limit(c, next);
});

/** The 16 MiB limit of content-pack imports; mount it after the admin check of their path. */
export const largeBodyLimit = createMiddleware<AppEnv>(async (c, next) => largeLimit(c, next));
/** The paths {@link largeBodyLimit} must be mounted on. */
export const LARGE_BODY_ROUTES = [...LARGE_BODY_PATHS];
