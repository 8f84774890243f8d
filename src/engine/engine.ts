import type { JobHandler, JobQueue, Worker } from '../adapters/jobs/job-queue.ts';
import { PLAN_QUEUE } from '../features/plans/plans.service.ts';
import type { Container } from '../wiring/container.ts';
import { registerJobMetrics } from './engine-metrics.ts';
import { planJobHandler } from './plan-job.ts';
import { freshPracticeEnricher } from './plan-enricher.ts';

/**
 * One kind of engine job: the queue it is sent to and the handler that runs
 * it, made from the container (so it uses the same adapters as the API).
 */
export interface EngineJobKind {
  queue: string;
  handler(container: Container): JobHandler;
}

/** The engine's work, in the order its workers start. Each feature adds its kind here. */
export const ENGINE_JOB_KINDS: EngineJobKind[] = [
  /** Lesson plans requested with `POST /api/adaptive/plans`, each practice activity with one freshly generated question. */
  {
    queue: PLAN_QUEUE,
    handler: (c) =>
      planJobHandler({ db: c.database, builder: c.planBuilder, metrics: c.metrics, logger: c.logger, enrich: freshPracticeEnricher({ generator: c.generator, logger: c.logger }), learnerKeys: c.config.lake.enabled ? c.learnerKeys : undefined }) as JobHandler,
  },
];

/** A running engine: its workers take jobs until `stop`. */
export interface RunningEngine {
  readonly queue: JobQueue;
  /**
   * Stops taking jobs and waits up to `timeoutMs` for running ones to
   * finish. Whatever still runs then is released when the container closes
   * the queue (its attempt fails and it is retried by another worker).
   */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Starts the engine's workers in this process: `npm run engine`, or inside
 * `npm start` when `ENGINE_MODE=inline`. Jobs of every kind in
 * {@link ENGINE_JOB_KINDS}, `concurrency` of each at a time.
 */
export async function startEngine(container: Container, options: { concurrency: number; kinds?: readonly EngineJobKind[] }): Promise<RunningEngine> {
  const queue = await container.jobQueue();
  const counter = registerJobMetrics(container.metrics.registry, queue);
  const workers: Worker[] = [];
  try {
    for (const kind of options.kinds ?? ENGINE_JOB_KINDS) {
      const handler = kind.handler(container);
      const counted: JobHandler = async (job) => {
        counter.started(job.queue, job.attempt);
        try {
          const output = await handler(job);
          counter.finished(job.queue, 'completed');
          return output;
        } catch (error) {
          counter.finished(job.queue, 'failed');
          container.logger.warn({ err: error, queue: job.queue, jobId: job.id, attempt: job.attempt }, 'engine: job attempt failed');
          throw error;
        }
      };
      workers.push(await queue.work(kind.queue, { concurrency: options.concurrency }, counted));
    }
  } catch (error) {
    await Promise.allSettled(workers.map((w) => w.stop()));
    throw error;
  }
  return {
    queue,
    async stop(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([Promise.allSettled(workers.map((w) => w.stop())), waited]);
      clearTimeout(timer);
    },
  };
}
