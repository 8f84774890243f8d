import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { safeId } from '../../domain/input-rules.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { json, security } from '../../http/route-helpers.ts';
import { validationHook } from '../../http/validation.ts';
import { AppError } from '../../domain/errors.ts';
import type { AnalysisService } from './analysis.service.ts';

const ChildIdParam = z.object({ childId: safeId.openapi({ param: { name: 'childId', in: 'path' }, example: '0b6f…' }) });

const Evidence = z.object({
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

/** The adaptive engine's routes under `/api/adaptive`. */
export function adaptiveRoutes(analysis: AnalysisService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(getAnalysis, async (c) => {
    const principal = c.get('principal');
    if (!principal) throw new AppError('internal', 'principal_missing', 'Request reached a handler without a caller');
    return c.json(await analysis.analyse(principal, c.req.valid('param').childId), 200);
  });
  return app;
}
