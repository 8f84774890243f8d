import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { createContainer } from '../../src/wiring/container.ts';
import { runCliProcess } from '../support/cli.ts';

/**
 * `kidslearn engine jobs` and `engine retry` against the embedded database:
 * a job that failed (its attempts used up) is listed with its error, and
 * requeued by id; what the CLI did is read back from the stored job.
 */
describe('cli: engine jobs | retry', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cli-engine-'));
  const env = { ...process.env, KIDSLEARN_DATA_DIR: dataDir, JWT_PRIVATE_KEY: '', DATABASE_URL: '', REDIS_URL: '', SEED_DEMO_APPS: 'false' };
  const config = loadConfig({ KIDSLEARN_DATA_DIR: dataDir }, { envFile: null });
  let failedId = '';
  let doneId = '';

  before(async () => {
    const container = await createContainer(config);
    try {
      const queue = await container.jobQueue();
      const once = { retryLimit: 0, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 };
      failedId = await queue.send('cli-test', { fail: true }, once);
      doneId = await queue.send('cli-test', { fail: false }, once);
      const worker = await queue.work<{ fail: boolean }>('cli-test', { concurrency: 1 }, async (job) => {
        if (job.data.fail) throw new Error('the model timed out');
        return 'ok';
      });
      for (let i = 0; i < 100; i++) {
        const [a, b] = [await queue.get(failedId), await queue.get(doneId)];
        if (a?.state === 'failed' && b?.state === 'completed') break;
        await sleep(100);
      }
      await worker.stop();
    } finally {
      await container.close();
    }
  });

  it('engine jobs lists jobs newest first with state, attempts and error; --state filters', async () => {
    const all = await runCliProcess(['engine', 'jobs', '--queue', 'cli-test'], env);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trim().split('\n');
    assert.match(lines[0]!, /^JOB\s+QUEUE\s+STATE\s+ATTEMPTS\s+CREATED\s+ERROR$/);
    assert.equal(lines.length, 3);
    const failedLine = lines.find((l) => l.startsWith(failedId));
    assert.match(failedLine ?? '', /cli-test\s+failed\s+1\/1\s+\S+Z\s+the model timed out$/);
    assert.match(lines.find((l) => l.startsWith(doneId)) ?? '', /completed\s+1\/1/);

    const failed = await runCliProcess(['engine', 'jobs', '--state', 'failed', '--json'], env);
    assert.equal(failed.code, 0, failed.stderr);
    const jobs = failed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; state: string; error: string });
    assert.deepEqual(
      jobs.map((j) => [j.id, j.state, j.error]),
      [[failedId, 'failed', 'the model timed out']],
    );
  });

  it('engine retry requeues a failed job once; other ids and bad input are refused', async () => {
    const done = await runCliProcess(['engine', 'retry', doneId], env);
    assert.equal(done.code, 1);
    assert.match(done.stderr, /no failed job with this id/);
    const bad = await runCliProcess(['engine', 'retry', 'nope'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected a job id/);
    const badState = await runCliProcess(['engine', 'jobs', '--state', 'broken'], env);
    assert.equal(badState.code, 2);
    assert.match(badState.stderr, /expected one of created, retry, active, completed, failed, cancelled/);

    const retried = await runCliProcess(['engine', 'retry', failedId], env);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout.trim(), `job ${failedId} requeued`);
    const container = await createContainer(config);
    try {
      const job = await (await container.jobQueue()).get(failedId);
      assert.ok(job && (job.state === 'retry' || job.state === 'created'), `requeued, is ${job?.state}`);
      assert.equal(job.maxAttempts, 2, 'with one more attempt');
    } finally {
      await container.close();
    }
  });
});
