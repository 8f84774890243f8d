/**
 * A job worker in a process of its own, for the killed-worker test: works
 * queue `JOB_QUEUE` on the PostgreSQL database `JOB_DATABASE_URL`, writes
 * each job's effect (see job-effects.ts), prints `effect <job id>`, and then
 * hangs as if stuck, so the test can SIGKILL it mid-job: after the effect,
 * before the job is marked completed.
 */
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import { openJobQueue } from '../../src/adapters/jobs/pg-boss-queue.ts';
import { writeEffect } from './job-effects.ts';

const url = process.env.JOB_DATABASE_URL!;
const queueName = process.env.JOB_QUEUE!;
const database = await openPostgresDatabase({ url, poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
const queue = await openJobQueue({ database, databaseUrl: url, timeoutMs: 5000, pollingIntervalSeconds: 0.5, maintenanceIntervalSeconds: 1 });
await queue.work(queueName, { concurrency: 1 }, async (job) => {
  await writeEffect(database, job);
  process.stdout.write(`effect ${job.id}\n`);
  await new Promise(() => {});
});
process.stdout.write('working\n');
