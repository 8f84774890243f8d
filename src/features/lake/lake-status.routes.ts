import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { LakeStatusReader } from '../../analytics/lake-status.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { callerApp, json, security } from '../../http/route-helpers.ts';
import { validationHook } from '../../http/validation.ts';

const LakeStatus = z
  .object({
    backlog: z.number().int().openapi({ description: 'Events of this app acknowledged and not yet written to the lake' }),
    oldestPendingAt: z.string().nullable().openapi({ description: 'When the oldest of them was received' }),
    lastFlushAt: z.string().nullable().openapi({ description: 'When events of this app were last written' }),
    lastFlushEvents: z.number().int().openapi({ description: 'How many were written then' }),
    deadLetters: z.number().int().openapi({ description: 'Dead letters of this app not redriven (`kidslearn lake dead-letters list`)' }),
    files: z.number().int().openapi({ description: 'Event files of this app in the lake' }),
    bytes: z.number().int(),
  })
  .openapi('LakeStatus');

const status = createRoute({
  method: 'get',
  path: '/admin/lake/status',
  tags: ['admin', 'analytics'],
  summary: 'The analytics lake of the caller’s app: backlog, last flush, dead letters, files',
  description: 'From the database and the blob store (its listing is cached a few seconds).',
  security,
  responses: { 200: json(LakeStatus, 'The app’s lake status'), ...errorResponses(401, 403, 503) },
});

/** `GET /admin/lake/status`. */
export function lakeStatusRoutes(reader: LakeStatusReader): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(status, async (c) => c.json(await reader.status(callerApp(c, 'lake.status')), 200));
  return app;
}
