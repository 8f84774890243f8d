import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { json, security } from '../../http/route-helpers.ts';
import { ResourceId } from '../../domain/curriculum.ts';
import { clientId, instant, safeText, timeZone } from '../../domain/input-rules.ts';
import { AppError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { raises } from '../../http/openapi.ts';
import { validationHook } from '../../http/validation.ts';
import type { ProgressService } from './progress.service.ts';

/** Largest batch an offline app may sync at once. */
export const MAX_BATCH = 200;


const Answer = z
  .object({
    childId: ResourceId,
    itemId: ResourceId,
    // Up to the longest any item type takes (short text, 500); the item's type narrows it (responseProblem).
    response: z.union([safeText({ max: 500 }), z.number()]).openapi({ description: 'A choice id, a number (a JSON number, or text in plain decimal such as "-2.5"), or text — as the item type asks', example: 7 }),
    durationMs: z.number().int().min(0).max(3_600_000),
    answeredAt: instant(),
    clientEventId: clientId,
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
  mastered: z.boolean().openapi({ description: 'Known now: P(known) reached the mastery threshold and recall has not fallen under 0.9 since (the review date has not passed)' }),
  learned: z.boolean().openapi({ description: 'P(known) reached the mastery threshold at some point (mastered once), whether or not recall has decayed since' }),
  recall: z.number().openapi({ description: 'FSRS probability of recalling the concept now' }),
  reviewDue: z.boolean().openapi({ description: 'Learned, but recall has fallen under 0.9: due for review' }),
  nextReviewAt: z.string(),
});
const AnswerResult = z
  .object({
    clientEventId: z.string(),
    itemId: z.string(),
    correct: z.boolean(),
    duplicate: z.boolean(),
    correctAnswer: z.union([z.string(), z.number()]).optional().openapi({ description: 'Present when the app reveals answers (its `revealAnswers` setting)' }),
    concept: ConceptView,
  })
  .openapi('AnswerResult');

const ChildProgress = z
  .object({
    childId: z.string(),
    concepts: z.array(ConceptView.extend({ name: z.string().nullable() })),
    recentSessions: z.array(
      z.object({
        startedAt: z.string(),
        endedAt: z.string(),
        answers: z.number().int(),
        correct: z.number().int(),
        activeSeconds: z.number().int().openapi({ description: 'Sum of the answers’ durations' }),
        lessonIds: z.array(z.string()),
      }),
    ).openapi({ description: 'Newest first; a pause of more than 30 minutes starts a new session. At most 10.' }),
    lessonsCompleted: z.object({
      count: z.number().int().openapi({ description: 'Distinct lessons completed' }),
      recent: z.array(z.object({ lessonId: z.string(), title: z.string().nullable(), completedAt: z.string(), secondsSpent: z.number().int(), score: z.number().nullable() })),
    }),
  })
  .openapi('ChildProgress');
const ChildParam = z.object({ childId: ResourceId.openapi({ param: { name: 'childId', in: 'path' } }) });
const Cursor = z.object({
  cursor: z.string().regex(/^\d{1,18}$/, 'must be a cursor returned by a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const record = createRoute({
  method: 'post',
  path: '/api/progress',
  tags: ['progress'],
  ...raises({ write_contention: 'unavailable', event_conflict: 'conflict', item_not_found: 'not_found', child_not_found: 'not_found', duplicate_event: 'invalid', batch_too_large: 'too_large' }),
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
  summary: 'Per concept: attempts, accuracy, P(known), P(correct next), mastered, next review; recent sessions and lessons completed',
  security,
  request: { params: ChildParam },
  responses: { 200: json(ChildProgress, 'Progress'), ...errorResponses(401, 403, 404, 429) },
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

const Completion = z
  .object({
    childId: ResourceId,
    secondsSpent: z.number().int().min(0).max(24 * 3600),
    score: z.number().min(0).max(1).optional().openapi({ description: 'Share of the lesson done right, 0–1' }),
    completedAt: instant(),
    clientEventId: clientId,
  })
  .strict()
  .openapi('LessonCompletion');

const complete = createRoute({
  method: 'post',
  path: '/api/progress/lessons/{lessonId}/complete',
  tags: ['progress'],
  ...raises({ event_conflict: 'conflict', lesson_not_found: 'not_found', child_not_found: 'not_found' }),
  summary: 'Record a completed lesson (time spent, score); idempotent on clientEventId',
  security,
  request: { params: z.object({ lessonId: ResourceId.openapi({ param: { name: 'lessonId', in: 'path' } }) }), body: { required: true, content: { 'application/json': { schema: Completion } } } },
  responses: {
    200: json(z.object({ lessonId: z.string(), childId: z.string(), duplicate: z.boolean() }).openapi('CompletionResult'), 'Recorded'),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429),
  },
});

const ChildSummary = z
  .object({
    childId: z.string(),
    nickname: z.string(),
    minutesThisWeek: z.number().int(),
    streakDays: z.number().int(),
    conceptsMastered: z.number().int().openapi({ description: 'Concepts known now (learned and not yet due for review)' }),
    conceptsDueForReview: z.number().int().openapi({ description: 'Concepts learned once whose recall has fallen under 0.9' }),
    lessonsCompleted: z.number().int(),
    lastActivityAt: z.string().nullable(),
  })
  .openapi('ChildSummary');

const summary = createRoute({
  method: 'get',
  path: '/api/progress',
  tags: ['progress'],
  summary: 'A guardian’s children, a teacher’s classrooms or a child itself: minutes this week, streak, mastered concepts, lessons, last activity',
  description: 'Days are calendar days in the time zone `tz` (an IANA name; UTC when absent), and weeks start on Monday 00:00 there. The response names the zone it used.',
  security,
  request: { query: z.object({ tz: timeZone.optional() }) },
  responses: {
    200: json(
      z
        .object({
          timeZone: z.string(),
          children: z.array(ChildSummary).optional(),
          classrooms: z.array(z.object({ classroomId: z.string(), name: z.string(), children: z.array(ChildSummary) })).optional(),
        })
        .openapi('ProgressSummary'),
      'The summary',
    ),
    ...errorResponses(400, 401, 403, 429),
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

  app.openapi(summary, async (c) => c.json(await progress.summary(principalOf(c), { timeZone: c.req.valid('query').tz }), 200));

  app.openapi(complete, async (c) =>
    c.json(await progress.completeLesson(principalOf(c), c.req.valid('param').lessonId, c.req.valid('json')), 200),
  );

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
