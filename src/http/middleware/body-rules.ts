import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { AppError } from '../../domain/errors.ts';
import type { AppEnv } from '../context.ts';

/** Largest request body we accept. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The methods that carry a request body; {@link bodyRules} is mounted for these only. */
export const BODY_METHODS = ['POST', 'PUT', 'PATCH'];

const limit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new AppError('too_large', 'payload_too_large', `Request body exceeds ${MAX_BODY_BYTES} bytes`);
  },
});

/**
 * 415 `unsupported_media_type` when a request carries a body that is not
 * JSON; 413 `payload_too_large` for bodies over 1 MiB (checked while
 * streaming, not only by Content-Length). Mounted for {@link BODY_METHODS}
 * only, so reads never pay for it.
 */
export const bodyRules = createMiddleware<AppEnv>(async (c, next) => {
  const length = c.req.header('content-length');
  const hasBody = length !== undefined ? length !== '0' : c.req.raw.body !== null;
  const type = c.req.header('content-type') ?? '';
  if (hasBody && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new AppError('unsupported_media_type', 'unsupported_media_type', 'Request body must be application/json');
  }
  return limit(c, next);
});
