import type { Hook, z } from '@hono/zod-openapi';
import { AppError } from '../domain/errors.ts';
import type { AppEnv } from './context.ts';

const WHERE: Record<string, string> = {
  query: 'query parameter',
  param: 'path parameter',
  json: 'body field',
  header: 'header',
  cookie: 'cookie',
  form: 'form field',
};

/** One validation problem, as returned in `error.details`. */
export interface ValidationProblem {
  in: string;
  field: string;
  message: string;
}

/**
 * The default hook of every route: a failed Zod parse becomes a 400
 * `validation_failed` whose message names the first bad parameter and whose
 * details list all of them.
 */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  throwValidationError(String(result.target), result.error);
};

/**
 * Validates `value` with `schema` where a route does so itself rather than
 * through its declared validator (a hot path); a failure is the same 400
 * {@link validationHook} makes of it.
 */
export function validated<T extends z.ZodType>(schema: T, value: unknown, target: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throwValidationError(target, result.error);
  return result.data;
}

function throwValidationError(target: string, error: z.ZodError): never {
  const where = target === 'json' ? 'body' : target;
  // An unknown field is named where it is (`events.3.properties.colour`), one problem per field.
  const problems: ValidationProblem[] = error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ in: where, field: [...issue.path.map(String), key].join('.'), message: 'unknown field' }))
      : [{ in: where, field: issue.path.length ? issue.path.map(String).join('.') : '(root)', message: issue.message }],
  );
  const first = problems[0]!;
  throw new AppError('invalid', 'validation_failed', `Invalid ${WHERE[target] ?? target} "${first.field}": ${first.message}`, { details: problems });
}
