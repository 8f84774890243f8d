import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { scoped } from '../../adapters/db/scoped.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import { tenantSchema } from '../../domain/tenancy.ts';

type Db = Kysely<Tables> | Transaction<Tables>;

export type PlanStatus = 'queued' | 'running' | 'ready' | 'failed';

/** A plan request as the API stores it: the minutes and the focus as sent (the focus's concepts are resolved when planning). */
export interface StoredPlanRequest {
  minutes: number;
  focus?: { conceptIds: string[] } | { subject: string };
}

/** One row of `plans`, as the service reads it. */
export interface PlanRecord {
  id: string;
  childId: string;
  status: PlanStatus;
  request: StoredPlanRequest;
  requestHash: string;
  inputsKey: string;
  jobId: string | null;
  plan: unknown;
  inputs: unknown;
  modelVersion: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number;
  requestedByRole: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const COLUMNS = [
  'id',
  'child_id',
  'status',
  'request',
  'request_hash',
  'inputs_key',
  'job_id',
  'plan',
  'inputs',
  'model_version',
  'error_code',
  'error_message',
  'attempts',
  'requested_by_role',
  'created_at',
  'started_at',
  'finished_at',
] as const;

type Row = Pick<Selectable<Tables['plans']>, (typeof COLUMNS)[number]>;

const toRecord = (r: Row): PlanRecord => ({
  id: r.id,
  childId: r.child_id,
  status: r.status,
  request: r.request as StoredPlanRequest,
  requestHash: r.request_hash,
  inputsKey: r.inputs_key,
  jobId: r.job_id,
  plan: r.plan,
  inputs: r.inputs,
  modelVersion: r.model_version,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  attempts: r.attempts,
  requestedByRole: r.requested_by_role,
  createdAt: new Date(r.created_at),
  startedAt: r.started_at ? new Date(r.started_at) : null,
  finishedAt: r.finished_at ? new Date(r.finished_at) : null,
});

/** One plan by id, or undefined. */
export async function findPlan(db: Db, appId: string, planId: string): Promise<PlanRecord | undefined> {
  const row = await scoped(db, appId).selectFrom('plans').select(COLUMNS).where('id', '=', planId).executeTakeFirst();
  return row && toRecord(row as Row);
}

/** The plan an Idempotency-Key (as its digest) was first used for. */
export async function findByIdempotencyKey(db: Db, appId: string, keyDigest: string): Promise<PlanRecord | undefined> {
  const row = await scoped(db, appId).selectFrom('plans').select(COLUMNS).where('idempotency_key', '=', keyDigest).executeTakeFirst();
  return row && toRecord(row as Row);
}

/** The child's newest ready plan. */
export async function newestReadyPlan(db: Db, appId: string, childId: string): Promise<PlanRecord | undefined> {
  const row = await scoped(db, appId)
    .selectFrom('plans')
    .select(COLUMNS)
    .where('child_id', '=', childId)
    .where('status', '=', 'ready')
    .orderBy('finished_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && toRecord(row as Row);
}

/**
 * What a plan's inputs key is made of besides the request: the child's
 * learner clock (moved on by every answer write) and a digest of the app's
 * curriculum as the planner reads it (lessons, their authored items,
 * concepts and prerequisites), so a content change makes a new plan. Items
 * generated for children are not content: a plan's own fresh questions
 * must not make its identical successor look new.
 */
export async function planningVersions(db: Db, appId: string, childId: string): Promise<{ learnerClock: string; contentVersion: string }> {
  const s = tenantSchema(appId);
  const t = (name: string) => sql.table(`${s}.${name}`);
  const { rows } = await sql<{ clock: string | null; lessons: string; items: string; concepts: string; prerequisites: string }>`
    select
      (select seq::text from ${t('learner_clock')} where child_id = ${childId}) as clock,
      (select count(*)::text || ':' || coalesce(max(updated_at)::text, '') || ':' || count(*) filter (where published and retired_at is null)::text from ${t('lessons')}) as lessons,
      (select count(*)::text || ':' || count(retired_at)::text || ':' || coalesce(sum(difficulty), 0)::text from ${t('practice_items')} where generated is null) as items,
      (select md5(coalesce(string_agg(id || ':' || name || ':' || coalesce(retired_at::text, ''), ',' order by id), '')) from ${t('concepts')}) as concepts,
      (select md5(coalesce(string_agg(concept_id || '>' || prerequisite_id, ',' order by concept_id, prerequisite_id), '')) from ${t('concept_prerequisites')}) as prerequisites
  `.execute(db);
  const r = rows[0]!;
  return { learnerClock: r.clock ?? '0', contentVersion: `${r.lessons}|${r.items}|${r.concepts}|${r.prerequisites}` };
}

/**
 * Serialises plan requests of one child across processes for the rest of
 * the transaction: the checks (reuse, rate limit) and the insert that
 * follow see every plan another request of the child committed.
 */
export async function lockChildPlans(trx: Transaction<Tables>, appId: string, childId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`plans:${appId}`}), hashtext(${childId}))`.execute(trx);
}

/**
 * A plan of the child with this inputs key that can answer an identical
 * request: ready and finished within `freshSeconds`, or still queued or
 * running. Newest first.
 */
export async function findIdentical(db: Db, appId: string, childId: string, inputsKey: string, freshSeconds: number): Promise<PlanRecord | undefined> {
  const row = await scoped(db, appId)
    .selectFrom('plans')
    .select(COLUMNS)
    .where('child_id', '=', childId)
    .where('inputs_key', '=', inputsKey)
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['queued', 'running']),
        eb.and([eb('status', '=', 'ready'), eb('finished_at', '>', sql<Date>`now() - make_interval(secs => ${freshSeconds})`)]),
      ]),
    )
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && toRecord(row as Row);
}

/** The child's newest plan created within `windowSeconds` (by the database's clock), with the seconds until the window ends. */
export async function recentPlan(db: Db, appId: string, childId: string, windowSeconds: number): Promise<{ id: string; retryAfterSeconds: number } | undefined> {
  const s = tenantSchema(appId);
  const { rows } = await sql<{ id: string; wait: number | string }>`
    select id, extract(epoch from (created_at + make_interval(secs => ${windowSeconds}) - now())) as wait
    from ${sql.table(`${s}.plans`)}
    where child_id = ${childId} and created_at > now() - make_interval(secs => ${windowSeconds})
    order by created_at desc limit 1`.execute(db);
  const r = rows[0];
  return r && { id: r.id, retryAfterSeconds: Math.max(1, Math.ceil(Number(r.wait))) };
}

/** Inserts a queued plan. */
export async function insertPlan(
  db: Db,
  appId: string,
  p: { id: string; childId: string; request: StoredPlanRequest; requestHash: string; inputsKey: string; idempotencyKey: string | null; requestedByRole: string },
): Promise<void> {
  await scoped(db, appId)
    .insertInto('plans')
    .values({
      id: p.id,
      child_id: p.childId,
      status: 'queued',
      request: JSON.stringify(p.request),
      request_hash: p.requestHash,
      inputs_key: p.inputsKey,
      idempotency_key: p.idempotencyKey,
      requested_by_role: p.requestedByRole,
    })
    .execute();
}

/** Removes a plan whose job could not be queued (nothing half-written stays). */
export async function deletePlan(db: Db, appId: string, planId: string): Promise<void> {
  await scoped(db, appId).deleteFrom('plans').where('id', '=', planId).execute();
}

/** Records the job that builds the plan; false when the plan is gone (erased meanwhile). */
export async function setPlanJob(db: Db, appId: string, planId: string, jobId: string): Promise<boolean> {
  const r = await scoped(db, appId).updateTable('plans').set({ job_id: jobId }).where('id', '=', planId).executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Marks an attempt started; false when the plan is gone (erased) or already ready. */
export async function markRunning(db: Db, appId: string, planId: string): Promise<boolean> {
  const r = await scoped(db, appId)
    .updateTable('plans')
    .set((eb) => ({ status: 'running', attempts: eb('attempts', '+', 1), started_at: sql<Date>`now()` }))
    .where('id', '=', planId)
    .where('status', '<>', 'ready')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Writes the plan, once: only a plan not ready yet is updated, so a job run
 * twice (its worker died after writing) cannot overwrite it. Returns the
 * request and finish times when this call wrote it, undefined otherwise.
 */
export async function writeReadyPlan(
  db: Db,
  appId: string,
  planId: string,
  p: { plan: unknown; inputs: unknown; modelVersion: number | null },
): Promise<{ createdAt: Date; finishedAt: Date } | undefined> {
  const row = await scoped(db, appId)
    .updateTable('plans')
    .set({
      status: 'ready',
      plan: JSON.stringify(p.plan),
      inputs: JSON.stringify(p.inputs),
      model_version: p.modelVersion,
      error_code: null,
      error_message: null,
      finished_at: sql<Date>`now()`,
    })
    .where('id', '=', planId)
    .where('status', '<>', 'ready')
    .returning(['created_at', 'finished_at'])
    .executeTakeFirst();
  return row ? { createdAt: new Date(row.created_at), finishedAt: new Date(row.finished_at!) } : undefined;
}

/** After a failed attempt with attempts left: back to queued, keeping the attempt's error for inspection. */
export async function markRetrying(db: Db, appId: string, planId: string, error: { code: string; message: string }): Promise<void> {
  await scoped(db, appId)
    .updateTable('plans')
    .set({ status: 'queued', error_code: error.code, error_message: error.message })
    .where('id', '=', planId)
    .where('status', '=', 'running')
    .execute();
}

/** Marks the plan failed (attempts exhausted) unless it is ready or failed already; true when this call did. */
export async function markFailed(db: Db, appId: string, planId: string, error: { code: string; message: string }): Promise<boolean> {
  const r = await scoped(db, appId)
    .updateTable('plans')
    .set({ status: 'failed', error_code: error.code, error_message: error.message, finished_at: sql<Date>`now()` })
    .where('id', '=', planId)
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
