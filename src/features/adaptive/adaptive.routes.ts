import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { safeId } from '../../domain/input-rules.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { callerApp, GradeFilter, json, security } from '../../http/route-helpers.ts';
import { ResourceId, Subject } from '../../domain/curriculum.ts';
import type { CurriculumIndex } from '../../engine/curriculum-index.ts';
import { validationHook } from '../../http/validation.ts';
import { AppError, invalid } from '../../domain/errors.ts';
import type { AnalysisService } from './analysis.service.ts';

const ChildIdParam = z.object({ childId: safeId.openapi({ param: { name: 'childId', in: 'path' }, example: '0b6f…' }) });

/** The evidence behind a finding or a plan's `why` (shared by the analysis and plan schemas). */
export const Evidence = z.object({
  pKnown: z.number().nullable(),
  recall: z.number().nullable().openapi({ description: 'FSRS probability of recalling the concept now' }),
  nextReviewAt: z.string().nullable(),
  lastPractisedAt: z.string().nullable(),
  attempts: z.number().int(),
  recentErrors: z.number().int(),
  recentAnswers: z.number().int(),
  missingPrerequisites: z.array(z.string()),
});

const Finding = z.object({
  conceptId: z.string(),
  name: z.string(),
  status: z.enum(['mastered', 'review_due', 'struggling', 'learning', 'ready', 'not_ready']),
  reason: z.string().openapi({ description: 'One plain-language sentence saying why' }),
  evidence: Evidence,
  repair: z.object({ conceptId: z.string(), name: z.string(), pKnown: z.number().nullable() }).optional().openapi({ description: 'Struggling concepts: the prerequisite to practise first' }),
});

const ChildAnalysis = z
  .object({
    childId: z.string(),
    generatedAt: z.string(),
    masteryThreshold: z.number(),
    reviewTarget: z.number(),
    mastered: z.array(z.string()).openapi({ description: 'Known now: learned, recall at or above the review target' }),
    dueForReview: z.array(z.string()).openapi({ description: 'Learned once, recall now under the review target' }),
    frontier: z.array(z.string()).openapi({ description: 'Not learned yet, every prerequisite learned: what to learn next' }),
    struggling: z.array(z.string()),
    pace: z.object({ itemsPerMinute: z.number(), answers: z.number().int(), minutesOnTask: z.number() }).nullable(),
    concepts: z.array(Finding),
  })
  .openapi('ChildAnalysis');

const getAnalysis = createRoute({
  method: 'get',
  path: '/api/adaptive/children/{childId}/analysis',
  tags: ['adaptive'],
  summary: 'What the child knows now, what is due for review, what comes next and where they struggle, with reasons',
  description:
    'Every concept of the app with a status and a plain-language reason, and the evidence behind it (P(known), FSRS recall now and review date, recent errors, prerequisites not yet learned). "Mastered" means known now: a concept whose recall has decayed is due for review instead.',
  security,
  request: { params: ChildIdParam },
  responses: { 200: json(ChildAnalysis, 'The analysis'), ...errorResponses(400, 401, 403, 404) },
});

/** Longest `q` a similarity search accepts (characters). */
export const MAX_SIMILAR_QUERY_CHARS = 500;

const SimilarQuery = z.object({
  lessonId: ResourceId.optional().openapi({ description: 'Find what is like this published lesson (the lesson itself is left out). Exactly one of lessonId and q.', example: 'add-within-10-1' }),
  q: z
    .string()
    .min(1)
    .max(MAX_SIMILAR_QUERY_CHARS)
    .optional()
    .openapi({ description: `Find what is like this text (at most ${MAX_SIMILAR_QUERY_CHARS} characters; never logged). Exactly one of lessonId and q.`, example: 'adding numbers up to ten' }),
  kind: z.enum(['lesson', 'item']).optional().openapi({ description: 'Only lessons or only practice items (default: both)' }),
  grade: GradeFilter,
  subject: Subject.optional().openapi({ example: 'math' }),
  limit: z.coerce.number().int('must be a whole number').min(1).max(50).default(10).openapi({ example: 10 }),
});

const SimilarMatch = z.object({
  kind: z.enum(['lesson', 'item', 'concept']),
  id: z.string(),
  score: z.number().openapi({ description: 'Cosine similarity of the embeddings (1 = the same direction)' }),
});

const SimilarResult = z
  .object({
    model: z.string().openapi({ description: 'Embedding model the scores come from' }),
    items: z.array(SimilarMatch),
  })
  .openapi('SimilarCurriculum');

const getSimilar = createRoute({
  method: 'get',
  path: '/api/adaptive/similar',
  tags: ['adaptive'],
  summary: "The app's lessons and practice items nearest to a lesson or a text, with scores",
  description:
    'Vector search over the embeddings of the caller app’s published lessons and their items (HNSW, cosine). Filters by kind, grade and subject still return `limit` results when that many match. Teachers and admins only. The text `q` is never logged.',
  security,
  request: { query: SimilarQuery },
  responses: { 200: json(SimilarResult, 'Nearest first'), ...errorResponses(400, 401, 403, 404, 503) },
});

/** The adaptive engine's routes under `/api/adaptive`. */
export function adaptiveRoutes(analysis: AnalysisService, curriculumIndex: CurriculumIndex): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(getSimilar, async (c) => {
    const appId = callerApp(c, 'curriculum.similar');
    const query = c.req.valid('query');
    if ((query.lessonId === undefined) === (query.q === undefined)) {
      const field = query.lessonId === undefined ? 'q' : 'lessonId';
      const message = query.lessonId === undefined ? 'give exactly one of lessonId and q (neither was given)' : 'give exactly one of lessonId and q, not both';
      throw invalid('validation_failed', `Invalid query parameter "${field}": ${message}`, [{ in: 'query', field, message }]);
    }
    const filter = { kinds: query.kind ? [query.kind] : (['lesson', 'item'] as const), grade: query.grade, subject: query.subject };
    const found = await curriculumIndex.similar(appId, {
      ...(query.lessonId !== undefined ? { lessonId: query.lessonId } : { text: query.q! }),
      filter,
      limit: query.limit,
    });
    return c.json({ model: found.model, items: found.matches.map((m) => ({ kind: m.kind, id: m.id, score: Math.round(m.score * 10_000) / 10_000 })) }, 200);
  });
  app.openapi(getAnalysis, async (c) => {
    const principal = c.get('principal');
    if (!principal) throw new AppError('internal', 'principal_missing', 'Request reached a handler without a caller');
    return c.json(await analysis.analyse(principal, c.req.valid('param').childId), 200);
  });
  return app;
}
