import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { decodeEventsMessage } from '../../src/analytics/event-messages.ts';
import { createEventsConsumer } from '../../src/wiring/events-consumer.ts';
import { createFixtureFamily, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { FakeSqs } from '../support/sqs-fake.ts';
import { stacks } from '../support/servers.ts';

/**
 * `POST /api/events` with `EVENT_QUEUE=sqs` (the AWS mode): the same checks
 * as always, then the kept events go to the events queue (a fake SQS behind
 * aws-sdk-client-mock) instead of the outbox; 202 only once SQS took every
 * one, 503 `event_queue_unavailable` otherwise. The consumer then stores them.
 */
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/kidslearn-events';
type Ingest = { accepted: number; duplicates: number; conflicts: number; dropped: { count: number; reasons: Record<string, number> } };
type ErrorJson = { error: { code: string; message: string } };

const [stack] = await stacks();
describe(`POST /api/events with EVENT_QUEUE=sqs on ${stack!.name}`, { skip: stack!.skip }, () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  const sqs = new FakeSqs();
  let token: string;
  const kids = {} as Record<'mia' | 'leo', string>;

  const ev = (o: Record<string, unknown> = {}) => ({
    eventId: randomUUID(),
    type: 'lesson_start',
    occurredAt: new Date(Date.now() - 5000).toISOString(),
    childId: kids.mia,
    properties: { lessonId: 'alpha-only' },
    ...o,
  });
  const post = async (events: unknown[]) => {
    const res = await t.request('/api/events', { method: 'POST', token, body: JSON.stringify({ events }) });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Ingest & ErrorJson };
  };
  const stored = async (ids: string[]) =>
    (await sql<{ event_id: string }>`select event_id from kidslearn.lake_events where app = 'alpha' and event_id in (${sql.join(ids.map((id) => sql`${id}::uuid`))})`.execute(t.container.database.db)).rows.map((r) => r.event_id).sort();
  /** Takes every message off the fake queue, as the Lambda's event source would. */
  const drain = () => {
    const q = sqs.queue(QUEUE);
    const out = q.messages.map((m) => ({ messageId: m.id, body: m.body }));
    q.messages.length = 0;
    return out;
  };

  before(async () => {
    const opened = await stack!.open();
    dispose = opened.dispose;
    t = await createTestApp({
      database: opened.database,
      cache: opened.cache,
      env: { EVENT_QUEUE: 'sqs', EVENTS_QUEUE_URL: QUEUE, EVENT_QUEUE_TIMEOUT_MS: '1000' },
      sqsClient: sqs.client(),
    });
    const family = await createFixtureFamily(t.container, 'alpha');
    Object.assign(kids, family.kids);
    token = family.token;
  });
  after(async () => {
    await t?.container.close();
    await dispose?.();
  });

  it('sends exactly the accepted events (pseudonymised, usage events without consent dropped) and answers 202 once SQS took them; the consumer stores them', async () => {
    drain();
    const kept = [ev(), ev({ childId: kids.leo, type: 'lesson_complete', properties: { lessonId: 'alpha-only', durationSeconds: 60, score: 1 } })];
    // A usage event about a child whose productAnalytics setting is off (the default): dropped before the queue.
    const droppedEvent = ev({ type: 'screen_view', properties: { screen: 'home' } });
    const res = await post([kept[0], droppedEvent, kept[1]]);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body, { accepted: 2, duplicates: 0, conflicts: 0, dropped: { count: 1, reasons: { product_analytics_off: 1, lake_disabled: 0 } } });
    const messages = drain();
    const queued = messages.flatMap((m) => decodeEventsMessage(m.body));
    assert.deepEqual(queued.map((e) => e.eventId).sort(), kept.map((e) => e.eventId).sort(), 'exactly the accepted events');
    const text = JSON.stringify(messages);
    assert.ok(!text.includes(kids.mia) && !text.includes(kids.leo), 'no child id leaves for the queue');
    assert.deepEqual(
      queued.map((e) => [e.app, e.source, e.learner === null]),
      [
        ['alpha', 'app', false],
        ['alpha', 'app', false],
      ],
    );
    assert.deepEqual(await stored(kept.map((e) => e.eventId)), [], 'the API did not write the outbox');

    const consumer = await createEventsConsumer(t.container.config, { database: t.container.database });
    assert.deepEqual(await consumer.consume(messages), { batchItemFailures: [] });
    assert.deepEqual(await stored(kept.map((e) => e.eventId)), kept.map((e) => e.eventId).sort());
    // A client retry of the same batch: queued again (202, duplicates unknown here), stored once by the consumer.
    const again = await post(kept);
    assert.equal(again.status, 202);
    assert.deepEqual(await consumer.consume(drain()), { batchItemFailures: [] });
    assert.equal((await stored(kept.map((e) => e.eventId))).length, 2);
  });

  it('throttled by SQS: retried, still 202', async () => {
    drain();
    sqs.throttle('SendMessageBatch', 2, 'RequestThrottled');
    const events = [ev(), ev()];
    const res = await post(events);
    assert.equal(res.status, 202);
    assert.equal(res.body.accepted, 2);
    assert.deepEqual(
      drain().flatMap((m) => decodeEventsMessage(m.body).map((e) => e.eventId)).sort(),
      events.map((e) => e.eventId).sort(),
    );
  });

  it('SQS does not take the events: 503 event_queue_unavailable with Retry-After, nothing acknowledged', async () => {
    drain();
    let refusing = true;
    sqs.failEntries(() => (refusing ? { Code: 'InternalError', Message: 'down', SenderFault: false } : undefined));
    try {
      const res = await post([ev()]);
      assert.equal(res.status, 503);
      assert.equal(res.body.error.code, 'event_queue_unavailable');
      assert.equal(res.headers.get('retry-after'), '5');
      assert.deepEqual(drain(), []);
    } finally {
      refusing = false;
    }
  });
});
