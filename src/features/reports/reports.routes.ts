import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { isValidDay, MAX_REPORT_DAYS, REPORT_NAMES } from '../../analytics/reports.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { raises } from '../../http/openapi.ts';
import { callerApp, json, security } from '../../http/route-helpers.ts';
import { sendJson } from '../../http/send.ts';
import { validationHook } from '../../http/validation.ts';
import type { ReportsService } from './reports.service.ts';

const Day = z
  .string()
  .refine(isValidDay, 'must be a calendar day written YYYY-MM-DD')
  .optional()
  .openapi({ example: '2026-11-01' });

const ReportQuery = z.object({
  from: Day.openapi({ description: 'First UTC day, inclusive (default: 29 days before `to`)' }),
  to: Day.openapi({ description: 'Last UTC day, inclusive (default: today)' }),
});

const ReportParam = z.object({
  report: z.enum(REPORT_NAMES).openapi({ param: { name: 'report', in: 'path' }, example: 'active-learners' }),
});

const ActiveLearnersRow = z.object({ day: z.string(), daily: z.number().int(), weekly: z.number().int().openapi({ description: 'Distinct learners in the 7 days ending that day' }) });
const SessionsRow = z.object({ day: z.string(), sessions: z.number().int(), learners: z.number().int(), minutes: z.number(), sessionsPerLearner: z.number(), minutesPerLearner: z.number() });
const AccuracyRow = z.object({ day: z.string(), conceptId: z.string(), answers: z.number().int(), correct: z.number().int(), accuracy: z.number() });
const Funnel = z.object({ started: z.number().int(), completed: z.number().int(), completionRate: z.number() });
const FunnelRow = Funnel.extend({ lessonId: z.string() });
const MasteryRow = z.object({ from: z.number(), to: z.number(), count: z.number().int() });
const ErrorsRow = z.object({ code: z.string(), events: z.number().int(), learners: z.number().int(), fatal: z.number().int() });

const ReportBody = z
  .object({
    report: z.enum(REPORT_NAMES),
    app: z.string(),
    from: z.string(),
    to: z.string(),
    generatedAt: z.string().openapi({ description: 'When the report was computed (a cached report keeps its time)' }),
    rows: z.array(z.union([ActiveLearnersRow, SessionsRow, AccuracyRow, FunnelRow, MasteryRow, ErrorsRow])).openapi({
      description:
        'active-learners: one row per day of the range (zeros included). sessions: days with sessions. accuracy: per day and concept. ' +
        'funnel: per lesson, distinct learners. mastery: ten buckets of each (learner, concept)’s latest mastery up to `to`. errors: top 20 codes by events.',
    }),
    totals: Funnel.optional().openapi({ description: 'funnel only: distinct learners over all lessons' }),
    mastered: z.number().int().optional().openapi({ description: 'mastery only: (learner, concept) pairs at or above the threshold' }),
    threshold: z.number().optional().openapi({ description: 'mastery only: MASTERY_THRESHOLD' }),
  })
  .openapi('LakeReport');

const getReport = createRoute({
  method: 'get',
  path: '/admin/reports/{report}',
  tags: ['admin', 'analytics'],
  summary: 'A report over the analytics lake for the caller’s app',
  description:
    `Computed from the lake’s Parquet files only (never the production tables), reading only the partitions of the range (inclusive UTC days, at most ${MAX_REPORT_DAYS}; default the last 30 days). ` +
    'Served from an in-process cache for `LAKE_REPORT_CACHE_SECONDS` (X-Cache says which). See docs/analytics.md.',
  security,
  request: { params: ReportParam, query: ReportQuery },
  responses: {
    200: { ...json(ReportBody, 'The report'), headers: z.object({ 'X-Cache': z.enum(['HIT', 'MISS']) }) },
    ...errorResponses(400, 401, 403, 503),
  },
  ...raises({ validation_failed: 'invalid', lake_query_timeout: 'unavailable', lake_unavailable: 'unavailable', lake_query_unavailable: 'unavailable' }),
});

/** `GET /admin/reports/{report}`: admins of the token's app. */
export function reportsRoutes(reports: ReportsService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(getReport, async (c) => {
    const appId = callerApp(c, 'lake.reports.read');
    const { json: body, cache } = await reports.report(appId, c.req.valid('param').report, c.req.valid('query'));
    return sendJson(c, body, 200, { 'x-cache': cache }, cache === 'HIT') as never;
  });
  return app;
}
