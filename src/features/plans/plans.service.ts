import { createHash, randomUUID } from 'node:crypto';
import type { Database } from '../../adapters/db/database.ts';
import type { JobQueue, SendOptions } from '../../adapters/jobs/job-queue.ts';
import { AppError, notFound } from '../../domain/errors.ts';
import type { Plan } from '../../domain/learner/planner.ts';
import type { Principal } from '../../domain/principal.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { listLiveConcepts } from '../concepts/concepts.repo.ts';
import type { ChildrenService } from '../families/children.service.ts';
import type { ModelStore } from '../progress/model-store.ts';
import { appendEvents, withdrawPendingEvents, writeWithEvents } from '../../analytics/event-outbox.ts';
import type { LearnerKeys } from '../../analytics/learner-keys.ts';
import { serverEvent } from '../../analytics/server-events.ts';
import {
  deletePlan,
  findByIdempotencyKey,
  findIdentical,
  findPlan,
  insertPlan,
  lockChildPlans,
  markFailed,
  newestReadyPlan,
  planningVersions,
  recentPlan,
  setPlanJob,
  type PlanRecord,
  type PlanStatus,
  type StoredPlanRequest,
} from './plans.repo.ts';

/** The engine's queue for plan requests. */
export const PLAN_QUEUE = 'plans';
/** Attempts per plan (the first and two retries). */
export const PLAN_JOB_ATTEMPTS = 3;
/**
 * How a plan job runs: 3 attempts, retries after 1–2 s and then 2–4 s
 * (exponential backoff from 1 s, with jitter), 60 s per attempt (a plan
 * takes milliseconds; the bound is for a database that hangs).
 */
export const PLAN_SEND_OPTIONS: Omit<SendOptions, 'singletonKey' | 'idempotencyKey'> = {
  retryLimit: PLAN_JOB_ATTEMPTS - 1,
  retryDelaySeconds: 1,
  retryBackoff: true,
  expireInSeconds: 60,
};
/** At most one new plan per child in this many seconds (429 `plan_rate_limited` otherwise). */
export const PLAN_RATE_WINDOW_SECONDS = 10;
/** An identical request is answered with a ready plan finished at most this long ago (recall keeps decaying, so plans age). */
export const PLAN_REUSE_SECONDS = 3600;
/** A queued plan whose job was never recorded (the process died between the two writes) is failed after this long. */
export const PLAN_UNQUEUED_AFTER_SECONDS = 120;

/** The body of `POST /api/adaptive/plans`, after its schema. */
export interface PlanRequestInput {
  childId: string;
  minutes: number;
  focus?: { conceptIds: string[] } | { subject: string };
}

/** A plan as the API shows it. */
export interface PlanView {
  planId: string;
  childId: string;
  status: PlanStatus;
  request: StoredPlanRequest;
  plan?: Plan;
  error?: { code: string; message: string };
  attempts: number;
  modelVersion: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** What `POST /api/adaptive/plans` answers: 202 while the plan is being made, 200 with a ready one. */
export interface PlanRequestResult {
  httpStatus: 200 | 202;
  view: PlanView;
}

/** The job's payload: ids only (the child is read from the plan row, so the queue holds no child id). */
export interface PlanJobData {
  app: string;
  planId: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Lesson plans as durable jobs. A request is checked (access, focus, rate),
 * stored as a queued plan and sent to the engine's queue; the engine's job
 * (`src/engine/plan-job.ts`) builds it and writes it once. Identical
 * requests on an unchanged history get the ready plan back; a repeated
 * `Idempotency-Key` gets its first plan.
 */
export class PlansService {
  readonly #db: Database;
  readonly #children: ChildrenService;
  readonly #models: ModelStore;
  readonly #jobQueue: () => Promise<JobQueue>;
  readonly #metrics: Metrics;
  readonly #logger: Logger;
  readonly #masteryThreshold: number;
  /** For the `plan_requested` / `plan_failed` analytics events; none are written without it (lake off). */
  readonly #learnerKeys: LearnerKeys | undefined;

  constructor(deps: {
    db: Database;
    children: ChildrenService;
    models: ModelStore;
    jobQueue: () => Promise<JobQueue>;
    metrics: Metrics;
    logger: Logger;
    masteryThreshold: number;
    learnerKeys?: LearnerKeys;
  }) {
    this.#learnerKeys = deps.learnerKeys;
    this.#db = deps.db;
    this.#children = deps.children;
    this.#models = deps.models;
    this.#jobQueue = deps.jobQueue;
    this.#metrics = deps.metrics;
    this.#logger = deps.logger;
    this.#masteryThreshold = deps.masteryThreshold;
  }

