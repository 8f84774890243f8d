import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Context, SQSRecord } from 'aws-lambda';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Database } from '../../src/adapters/db/database.ts';
import { controlMigrations } from '../../src/adapters/db/migrations.ts';
import { EventOutbox, withPayloadHash, type OutboxEvent } from '../../src/analytics/event-outbox.ts';
import { createDatabaseEventSink, createPackedEventSink, createSqsEventSink, type EventSink } from '../../src/analytics/event-sink.ts';
import { unpackEventPacks } from '../../src/analytics/event-packs.ts';
import { decodeEventsMessage, packEvents } from '../../src/analytics/event-messages.ts';
import { consumeEventMessages, type QueuedMessage } from '../../src/analytics/events-consumer.ts';
import { AppError } from '../../src/domain/errors.ts';
import { FakeSqs } from '../support/sqs-fake.ts';
import { databaseBackends } from '../support/servers.ts';

/**
 * The event pipeline's two sinks (adapters of the event-sink port), on
 * embedded PGlite and on PostgreSQL: the `database` sink appends in the
 * request; the `sqs` sink sends to the events queue (aws-sdk-client-mock
 * over an in-test model of SQS) and the events consumer appends from it.
 * Both must leave the same outbox rows; the consumer must be idempotent,
 * dead-letter conflicts and report only the messages it could not store.
 */
const URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/kidslearn-events';
const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 5, capDelayMs: 20 };

const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));

let n = 0;
/** A client event as ingest hands it to the sink (pseudonymised, hashed). */
function event(app: string, overrides: Partial<OutboxEvent> = {}): OutboxEvent {
  return withPayloadHash({
    eventId: randomUUID(),
    app,
    type: 'screen_view',
    source: 'app',
    occurredAt: new Date(Date.UTC(2026, 11, 4, 10, 0, n++ % 60)),
    receivedAt: new Date('2026-12-04T10:05:00.000Z'),
    learner: 'l_testlearner000000000a',
    sessionId: null,
    properties: { screen: `home-${n}` },
    ...overrides,
  });
}

/** Every message the fake queue holds, as a Lambda SQS event's records, then emptied (as a consumer's receive would). */
function drain(sqs: FakeSqs): QueuedMessage[] {
  const q = sqs.queue(URL);
  const out = q.messages.map((m) => ({ messageId: m.id, body: m.body }));
  q.messages.length = 0;
  return out;
}

