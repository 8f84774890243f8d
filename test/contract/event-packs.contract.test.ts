import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.ts';
import { countBacklog } from '../../src/analytics/event-outbox.ts';
import { deleteUnreadablePacksOf, insertPack, packedEventCount, packedEventsOf, retryUnreadablePacks, UNPACK_PACKS_PER_STATEMENT, unpackAllEventPacks, unpackEventPacks } from '../../src/analytics/event-packs.ts';
import { withPayloadHash } from '../../src/analytics/event-outbox.ts';
import { serverEvent } from '../../src/analytics/server-events.ts';
import type { OutboxEvent } from '../../src/analytics/event-outbox.ts';
import { createTestApp, type TestApp } from '../support/app-fixture.ts';
import { databaseBackends } from '../support/servers.ts';

/**
 * Event packs (analytics/event-packs.ts) on embedded PGlite and a PostgreSQL
 * server: a pack written as the answer path writes it becomes outbox rows
 * exactly once, in order, with every field, however many processes unpack at
 * once; an event already in the outbox is not doubled; the backlog counts
 * packed events; a learner's packed events are found for an export.
 */
const LEARNERS = ['l_packlearner0000000000a', 'l_packlearner0000000000b'];

function answerEvents(app: string, n: number, from = 0): OutboxEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return serverEvent({
      app,
      type: 'answer_recorded',
      recordKey: `child-${i % 2}\u0000answer-${i}`,
      learner: LEARNERS[i % 2]!,
      occurredAt: new Date(Date.UTC(2026, 10, 20, 10, 0, i)),
      receivedAt: new Date(),
      properties: { itemId: `item-${i}`, lessonId: 'lesson-a', conceptId: 'adding', correct: i % 3 !== 0, durationMs: 1000 + i, mastery: 0.5 },
    });
  });
}

