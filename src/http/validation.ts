import type { Hook } from '@hono/zod-openapi';
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
  const target = String(result.target);
  const problems: ValidationProblem[] = result.error.issues.map((issue) => ({
    in: target === 'json' ? 'body' : target,
    field: issue.path.length ? issue.path.map(String).join('.') : issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(root)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  const first = problems[0]!;
  const firstIssue = result.error.issues[0]!;
  const name = firstIssue.code === 'unrecognized_keys' && firstIssue.path.length === 0 ? firstIssue.keys.join(', ') : first.field;
  throw new AppError('invalid', 'validation_failed', `Invalid ${WHERE[target] ?? target} "${name}": ${first.message}`, { details: problems });
};
