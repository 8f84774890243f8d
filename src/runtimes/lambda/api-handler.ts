// @lambda-shared: the "api" function's code, loaded by its entry (api.ts) once Zod is extended.
// First: instruments the AWS SDK clients the container creates (X-Ray).
import { traced } from './invocation.ts';
import { handle } from 'hono/aws-lambda';
import type { LambdaEvent } from 'hono/aws-lambda';
import { createHttpApp } from '../../http/app.ts';
import { createContainer } from '../../wiring/container.ts';
import { lambdaConfig } from './aws-config.ts';

/**
 * The "api" function (API Gateway HTTP API, payload v2; entry point api.ts): the same
 * HTTP app as the Node server, built at module scope (top-level await, so
 * it runs in the init phase, before the first request and under
 * provisioned concurrency) and reused by every invocation of this
 * execution environment: pool, cache connections, keys. Migrations are not
 * run here: the "migrate" function runs them at deploy time. Each
 * invocation is traced and flushes its metrics (METRICS_EMF) and log lines
 * (runtimes/lambda/invocation.ts).
 */
const config = await lambdaConfig();
const container = await createContainer(config, { skipMigrations: true });
const app = handle(createHttpApp(container));

/** The Lambda handler. */
export const handler = traced('api', (event: LambdaEvent, context) => app(event, context), { metrics: container.metrics, logger: container.logger });
