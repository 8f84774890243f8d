import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startEngine, type RunningEngine } from '../../src/engine/engine.ts';
import { PLAN_QUEUE } from '../../src/features/plans/plans.service.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { FakeSqs } from '../support/sqs-fake.ts';
import { stacks } from '../support/servers.ts';

/**
 * The adaptive engine with `JOB_QUEUE=sqs` (the AWS mode): the API queues a
 * plan's job on the SQS FIFO queue (a fake SQS behind aws-sdk-client-mock),
 * the engine's worker — started as `npm run engine` starts it — takes it
 * from there and makes the plan ready; the job's record says completed.
 */
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/kidslearn-jobs.fifo';
type PlanBody = { planId: string; status: string; jobId?: string; plan?: { activities: unknown[] } };

const [stack] = await stacks();
describe(`lesson plans with JOB_QUEUE=sqs on ${stack!.name}`, { skip: stack!.skip }, () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let engine: RunningEngine;
  const sqs = new FakeSqs();

  before(async () => {
    const opened = await stack!.open();
    dispose = opened.dispose;
    t = await createTestApp({ database: opened.database, cache: opened.cache, env: { JOB_QUEUE: 'sqs', JOBS_QUEUE_URL: QUEUE }, sqsClient: sqs.client() });
    await createFixtureApp(t.container, 'alpha');
    engine = await startEngine(t.container, { concurrency: 1 });
  });
  after(async () => {
    await engine?.stop(2000);
    await t?.container.close();
    await dispose?.();
  });

  it('a plan request goes through SQS to the engine and comes back ready; the job record is completed and its message deleted', async () => {
    const c = t.container;
    const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
    const principal = { sub: ann.id, app: 'alpha', role: 'guardian' as const, exp: Math.floor(Date.now() / 1000) + 3600 };
    const mia = (await c.children.create(principal, { nickname: 'Mia', grade: 1 })).id;
    const token = (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accessToken;
    const res = await t.request('/api/adaptive/plans', { method: 'POST', token, body: JSON.stringify({ childId: mia, minutes: 10 }) });
    const queued = (await res.json()) as PlanBody;
    assert.equal(res.status, 202, JSON.stringify(queued));

    let plan: PlanBody | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      plan = (await (await t.request(`/api/adaptive/plans/${queued.planId}`, { token })).json()) as PlanBody;
      if (plan.status === 'ready' || plan.status === 'failed') break;
      await sleep(100);
    }
    assert.equal(plan?.status, 'ready', JSON.stringify(plan));

    const queue = await c.jobQueue();
    assert.equal(queue.kind, 'sqs');
    const [job] = await queue.list({ queue: PLAN_QUEUE, limit: 10 });
    assert.equal(job!.state, 'completed');
    assert.equal(job!.attempts, 1);
    assert.match(job!.singletonKey ?? '', /^plan:alpha:[0-9a-f]{32}$/);
    const [sent] = sqs.calls.filter(([command]) => command === 'SendMessage').map(([, input]) => input as { QueueUrl: string; MessageGroupId: string; MessageBody: string });
    assert.equal(sent!.QueueUrl, QUEUE);
    assert.equal(sent!.MessageGroupId, job!.singletonKey, "one child's plans share a FIFO group");
    assert.deepEqual(JSON.parse(sent!.MessageBody), { v: 1, jobId: job!.id, queue: PLAN_QUEUE });
    assert.deepEqual(sqs.bodies(QUEUE), [], 'the message was deleted once the job completed');
  });
});
