import { handle } from 'hono/aws-lambda';
import type { LambdaEvent } from 'hono/aws-lambda';
import { loadConfig } from '../config/config.ts';
import { createHttpApp } from '../http/app.ts';
import { createContainer } from '../wiring/container.ts';

/**
 * AWS Lambda entry point (API Gateway HTTP API, payload v2): the same HTTP
 * app as the Node server, built once per execution environment at module
 * scope so warm invocations reuse the pool and cache connections. Needs
 * `DATABASE_URL` (and usually `REDIS_URL`): the embedded database is for one
 * long-lived process, not for Lambda.
 */
const ready = (async () => {
  const config = loadConfig();
  if (config.database.kind !== 'postgres') throw new Error('The Lambda runtime needs DATABASE_URL (PGlite is for a single long-lived process)');
  const container = await createContainer(config);
  return handle(createHttpApp(container));
})();

/** The Lambda handler. */
export async function handler(event: LambdaEvent, context: Parameters<ReturnType<typeof handle>>[1]) {
  return (await ready)(event, context);
}
