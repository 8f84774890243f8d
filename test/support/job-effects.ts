import { sql } from 'kysely';
import type { Database } from '../../src/adapters/db/database.ts';
import type { Job } from '../../src/adapters/jobs/job-queue.ts';

/**
 * The side effect of the killed-worker test's job, written the way a real
 * handler (the engine writing a plan) must: keyed by the job id with
 * `on conflict do nothing`, so a job run again after its worker died
 * writes once. `job_runs` records every run, to show it did run twice.
 */
export async function createEffectTables(database: Database): Promise<void> {
  await sql`create table if not exists job_runs (job_id uuid not null, attempt int not null, pid int not null, at timestamptz not null default now())`.execute(database.db);
  await sql`create table if not exists job_effects (job_id uuid primary key, payload jsonb not null)`.execute(database.db);
}

/** Records the run, then writes the effect at most once per job. */
export async function writeEffect(database: Database, job: Job): Promise<void> {
  await sql`insert into job_runs (job_id, attempt, pid) values (${job.id}, ${job.attempt}, ${process.pid})`.execute(database.db);
  await sql`insert into job_effects (job_id, payload) values (${job.id}, ${JSON.stringify(job.data)}::jsonb) on conflict do nothing`.execute(database.db);
}
