import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import type { Database } from '../../src/adapters/db/database.ts';
import { controlMigrations } from '../../src/adapters/db/migrations.ts';
import { openPgliteDatabase } from '../../src/adapters/db/pglite.ts';
import { sendBatch, AwsCallError } from '../../src/adapters/aws/sqs-calls.ts';
import type { JobQueue, SendOptions } from '../../src/adapters/jobs/job-queue.ts';
import { openSqsJobQueue, pruneJobRecords } from '../../src/adapters/jobs/sqs-queue.ts';
import { AppError } from '../../src/domain/errors.ts';
import { loadConfig } from '../../src/config/config.ts';
import { openConfiguredJobQueue } from '../../src/wiring/container.ts';
import { FakeSqs, sqsError } from '../support/sqs-fake.ts';

/**
 * The SQS job queue's behaviour that the shared contract cannot name: the
 * messages it sends, throttling on the way in, redelivery of a finished job,
 * a message that is not a job; and SendMessageBatch resending only what
 * failed. On embedded PGlite with a fake SQS behind aws-sdk-client-mock.
 */
const URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs.fifo';
const ONCE: SendOptions = { retryLimit: 0, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 };
const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 5, capDelayMs: 20 };

describe('SQS job queue', () => {
  let database: Database;
  const queues: JobQueue[] = [];
  const open = async (fake: FakeSqs, timeoutMs = 3000) => {
    const q = await openSqsJobQueue({ database, client: fake.client(), queueUrl: URL, timeoutMs, waitTimeSeconds: 1, visibilityMarginSeconds: 1, retry: FAST_RETRY });
    queues.push(q);
    return q;
  };
  before(async () => {
    database = await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: 10_000 });
    await sql`create schema if not exists kidslearn`.execute(database.db);
    await database.db.transaction().execute((trx) => controlMigrations.find((m) => m.name === 'job records')!.up(trx, 'kidslearn'));
  });
  after(async () => {
    await Promise.all(queues.map((q) => q.stop({ graceful: false, timeoutMs: 0 })));
    await database.close();
  });

  it('JOB_QUEUE=sqs wires this adapter (and pg-boss stays the default)', async () => {
    const q = await openConfiguredJobQueue(loadConfig({ JOB_QUEUE: 'sqs', JOBS_QUEUE_URL: URL }, { envFile: null }), database, () => {});
    assert.equal(q.kind, 'sqs');
    await q.stop({ graceful: false, timeoutMs: 0 });
  });

  it('sends one FIFO message per job: group = singleton key (or the job id), deduplication id = the job id; a repeated idempotency key sends nothing', async () => {
    const fake = new FakeSqs();
    const queue = await open(fake);
    const keyed = await queue.send('plans', { n: 1 }, { ...ONCE, singletonKey: 'child-1' });
    const plain = await queue.send('plans', { n: 2 }, ONCE);
    const first = await queue.send('plans', { n: 3 }, { ...ONCE, idempotencyKey: 'request-1' });
    const again = await queue.send('plans', { n: 4 }, { ...ONCE, idempotencyKey: 'request-1' });
    assert.equal(again, first);
    // A key SQS would refuse as a group id (spaces, non-ASCII, too long) becomes its digest.
    const odd = await queue.send('plans', { n: 5 }, { ...ONCE, singletonKey: 'Zoë’s plan '.repeat(20) });
    const sends = fake.calls.filter(([c]) => c === 'SendMessage').map(([, i]) => i as { QueueUrl: string; MessageBody: string; MessageGroupId: string; MessageDeduplicationId: string });
    assert.deepEqual(
      sends.map((s) => [s.QueueUrl, JSON.parse(s.MessageBody), s.MessageGroupId, s.MessageDeduplicationId]),
      [
        [URL, { v: 1, jobId: keyed, queue: 'plans' }, 'child-1', keyed],
        [URL, { v: 1, jobId: plain, queue: 'plans' }, plain, plain],
        [URL, { v: 1, jobId: first, queue: 'plans' }, first, first],
        [URL, { v: 1, jobId: odd, queue: 'plans' }, createHash('sha256').update('Zoë’s plan '.repeat(20)).digest('hex'), odd],
      ],
    );
    assert.deepEqual((await queue.get(first))!.data, { n: 3 });
  });

  for (const name of ['ThrottlingException', 'RequestThrottled'] as const) {
    it(`a throttled SendMessage (${name}) is retried with backoff and the job is sent once`, async () => {
      const fake = new FakeSqs();
      const queue = await open(fake);
      fake.throttle('SendMessage', 2, name);
      const id = await queue.send('plans', { n: 1 }, ONCE);
      assert.equal(fake.calls.filter(([c]) => c === 'SendMessage').length, 3, 'two throttled tries, then the one that got in');
      assert.deepEqual(fake.bodies(URL).map((b) => JSON.parse(b).jobId), [id]);
      assert.equal((await queue.get(id))!.state, 'created');
    });
  }

  it('SendMessage throttled past its tries: 503 queue_unavailable, and no job record is left waiting for a message that never came', async () => {
    const fake = new FakeSqs();
    const queue = await open(fake);
    fake.throttle('SendMessage', 10);
    await assert.rejects(queue.send('lonely', { n: 1 }, ONCE), (e: unknown) => e instanceof AppError && e.code === 'queue_unavailable' && /ThrottlingException/.test(e.message));
    assert.equal(fake.calls.filter(([c]) => c === 'SendMessage').length, FAST_RETRY.maxAttempts);
    assert.deepEqual(await queue.list({ queue: 'lonely', limit: 10 }), []);
  });

  it('a job whose first sender died between its record and its message is sent by the next send with the same idempotency key', async () => {
    const fake = new FakeSqs();
    const queue = await open(fake);
    const id = await queue.send('orphan', { n: 1 }, { ...ONCE, idempotencyKey: 'request-9' });
    // As if the first sender had stopped after the insert: no message, no sent mark.
    fake.queue(URL).messages.length = 0;
    fake.queue(URL).dedup.clear();
    await sql`update kidslearn.jobs set sent_at = null where id = ${id}`.execute(database.db);
    assert.equal(await queue.send('orphan', { n: 1 }, { ...ONCE, idempotencyKey: 'request-9' }), id);
    assert.deepEqual(fake.bodies(URL).map((b) => JSON.parse(b).jobId), [id]);
    // Once sent, a repeat sends nothing more.
    await queue.send('orphan', { n: 1 }, { ...ONCE, idempotencyKey: 'request-9' });
    assert.equal(fake.calls.filter(([c]) => c === 'SendMessage').length, 2);
  });

  it('an SQS that does not answer costs a send at most its timeout (503 queue_unavailable)', async () => {
    let silent = false;
    const fake = new FakeSqs();
    const queue = await openSqsJobQueue({ database, client: fake.client(() => silent), queueUrl: URL, timeoutMs: 300, waitTimeSeconds: 1, retry: FAST_RETRY });
    queues.push(queue);
    silent = true;
    const t0 = performance.now();
    await assert.rejects(queue.send('silent', {}, ONCE), { code: 'queue_unavailable' });
    assert.ok(performance.now() - t0 < 1000, `bounded: ${performance.now() - t0} ms`);
    assert.equal((await queue.health()).ok, false);
  });

  it('the same message delivered twice (at least once): the handler runs once, the copy is deleted unrun', async () => {
    const fake = new FakeSqs();
    const queue = await open(fake);
    const runs: string[] = [];
    const id = await queue.send('redelivered', { n: 1 }, ONCE);
    const [sent] = fake.calls.filter(([c]) => c === 'SendMessage').map(([, i]) => i as { MessageBody: string });
    const worker = await queue.work('redelivered', { concurrency: 1 }, async (job) => {
      runs.push(job.id);
      return 'done';
    });
    await waitFor(async () => (await queue.get(id))?.state === 'completed');
    // SQS hands out a copy of the same message again.
    fake.redeliver(URL, 'm-copy', sent!.MessageBody, id);
    await waitFor(async () => fake.bodies(URL).length === 0);
    await sleep(300);
    await worker.stop();
    assert.deepEqual(runs, [id], 'ran once');
    const job = (await queue.get(id))!;
    assert.equal(job.state, 'completed');
    assert.equal(job.attempts, 1);
    assert.equal(job.output, 'done');
    assert.ok(fake.calls.filter(([c]) => c === 'DeleteMessage').length >= 2, 'the original and the copy were deleted');
  });

  it('finished job records older than the retention are pruned; recent ones, and unfinished ones, stay', async () => {
    const fake = new FakeSqs();
    const queue = await open(fake);
    const ids = await Promise.all([1, 2, 3, 4].map((n) => queue.send('prune', { n }, ONCE)));
    await sql`update kidslearn.jobs set state = 'completed', finished_at = now() - interval '8 days' where id = ${ids[0]!}`.execute(database.db);
    await sql`update kidslearn.jobs set state = 'failed', finished_at = now() - interval '8 days' where id = ${ids[1]!}`.execute(database.db);
    await sql`update kidslearn.jobs set state = 'completed', finished_at = now() - interval '6 days' where id = ${ids[2]!}`.execute(database.db);
    assert.equal(await pruneJobRecords(database, 7), 2);
    assert.deepEqual(
      (await queue.list({ queue: 'prune', limit: 10 })).map((j) => j.id).sort(),
      [ids[2]!, ids[3]!].sort(),
    );
  });

  it('a handler that throws before returning a promise fails its attempt like any other (no job left active)', async () => {
    const fake = new FakeSqs();
    const queue = await open(fake);
    const id = await queue.send('sync-throw', {}, ONCE);
    const worker = await queue.work('sync-throw', { concurrency: 1 }, () => {
      throw new Error('thrown at once');
    });
    await waitFor(async () => (await queue.get(id))?.state === 'failed');
    await worker.stop();
    const job = (await queue.get(id))!;
    assert.deepEqual([job.attempts, job.error], [1, 'thrown at once']);
    assert.deepEqual(fake.bodies(URL), [], 'its message deleted');
  });

  it('a message that is not a job is deleted (it could never run) and the worker goes on', async () => {
    const fake = new FakeSqs();
    const queue = await open(fake);
    fake.redeliver(URL, 'm-junk', 'not json', 'g');
    fake.redeliver(URL, 'm-not-a-job-id', JSON.stringify({ v: 1, jobId: 'not-a-uuid', queue: 'poison' }), 'h');
    const runs: unknown[] = [];
    const worker = await queue.work('poison', { concurrency: 1 }, async (job) => runs.push(job.data));
    const id = await queue.send('poison', { n: 1 }, ONCE);
    await waitFor(async () => (await queue.get(id))?.state === 'completed');
    await worker.stop();
    assert.deepEqual(runs, [{ n: 1 }]);
    assert.deepEqual(fake.bodies(URL), []);
  });

  it('a throttled ReceiveMessage or DeleteMessage is retried: the job still completes once', async () => {
    const fake = new FakeSqs();
    const queue = await open(fake);
    fake.throttle('ReceiveMessage', 2, 'RequestThrottled');
    fake.throttle('DeleteMessage', 1);
    const runs: string[] = [];
    const id = await queue.send('busy', {}, ONCE);
    const worker = await queue.work('busy', { concurrency: 1 }, async (job) => runs.push(job.id));
    await waitFor(async () => (await queue.get(id))?.state === 'completed');
    await waitFor(async () => fake.bodies(URL).length === 0);
    await worker.stop();
    assert.deepEqual(runs, [id]);
  });
});

