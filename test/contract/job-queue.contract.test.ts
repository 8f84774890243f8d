import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Database } from '../../src/adapters/db/database.ts';
import type { JobQueue, JobRecord, JobState, SendOptions } from '../../src/adapters/jobs/job-queue.ts';
import { openJobQueue } from '../../src/adapters/jobs/pg-boss-queue.ts';
import { controlMigrations } from '../../src/adapters/db/migrations.ts';
import { openSqsJobQueue } from '../../src/adapters/jobs/sqs-queue.ts';
import { FakeSqs } from '../support/sqs-fake.ts';
import { createEffectTables, writeEffect } from '../support/job-effects.ts';
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { createThrowawayDatabase, databaseBackends } from '../support/servers.ts';

/**
 * The job-queue port's contract, run on both adapters — pg-boss, and SQS
 * (driven through the AWS SDK's client mock over an in-test model of SQS,
 * test/support/sqs-fake.ts) with its job records — each on embedded PGlite
 * and on a throwaway PostgreSQL database. Assertions read the stored job
 * (`get`, `list`), not only what handlers saw. Intervals are short (polling
 * 0.5 s, maintenance 1 s, timeouts of 1–2 s) so the suite runs in seconds.
 */
const FAST = { timeoutMs: 5000, pollingIntervalSeconds: 0.5, maintenanceIntervalSeconds: 1 };
const ONCE: SendOptions = { retryLimit: 0, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 };

let queueSerial = 0;
/** A queue name no other test uses. */
const fresh = (what: string) => `${what}-${++queueSerial}`;

/** Polls `get` until the job is in one of `states`; fails with the last record after `ms`. */
async function until(queue: JobQueue, id: string, states: JobState[], ms = 15_000): Promise<JobRecord> {
  const deadline = Date.now() + ms;
  let last: JobRecord | null = null;
  while (Date.now() < deadline) {
    last = await queue.get(id);
    if (last && states.includes(last.state)) return last;
    await sleep(100);
  }
  assert.fail(`job ${id} not ${states.join('|')} within ${ms} ms: ${JSON.stringify(last)}`);
}

/** How a test opens one more queue instance: `slow` polls rarely (pg-boss: every 60 s; SQS: the longest long poll, 20 s). */
type OpenQueue = (database: Database, url: string | undefined, o?: { slow?: boolean; severed?: () => boolean }) => Promise<JobQueue>;

/** The adapters under test. The SQS one shares one fake SQS per suite (every instance is another process's client). */
const adapters: Array<{ name: 'pg-boss' | 'sqs'; make(): OpenQueue; prepare?(database: Database): Promise<void> }> = [
  {
    name: 'pg-boss',
    make: () => (database, url, o) => openJobQueue({ database, ...(url ? { databaseUrl: url } : {}), ...FAST, ...(o?.slow ? { pollingIntervalSeconds: 60 } : {}) }),
  },
  {
    name: 'sqs',
    // The job records' table: control migration 6 alone (the whole series needs pgvector, which this server may lack).
    async prepare(database) {
      await sql`create schema if not exists kidslearn`.execute(database.db);
      await database.db.transaction().execute((trx) => controlMigrations.find((m) => m.name === 'job records')!.up(trx, 'kidslearn'));
    },
    make() {
      const sqs = new FakeSqs();
      return (database, _url, o) =>
        openSqsJobQueue({
          database,
          client: sqs.client(o?.severed),
          // One FIFO queue per named queue, so tests' queues do not see each other's messages.
          queueUrl: (name) => `https://sqs.eu-west-1.amazonaws.com/123456789012/${name}.fifo`,
          timeoutMs: FAST.timeoutMs,
          waitTimeSeconds: o?.slow ? 20 : 2,
          visibilityMarginSeconds: 1,
        });
    },
  },
];

