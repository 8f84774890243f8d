import { z } from '@hono/zod-openapi';
import { authorize, type AccessFunction } from '../domain/access-policy.ts';
import { AppError } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';

/** What signed-in routes declare in the OpenAPI document. */
export const security = [{ bearerAuth: [] }];

/** A JSON response entry for `createRoute`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

/** The `grade` filter of catalogue-like lists: `K` or 0–8, as a number (0 = kindergarten). */
export const GradeFilter = z
  .string()
  .regex(/^(?:[Kk]|[0-8])$/, 'must be K or a whole number from 0 to 8')
  .transform((v) => (v.toUpperCase() === 'K' ? 0 : Number(v)))
  .optional()
  .openapi({ description: 'K or 0–8 (0 = kindergarten)', example: '2' });

/** The caller's app, after the access policy lets its role use `fn`. */
export function callerApp(c: { get(key: 'principal'): Principal | undefined }, fn: AccessFunction): string {
  const principal = c.get('principal');
  if (!principal) throw new AppError('internal', 'principal_missing', 'Request reached a handler without a caller');
  authorize(principal, fn);
  return principal.app;
}