for (const backend of await databaseBackends()) {
  describe(`event packs contract: ${backend.name}`, { skip: backend.skip }, () => {
    let opened: Awaited<ReturnType<typeof backend.open>>;
    let t: TestApp;
    const db = () => t.container.database.db;
    /** Writes a pack as the `packed` sink does (one row, an events message). */
    const pack = (app: string, events: readonly OutboxEvent[]) => insertPack(db(), app, events);
    const deadLetters = async () => (await sql<{ event_id: string; reason: string }>`select event_id, reason from kidslearn.lake_dead_letters order by id`.execute(db())).rows;
    const outbox = async () =>
      (await sql<{ app: string; event_id: string; type: string; source: string; occurred_at: Date; received_at: Date; learner: string | null; session_id: string | null; properties: unknown; payload_hash: string }>`
        select app, event_id, type, source, occurred_at, received_at, learner, session_id, properties, payload_hash from kidslearn.lake_events order by seq`.execute(db())).rows;

    before(async () => {
      opened = await backend.open();
      t = await createTestApp({ database: opened.database, cache: createMemoryCache({ maxEntries: 100 }) });
    });
    beforeEach(async () => {
      await sql`delete from kidslearn.lake_events`.execute(db());
      await sql`delete from kidslearn.lake_event_packs`.execute(db());
      await sql`delete from kidslearn.lake_dead_letters`.execute(db());
    });
    after(async () => {
      await t?.container.close();
      await opened?.dispose();
    });

    it('unpacks a pack into outbox rows with every field, in the pack’s order, and deletes it', async () => {
      const events = answerEvents('alpha', 5);
      await pack('alpha', events);
      assert.deepEqual(await unpackEventPacks(db()), { packs: 1, events: 5, accepted: 5, duplicates: 0, conflicts: [], unreadable: [] });
      const rows = await outbox();
      assert.deepEqual(
        rows.map((r) => ({ ...r, occurred_at: r.occurred_at.toISOString(), received_at: r.received_at.toISOString() })),
        events.map((e) => ({
          app: 'alpha',
          event_id: e.eventId,
          type: 'answer_recorded',
          source: 'server',
          occurred_at: e.occurredAt.toISOString(),
          received_at: e.receivedAt.toISOString(),
          learner: e.learner,
          session_id: null,
          properties: e.properties,
          payload_hash: e.payloadHash,
        })),
      );
      assert.equal(await packedEventCount(db()), 0);
      assert.deepEqual(await unpackEventPacks(db()), { packs: 0, events: 0, accepted: 0, duplicates: 0, conflicts: [], unreadable: [] });
    });

    it('moves each event once when several unpack at the same time; an id already stored is a duplicate (same payload) or a dead-lettered conflict', async () => {
      const all = answerEvents('alpha', 600);
      for (let p = 0; p < 120; p++) await pack('alpha', all.slice(p * 5, p * 5 + 5));
      // Two events already in the outbox: one as packed (a duplicate), one under its id with another payload (a conflict).
      await sql`insert into kidslearn.lake_events (app, event_id, type, source, occurred_at, learner, properties, payload_hash)
        values ('alpha', ${all[0]!.eventId}::uuid, 'answer_recorded', 'server', now(), null, '{}'::jsonb, 'other'),
               ('alpha', ${all[1]!.eventId}::uuid, 'answer_recorded', 'server', now(), null, '{}'::jsonb, ${all[1]!.payloadHash})`.execute(db());
      assert.equal(await countBacklog(db()), 602);
      // On PostgreSQL four unpackers race (skip locked); PGlite has one connection, so they take turns.
      const moved = await Promise.all([unpackAllEventPacks(db()), unpackAllEventPacks(db()), unpackAllEventPacks(db()), unpackAllEventPacks(db())]);
      assert.equal(moved.reduce((a, b) => a + b, 0), 600, `packed events moved: ${moved.join(', ')}`);
      const rows = await outbox();
      assert.equal(rows.length, 600);
      assert.deepEqual(new Set(rows.map((r) => r.event_id)), new Set(all.map((e) => e.eventId)));
      assert.equal(rows.find((r) => r.event_id === all[0]!.eventId)!.payload_hash, 'other', 'the stored event is kept');
      assert.deepEqual(await deadLetters(), [{ event_id: all[0]!.eventId, reason: 'conflict' }]);
      assert.equal(await packedEventCount(db()), 0);
      assert.equal(await countBacklog(db()), 600);
    });

    it('client events packed by EVENT_QUEUE=packed: a retried request is stored once, a conflicting one is a dead letter, and the counts say so', async () => {
      const client = (o: Partial<OutboxEvent> = {}) =>
        withPayloadHash({ eventId: randomUUID(), app: 'alpha', type: 'screen_view', source: 'app', occurredAt: new Date('2026-12-04T10:00:00.000Z'), receivedAt: new Date(), learner: LEARNERS[0]!, sessionId: 'session-1', properties: { screen: 'home' }, ...o });
      const batch = [client(), client({ type: 'lesson_start', properties: { lessonId: 'lesson-a' } }), client()];
      await pack('alpha', batch);
      await pack('alpha', batch); // the same request sent again
      await pack('alpha', [{ ...client({ eventId: batch[2]!.eventId, properties: { screen: 'other' } }) }]); // same id, other payload
      const moved = await unpackEventPacks(db());
      assert.deepEqual(
        { packs: moved.packs, events: moved.events, accepted: moved.accepted, duplicates: moved.duplicates, conflicts: moved.conflicts },
        { packs: 3, events: 7, accepted: 3, duplicates: 3, conflicts: [{ app: 'alpha', count: 1, firstEventId: batch[2]!.eventId }] },
      );
      const rows = await outbox();
      assert.deepEqual(
        rows.map((r) => [r.event_id, r.type, r.source, r.session_id, r.properties]),
        batch.map((e) => [e.eventId, e.type, 'app', 'session-1', e.properties]),
      );
      assert.deepEqual(await deadLetters(), [{ event_id: batch[2]!.eventId, reason: 'conflict' }]);
    });

    it('sets aside packs it cannot read (marked, still in the backlog) so that the packs behind them are unpacked; a writer starting tries them again', async () => {
      const unreadableBody = (learner: string) => `{"v":2,"events":[{"learner":${JSON.stringify(learner)},"future":true}]}`;
      // More unreadable packs than one unpack takes, at the head of the queue.
      for (let i = 0; i < UNPACK_PACKS_PER_STATEMENT + 5; i++) {
        await sql`insert into kidslearn.lake_event_packs (app, events, body) values ('alpha', 2, ${unreadableBody(LEARNERS[i % 2]!)})`.execute(db());
      }
      const readable = answerEvents('alpha', 3);
      await pack('alpha', readable);
      let moved = 0;
      for (let round = 0; round < 4; round++) moved += (await unpackEventPacks(db())).events;
      assert.equal(moved, 3, 'the readable pack behind them is unpacked');
      assert.deepEqual((await outbox()).map((r) => r.event_id), readable.map((e) => e.eventId));
      const marked = (await sql<{ unreadable: string | null }>`select unreadable from kidslearn.lake_event_packs order by id`.execute(db())).rows;
      assert.equal(marked.length, UNPACK_PACKS_PER_STATEMENT + 5);
      for (const m of marked) assert.ok(m.unreadable && m.unreadable.length > 0, JSON.stringify(m));
      assert.equal(await packedEventCount(db()), 2 * (UNPACK_PACKS_PER_STATEMENT + 5), 'still counted as waiting');
      assert.deepEqual(await unpackEventPacks(db()), { packs: 0, events: 0, accepted: 0, duplicates: 0, conflicts: [], unreadable: [] }, 'set aside: not read again');
      // A learner's export skips them instead of failing.
      assert.deepEqual(await packedEventsOf(db(), 'alpha', LEARNERS[0]!), []);
      // An erasure deletes the set-aside packs holding the child's key, and only those.
      assert.deepEqual(await deleteUnreadablePacksOf(db(), 'alpha', LEARNERS[0]!), { packs: 28, events: 56 });
      assert.equal((await sql<{ n: number }>`select count(*)::int as n from kidslearn.lake_event_packs where strpos(body, ${LEARNERS[0]!}) > 0`.execute(db())).rows[0]!.n, 0);
      assert.equal(await packedEventCount(db()), 2 * 27);
      // A writer of a version that can read them clears the marks at start.
      assert.equal(await retryUnreadablePacks(db()), 27);
      assert.equal((await unpackEventPacks(db())).unreadable.length, 27, 'this version still cannot: set aside again');
    });

    it('unpacks one app’s packs on demand (an erasure), leaving other apps’ packs', async () => {
      await pack('alpha', answerEvents('alpha', 3));
      await pack('beta', answerEvents('beta', 4, 100));
      await pack('alpha', answerEvents('alpha', 2, 200));
      assert.equal(await packedEventCount(db(), 'alpha'), 5);
      assert.equal(await countBacklog(db(), 'beta'), 4);
      assert.equal(await unpackAllEventPacks(db(), 'alpha'), 5);
      assert.equal(await packedEventCount(db(), 'alpha'), 0);
      assert.equal(await packedEventCount(db(), 'beta'), 4);
      assert.deepEqual([...new Set((await outbox()).map((r) => r.app))], ['alpha']);
    });

    it('compresses pack bodies with lz4 where the server has it (else the default)', async () => {
      const has = (await sql<{ ok: boolean }>`select exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) as ok`.execute(db())).rows[0]!.ok;
      const method = (await sql<{ c: string }>`select attcompression::text as c from pg_attribute where attrelid = 'kidslearn.lake_event_packs'::regclass and attname = 'body'`.execute(db())).rows[0]!.c;
      assert.equal(method, has ? 'l' : '');
      if (backend.name === 'postgres') assert.ok(has, 'the PostgreSQL server of this machine kind is built with lz4');
    });

    it('finds one learner’s packed events of one app, and no one else’s', async () => {
      const events = answerEvents('alpha', 6);
      await pack('alpha', events.slice(0, 3));
      await pack('alpha', events.slice(3));
      await pack('beta', answerEvents('beta', 2));
      const found = await packedEventsOf(db(), 'alpha', LEARNERS[1]!);
      assert.deepEqual(
        found.map((r) => [r.event_id, r.type, r.source, r.session_id, r.occurred_at.toISOString(), r.properties]),
        events.filter((e) => e.learner === LEARNERS[1]).map((e) => [e.eventId, 'answer_recorded', 'server', null, e.occurredAt.toISOString(), e.properties]),
      );
      assert.deepEqual(await packedEventsOf(db(), 'gamma', LEARNERS[1]!), []);
    });
  });
}