for (const adapter of adapters)
for (const backend of await databaseBackends()) {
  describe(`job queue contract: ${adapter.name} on ${backend.name}`, { skip: backend.skip }, () => {
    let opened: Awaited<ReturnType<typeof backend.open>>;
    let database: Database;
    let queue: JobQueue;
    const openQueue = adapter.make();
    // Every queue a test opens is stopped after the suite even if the test failed: a running pg-boss keeps the process alive.
    const others: JobQueue[] = [];
    const open = async (o?: { slow?: boolean; severed?: () => boolean; database?: Database }) => {
      const q = await openQueue(o?.database ?? database, opened.url, o);
      others.push(q);
      return q;
    };
    before(async () => {
      opened = await backend.open();
      database = opened.database;
      await adapter.prepare?.(database);
      queue = await open();
    });
    after(async () => {
      await Promise.all(others.map((q) => q.stop({ graceful: false, timeoutMs: 1000 })));
      await opened?.dispose();
    });

    it('works a sent job once, with its payload, and stores it completed with the output', async () => {
      const name = fresh('once');
      const seen: unknown[] = [];
      const id = await queue.send(name, { childId: 'c-1', minutes: 15 }, ONCE);
      const worker = await queue.work<{ childId: string; minutes: number }>(name, { concurrency: 2 }, async (job) => {
        seen.push({ id: job.id, queue: job.queue, data: job.data, attempt: job.attempt });
        return { planId: `plan-for-${job.data.childId}` };
      });
      const done = await until(queue, id, ['completed']);
      await sleep(1200); // a few polling rounds: nothing runs it again
      await worker.stop();
      assert.deepEqual(seen, [{ id, queue: name, data: { childId: 'c-1', minutes: 15 }, attempt: 1 }]);
      assert.equal(done.queue, name);
      assert.deepEqual(done.data, { childId: 'c-1', minutes: 15 });
      assert.deepEqual(done.output, { planId: 'plan-for-c-1' });
      assert.equal(done.attempts, 1);
      assert.equal(done.error, null);
      assert.ok(done.startedAt && done.finishedAt && done.finishedAt >= done.startedAt);
      const listed = await queue.list({ queue: name, state: 'completed', limit: 10 });
      assert.deepEqual(
        listed.map((j) => j.id),
        [id],
      );
    });

    it('an idempotency key sent twice makes one job and returns its id both times', async () => {
      const name = fresh('idem');
      const first = await queue.send(name, { n: 1 }, { ...ONCE, idempotencyKey: 'request-abc' });
      const second = await queue.send(name, { n: 2 }, { ...ONCE, idempotencyKey: 'request-abc' });
      const other = await queue.send(name, { n: 3 }, { ...ONCE, idempotencyKey: 'request-xyz' });
      assert.equal(second, first);
      assert.notEqual(other, first);
      const listed = await queue.list({ queue: name, limit: 10 });
      assert.equal(listed.length, 2);
      assert.deepEqual((await queue.get(first))!.data, { n: 1 });
    });

    it('retries a failing handler with growing delays up to the limit, then keeps it failed with the error', async () => {
      const name = fresh('retry');
      const starts: number[] = [];
      const id = await queue.send(name, { childId: 'c-2' }, { retryLimit: 2, retryDelaySeconds: 1, retryBackoff: true, expireInSeconds: 30 });
      const worker = await queue.work(name, { concurrency: 1 }, async (job) => {
        starts.push(performance.now());
        throw new Error(`boom on attempt ${job.attempt}`);
      });
      const failed = await until(queue, id, ['failed'], 20_000);
      await sleep(1200);
      await worker.stop();
      assert.equal(starts.length, 3, 'the first run and two retries, no more');
      const gaps = [starts[1]! - starts[0]!, starts[2]! - starts[1]!];
      // Backoff: the n-th retry waits retryDelay·2^n/2 plus up to as much jitter again, so at least 1 s, then at least 2 s.
      assert.ok(gaps[0]! >= 950 && gaps[0]! < 5000, `first retry after ${gaps[0]} ms`);
      assert.ok(gaps[1]! >= 1950, `second retry after ${gaps[1]} ms: it must wait longer than the first`);
      assert.equal(failed.state, 'failed');
      assert.equal(failed.attempts, 3);
      assert.equal(failed.maxAttempts, 3);
      assert.equal(failed.error, 'boom on attempt 3');
      assert.ok(failed.finishedAt);
      const listed = await queue.list({ state: 'failed', limit: 100 });
      assert.ok(listed.some((j) => j.id === id && j.error === 'boom on attempt 3'), 'listed among failed jobs, with its error');
      assert.ok(!(await queue.list({ state: 'completed', limit: 100 })).some((j) => j.id === id));
    });

    it('retry(jobId) requeues a failed job, which then completes; other jobs cannot be retried', async () => {
      const name = fresh('requeue');
      let healthy = false;
      const id = await queue.send(name, { childId: 'c-3' }, ONCE);
      const worker = await queue.work(name, { concurrency: 1 }, async () => {
        if (!healthy) throw new Error('the LLM is down');
        return 'ok';
      });
      const failed = await until(queue, id, ['failed']);
      assert.equal(failed.error, 'the LLM is down');
      healthy = true;
      assert.equal(await queue.retry(id), true);
      const done = await until(queue, id, ['completed']);
      await worker.stop();
      assert.equal(done.attempts, 2);
      assert.equal(done.output, 'ok');
      assert.equal(await queue.retry(id), false, 'a completed job is not retried');
      assert.equal(await queue.retry('00000000-0000-4000-8000-000000000000'), false);
      assert.equal(await queue.retry('not-a-uuid'), false);
      assert.equal(await queue.get('00000000-0000-4000-8000-000000000000'), null);
    });

    it('an attempt that overruns expireInSeconds is failed (its signal aborted) and retried, or failed when no attempts are left', async () => {
      const name = fresh('overrun');
      const aborted: Record<string, boolean[]> = {};
      const worker = await queue.work<{ tag: string }>(name, { concurrency: 2 }, async (job) => {
        (aborted[job.data.tag] ??= []).push(false);
        if (job.attempt === 1) {
          // Stuck until told to stop, as a well-behaved handler does when its signal aborts.
          await new Promise<void>((resolve) => {
            job.signal.addEventListener('abort', () => resolve(), { once: true });
            setTimeout(resolve, 6000);
          });
          aborted[job.data.tag]![0] = job.signal.aborted;
          return 'too late';
        }
        return 'second time lucky';
      });
      const retried = await queue.send(name, { tag: 'retried' }, { retryLimit: 1, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 1 });
      const last = await queue.send(name, { tag: 'last' }, { retryLimit: 0, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 1 });
      const done = await until(queue, retried, ['completed']);
      const failed = await until(queue, last, ['failed']);
      await worker.stop();
      assert.equal(done.attempts, 2);
      assert.equal(done.output, 'second time lucky');
      assert.equal(failed.attempts, 1);
      // The worker's own timer ("handler execution exceeded 1s") or the maintenance pass ("job timed out"), whichever comes first.
      assert.match(failed.error ?? '', /exceeded 1s|timed out/);
      assert.deepEqual(aborted, { retried: [true, false], last: [true] });
    });

    it('two jobs with the same singleton key never run at the same time, while other keys run in parallel', async () => {
      const name = fresh('singleton');
      const spans: Array<{ key: string; start: number; end: number }> = [];
      const handler = async (job: { data: { key: string } }) => {
        const start = performance.now();
        await sleep(400);
        spans.push({ key: job.data.key, start, end: performance.now() });
      };
      // Two registrations (as two engine processes would be), four handlers each.
      const workers = [await queue.work(name, { concurrency: 4 }, handler), await queue.work(name, { concurrency: 4 }, handler)];
      const ids: string[] = [];
      for (const key of ['child-a', 'child-a', 'child-a', 'child-b', 'child-b', 'child-b']) {
        ids.push(await queue.send(name, { key }, { ...ONCE, singletonKey: key }));
      }
      for (const id of ids) await until(queue, id, ['completed'], 20_000);
      await Promise.all(workers.map((w) => w.stop()));
      assert.equal(spans.length, 6);
      const overlaps = (a: (typeof spans)[number], b: (typeof spans)[number]) => a.start < b.end && b.start < a.end;
      for (const [i, a] of spans.entries()) {
        for (const b of spans.slice(i + 1)) {
          if (a.key === b.key) assert.ok(!overlaps(a, b), `two ${a.key} jobs overlapped: ${JSON.stringify([a, b])}`);
        }
      }
      assert.ok(
        spans.some((a) => spans.some((b) => a.key !== b.key && overlaps(a, b))),
        'jobs of different children did run at the same time (so the check above could see an overlap)',
      );
      const stored = await Promise.all(ids.map((id) => queue.get(id)));
      assert.deepEqual(
        stored.map((j) => j!.singletonKey),
        ['child-a', 'child-a', 'child-a', 'child-b', 'child-b', 'child-b'],
      );
    });

    it('stop (graceful) lets the running job finish and starts no new one', async () => {
      const name = fresh('stop');
      const stopping = await open();
      const events: string[] = [];
      let started!: () => void;
      const first = new Promise<void>((resolve) => (started = resolve));
      await stopping.work<{ n: number }>(name, { concurrency: 1 }, async (job) => {
        events.push(`start ${job.data.n}`);
        started();
        await sleep(1500);
        events.push(`end ${job.data.n}`);
        return job.data.n;
      });
      const a = await queue.send(name, { n: 1 }, ONCE);
      const b = await queue.send(name, { n: 2 }, ONCE);
      await first;
      await stopping.stop({ graceful: true, timeoutMs: 10_000 });
      assert.deepEqual(events, ['start 1', 'end 1'], 'the running job finished before stop resolved');
      assert.equal((await queue.get(a))!.state, 'completed');
      await sleep(1500);
      assert.deepEqual(events, ['start 1', 'end 1'], 'no job started after stop');
      assert.equal((await queue.get(b))!.state, 'created');
      assert.deepEqual(await stopping.health(), { ok: false, reason: 'stopped' });
      await assert.rejects(stopping.send(name, { n: 3 }, ONCE), { code: 'queue_unavailable' });
    });

    it('stop releases a job still running at its timeout: the attempt fails and the job waits for a retry', async () => {
      const name = fresh('release');
      const stopping = await open();
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      let sawAbort = false;
      await stopping.work(name, { concurrency: 1 }, async (job) => {
        started();
        await new Promise<void>((resolve) => {
          job.signal.addEventListener('abort', () => resolve(), { once: true });
          setTimeout(resolve, 8000);
        });
        sawAbort = job.signal.aborted;
      });
      const id = await queue.send(name, {}, { retryLimit: 2, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 });
      await running;
      const t0 = performance.now();
      await stopping.stop({ graceful: true, timeoutMs: 1000 });
      assert.ok(performance.now() - t0 < 5000, 'stop is bounded by its timeout');
      assert.equal(sawAbort, true, 'the handler was told to stop');
      const released = (await queue.get(id))!;
      assert.equal(released.state, 'retry');
      assert.equal(released.attempts, 1);
      assert.match(released.error ?? '', /shut down/);
    });

    it("a job sent while the application holds a transaction is not rolled back with it (PGlite shares one session)", async () => {
      const name = fresh('tx');
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let began!: () => void;
      const inTransaction = new Promise<void>((resolve) => (began = resolve));
      const transaction = database.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        began();
        await held;
        throw new Error('rolled back');
      });
      await inTransaction;
      const sending = queue.send(name, { n: 1 }, ONCE);
      await sleep(300);
      release();
      await assert.rejects(transaction, /rolled back/);
      const id = await sending;
      assert.equal((await queue.get(id))?.state, 'created', 'the job outlived the rollback');
    });

    it('counts stored jobs per queue and state', async () => {
      const name = fresh('counts');
      const ids = await Promise.all([1, 2, 3].map((n) => queue.send(name, { n }, ONCE)));
      const worker = await queue.work<{ n: number }>(name, { concurrency: 1 }, async (job) => {
        if (job.data.n === 3) throw new Error('no');
        return 'ok';
      });
      await until(queue, ids[0]!, ['completed']);
      await until(queue, ids[1]!, ['completed']);
      await until(queue, ids[2]!, ['failed']);
      await worker.stop();
      await queue.send(name, { n: 4 }, ONCE);
      const mine = (await queue.counts()).filter((c) => c.queue === name);
      assert.deepEqual(
        mine.map((c) => [c.state, c.count]).sort(),
        [
          ['completed', 2],
          ['created', 1],
          ['failed', 1],
        ],
      );
    });

    it('a job sent in the process that works its queue starts at once, not at the next poll', async () => {
      // Polling every 60 s: without the wake-up the job would wait for the next poll, well past the deadline below.
      const slow = await open({ slow: true });
      const name = fresh('wake');
      const worker = await slow.work(name, { concurrency: 1 }, async () => 'ok');
      await sleep(1500); // the worker's first poll has found nothing; it now sleeps for a minute
      const id = await slow.send(name, {}, ONCE);
      const done = await until(slow, id, ['completed'], 20_000);
      await worker.stop();
      assert.equal(done.output, 'ok');
    });

    it(
      'a job sent by another process wakes an idle worker at once (LISTEN/NOTIFY), not at its next poll',
      { skip: backend.name === 'pglite' && adapter.name === 'pg-boss' ? 'PGlite serves one process: there is no other sender to hear' : false },
      async () => {
        const slow = await open({ slow: true });
        const sender = await open(); // another instance (pg-boss: with its own pool; SQS: its own client): as the API process would be
        const name = fresh('notify');
        const worker = await slow.work(name, { concurrency: 1 }, async () => 'ok');
        await sleep(1500); // the worker's first poll has found nothing; it now sleeps for a minute
        const id = await sender.send(name, {}, ONCE);
        const done = await until(slow, id, ['completed'], 20_000);
        await worker.stop();
        assert.equal(done.output, 'ok');
      },
    );

    it('health is ok while the database answers', async () => {
      assert.deepEqual(await queue.health(), { ok: true });
    });

    it(
      'a worker killed mid-job: the job is picked up again after its expiry and completes, its effect written once',
      { skip: backend.name === 'pglite' ? 'PGlite is in-process: a worker cannot be killed apart from the database' : adapter.name === 'sqs' ? 'the fake SQS lives in this process: see the partitioned worker test' : false },
      async () => {
        const name = fresh('killed');
        await createEffectTables(database);
        const child = spawnWorker(opened.url!, name);
        try {
          const lines = createInterface({ input: child.stdout! });
          const effect = new Promise<string>((resolve, reject) => {
            lines.on('line', (line) => line.startsWith('effect ') && resolve(line.slice(7)));
            child.once('exit', (code) => reject(new Error(`worker exited (${code}) before running the job`)));
          });
          const id = await queue.send(name, { childId: 'c-9' }, { retryLimit: 2, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 2, singletonKey: 'c-9' });
          assert.equal(await effect, id);
          assert.equal((await queue.get(id))!.state, 'active');
          child.kill('SIGKILL');
          await once(child, 'exit');

          const worker = await queue.work(name, { concurrency: 1 }, (job) => writeEffect(database, job));
          const done = await until(queue, id, ['completed'], 20_000);
          await worker.stop();
          assert.equal(done.attempts, 2);
          const runs = await sql<{ pid: number; attempt: number }>`select pid, attempt from job_runs where job_id = ${id} order by at`.execute(database.db);
          assert.deepEqual(
            runs.rows.map((r) => [r.pid === child.pid ? 'killed worker' : r.pid === process.pid ? 'new worker' : r.pid, r.attempt]),
            [
              ['killed worker', 1],
              ['new worker', 2],
            ],
            'the job ran twice',
          );
          const effects = await sql<{ n: number }>`select count(*)::int as n from job_effects where job_id = ${id}`.execute(database.db);
          assert.equal(effects.rows[0]!.n, 1, 'and wrote once');
        } finally {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }
      },
    );

    it(
      'a worker cut off mid-job (its SQS calls and its database connection go silent): the message comes back after the visibility timeout, the next attempt completes, the effect is written once',
      { skip: adapter.name !== 'sqs' ? 'pg-boss: see the killed worker test' : backend.name === 'pglite' ? 'PGlite is in-process: a worker cannot be cut off from the database' : false },
      async () => {
        const name = fresh('partitioned');
        await createEffectTables(database);
        // The doomed worker reaches the database through a proxy that can go silent, and SQS through a client that can hang.
        const proxy = await startFaultProxy(opened.url!);
        const cutOffDb = await openPostgresDatabase({ url: proxy.wrap(opened.url!), poolSize: 2, connectTimeoutMs: 1000, statementTimeoutMs: 2000 });
        let cutOff = false;
        const doomed = await open({ database: cutOffDb, severed: () => cutOff });
        try {
          let ran!: (id: string) => void;
          const effect = new Promise<string>((resolve) => (ran = resolve));
          await doomed.work(name, { concurrency: 1 }, async (job) => {
            await writeEffect(cutOffDb, job);
            ran(job.id);
            await new Promise(() => {}); // stuck: its process is about to vanish
          });
          const id = await queue.send(name, { childId: 'c-9' }, { retryLimit: 2, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 2, singletonKey: 'c-9' });
          assert.equal(await effect, id);
          assert.equal((await queue.get(id))!.state, 'active');
          cutOff = true;
          proxy.set('blackhole');

          const worker = await queue.work(name, { concurrency: 1 }, (job) => writeEffect(database, job));
          const done = await until(queue, id, ['completed'], 20_000);
          await worker.stop();
          assert.equal(done.attempts, 2);
          const runs = await sql<{ attempt: number }>`select attempt from job_runs where job_id = ${id} order by at`.execute(database.db);
          assert.deepEqual(runs.rows.map((r) => r.attempt), [1, 2], 'the job ran twice');
          const effects = await sql<{ n: number }>`select count(*)::int as n from job_effects where job_id = ${id}`.execute(database.db);
          assert.equal(effects.rows[0]!.n, 1, 'and wrote once');
        } finally {
          proxy.set('pass');
          await doomed.stop({ graceful: false, timeoutMs: 0 });
          await cutOffDb.close();
          await proxy.close();
        }
      },
    );
  });
}

