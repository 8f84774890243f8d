import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { Subject } from '../../domain/curriculum.ts';
import { AppError } from '../../domain/errors.ts';
import { safeId } from '../../domain/input-rules.ts';
import type { Principal } from '../../domain/principal.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { json, security } from '../../http/route-helpers.ts';
import { validationHook } from '../../http/validation.ts';
import type { PlansService } from './plans.service.ts';
import { Evidence } from '../adaptive/adaptive.routes.ts';

const Activity = z.object({
  kind: z.enum(['review', 'learn', 'practice', 'challenge']),
  conceptId: z.string(),
  lessonId: z.string().nullable(),
  itemIds: z.array(z.string()),
  fresh: z
    .array(
      z.object({
        itemId: z.string(),
        replaces: z.string(),
        type: z.string(),
        prompt: z.string(),
        choices: z.array(z.object({ id: z.string(), text: z.string() })).optional(),
      }),
    )
    .optional()
    .openapi({ description: 'New questions generated for this child (answer keys checked before storing), each in itemIds in place of the planned item it replaces, with what the child is shown (not in GET /api/lessons, which lists authored items only); graded by POST /api/progress like any other item' }),
  minutes: z.number(),
  targetSuccess: z.number().openapi({ description: 'Mean predicted success of the activity’s items (practice aims at 0.6–0.85)' }),
  why: z.object({
    code: z.enum(['due_for_review', 'repair_prerequisite', 'new_concept', 'keep_practising', 'struggling_small_steps', 'challenge']),
    child: z.string().openapi({ description: 'One sentence for the child' }),
    adult: z.string().openapi({ description: 'One sentence for a grown-up' }),
    evidence: Evidence,
  }),
});

const Focus = z
  .union([
    z.strictObject({ conceptIds: z.array(safeId).min(1).max(50) }),
    z.strictObject({ subject: Subject }),
  ])
  .openapi({ description: 'Only these concepts (and prerequisites they need repaired), or the concepts of one subject' });

const PlanRequestBody = z
  .strictObject({
    childId: safeId,
    minutes: z.number().int().min(5).max(60).default(15).openapi({ description: 'Length of the session, 5–60 minutes' }),
    focus: Focus.optional(),
  })
  .openapi('PlanRequest');

const PlanView = z
  .object({
    planId: z.string(),
    childId: z.string(),
    status: z.enum(['queued', 'running', 'ready', 'failed']),
    request: z.object({ minutes: z.number().int(), focus: z.union([z.object({ conceptIds: z.array(z.string()) }), z.object({ subject: z.string() })]).optional() }),
    plan: z.object({ minutes: z.number(), activities: z.array(Activity) }).optional().openapi({ description: 'Once ready' }),
    error: z.object({ code: z.string(), message: z.string() }).optional().openapi({ description: 'Once failed: why (see docs/errors.md, "Plan failures")' }),
    attempts: z.number().int(),
    modelVersion: z.number().int().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi('LessonPlan');

const IdempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,100}$/, 'must be 1–100 visible ASCII characters (no spaces)')
    .optional()
    .openapi({ description: 'Repeating a request with the same key returns the same plan (per caller)', example: 'b1946ac9-2b3f-4f1e-9a5c-9f0c1d7e4a11' }),
});

const requestPlan = createRoute({
  method: 'post',
  path: '/api/adaptive/plans',
  tags: ['adaptive'],
  summary: 'Ask the engine for a personalised lesson plan',
  description:
    'Queues a plan (202, then poll `GET /api/adaptive/plans/{planId}`). An identical request on an unchanged history (same answers, model and content) answers the ready plan (200). The same `Idempotency-Key` answers the same plan; with another body, 409. At most one new plan per child every 10 seconds (429 with `Retry-After`).',
  security,
  request: { headers: IdempotencyHeader, body: { required: true, content: { 'application/json': { schema: PlanRequestBody } } } },
  responses: {
    200: json(PlanView, 'An identical plan, ready'),
    202: json(PlanView, 'Queued (or still being made): poll its URL, given in `Location`'),
    ...errorResponses(400, 401, 403, 404, 409, 429, 503),
  },
});

const getPlan = createRoute({
  method: 'get',
  path: '/api/adaptive/plans/{planId}',
  tags: ['adaptive'],
  summary: 'A lesson plan: its status and, once ready, its activities',
  security,
  request: { params: z.object({ planId: safeId.openapi({ param: { name: 'planId', in: 'path' } }) }) },
  responses: { 200: json(PlanView, 'The plan'), ...errorResponses(400, 401, 403, 404) },
});

const childPlan = createRoute({
  method: 'get',
  path: '/api/adaptive/children/{childId}/plan',
  tags: ['adaptive'],
  summary: 'The child’s newest ready lesson plan',
  security,
  request: { params: z.object({ childId: safeId.openapi({ param: { name: 'childId', in: 'path' } }) }) },
  responses: { 200: json(PlanView, 'The newest ready plan'), ...errorResponses(400, 401, 403, 404) },
});

function caller(c: { get(key: 'principal'): Principal | undefined }): Principal {
  const principal = c.get('principal');
  if (!principal) throw new AppError('internal', 'principal_missing', 'Request reached a handler without a caller');
  return principal;
}

/** Lesson plan routes under `/api/adaptive`. */
export function plansRoutes(plans: PlansService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(requestPlan, async (c) => {
    const { view, httpStatus } = await plans.request(caller(c), c.req.valid('json'), c.req.valid('header')['idempotency-key']);
    c.header('Location', `/api/adaptive/plans/${view.planId}`);
    return httpStatus === 200 ? c.json(view, 200) : c.json(view, 202);
  });
  app.openapi(getPlan, async (c) => c.json(await plans.get(caller(c), c.req.valid('param').planId), 200));
  app.openapi(childPlan, async (c) => c.json(await plans.newestReady(caller(c), c.req.valid('param').childId), 200));
  return app;
}