for (const backend of await databaseBackends()) {
  describe(`event sinks and the events consumer on ${backend.name}`, { skip: backend.skip }, () => {
    let opened: Awaited<ReturnType<typeof backend.open>>;
    let database: Database;
    const rows = async (app: string) =>
      (
        await sql<{ event_id: string; type: string; learner: string | null; properties: unknown; payload_hash: string; occurred_at: Date }>`
          select event_id, type, learner, properties, payload_hash, occurred_at from kidslearn.lake_events where app = ${app} order by event_id`.execute(database.db)
      ).rows.map((r) => ({ ...r, occurred_at: new Date(r.occurred_at).toISOString() }));
    const deadLetters = async (app: string) =>
      (await sql<{ event_id: string; reason: string }>`select event_id, reason from kidslearn.lake_dead_letters where app = ${app} order by id`.execute(database.db)).rows;

    before(async () => {
      opened = await backend.open();
      database = opened.database;
      // The control schema only (the outbox, dead letters): tenant migrations need pgvector, which this server may lack.
      await sql`create schema if not exists kidslearn`.execute(database.db);
      await database.db.transaction().execute(async (trx) => {
        for (const m of controlMigrations) await m.up(trx, 'kidslearn');
      });
      await sql`insert into kidslearn.apps (id, name) values ('alpha', 'Alpha'), ('beta', 'Beta'), ('gamma', 'Gamma')`.execute(database.db);
    });
    after(async () => opened?.dispose());

    let sqs: FakeSqs;
    let sink: EventSink;
    beforeEach(() => {
      sqs = new FakeSqs();
      sink = createSqsEventSink({ queueUrl: URL, client: sqs.client(), timeoutMs: 2000, retry: FAST_RETRY });
    });

    it('the sqs sink and the consumer store exactly what the database sink stores', async () => {
      const events = Array.from({ length: 25 }, () => event('alpha'));
      const viaDb = events.map((e) => ({ ...e, app: 'beta' }));
      assert.deepEqual(await createDatabaseEventSink({ db: database, outbox: new EventOutbox({ db: database }) }).deliver(viaDb), { accepted: 25, duplicates: 0, conflicts: 0 });
      assert.deepEqual(await sink.deliver(events), { accepted: 25, duplicates: 0, conflicts: 0 }, 'the sqs sink cannot know duplicates or conflicts: 0, decided by the consumer');
      assert.deepEqual(await rows('alpha'), [], 'nothing stored before the consumer runs');
      const result = await consumeEventMessages({ database }, drain(sqs));
      assert.deepEqual(result.batchItemFailures, []);
      assert.deepEqual(result.summary, { messages: 1, failed: 0, accepted: 25, duplicates: 0, conflicts: 0 });
      assert.deepEqual(await rows('alpha'), await rows('beta'), 'same ids, types, learners, properties, payload digests and times');
      assert.equal((await rows('alpha')).length, 25);
    });

    it('the packed sink and the unpack store exactly what the database sink stores; a repeated request is a duplicate, a changed one a conflict', async () => {
      const events = Array.from({ length: 25 }, () => event('delta'));
      const viaDb = events.map((e) => ({ ...e, app: 'epsilon', eventId: randomUUID() }));
      await createDatabaseEventSink({ db: database, outbox: new EventOutbox({ db: database }) }).deliver(viaDb);
      const packed = createPackedEventSink({ db: database });
      assert.equal(packed.kind, 'packed');
      assert.deepEqual(await packed.deliver(events), { accepted: 25, duplicates: 0, conflicts: 0 }, 'decided when unpacked: 0');
      assert.deepEqual(await packed.deliver(events.slice(0, 5)), { accepted: 5, duplicates: 0, conflicts: 0 });
      assert.deepEqual(await packed.deliver([{ ...events[6]!, properties: { screen: 'changed' } }]), { accepted: 1, duplicates: 0, conflicts: 0 });
      assert.deepEqual(await rows('delta'), [], 'nothing in the outbox before the unpack');
      const unpacked = await unpackEventPacks(database.db);
      assert.deepEqual([unpacked.packs, unpacked.accepted, unpacked.duplicates, unpacked.conflicts.map((c) => c.count)], [3, 25, 5, [1]]);
      const strip = (r: { event_id: string }[]) => r.map(({ event_id: _, ...rest }) => rest);
      assert.deepEqual(strip(await rows('delta')).sort(byJson), strip(await rows('epsilon')).sort(byJson), 'same types, learners, properties, payload digests and times');
      assert.deepEqual((await rows('delta')).map((r) => r.event_id).sort(), events.map((e) => e.eventId).sort());
      assert.deepEqual(await deadLetters('delta'), [{ event_id: events[6]!.eventId, reason: 'conflict' }]);
    });

    it('a message delivered again stores nothing twice', async () => {
      const events = [event('gamma'), event('gamma')];
      await sink.deliver(events);
      const [message] = drain(sqs);
      const first = await consumeEventMessages({ database }, [message!]);
      const again = await consumeEventMessages({ database }, [message!, { ...message!, messageId: 'another-copy' }]);
      assert.deepEqual(first.summary, { messages: 1, failed: 0, accepted: 2, duplicates: 0, conflicts: 0 });
      assert.deepEqual(again.batchItemFailures, []);
      assert.deepEqual(again.summary, { messages: 2, failed: 0, accepted: 0, duplicates: 4, conflicts: 0 });
      assert.deepEqual(
        (await rows('gamma')).map((r) => r.event_id).sort(),
        events.map((e) => e.eventId).sort(),
      );
      assert.deepEqual(await deadLetters('gamma'), []);
    });

    it('a poison message is the only one reported in batchItemFailures; the rest of the batch is stored', async () => {
      const good = [event('alpha'), event('alpha')];
      await sink.deliver([good[0]!]);
      await sink.deliver([good[1]!]);
      const [m1, m2] = drain(sqs);
      const poison = [
        { messageId: 'not-json', body: '{"v":1,"events":[' },
        { messageId: 'unknown-type', body: JSON.stringify({ v: 1, events: [{ ...JSON.parse(m1!.body).events[0], eventId: randomUUID(), type: 'credit_card_entered' }] }) },
        { messageId: 'wrong-version', body: JSON.stringify({ v: 2, events: [] }) },
      ];
      const result = await consumeEventMessages({ database }, [m1!, poison[0]!, poison[1]!, m2!, poison[2]!]);
      assert.deepEqual(
        result.batchItemFailures,
        poison.map((p) => ({ itemIdentifier: p.messageId })),
      );
      const stored = new Set((await rows('alpha')).map((r) => r.event_id));
      assert.ok(good.every((e) => stored.has(e.eventId)), 'the good messages of the batch were stored');
    });

    it('a conflicting event id (same id, other payload) goes to the dead letters; the stored event is kept', async () => {
      const original = event('beta', { properties: { screen: 'first' } });
      const conflicting = withPayloadHash({ ...original, properties: { screen: 'second' } });
      await sink.deliver([original]);
      await consumeEventMessages({ database }, drain(sqs));
      await sink.deliver([conflicting]);
      const result = await consumeEventMessages({ database }, drain(sqs));
      assert.deepEqual(result.batchItemFailures, [], 'a conflict is an outcome, not a failure to deliver again');
      assert.equal(result.summary.conflicts, 1);
      const stored = (await rows('beta')).find((r) => r.event_id === original.eventId)!;
      assert.deepEqual(stored.properties, { screen: 'first' });
      assert.deepEqual(await deadLetters('beta'), [{ event_id: original.eventId, reason: 'conflict' }]);
    });

    it(
      'the Lambda handler (src/runtimes/lambda/events-consumer.ts) stores an SQS event\'s messages and answers only the failed ids',
      { skip: backend.name === 'pglite' ? 'the Lambda runtime needs DATABASE_URL (a PostgreSQL server)' : false },
      async () => {
        await sink.deliver([event('gamma'), event('gamma')]);
        await sink.deliver([event('gamma')]);
        const [m1, m2] = drain(sqs);
        const ids = [m1!, m2!].flatMap((m) => decodeEventsMessage(m.body).map((e) => e.eventId));
        // The runtime reads its configuration from the environment once, at import.
        Object.assign(process.env, { DATABASE_URL: opened.url!, KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-consumer-')), LOG_LEVEL: 'silent', DATABASE_POOL_SIZE: '2' });
        const { handler } = await import('../../src/runtimes/lambda/events-consumer.ts');
        const record = (m: QueuedMessage): SQSRecord => ({
          messageId: m.messageId,
          receiptHandle: `rh-${m.messageId}`,
          body: m.body,
          attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'test', ApproximateFirstReceiveTimestamp: String(Date.now()) },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:kidslearn-events',
          awsRegion: 'eu-west-1',
        });
        const answer = await handler({ Records: [record(m1!), record({ messageId: 'poison', body: 'nope' }), record(m2!), record(m1!)] }, { awsRequestId: 'test-invocation' } as Context);
        assert.deepEqual(answer, { batchItemFailures: [{ itemIdentifier: 'poison' }] });
        const stored = (await rows('gamma')).map((r) => r.event_id);
        assert.ok(ids.every((id) => stored.includes(id)), 'every event of the good messages stored');
        assert.equal(new Set(stored).size, stored.length);
      },
    );

    it('a message whose append fails (the database refuses) is reported, and stored when delivered again', async () => {
      await sink.deliver([event('alpha')]);
      const [message] = drain(sqs);
      const events = decodeEventsMessage(message!.body);
      // The same database, except that its transactions fail (as when the connection drops).
      const failing: Database = { ...database, db: new Proxy(database.db, { get: (target, p) => (p === 'transaction' ? () => ({ execute: () => Promise.reject(new Error('connection lost')) }) : Reflect.get(target, p)) }) };
      const refused = await consumeEventMessages({ database: failing }, [message!]);
      assert.deepEqual(refused.batchItemFailures, [{ itemIdentifier: message!.messageId }]);
      const retried = await consumeEventMessages({ database }, [message!]);
      assert.deepEqual(retried.batchItemFailures, []);
      assert.ok((await rows('alpha')).some((r) => r.event_id === events[0]!.eventId));
    });
  });
}

describe('the sqs event sink (producer)', () => {
  it('packs events into messages of at most the size limit, and messages into batches of at most 10 entries, in order', async () => {
    const sqs = new FakeSqs();
    const sink = createSqsEventSink({ queueUrl: URL, client: sqs.client(), timeoutMs: 2000, maxMessageBytes: 2048, retry: FAST_RETRY });
    const events = Array.from({ length: 200 }, () => event('alpha', { properties: { screen: 'x'.repeat(40) } }));
    assert.deepEqual(await sink.deliver(events), { accepted: 200, duplicates: 0, conflicts: 0 });
    const batches = sqs.calls.filter(([c]) => c === 'SendMessageBatch').map(([, i]) => (i as { Entries: Array<{ MessageBody: string }> }).Entries);
    assert.ok(batches.length >= 2 && batches.every((b) => b.length <= 10), `batches of ${batches.map((b) => b.length).join(', ')}`);
    const bodies = batches.flat().map((e) => e.MessageBody);
    assert.ok(bodies.every((b) => Buffer.byteLength(b) <= 2048));
    assert.ok(bodies.length > 10, 'several events per message, several messages');
    assert.deepEqual(
      bodies.flatMap((b) => decodeEventsMessage(b).map((e) => e.eventId)).sort(),
      events.map((e) => e.eventId).sort(),
      'every event exactly once',
    );
    assert.deepEqual(packEvents(events.slice(0, 3), 256 * 1024).length, 1);
  });

  it('resends only the entries SQS failed, then answers 202-worthy accepted counts', async () => {
    const sqs = new FakeSqs();
    const sink = createSqsEventSink({ queueUrl: URL, client: sqs.client(), timeoutMs: 2000, maxMessageBytes: 1024, retry: FAST_RETRY });
    let failOnce = true;
    sqs.failEntries((e) => (e.Id === 'm1' && failOnce ? ((failOnce = false), { Code: 'InternalError', Message: 'try again', SenderFault: false }) : undefined));
    const events = Array.from({ length: 12 }, () => event('alpha', { properties: { screen: 'y'.repeat(100) } }));
    assert.equal((await sink.deliver(events)).accepted, 12);
    const sent = sqs.calls.filter(([c]) => c === 'SendMessageBatch').map(([, i]) => (i as { Entries: Array<{ Id: string }> }).Entries.map((e) => e.Id));
    assert.ok(sent.length >= 2);
    assert.deepEqual(sent.at(-1), ['m1'], 'the retry carried only the failed entry');
    assert.deepEqual(
      sqs.bodies(URL).flatMap((b) => decodeEventsMessage(b).map((e) => e.eventId)).sort(),
      events.map((e) => e.eventId).sort(),
      'each event in the queue once',
    );
  });

  it('throttling (ThrottlingException, RequestThrottled) is retried with backoff until SQS takes the batch', async () => {
    const sqs = new FakeSqs();
    const sink = createSqsEventSink({ queueUrl: URL, client: sqs.client(), timeoutMs: 2000, retry: FAST_RETRY });
    sqs.throttle('SendMessageBatch', 1, 'ThrottlingException');
    sqs.throttle('SendMessageBatch', 1, 'RequestThrottled');
    const events = [event('alpha'), event('alpha')];
    assert.equal((await sink.deliver(events)).accepted, 2);
    assert.equal(sqs.calls.filter(([c]) => c === 'SendMessageBatch').length, 3);
    assert.equal(sqs.bodies(URL).length, 1);
  });

  it('an entry SQS keeps refusing, or a queue throttled past every try, is 503 event_queue_unavailable', async () => {
    const sqs = new FakeSqs();
    const sink = createSqsEventSink({ queueUrl: URL, client: sqs.client(), timeoutMs: 2000, retry: FAST_RETRY });
    sqs.failEntries(() => ({ Code: 'KmsThrottled', Message: 'slow down', SenderFault: false }));
    await assert.rejects(sink.deliver([event('alpha')]), (e: unknown) => e instanceof AppError && e.code === 'event_queue_unavailable' && e.kind === 'unavailable' && /KmsThrottled/.test(e.message));
    const throttled = new FakeSqs();
    throttled.throttle('SendMessageBatch', 10);
    const sink2 = createSqsEventSink({ queueUrl: URL, client: throttled.client(), timeoutMs: 2000, retry: FAST_RETRY });
    await assert.rejects(sink2.deliver([event('alpha')]), { code: 'event_queue_unavailable' });
  });

  it('a silent queue costs a delivery at most its timeout', async () => {
    const sqs = new FakeSqs();
    const sink = createSqsEventSink({ queueUrl: URL, client: sqs.client(() => true), timeoutMs: 300, retry: FAST_RETRY });
    const t0 = performance.now();
    await assert.rejects(sink.deliver([event('alpha')]), { code: 'event_queue_unavailable' });
    assert.ok(performance.now() - t0 < 1000, `${performance.now() - t0} ms`);
  });

  it('on a FIFO queue each message carries a group and a deduplication id (the digest of its body)', async () => {
    const sqs = new FakeSqs();
    const fifo = `${URL}.fifo`;
    const sink = createSqsEventSink({ queueUrl: fifo, client: sqs.client(), timeoutMs: 2000, retry: FAST_RETRY });
    await sink.deliver([event('alpha')]);
    const [entry] = (sqs.calls[0]![1] as { Entries: Array<{ MessageGroupId?: string; MessageDeduplicationId?: string }> }).Entries;
    assert.match(entry!.MessageDeduplicationId ?? '', /^[0-9a-f]{64}$/);
    assert.ok(entry!.MessageGroupId);
    assert.equal(sqs.bodies(fifo).length, 1);
  });
});