describe('SendMessageBatch with retries', () => {
  const entries = (ids: string[]): SendMessageBatchRequestEntry[] => ids.map((id) => ({ Id: id, MessageBody: `body-${id}`, MessageGroupId: 'g', MessageDeduplicationId: id }));
  const batches = (fake: FakeSqs) => fake.calls.filter(([c]) => c === 'SendMessageBatch').map(([, i]) => (i as { Entries: SendMessageBatchRequestEntry[] }).Entries.map((e) => e.Id));

  it('resends only the entries reported under Failed, until every one is in', async () => {
    const fake = new FakeSqs();
    const client = fake.client();
    let failuresLeft = 2;
    fake.failEntries((e) => (e.Id === 'b' && failuresLeft-- > 0 ? { Code: 'InternalError', Message: 'try again', SenderFault: false } : undefined));
    const failed = await sendBatch(client, URL, entries(['a', 'b', 'c']), { timeoutMs: 2000, retry: FAST_RETRY });
    assert.deepEqual(failed, []);
    assert.deepEqual(batches(fake), [['a', 'b', 'c'], ['b'], ['b']]);
    assert.deepEqual(fake.bodies(URL), ['body-a', 'body-c', 'body-b']);
  });

  it('a whole batch throttled is sent again, then gets in', async () => {
    const fake = new FakeSqs();
    const client = fake.client();
    fake.throttle('SendMessageBatch', 1, 'RequestThrottled');
    fake.throttle('SendMessageBatch', 1, 'ThrottlingException');
    assert.deepEqual(await sendBatch(client, URL, entries(['a', 'b']), { timeoutMs: 2000, retry: FAST_RETRY }), []);
    assert.deepEqual(batches(fake), [['a', 'b'], ['a', 'b'], ['a', 'b']]);
    assert.deepEqual(fake.bodies(URL), ['body-a', 'body-b']);
  });

  it('a sender fault is not retried; an entry failing on every try is reported after the last', async () => {
    const fake = new FakeSqs();
    const client = fake.client();
    fake.failEntries((e) => (e.Id === 'bad' ? { Code: 'InvalidMessageContents', Message: 'no', SenderFault: true } : e.Id === 'flaky' ? { Code: 'InternalError', Message: 'down', SenderFault: false } : undefined));
    const failed = await sendBatch(client, URL, entries(['ok', 'bad', 'flaky']), { timeoutMs: 2000, retry: FAST_RETRY });
    assert.deepEqual(
      failed.map((f) => [f.id, f.code, f.senderFault]).sort(),
      [
        ['bad', 'InvalidMessageContents', true],
        ['flaky', 'InternalError', false],
      ],
    );
    assert.deepEqual(batches(fake), [['ok', 'bad', 'flaky'], ['flaky'], ['flaky'], ['flaky']]);
    assert.deepEqual(fake.bodies(URL), ['body-ok']);
  });

  it('a request SQS refuses outright (not retryable) reports every entry failed at once', async () => {
    const fake = new FakeSqs();
    const client = fake.client();
    fake.failNext('SendMessageBatch', () => sqsError('AccessDenied', 403));
    const failed = await sendBatch(client, URL, entries(['a', 'b']), { timeoutMs: 2000, retry: FAST_RETRY });
    assert.deepEqual(failed.map((f) => [f.id, f.code]), [['a', 'AccessDenied'], ['b', 'AccessDenied']]);
    assert.equal(batches(fake).length, 1);
  });

  it('a silent SQS: the call rejects at its deadline', async () => {
    const fake = new FakeSqs();
    const client = fake.client(() => true);
    const t0 = performance.now();
    await assert.rejects(sendBatch(client, URL, entries(['a']), { timeoutMs: 200, retry: FAST_RETRY }), AwsCallError);
    assert.ok(performance.now() - t0 < 800);
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, 'condition not met in time');
    await sleep(50);
  }
}
