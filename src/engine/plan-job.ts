import { performance } from 'node:perf_hooks';
import type { Database } from '../adapters/db/database.ts';
import type { Job, JobHandler } from '../adapters/jobs/job-queue.ts';
import { AppError } from '../domain/errors.ts';
import type { Plan } from '../domain/learner/planner.ts';
import { findPlan, markFailed, markRetrying, markRunning, writeReadyPlan } from '../features/plans/plans.repo.ts';
import { PLAN_JOB_ATTEMPTS, planFailedEvent, resolveFocus, type PlanJobData } from '../features/plans/plans.service.ts';
import { writeWithEvents } from '../analytics/event-outbox.ts';
import type { LearnerKeys } from '../analytics/learner-keys.ts';
import { serverEvent } from '../analytics/server-events.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { PlanBuilder } from './plan-builder.ts';

/** What an {@link PlanEnricher} knows about the plan it works on. */
export interface PlanEnrichContext {
  app: string;
  childId: string;
  planId: string;
  /** Aborted when the attempt times out: stop calling out then. */
  signal: AbortSignal;
}

/**
 * The seam for later steps that change a built plan before it is stored,
 * such as generated practice items. It must be idempotent (a job may run
 * again) and should not fail the plan for its own trouble: return the plan
 * unchanged instead. The stored planner inputs replay the plan as built,
 * before enrichment.
 */
export type PlanEnricher = (plan: Plan, context: PlanEnrichContext) => Promise<Plan>;

/** What the plan job needs: where plans live, how they are built, and where to report. */
export interface PlanJobDeps {
  db: Database;
  builder: Pick<PlanBuilder, 'build'>;
  metrics: Metrics;
  logger: Logger;
  /** Optional step between building and storing (see {@link PlanEnricher}). */
  enrich?: PlanEnricher;
  /** For the `plan_ready` / `plan_failed` analytics events, written with the result; none without it (lake off). */
  learnerKeys?: LearnerKeys;
}

/**
 * The engine's handler for queue `plans`. Delivery is at least once, so it
 * is idempotent: a plan already ready is left alone, and the plan is written
 * with `… where status <> 'ready'`, so a job run again (its worker died after
 * writing) writes nothing twice. A failed attempt puts the plan back to
 * queued with the attempt's error; the last one marks it `failed` with an
 * error code and message, where it stays for inspection (an operator's
 * `engine retry` may still make it ready).
 */
export function planJobHandler(deps: PlanJobDeps): JobHandler<PlanJobData> {
  const { db, builder, metrics, logger } = deps;
  return async (job: Job<PlanJobData>) => {
    const { app, planId } = job.data;
    const stored = await findPlan(db.db, app, planId);
    // Erased (or its request failed to queue and was removed): nothing to do.
    if (!stored) return { planId, status: 'gone' };
    if (stored.status === 'ready') return { planId, status: 'ready' };
    if (!(await markRunning(db.db, app, planId))) return { planId, status: 'ready' };
    try {
      const started = performance.now();
      const focusConcepts = await resolveFocus(db, app, stored.request.focus);
      const built = await builder.build(app, stored.childId, { minutes: stored.request.minutes, ...(focusConcepts ? { focusConcepts } : {}) });
      const plan = deps.enrich ? await deps.enrich(built.plan, { app, childId: stored.childId, planId, signal: job.signal }) : built.plan;
      const ready = deps.learnerKeys
        ? [
            serverEvent({
              app,
              type: 'plan_ready',
              recordKey: planId,
              learner: await deps.learnerKeys.keyOf(app, stored.childId),
              occurredAt: new Date(),
              properties: { planId, activities: plan.activities.length, minutes: Math.min(600, plan.minutes) },
            }),
          ]
        : undefined;
      // The plan and its plan_ready event in one transaction; a job run twice writes neither again.
      const written = await writeWithEvents(
        db.db,
        ready,
        (trx) => writeReadyPlan(trx, app, planId, { plan, inputs: { ...built.inputs, planner: built.planner }, modelVersion: built.inputs.modelVersion }),
        (w) => w !== undefined,
      );
      const computeSeconds = (performance.now() - started) / 1000;
      if (written) {
        metrics.planSeconds.observe({ phase: 'compute' }, computeSeconds);
        metrics.planSeconds.observe({ phase: 'end_to_end' }, Math.max(0, (written.finishedAt.getTime() - written.createdAt.getTime()) / 1000));
        metrics.plans.inc({ event: 'ready' });
      }
      return { planId, status: 'ready' };
    } catch (cause) {
      const error = failureOf(cause, job.attempt);
      const last = job.attempt >= PLAN_JOB_ATTEMPTS;
      logger.warn({ err: cause, planId, attempt: job.attempt, last }, 'plan job: attempt failed');
      // Marking is best effort: if the database is what failed, a later GET settles the plan from the job's state.
      if (last) {
        const failed = await planFailedEvent(deps.learnerKeys, app, stored.childId, planId, error.code).catch(() => undefined);
        if (await writeWithEvents(db.db, failed, (trx) => markFailed(trx, app, planId, error), (changed) => changed).catch(() => false)) metrics.plans.inc({ event: 'failed' });
      } else {
        await markRetrying(db.db, app, planId, error).catch(() => undefined);
        metrics.plans.inc({ event: 'retried' });
      }
      throw cause;
    }
  };
}

/** The error a failed attempt leaves on the plan: an AppError's own code and message; anything else a generic one (the cause goes to the log). */
function failureOf(cause: unknown, attempt: number): { code: string; message: string } {
  if (cause instanceof AppError) return { code: cause.code, message: cause.message };
  return { code: 'plan_build_failed', message: `The engine could not build this plan (attempt ${attempt} of ${PLAN_JOB_ATTEMPTS}); the cause is in the engine's log` };
}