describe('job queue on PostgreSQL under faults', { skip: (await databaseBackends())[1]!.skip }, () => {
  it('a silent database costs a call at most its timeout (503 queue_unavailable), and the queue recovers', async () => {
    const db = await createThrowawayDatabase();
    const proxy = await startFaultProxy(db.url);
    const database = await openPostgresDatabase({ url: db.url, poolSize: 1, connectTimeoutMs: 2000, statementTimeoutMs: 5000 });
    const queue = await openJobQueue({ database, databaseUrl: proxy.wrap(db.url), timeoutMs: 1000, pollingIntervalSeconds: 0.5, maintenanceIntervalSeconds: 1 });
    try {
      const name = fresh('fault');
      await queue.send(name, {}, ONCE);
      proxy.set('blackhole');
      const t0 = performance.now();
      await assert.rejects(queue.send(name, {}, ONCE), { code: 'queue_unavailable' });
      assert.ok(performance.now() - t0 < 1800, `bounded: ${performance.now() - t0} ms`);
      assert.equal((await queue.health()).ok, false);
      proxy.set('pass');
      const deadline = Date.now() + 15_000;
      while (!(await queue.health()).ok) {
        assert.ok(Date.now() < deadline, 'the queue answers again once the network does');
        await sleep(250);
      }
      const id = await queue.send(name, { after: 'recovery' }, ONCE);
      assert.equal((await queue.get(id))?.state, 'created');
    } finally {
      proxy.set('pass');
      await queue.stop({ graceful: false, timeoutMs: 1000 });
      await database.close();
      await proxy.close();
      await db.drop();
    }
  });
});

/** Starts test/support/job-worker.ts under this Node (24) in a process of its own. */
function spawnWorker(url: string, queue: string): ChildProcess {
  const script = path.join(import.meta.dirname, '..', 'support', 'job-worker.ts');
  const child = spawn(process.execPath, [script], { env: { ...process.env, JOB_DATABASE_URL: url, JOB_QUEUE: queue }, stdio: ['ignore', 'pipe', 'inherit'] });
  return child;
}
