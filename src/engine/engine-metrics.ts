import { Counter, Gauge, type Registry } from 'prom-client';
import type { JobQueue } from '../adapters/jobs/job-queue.ts';

/** What a worker counts about the attempts it runs. */
export interface JobAttemptCounter {
  /** An attempt started; `attempt` > 1 is a retry. */
  started(queue: string, attempt: number): void;
  finished(queue: string, outcome: 'completed' | 'failed'): void;
}

/** How long a scrape waits for the queue's counts before leaving the gauge as it was. */
const COUNTS_TIMEOUT_MS = 1000;

/**
 * The engine's job metrics, registered once per registry:
 * `kidslearn_engine_jobs{queue,state}` — jobs stored now by state (queued
 * = created or waiting for a retry, running, done, failed), read from the
 * queue at scrape time; `kidslearn_engine_job_attempts_total{queue,outcome}`
 * — attempts this process ran: `completed`, `failed` (an attempt that
 * threw or timed out; retried while attempts are left) and `retried` (an
 * attempt after the first).
 */
export function registerJobMetrics(registry: Registry, queue: JobQueue): JobAttemptCounter {
  const existing = registry.getSingleMetric('kidslearn_engine_job_attempts_total') as Counter<'queue' | 'outcome'> | undefined;
  const attempts =
    existing ??
    new Counter({
      name: 'kidslearn_engine_job_attempts_total',
      help: 'Job attempts run by this process, by queue and outcome (completed, failed, retried)',
      labelNames: ['queue', 'outcome'],
      registers: [registry],
    });
  if (!registry.getSingleMetric('kidslearn_engine_jobs')) {
    new Gauge({
      name: 'kidslearn_engine_jobs',
      help: 'Stored jobs by queue and state: queued, running, done, failed (all processes; read from the queue at scrape time)',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        let timer: NodeJS.Timeout | undefined;
        const counts = await Promise.race([
          queue.counts().catch(() => undefined),
          new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), COUNTS_TIMEOUT_MS))),
        ]);
        clearTimeout(timer);
        if (!counts) return; // the queue is down: /health says so; keep the last values
        this.reset();
        const totals = new Map<string, number>();
        for (const c of counts) {
          const state = STATE_NAMES[c.state];
          if (!state) continue;
          const key = `${c.queue}\u0000${state}`;
          totals.set(key, (totals.get(key) ?? 0) + c.count);
        }
        for (const [key, n] of totals) {
          const [q, state] = key.split('\u0000');
          this.set({ queue: q!, state: state! }, n);
        }
      },
    });
  }
  return {
    started(q, attempt) {
      if (attempt > 1) attempts.inc({ queue: q, outcome: 'retried' });
    },
    finished(q, outcome) {
      attempts.inc({ queue: q, outcome });
    },
  };
}

/** The queue's states under the names operators read. */
const STATE_NAMES: Record<string, string | undefined> = {
  created: 'queued',
  retry: 'queued',
  active: 'running',
  completed: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};
