import { InvalidArgumentError, type Command } from 'commander';
import { JOB_STATES, type JobRecord, type JobState } from '../../adapters/jobs/job-queue.ts';
import { startProgress, type Progress } from '../progress.ts';
import { failure, parseAppId, parsePositiveInt, withContainer, type CliContext } from '../shared.ts';

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

/**
 * `kidslearn engine …`: the adaptive engine's operator commands. Each
 * subcommand is added by its own function below, so the group grows by one
 * call in {@link register}.
 */
export function register(program: Command, ctx: CliContext): void {
  const engine = program.command('engine').description("the adaptive engine: its jobs (plan requests) and the curriculum's vectors");
  registerJobs(engine, ctx);
  registerRetry(engine, ctx);
  registerReindex(engine, ctx);
}

/** `engine reindex --app <id>`: brings the app's curriculum vectors up to date with its content and the configured embedding model. */
function registerReindex(engine: Command, ctx: CliContext): void {
  engine
    .command('reindex')
    .description("embed the app's live concepts, published lessons and their items with the configured embedder: only changed texts, everything after a model change; removes vectors of retired content")
    .requiredOption('--app <id>', 'the app whose curriculum to index', parseAppId)
    .action(async (options: { app: string }) => {
      const appId = options.app;
      ctx.print(
        await withContainer(ctx, async (c) => {
          await c.apps.require(appId);
          let progress: Progress | undefined;
          let result: Awaited<ReturnType<typeof c.curriculumIndex.reindex>>;
          try {
            result = await c.curriculumIndex.reindex(appId, {
              onProgress: (done, total) => {
                progress ??= startProgress('engine reindex', total, { stream: ctx.io.progressStream, unit: 'texts' });
                progress.update(done);
              },
            });
          } finally {
            progress?.done();
          }
          return (
            `app ${appId}: ${result.documents} concepts, lessons and items; ${result.embedded} embedded, ${result.unchanged} unchanged, ${result.removed} removed ` +
            `(model ${result.model}, ${result.dimension} dimensions)`
          );
        }),
      );
    });
}

/** `engine jobs`: stored jobs, newest first. */
function registerJobs(engine: Command, ctx: CliContext): void {
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

}

/** `engine retry <jobId>`: one more attempt for a failed job. */
function registerRetry(engine: Command, ctx: CliContext): void {
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
