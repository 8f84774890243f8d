import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ResourceId } from '../../domain/curriculum.ts';
import { AppError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { validationHook } from '../../http/validation.ts';
import type { ProgressService } from './progress.service.ts';

/** Largest batch an offline app may sync at once. */
export const MAX_BATCH = 200;
const FUTURE_SLACK_MS = 24 * 3600 * 1000;

const security = [{ bearerAuth: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const Answer = z
  .object({
    childId: ResourceId,
    itemId: ResourceId,
    response: z.union([z.string(), z.number()]).openapi({ description: 'A choice id, a number, or text — as the item type asks', example: 7 }),
    durationMs: z.number().int().min(0).max(3_600_000),
    answeredAt: z.iso
      .datetime({ offset: true })
      .transform((s) => new Date(s))
      .refine((d) => d.getTime() <= Date.now() + FUTURE_SLACK_MS, 'must not be more than 24 hours in the future')
      .openapi({ type: 'string', format: 'date-time' }),
    clientEventId: z.string().min(1).max(100).openapi({ description: 'Unique per child; a retry with the same id is not counted twice' }),
  })
  .strict()
  .openapi('Answer');

const Batch = z.object({ answers: z.array(Answer).min(1) }).strict().openapi('AnswerBatch');
const AnswerBody = z.union([Batch, Answer]);

const ConceptView = z.object({
  conceptId: z.string(),
  attempts: z.number().int(),
  correct: z.number().int(),
  accuracy: z.number().nullable(),
  pKnown: z.number(),
  pCorrectNext: z.number(),
  mastered: z.boolean(),
  nextReviewAt: z.string(),
});
const AnswerResult = z
  .object({ clientEventId: z.string(), itemId: z.string(), correct: z.boolean(), duplicate: z.boolean(), concept: ConceptView })
  .openapi('AnswerResult');

const ChildParam = z.object({ childId: ResourceId.openapi({ param: { name: 'childId', in: 'path' } }) });
const Cursor = z.object({
  cursor: z.string().regex(/^\d{1,18}$/, 'must be a cursor returned by a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const record = createRoute({
  method: 'post',
  path: '/api/progress',
  tags: ['progress'],
  summary: `Record one answer or a batch of up to ${MAX_BATCH}; correctness is decided by the server`,
  description: 'Idempotent on (childId, clientEventId): a retry returns the stored result; the same id with a different answer is 409 and nothing changes. Acknowledged only once committed.',
  security,
  request: { body: { required: true, content: { 'application/json': { schema: AnswerBody } } } },
  responses: { 200: json(z.object({ results: z.array(AnswerResult) }).openapi('AnswerResults'), 'Recorded'), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429) },
});

const childProgress = createRoute({
  method: 'get',
  path: '/api/progress/{childId}',
  tags: ['progress'],
  summary: 'Per concept: attempts, accuracy, P(known), P(correct next), mastered, next review',
  security,
  request: { params: ChildParam },
  responses: { 200: json(z.object({ childId: z.string(), concepts: z.array(ConceptView.extend({ name: z.string().nullable() })) }).openapi('ChildProgress'), 'Progress'), ...errorResponses(401, 403, 404, 429) },
});

const answerHistory = createRoute({
  method: 'get',
  path: '/api/progress/{childId}/answers',
  tags: ['progress'],
  summary: 'The child’s answers, newest first; pass `nextCursor` back as `cursor` for the next page',
  security,
  request: { params: ChildParam, query: Cursor },
  responses: {
    200: json(
      z
        .object({
          items: z.array(z.object({ id: z.string(), clientEventId: z.string(), itemId: z.string(), conceptId: z.string(), lessonId: z.string(), correct: z.boolean(), durationMs: z.number(), answeredAt: z.string() })),
          nextCursor: z.string().nullable(),
        })
        .openapi('AnswerPage'),
      'A page of answers',
    ),
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

function principalOf(c: { get(key: 'principal'): Principal | undefined }): Principal {
  const p = c.get('principal');
  if (!p) throw new AppError('internal', 'principal_missing', 'Request reached a handler without a caller');
  return p;
}

/** Answers and progress reads. */
export function progressRoutes(progress: ProgressService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(record, async (c) => {
    const body = c.req.valid('json');
    const answers = 'answers' in body ? body.answers : [body];
    if (answers.length > MAX_BATCH) throw new AppError('too_large', 'batch_too_large', `A batch holds at most ${MAX_BATCH} answers; this one has ${answers.length}`);
    return c.json({ results: await progress.record(principalOf(c), answers) }, 200);
  });

  app.openapi(childProgress, async (c) => c.json(await progress.childProgress(principalOf(c), c.req.valid('param').childId), 200));

  app.openapi(answerHistory, async (c) => {
    const { cursor, limit } = c.req.valid('query');
    const page = await progress.answers(principalOf(c), c.req.valid('param').childId, cursor, limit);
    return c.json(
      {
        items: page.items.map((a) => ({ id: a.id, clientEventId: a.clientEventId, itemId: a.itemId, conceptId: a.conceptId, lessonId: a.lessonId, correct: a.correct, durationMs: a.durationMs, answeredAt: a.answeredAt.toISOString() })),
        nextCursor: page.nextCursor,
      },
      200,
    );
  });
  return app;
}
