import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { AppError } from '../../domain/errors.ts';
import type { AppEnv } from '../context.ts';

/** Largest request body we accept. */
export const MAX_BODY_BYTES = 1024 * 1024;

const limit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new AppError('too_large', 'payload_too_large', `Request body exceeds ${MAX_BODY_BYTES} bytes`);
  },
});

/** True for methods that carry a request body. */
const hasBodyMethod = (method: string) => method === 'POST' || method === 'PUT' || method === 'PATCH';

/**
 * 413 `payload_too_large` for bodies over 1 MiB (checked while streaming, not
 * only by Content-Length). Skipped for GET and friends: touching
 * `req.raw.body` makes the Node adapter build a full Fetch Request, which
 * costs more than the rest of a cached read.
 */
export const limitBody = createMiddleware<AppEnv>(async (c, next) => {
  if (hasBodyMethod(c.req.method)) return limit(c, next);
  await next();
});

/** 415 `unsupported_media_type` when a request carries a body that is not JSON. */
export const requireJsonBody = createMiddleware<AppEnv>(async (c, next) => {
  if (hasBodyMethod(c.req.method)) {
    const length = c.req.header('content-length');
    const hasBody = length !== undefined ? length !== '0' : c.req.raw.body !== null;
    const type = c.req.header('content-type') ?? '';
    if (hasBody && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
      throw new AppError('unsupported_media_type', 'unsupported_media_type', 'Request body must be application/json');
    }
  }
  await next();
});
