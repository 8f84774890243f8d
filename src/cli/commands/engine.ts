import { InvalidArgumentError, type Command } from 'commander';
import { JOB_STATES, type JobRecord, type JobState } from '../../adapters/jobs/job-queue.ts';
import { failure, parsePositiveInt, withContainer, type CliContext } from '../shared.ts';

/** `--state failed`: one of the queue's job states. */
function parseJobState(value: string): JobState {
  if (!(JOB_STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${JOB_STATES.join(', ')}.`);
  return value as JobState;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `engine retry <jobId>`: a job id as `engine jobs` prints it. */
function parseJobId(value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError('expected a job id (a UUID, as `engine jobs` prints it).');
  return value.toLowerCase();
}

/** One line per job: id, queue, state, attempts, when, and the last error. */
export function formatJobs(jobs: readonly JobRecord[]): string {
  if (!jobs.length) return 'no jobs';
  const rows = jobs.map((j) => [j.id, j.queue, j.state, `${j.attempts}/${j.maxAttempts}`, j.createdAt.toISOString(), j.error ?? '']);
  const head = ['JOB', 'QUEUE', 'STATE', 'ATTEMPTS', 'CREATED', 'ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function register(program: Command, ctx: CliContext): void {
  const engine = program.command('engine').description("the adaptive engine's jobs (plan requests) and curriculum index");

  engine
    .command('jobs')
    .description('list stored jobs, newest first: id, queue, state, attempts, created, last error')
    .option('--state <state>', `only jobs in this state (${JOB_STATES.join(', ')})`, parseJobState)
    .option('--queue <name>', 'only jobs of this queue (e.g. plans)')
    .option('--limit <n>', 'at most this many (up to 1000)', parsePositiveInt, 50)
    .option('--json', 'print JSON lines instead of a table', false)
    .action(async (options: { state?: JobState; queue?: string; limit: number; json: boolean }) => {
      const jobs = await withContainer(ctx, async (c) => (await c.jobQueue()).list({ state: options.state, queue: options.queue, limit: Math.min(options.limit, 1000) }));
      ctx.print(options.json ? jobs.map((j) => JSON.stringify(j)).join('\n') : formatJobs(jobs));
    });

  engine
    .command('retry')
    .description('requeue a failed job with one more attempt (a running engine picks it up)')
    .argument('<jobId>', 'the job, as `engine jobs --state failed` lists it', parseJobId)
    .action(async (jobId: string) => {
      const requeued = await withContainer(ctx, async (c) => (await c.jobQueue()).retry(jobId));
      if (!requeued) throw failure(`job ${jobId}: no failed job with this id (see: kidslearn engine jobs --state failed)`);
      ctx.print(`job ${jobId} requeued`);
    });
}
