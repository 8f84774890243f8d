import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { GradeFilter, callerApp, json, security } from '../../http/route-helpers.ts';
import { LessonDetail, LessonInput, LessonSummary, NewLessonInput, ResourceId, Subject } from '../../domain/curriculum.ts';
import { RESOURCE_ID_PATTERN } from '../../domain/input-rules.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { sendJson } from '../../http/send.ts';
import { validated, validationHook } from '../../http/validation.ts';
import type { LessonsService } from './lessons.service.ts';


const LessonIdParam = z.object({
  lessonId: ResourceId.openapi({ param: { name: 'lessonId', in: 'path' }, example: 'add-within-10-1' }),
});

const ListQuery = z.object({
  subject: Subject.optional().openapi({ example: 'math' }),
  grade: GradeFilter,
  order: z
    .enum(['teaching', 'grade'])
    .default('teaching')
    .openapi({ description: '`teaching` (default): the curriculum’s teaching order, prerequisites first; `grade`: by grade, subject and id', example: 'teaching' }),
  page: z.coerce.number().int('must be a whole number').min(1).max(1_000_000).default(1).openapi({ example: 1 }),
  limit: z.coerce.number().int('must be a whole number').min(1).max(50).default(20).openapi({ example: 20 }),
});

const LessonPage = z
  .object({ items: z.array(LessonSummary), page: z.number().int(), limit: z.number().int(), total: z.number().int() })
  .openapi('LessonPage');


const listLessons = createRoute({
  method: 'get',
  path: '/api/lessons',
  tags: ['lessons'],
  summary: 'Published lessons of the caller’s app',
  security,
  request: { query: ListQuery },
  responses: {
    200: { ...json(LessonPage, 'A page of lessons in teaching order (packs in import order, each in its sequence; then lessons authored outside packs by grade, subject, id) or, with `order=grade`, by grade, subject and id; cached until the next lesson write'), headers: z.object({ 'X-Cache': z.enum(['HIT', 'MISS']) }) },
    ...errorResponses(400, 401, 404),
  },
});

const getLesson = createRoute({
  method: 'get',
  path: '/api/lessons/{lessonId}',
  tags: ['lessons'],
  summary: 'A lesson with its practice items (answer keys are never included)',
  description: 'Cached for 30 minutes; the `X-Cache` response header says `HIT` or `MISS`.',
  security,
  request: { params: LessonIdParam },
  responses: {
    200: {
      ...json(LessonDetail, 'The lesson'),
      headers: z.object({ 'X-Cache': z.enum(['HIT', 'MISS']) }),
    },
    ...errorResponses(400, 401, 404),
  },
});

const adminGetLesson = createRoute({
  method: 'get',
  path: '/admin/lessons/{lessonId}',
  tags: ['admin'],
  summary: 'A lesson as authored, answer keys included, published or not',
  security,
  request: { params: LessonIdParam },
  responses: { 200: json(NewLessonInput, 'The lesson with its items'), ...errorResponses(400, 401, 403, 404) },
});

const createLesson = createRoute({
  method: 'post',
  path: '/admin/lessons',
  tags: ['admin'],
  summary: 'Create a lesson with its practice items',
  security,
  request: { body: { required: true, content: { 'application/json': { schema: NewLessonInput } } } },
  responses: { 201: json(NewLessonInput, 'Created'), ...errorResponses(400, 401, 403, 409, 413, 415) },
});

const updateLesson = createRoute({
  method: 'put',
  path: '/admin/lessons/{lessonId}',
  tags: ['admin'],
  summary: 'Replace a lesson and its practice items',
  security,
  request: { params: LessonIdParam, body: { required: true, content: { 'application/json': { schema: LessonInput } } } },
  responses: { 200: json(NewLessonInput, 'Updated'), ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
});

const deleteLesson = createRoute({
  method: 'delete',
  path: '/admin/lessons/{lessonId}',
  tags: ['admin'],
  summary: 'Delete a lesson and its practice items',
  security,
  request: { params: LessonIdParam },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(400, 401, 403, 404) },
});

/** The lessons API: catalogue and cached reads under `/api`, authoring under `/admin`. */
export function lessonsRoutes(lessons: LessonsService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(listLessons, async (c) => {
    const { json: body, cache } = await lessons.list(callerApp(c, 'lessons.read'), c.req.valid('query'));
    return sendJson(c, body, 200, { 'x-cache': cache }, cache === 'HIT') as never;
  });

  // The hottest route: documented like the others, but its one parameter is
  // checked here rather than by a Zod validator layer (a middleware, a
  // decoding of every parameter and a parse per request). The id pattern is
  // the schema's own; only a miss pays for the parse that names the problem.
  app.openAPIRegistry.registerPath(getLesson);
  app.get(getLesson.path.replace(/\/\{(.+?)\}/g, '/:$1'), async (c) => {
    const given = c.req.param('lessonId')!;
    const lessonId = RESOURCE_ID_PATTERN.test(given) ? given : validated(LessonIdParam, { lessonId: given }, 'param').lessonId;
    const { json: body, cache } = await lessons.getPublished(callerApp(c, 'lessons.read'), lessonId);
    return sendJson(c, body, 200, { 'x-cache': cache }, cache === 'HIT');
  });

  app.openapi(adminGetLesson, async (c) => c.json(await lessons.getForAdmin(callerApp(c, 'lessons.author'), c.req.valid('param').lessonId), 200));

  app.openapi(createLesson, async (c) => c.json(await lessons.create(callerApp(c, 'lessons.author'), c.req.valid('json')), 201));

  app.openapi(updateLesson, async (c) =>
    c.json(await lessons.update(callerApp(c, 'lessons.author'), c.req.valid('param').lessonId, c.req.valid('json')), 200),
  );

  app.openapi(deleteLesson, async (c) => {
    await lessons.remove(callerApp(c, 'lessons.author'), c.req.valid('param').lessonId);
    return c.body(null, 204);
  });

  return app;
}