  /**
   * Asks for a plan. In order: the child must be visible (404); a repeated
   * Idempotency-Key returns its plan (409 with another body); the focus must
   * name live concepts or a subject of the app (400); an identical request
   * on an unchanged history returns that plan (200 when ready); otherwise at
   * most one new plan per child per {@link PLAN_RATE_WINDOW_SECONDS} (429),
   * stored queued, then sent to the queue. A queue that cannot take it
   * leaves no plan behind (503 `queue_unavailable`).
   */
  async request(principal: Principal, input: PlanRequestInput, idempotencyKey?: string): Promise<PlanRequestResult> {
    await this.#children.authorizeChild(principal, 'child.plan.request', input.childId);
    const result = await this.#request(principal, input, idempotencyKey);
    // Audited once a plan is answered: a refused request stores nothing, not even this.
    await this.#children.audit(principal, [input.childId], 'request a lesson plan');
    return result;
  }

  async #request(principal: Principal, input: PlanRequestInput, idempotencyKey: string | undefined): Promise<PlanRequestResult> {
    const app = principal.app;
    const request = normaliseRequest(input);
    const requestHash = sha256(JSON.stringify({ childId: input.childId, ...request }));
    const keyDigest = idempotencyKey === undefined ? null : sha256(`${principal.role}\u0000${principal.sub}\u0000${idempotencyKey}`);
    const db = this.#db.db;
    if (keyDigest) {
      const first = await findByIdempotencyKey(db, app, keyDigest);
      if (first) return this.#replayed(first, requestHash);
    }
    await resolveFocus(this.#db, app, request.focus);
    const inputsKey = await this.#inputsKey(app, input.childId, request);

    const planId = randomUUID();
    // Written with the plan row, in its transaction (the learner key is read before it).
    const requested = this.#learnerKeys
      ? serverEvent({
          app,
          type: 'plan_requested',
          recordKey: planId,
          learner: await this.#learnerKeys.keyOf(app, input.childId),
          occurredAt: new Date(),
          properties: { planId, minutes: request.minutes },
        })
      : undefined;
    const decide = () => db.transaction().execute(async (trx) => {
      await lockChildPlans(trx, app, input.childId);
      if (keyDigest) {
        const first = await findByIdempotencyKey(trx, app, keyDigest);
        if (first) return { kind: 'existing' as const, plan: first };
      }
      const identical = await findIdentical(trx, app, input.childId, inputsKey, PLAN_REUSE_SECONDS);
      if (identical) return { kind: 'identical' as const, plan: identical };
      const recent = await recentPlan(trx, app, input.childId, PLAN_RATE_WINDOW_SECONDS);
      if (recent) return { kind: 'too_soon' as const, ...recent };
      await insertPlan(trx, app, { id: planId, childId: input.childId, request, requestHash, inputsKey, idempotencyKey: keyDigest, requestedByRole: principal.role });
      if (requested) await appendEvents(trx, [requested]);
      // The answer describes the plan as accepted: once its job is sent the
      // engine may start it at any moment, and a poll shows the progress.
      const accepted = await findPlan(trx, app, planId);
      if (!accepted) throw new Error(`plan ${planId} is not readable in the transaction that inserted it`);
      return { kind: 'created' as const, plan: accepted };
    });
    let outcome: Awaited<ReturnType<typeof decide>>;
    try {
      outcome = await decide();
    } catch (error) {
      // The lock is per child: the same key sent at once for two children meets at the unique index. The first wins.
      const first = keyDigest && isUniqueViolation(error) ? await findByIdempotencyKey(db, app, keyDigest) : undefined;
      if (!first) throw error;
      outcome = { kind: 'existing' as const, plan: first };
    }
    switch (outcome.kind) {
      case 'existing':
        return this.#replayed(outcome.plan, requestHash);
      case 'identical':
        if (outcome.plan.status === 'ready') this.#metrics.plans.inc({ event: 'reused' });
        return { httpStatus: outcome.plan.status === 'ready' ? 200 : 202, view: toView(outcome.plan) };
      case 'too_soon':
        this.#metrics.plans.inc({ event: 'rate_limited' });
        throw new AppError('rate_limited', 'plan_rate_limited', `A plan for this child was requested less than ${PLAN_RATE_WINDOW_SECONDS} s ago (plan ${outcome.id}); try again in ${outcome.retryAfterSeconds} s`, {
          details: { retryAfterSeconds: outcome.retryAfterSeconds, windowSeconds: PLAN_RATE_WINDOW_SECONDS, planId: outcome.id },
        });
      case 'created':
        break;
    }

    // Sent after the plan row committed (never from inside a transaction: on
    // the embedded database the queue shares its one session). If the queue
    // cannot take the job, the row goes again: nothing half-written remains.
    let jobId: string;
    try {
      const queue = await this.#jobQueue();
      jobId = await queue.send(PLAN_QUEUE, { app, planId } satisfies PlanJobData, {
        ...PLAN_SEND_OPTIONS,
        // One plan of a child runs at a time; the key is a digest so the queue's tables hold no child id.
        singletonKey: `plan:${app}:${sha256(input.childId).slice(0, 32)}`,
        idempotencyKey: planId,
      });
    } catch (error) {
      await deletePlan(db, app, planId).catch((cleanup: unknown) => this.#logger.warn({ err: cleanup, planId }, 'plans: could not remove a plan whose job was not queued'));
      // Its plan_requested event goes too, unless the lake writer has already claimed it.
      if (requested) await withdrawPendingEvents(db, app, [requested.eventId]).catch((cleanup: unknown) => this.#logger.warn({ err: cleanup, planId }, 'plans: could not withdraw the plan_requested event of a plan not queued'));
      throw error;
    }
    const recorded = await setPlanJob(db, app, planId, jobId);
    this.#metrics.plans.inc({ event: 'requested' });
    if (!recorded) throw notFound('plan_not_found', 'The plan was erased while it was being requested');
    return { httpStatus: 202, view: toView(outcome.plan) };
  }

  /** One plan, for callers who may read its child's plans; anything else is 404 `plan_not_found`. */
  async get(principal: Principal, planId: string): Promise<PlanView> {
    const app = principal.app;
    const plan = await findPlan(this.#db.db, app, planId);
    if (!plan) throw planNotFound();
    try {
      await this.#children.authorizeChild(principal, 'child.plan.read', plan.childId);
    } catch (error) {
      // A plan of a child the caller may not see is, for them, no plan at all.
      if (error instanceof AppError && error.kind === 'not_found') throw planNotFound();
      throw error;
    }
    await this.#children.audit(principal, [plan.childId], 'read a lesson plan');
    return toView(await this.#settle(app, plan));
  }

  /** The child's newest ready plan (404 `plan_not_found` when it has none). */
  async newestReady(principal: Principal, childId: string): Promise<PlanView> {
    await this.#children.authorizeChild(principal, 'child.plan.read', childId);
    await this.#children.audit(principal, [childId], 'read a lesson plan');
    const plan = await newestReadyPlan(this.#db.db, principal.app, childId);
    if (!plan) throw notFound('plan_not_found', 'This child has no ready lesson plan yet; request one with POST /api/adaptive/plans');
    return toView(plan);
  }

  /**
   * A plan still queued or running whose job the queue has given up on
   * (its worker was killed or timed out on the last attempt, so the handler
   * never marked it) is marked failed now. The queue being down changes
   * nothing: the plan is shown as stored.
   */
  async #settle(app: string, plan: PlanRecord): Promise<PlanRecord> {
    if (plan.status !== 'queued' && plan.status !== 'running') return plan;
    let error: { code: string; message: string } | undefined;
    if (plan.jobId === null) {
      if (Date.now() - plan.createdAt.getTime() > PLAN_UNQUEUED_AFTER_SECONDS * 1000) {
        error = { code: 'plan_not_queued', message: 'The plan was stored but its job was never queued (the server stopped in between); request a new plan' };
      }
    } else {
      try {
        const job = await (await this.#jobQueue()).get(plan.jobId);
        if (!job || job.state === 'failed' || job.state === 'cancelled') {
          // The job's own error text is the engine's (it may name internals): logged, not shown.
          this.#logger.warn({ planId: plan.id, jobId: plan.jobId, state: job?.state ?? 'gone', jobError: job?.error }, 'plans: the job of a pending plan failed or is gone');
          error = { code: 'plan_job_failed', message: `The engine gave up on this plan after ${job?.attempts ?? plan.attempts} attempt(s); request a new plan` };
        }
      } catch (cause) {
        this.#logger.warn({ err: cause, planId: plan.id }, 'plans: could not read the job of a pending plan');
      }
    }
    if (!error) return plan;
    const failedEvent = await planFailedEvent(this.#learnerKeys, app, plan.childId, plan.id, error.code);
    if (await writeWithEvents(this.#db.db, failedEvent, (db) => markFailed(db, app, plan.id, error), (changed) => changed)) this.#metrics.plans.inc({ event: 'failed' });
    return (await findPlan(this.#db.db, app, plan.id)) ?? plan;
  }

  #replayed(first: PlanRecord, requestHash: string): PlanRequestResult {
    if (first.requestHash !== requestHash) {
      throw new AppError('conflict', 'idempotency_key_reused', `This Idempotency-Key was used for another request (plan ${first.id}); use a new key for a different request`, {
        details: { planId: first.id },
      });
    }
    return { httpStatus: first.status === 'ready' ? 200 : 202, view: toView(first) };
  }

  async #inputsKey(app: string, childId: string, request: StoredPlanRequest): Promise<string> {
    const [versions, model] = await Promise.all([planningVersions(this.#db.db, app, childId), this.#models.active(app)]);
    return sha256(JSON.stringify({ request, ...versions, modelVersion: model.version, masteryThreshold: this.#masteryThreshold }));
  }
}

/** The `plan_failed` event of a plan (none without learner keys: lake off). */
export async function planFailedEvent(keys: LearnerKeys | undefined, app: string, childId: string, planId: string, code: string) {
  if (!keys) return undefined;
  return [serverEvent({ app, type: 'plan_failed', recordKey: planId, learner: await keys.keyOf(app, childId), occurredAt: new Date(), properties: { planId, code } })];
}

/** The request as stored and keyed: focus concepts sorted and unique. */
function normaliseRequest(input: PlanRequestInput): StoredPlanRequest {
  const focus = input.focus;
  if (!focus) return { minutes: input.minutes };
  if ('conceptIds' in focus) return { minutes: input.minutes, focus: { conceptIds: [...new Set(focus.conceptIds)].sort() } };
  return { minutes: input.minutes, focus: { subject: focus.subject } };
}

/**
 * The focus's concepts: every one named must be a live concept of the app
 * (400 `unknown_concept`), and a subject must have live concepts (400
 * `unknown_subject`). Undefined without a focus.
 */
export async function resolveFocus(database: Database, app: string, focus: StoredPlanRequest['focus']): Promise<string[] | undefined> {
  if (!focus) return undefined;
  const concepts = await listLiveConcepts(database.db, app);
  if ('conceptIds' in focus) {
    const live = new Set(concepts.map((c) => c.id));
    const missing = focus.conceptIds.filter((id) => !live.has(id));
    if (missing.length) {
      throw new AppError('invalid', 'unknown_concept', `Invalid body field "focus.conceptIds": unknown concepts ${missing.join(', ')}`, {
        details: { field: 'focus.conceptIds', conceptIds: missing },
      });
    }
    return focus.conceptIds;
  }
  const ids = concepts.filter((c) => c.subject === focus.subject).map((c) => c.id).sort();
  if (!ids.length) {
    throw new AppError('invalid', 'unknown_subject', `Invalid body field "focus.subject": the app has no concepts in subject "${focus.subject}"`, {
      details: { field: 'focus.subject', subject: focus.subject },
    });
  }
  return ids;
}

function planNotFound(): AppError {
  return notFound('plan_not_found', 'No such lesson plan');
}

/** A stored plan as the API shows it. */
export function toView(p: PlanRecord): PlanView {
  return {
    planId: p.id,
    childId: p.childId,
    status: p.status,
    request: p.request,
    ...(p.status === 'ready' ? { plan: p.plan as Plan } : {}),
    ...(p.status === 'failed' ? { error: { code: p.errorCode ?? 'plan_build_failed', message: p.errorMessage ?? '' } } : {}),
    attempts: p.attempts,
    modelVersion: p.modelVersion,
    createdAt: p.createdAt.toISOString(),
    startedAt: p.startedAt?.toISOString() ?? null,
    finishedAt: p.finishedAt?.toISOString() ?? null,
  };
}

/** A unique-constraint violation (PostgreSQL SQLSTATE 23505), from pg or PGlite. */
function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
