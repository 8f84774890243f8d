import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.ts';
import { advisoryLock, processLocalLock } from '../../src/adapters/db/writer-lock.ts';
import { DeadLetterAlerts } from '../../src/analytics/alerts.ts';
import { compactPartition, recoverCompactions } from '../../src/analytics/compaction.ts';
import { listDeadLetters, purgeDeadLetters, redriveDeadLetters } from '../../src/analytics/dead-letters.repo.ts';
import { eventObjectKey } from '../../src/analytics/lake-layout.ts';
import { LAKE_WRITER_LOCK_KEY, type LakeWriter, type LakeWriterOptions } from '../../src/analytics/lake-writer.ts';
import { openParquetEncoder, type ParquetEncoder } from '../../src/analytics/parquet-writer.ts';
import { createTestApp, type TestApp } from '../support/app-fixture.ts';
import { insertEvents, LakeReader, testEvent } from '../support/lake.ts';
import { MemoryBlobStore } from '../support/memory-blob-store.ts';
import { databaseBackends } from '../support/servers.ts';

/**
 * The lake pipeline's contract on embedded PGlite and a PostgreSQL server:
 * events inserted into the outbox (as ingest does) become Parquet files at
 * the layout's keys, exactly once through crashes, store outages, poisoned
 * batches, dead letters and their redrive, compaction and pruning. Files are
 * read back with DuckDB; the outbox and batches are read from the database.
 */

const reader = new LakeReader();
after(() => reader.close());

const D1 = new Date('2026-11-20T10:00:00.000Z');
const D1_LATE = new Date('2026-11-20T23:59:59.999Z');
const D0 = new Date('2026-11-19T08:30:00.250Z');

/** A local webhook receiver. */
async function webhook(): Promise<{ url: string; bodies: Record<string, unknown>[]; close(): Promise<void> }> {
  const bodies: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (d: Buffer) => (data += d.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(data) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

for (const backend of await databaseBackends()) {
  describe(`lake pipeline contract: ${backend.name}`, { skip: backend.skip }, () => {
    let opened: Awaited<ReturnType<typeof backend.open>>;
    let t: TestApp;
    const writers: LakeWriter[] = [];
    const lockFor = () => (opened.url ? advisoryLock({ url: opened.url, key: LAKE_WRITER_LOCK_KEY, timeoutMs: 5000 }) : processLocalLock());
    /** A writer over `store`, with its own lock (on PostgreSQL, its own advisory-lock connection). */
    const writer = (store: MemoryBlobStore, o: Partial<LakeWriterOptions> = {}) => {
      const w = t.container.lakeWriter({ store, lock: lockFor(), random: () => 0.5, ...o });
      writers.push(w);
      return w;
    };
    const db = () => t.container.database.db;
    const outbox = async () =>
      (await db().selectFrom('kidslearn.lake_events').select(['seq', 'event_id', 'batch_id', 'exported_at']).orderBy('seq').execute()).map((r) => ({
        seq: BigInt(r.seq),
        eventId: r.event_id,
        batchId: r.batch_id === null ? null : Number(r.batch_id),
        exported: r.exported_at !== null,
      }));
    /** Clears the outbox, batches and dead letters between tests (each test has its own store). */
    const reset = async () => {
      await sql`delete from kidslearn.lake_events`.execute(db());
      await sql`delete from kidslearn.lake_batches`.execute(db());
      await sql`delete from kidslearn.lake_dead_letters`.execute(db());
    };

    before(async () => {
      opened = await backend.open();
      t = await createTestApp({ database: opened.database, cache: createMemoryCache({ maxEntries: 100 }), env: { LAKE_FLUSH_EVENTS: '1000', LAKE_MAX_ATTEMPTS: '3' } });
    });
    // A test that failed half-way leaves its writer (and, on PostgreSQL, its lock): stop it before the next test.
    beforeEach(async () => {
      await Promise.all(writers.splice(0).map((w) => w.stop(100)));
    });
    after(async () => {
      await Promise.all(writers.map((w) => w.stop(1000)));
      await t?.container.close();
      await opened?.dispose();
    });

    it('writes pending events to one zstd Parquet file per (app, UTC day), every column, and marks them exported', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const events = await insertEvents(opened.database, [
        testEvent('alpha', D1),
        testEvent('alpha', D1_LATE, { type: 'session_end', sessionId: 's-1', learner: null }),
        testEvent('beta', D1, { type: 'lesson_recorded' }),
        // A late event: received now, occurred the day before: it goes to its own day.
        testEvent('alpha', D0, { type: 'screen_view' }),
      ]);
      const w = writer(store);
      const result = await w.flushNow();
      assert.deepEqual({ batches: result.batches, events: result.events, files: result.files, failed: result.failed }, { batches: 1, events: 4, files: 3, failed: 0 });
      const [a1, a2, b1, a0] = events as [(typeof events)[0], (typeof events)[0], (typeof events)[0], (typeof events)[0]];
      // Every file of a batch is named by the batch's claimed range (a1 … a0), whatever its members:
      // an erasure between a crash and the rewrite cannot change a name.
      assert.deepEqual([...store.objects.keys()].sort(), [
        eventObjectKey('alpha', '2026-11-19', a1.seq, a0.seq),
        eventObjectKey('alpha', '2026-11-20', a1.seq, a0.seq),
        eventObjectKey('beta', '2026-11-20', a1.seq, a0.seq),
      ].sort());
      assert.match([...store.objects.keys()][0]!, /^events\/app=alpha\/year=2026\/month=11\/day=19\/\d{20}-\d{20}\.parquet$/);
      const rows = await reader.rows(store);
      const received = (await db().selectFrom("kidslearn.lake_events").select(["seq", "received_at"]).execute()).map((r) => [String(r.seq), r.received_at.toISOString().slice(0, 23)] as const);
      const receivedOf = new Map(received);
      assert.deepEqual(
        rows.map(({ _file, properties, ...r }) => ({ ...r, properties: JSON.parse(String(properties)) as unknown })),
        [
          { seq: String(a1.seq), event_id: a1.eventId, type: 'answer_recorded', source: 'server', occurred_at: '2026-11-20T10:00:00.000', received_at: receivedOf.get(String(a1.seq)), learner: 'l_testlearner000000000a', session_id: null, lesson_id: 'add-1', concept_id: 'adding', item_id: 'add-1-q1', correct: true, duration_ms: 4200, mastery: 0.62, properties: a1.properties },
          { seq: String(a2.seq), event_id: a2.eventId, type: 'session_end', source: 'app', occurred_at: '2026-11-20T23:59:59.999', received_at: receivedOf.get(String(a2.seq)), learner: null, session_id: 's-1', lesson_id: null, concept_id: null, item_id: null, correct: null, duration_ms: 95_000, mastery: null, properties: a2.properties },
          { seq: String(b1.seq), event_id: b1.eventId, type: 'lesson_recorded', source: 'server', occurred_at: '2026-11-20T10:00:00.000', received_at: receivedOf.get(String(b1.seq)), learner: 'l_testlearner000000000a', session_id: null, lesson_id: 'add-1', concept_id: null, item_id: null, correct: null, duration_ms: 30_000, mastery: null, properties: b1.properties },
          { seq: String(a0.seq), event_id: a0.eventId, type: 'screen_view', source: 'app', occurred_at: '2026-11-19T08:30:00.250', received_at: receivedOf.get(String(a0.seq)), learner: 'l_testlearner000000000a', session_id: null, lesson_id: null, concept_id: null, item_id: null, correct: null, duration_ms: null, mastery: null, properties: a0.properties },
        ].sort((x, y) => Number(BigInt(x.seq) - BigInt(y.seq))),
      );
      assert.deepEqual(await reader.schema(store, eventObjectKey('beta', '2026-11-20', a1.seq, a0.seq)), [
        { name: 'seq', type: 'BIGINT' }, { name: 'event_id', type: 'VARCHAR' }, { name: 'type', type: 'VARCHAR' }, { name: 'source', type: 'VARCHAR' },
        { name: 'occurred_at', type: 'TIMESTAMP' }, { name: 'received_at', type: 'TIMESTAMP' }, { name: 'learner', type: 'VARCHAR' }, { name: 'session_id', type: 'VARCHAR' },
        { name: 'lesson_id', type: 'VARCHAR' }, { name: 'concept_id', type: 'VARCHAR' }, { name: 'item_id', type: 'VARCHAR' }, { name: 'correct', type: 'BOOLEAN' },
        { name: 'duration_ms', type: 'INTEGER' }, { name: 'mastery', type: 'DOUBLE' }, { name: 'properties', type: 'VARCHAR' },
      ]);
      const parquetMagic = Buffer.from(store.objects.values().next().value!.bytes.slice(0, 4)).toString();
      assert.equal(parquetMagic, 'PAR1');
      // Stored state: every event exported, in one written batch that lists its files.
      const rowsAfter = await outbox();
      assert.ok(rowsAfter.every((r) => r.exported && r.batchId !== null));
      const batches = await db().selectFrom('kidslearn.lake_batches').selectAll().execute();
      assert.equal(batches.length, 1);
      assert.equal(batches[0]!.state, 'written');
      assert.equal(batches[0]!.events, 4);
      assert.deepEqual(batches[0]!.files.map((f) => [f.key, f.events]).sort(), [...store.objects.keys()].sort().map((k) => [k, k.includes('beta') || k.includes('day=19') ? 1 : 2]));
      const state = await db().selectFrom('kidslearn.lake_writer_state').selectAll().executeTakeFirstOrThrow();
      assert.equal(state.last_flush_events, 4);
      assert.ok(state.last_flush_at);
      const metrics = await t.container.metrics.registry.getSingleMetricAsString('kidslearn_lake_backlog');
      assert.match(metrics, /kidslearn_lake_backlog 0$/m);
      // Nothing pending: a second flush writes nothing.
      assert.equal((await w.flushNow()).batches, 0);
      assert.deepEqual([...store.puts.values()], [1, 1, 1]);
      await w.stop(1000);
    });

    it('flushes on its own only at LAKE_FLUSH_EVENTS pending events or when the oldest waited LAKE_FLUSH_SECONDS', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const w = writer(store, { flushEvents: 3, flushSeconds: 3600, pollMs: 20 });
      await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('alpha', D1)]);
      w.start();
      await sleep(300); // many cycles below both thresholds
      assert.equal(store.objects.size, 0);
      await insertEvents(opened.database, [testEvent('alpha', D1)]);
      for (let i = 0; i < 200 && store.objects.size === 0; i++) await sleep(25);
      assert.equal(store.objects.size, 1);
      // An old event alone is flushed by age.
      await insertEvents(opened.database, [testEvent('beta', D1)], new Date(Date.now() - 7200_000));
      for (let i = 0; i < 200 && store.objects.size === 1; i++) await sleep(25);
      assert.equal(store.objects.size, 2);
      await w.stop(2000);
      assert.ok((await outbox()).every((r) => r.exported));
    });

    it('exactly once after a crash between storing the files and marking them: the next writer rewrites the same keys', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const events = await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('alpha', D0), testEvent('beta', D1), testEvent('alpha', D1)]);
      // The first writer "dies" right after its second file is stored (it hangs there forever and loses its lock).
      let stored = 0;
      const crashed = writer(store, {
        afterStore: () => {
          if (++stored === 2) return new Promise<void>(() => {});
        },
      });
      void crashed.flushNow();
      for (let i = 0; i < 400 && stored < 2; i++) await sleep(25);
      assert.equal(stored, 2);
      await crashed.stop(10);
      assert.ok((await outbox()).every((r) => !r.exported && r.batchId !== null), 'claimed, nothing marked');
      const keysBefore = [...store.objects.keys()].sort();
      const successor = writer(store);
      const result = await successor.flushNow();
      assert.equal(result.batches, 1);
      assert.equal(result.events, 4);
      const keys = [...store.objects.keys()].sort();
      assert.equal(keys.length, 3);
      for (const k of keysBefore) assert.ok(keys.includes(k), 'the rewrite used the same keys');
      assert.deepEqual(keysBefore.map((k) => store.puts.get(k)), [2, 2]);
      const rows = await reader.rows(store);
      assert.deepEqual(rows.map((r) => r.event_id).sort(), events.map((e) => e.eventId).sort());
      assert.ok((await outbox()).every((r) => r.exported));
      assert.equal((await db().selectFrom('kidslearn.lake_batches').select('id').execute()).length, 1, 'no second batch');
      await successor.stop(1000);
    });

    it('store down: nothing is marked, attempts and backoff are recorded, writes pause; store back: everything written once', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const events = await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('beta', D1)]);
      store.failAll(true);
      const w = writer(store, { retryBaseMs: 60_000 });
      const before = Date.now();
      const r1 = await w.flushNow();
      assert.equal(r1.failed, 1);
      const [batch] = await db().selectFrom('kidslearn.lake_batches').selectAll().execute();
      assert.equal(batch!.state, 'claimed');
      assert.equal(batch!.attempts, 1);
      assert.match(batch!.last_error!, /memory store: put failed/);
      // random() = 0.5 of min(cap, 60 s · 2^0): 30 s from now.
      const wait = batch!.next_attempt_at.getTime() - before;
      assert.ok(wait >= 29_000 && wait <= 31_000, `next attempt in ${wait} ms`);
      assert.ok((await outbox()).every((r) => !r.exported));
      assert.equal(store.objects.size, 0);
      // Paused: the next flush neither retries the batch nor claims the new event.
      await insertEvents(opened.database, [testEvent('alpha', D1)]);
      const r2 = await w.flushNow();
      assert.deepEqual([r2.batches, r2.failed], [0, 0]);
      assert.equal((await outbox()).filter((r) => r.batchId === null).length, 1);
      store.failAll(false);
      const r3 = await w.flushNow({ retryNow: true });
      assert.deepEqual([r3.batches, r3.events, r3.failed], [2, 3, 0]);
      const rows = await reader.rows(store);
      assert.equal(rows.length, 3);
      assert.equal(new Set(rows.map((r) => r.event_id)).size, 3);
      assert.ok(events.every((e) => rows.some((r) => r.event_id === e.eventId)));
      assert.ok([...store.puts.values()].every((n) => n === 1));
      assert.ok((await outbox()).every((r) => r.exported));
      const failed = await t.container.metrics.registry.getSingleMetricAsString('kidslearn_lake_batches_failed_total');
      assert.match(failed, /kidslearn_lake_batches_failed_total [1-9]/);
      await w.stop(1000);
    });

    it('a store that hangs: the put times out, the attempt counts as failed, and the batch is written once when it answers again', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const events = await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('alpha', D1)]);
      store.hang(true);
      const w = writer(store, { storeTimeoutMs: 150 });
      const r = await w.flushNow();
      assert.equal(r.failed, 1);
      const [batch] = await db().selectFrom('kidslearn.lake_batches').selectAll().execute();
      assert.deepEqual([batch!.state, batch!.attempts], ['claimed', 1]);
      assert.match(batch!.last_error!, /timed out after 150 ms/);
      assert.ok((await outbox()).every((o) => !o.exported));
      store.hang(false);
      const r2 = await w.flushNow({ retryNow: true });
      assert.deepEqual([r2.batches, r2.events], [1, 2]);
      assert.deepEqual((await reader.rows(store)).map((x) => x.event_id), events.map((e) => e.eventId));
      await w.stop(1000);
    });

    it('no head-of-line blocking: a batch that keeps failing does not stop later events', async () => {
      await reset();
      const store = new MemoryBlobStore();
      store.failKeys((k) => k.includes('app=poison/'));
      const w = writer(store, { random: () => 0, maxAttempts: 10 });
      await insertEvents(opened.database, [testEvent('poison', D1), testEvent('poison', D1)]);
      assert.equal((await w.flushNow()).failed, 1);
      const good = await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('alpha', D0)]);
      const r = await w.flushNow();
      assert.equal(r.failed, 1, 'the poisoned batch was retried');
      assert.equal(r.events, 2, 'and the later events written');
      assert.deepEqual((await reader.rows(store)).map((x) => x.event_id).sort(), good.map((e) => e.eventId).sort());
      const poisoned = await db().selectFrom('kidslearn.lake_batches').selectAll().where('state', '=', 'claimed').execute();
      assert.equal(poisoned.length, 1);
      assert.equal(poisoned[0]!.attempts, 2);
      await w.stop(1000);
    });

    it('past LAKE_MAX_ATTEMPTS a batch goes to the dead letters: reason, attempts, event, counter, one webhook POST per app per minute', async () => {
      await reset();
      const hook = await webhook();
      try {
        const store = new MemoryBlobStore();
        store.failKeys((k) => k.includes('app=poison/'));
        let clock = Date.parse('2026-12-01T00:00:00Z');
        const alerts = new DeadLetterAlerts({ url: hook.url, timeoutMs: 2000, logger: t.container.logger, counter: t.container.metrics.lakeWriter.deadLetters, now: () => clock });
        const w = writer(store, { random: () => 0, maxAttempts: 2, alerts });
        const counterBefore = (await t.container.metrics.lakeWriter.deadLetters.get()).values.find((v) => v.labels.reason === 'max_attempts')?.value ?? 0;
        const poison = await insertEvents(opened.database, [testEvent('poison', D1), testEvent('poison', D1)]);
        await w.flushNow();
        const r = await w.flushNow();
        assert.equal(r.deadLetters, 2);
        const letters = await db().selectFrom('kidslearn.lake_dead_letters').selectAll().orderBy('id').execute();
        assert.deepEqual(
          letters.map((l) => ({ app: l.app, eventId: l.event_id, seq: String(l.seq), reason: l.reason, attempts: l.attempts, detail: l.detail })),
          poison.map((e) => ({ app: 'poison', eventId: e.eventId, seq: String(e.seq), reason: 'max_attempts', attempts: 2, detail: `Blob store unavailable`.length ? letters[0]!.detail : '' })),
        );
        assert.match(letters[0]!.detail!, /poisoned/);
        const event = letters[0]!.event as Record<string, unknown>;
        assert.deepEqual(
          { eventId: event.eventId, app: event.app, type: event.type, source: event.source, occurredAt: event.occurredAt, properties: event.properties },
          { eventId: poison[0]!.eventId, app: 'poison', type: 'answer_recorded', source: 'server', occurredAt: D1.toISOString(), properties: poison[0]!.properties },
        );
        const [batch] = await db().selectFrom('kidslearn.lake_batches').selectAll().execute();
        assert.equal(batch!.state, 'dead');
        assert.ok((await outbox()).every((o) => !o.exported), 'dead events are not exported');
        assert.equal((await w.flushNow()).failed, 0, 'a dead batch is not retried');
        const counterAfter = (await t.container.metrics.lakeWriter.deadLetters.get()).values.find((v) => v.labels.reason === 'max_attempts')!.value;
        assert.equal(counterAfter - counterBefore, 2);
        assert.equal(hook.bodies.length, 1);
        assert.deepEqual(hook.bodies[0], { alert: 'lake_dead_letters', app: 'poison', count: 2, reason: 'max_attempts', firstEventId: poison[0]!.eventId, at: new Date(clock).toISOString() });
        assert.ok(t.logLines().some((l) => l.msg === 'lake: events moved to the dead letters' && l.app === 'poison' && l.count === 2 && l.level === 40));
        // Another dead batch within the minute: held back; the next one after it carries both counts.
        await insertEvents(opened.database, [testEvent('poison', D1)]);
        await w.flushNow();
        await w.flushNow();
        assert.equal(hook.bodies.length, 1);
        clock += 61_000;
        await insertEvents(opened.database, [testEvent('poison', D1), testEvent('poison', D1)]);
        await w.flushNow();
        await w.flushNow();
        assert.equal(hook.bodies.length, 2);
        assert.equal(hook.bodies[1]!.count, 3);
        await w.stop(1000);
      } finally {
        await hook.close();
      }
    });

    it('an event that cannot be written is dead-lettered alone (rejected); the rest of its batch is written', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const real = await openParquetEncoder();
      try {
        const events = await insertEvents(opened.database, [
          testEvent('alpha', D1),
          testEvent('alpha', D1, { properties: { itemId: 'x' } }), // not a valid answer_recorded
          testEvent('alpha', D1),
          testEvent('alpha', D1),
          testEvent('alpha', D1),
        ]);
        const refused = events[3]!.eventId;
        // DuckDB "refuses" one row: every write containing it fails.
        const encoder: ParquetEncoder = {
          write: (rows, file) => (rows.some((r) => r.event_id === refused) ? Promise.reject(new Error('Conversion Error: injected')) : real.write(rows, file)),
          merge: (i, f) => real.merge(i, f),
          close: async () => {},
        };
        const w = writer(store, { encoder });
        const r = await w.flushNow();
        assert.equal(r.events, 3);
        assert.equal(r.deadLetters, 2);
        assert.deepEqual((await reader.rows(store)).map((x) => x.event_id), [events[0]!.eventId, events[2]!.eventId, events[4]!.eventId]);
        const letters = await db().selectFrom('kidslearn.lake_dead_letters').selectAll().orderBy('seq').execute();
        assert.deepEqual(letters.map((l) => [l.event_id, l.reason]), [[events[1]!.eventId, 'rejected'], [refused, 'rejected']]);
        assert.match(letters[0]!.detail!, /properties of answer_recorded/);
        assert.match(letters[1]!.detail!, /injected/);
        const [batch] = await db().selectFrom('kidslearn.lake_batches').selectAll().execute();
        assert.equal(batch!.state, 'written');
        assert.deepEqual((await outbox()).map((o) => o.exported), [true, false, true, false, true]);
        await w.stop(1000);
      } finally {
        await real.close();
      }
    });

    it('redrive puts dead letters back as new pending events exactly once; purge deletes them', async () => {
      await reset();
      const store = new MemoryBlobStore();
      store.failKeys((k) => k.includes('app=poison/'));
      const w = writer(store, { random: () => 0, maxAttempts: 1 });
      const poison = await insertEvents(opened.database, [testEvent('poison', D1), testEvent('poison', D0)]);
      await w.flushNow();
      const letters = await listDeadLetters(db(), { app: 'poison', limit: 100 });
      assert.equal(letters.length, 2);
      store.failKeys(undefined);
      const [first, second] = await Promise.all([redriveDeadLetters(db(), { app: 'poison' }), redriveDeadLetters(db(), { app: 'poison' })]);
      assert.equal(first.length + second.length, 2, 'each letter redriven once');
      assert.deepEqual(await redriveDeadLetters(db(), { app: 'poison' }), []);
      const pending = (await outbox()).filter((o) => o.batchId === null);
      assert.deepEqual(pending.map((p) => p.eventId).sort(), poison.map((e) => e.eventId).sort());
      assert.ok(pending.every((p) => p.seq > poison[1]!.seq), 'new sequence numbers');
      await w.flushNow();
      const rows = await reader.rows(store);
      assert.deepEqual(rows.map((r) => r.event_id).sort(), poison.map((e) => e.eventId).sort());
      assert.ok((await listDeadLetters(db(), { app: 'poison', limit: 10 })).every((l) => l.redrivenAt !== null));
      // A conflict letter (written by ingest) is redriven under a derived id, never over the original.
      const [orig] = await insertEvents(opened.database, [testEvent('alpha', D1)]);
      const conflict = await db()
        .insertInto('kidslearn.lake_dead_letters')
        .values({ app: 'alpha', event_id: orig!.eventId, type: 'answer_recorded', reason: 'conflict', detail: 'different payload', event: JSON.stringify({ ...orig, seq: undefined, occurredAt: D1.toISOString(), properties: { ...orig!.properties, correct: false } }) })
        .returning('id')
        .executeTakeFirstOrThrow();
      const [redriven] = await redriveDeadLetters(db(), { ids: [Number(conflict.id)] });
      assert.notEqual(redriven!.eventId, orig!.eventId);
      await w.flushNow();
      const alpha = (await reader.rows(store, 'alpha')).map((r) => [r.event_id, r.correct]);
      assert.deepEqual(alpha.sort(), [[orig!.eventId, true], [redriven!.eventId, false]].sort());
      // Purge: by id, then by app.
      assert.equal(await purgeDeadLetters(db(), { ids: [Number(conflict.id)] }), 1);
      assert.equal(await purgeDeadLetters(db(), { app: 'poison', olderThanDays: 1 }), 0);
      assert.equal(await purgeDeadLetters(db(), { app: 'poison' }), 2);
      assert.equal((await listDeadLetters(db(), { limit: 10 })).length, 0);
      await w.stop(1000);
    });

    it('compaction merges a partition into one .c.parquet without changing what queries return, also after a crash mid-way', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const w = writer(store);
      for (let i = 0; i < 3; i++) {
        await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('alpha', D1, { type: 'screen_view' }), testEvent('beta', D1)]);
        await w.flushNow();
      }
      const summary = async () => {
        const rows = await reader.rows(store, 'alpha');
        return { count: rows.length, ids: rows.map((r) => String(r.event_id)).sort().join(','), seqs: rows.map((r) => String(r.seq)).join(',') };
      };
      const before = await summary();
      assert.equal(before.count, 6);
      const encoder = await openParquetEncoder();
      try {
        const result = await compactPartition(store, encoder, { app: 'alpha', day: '2026-11-20', claimed: [] });
        assert.equal(result?.sources, 3);
        const keys = [...store.objects.keys()].filter((k) => k.includes('app=alpha/'));
        assert.equal(keys.length, 1);
        assert.match(keys[0]!, /\/\d{20}-\d{20}\.c\.parquet$/);
        assert.deepEqual(await summary(), before);
        // Crash after step 2 (manifest and target stored, sources still there): queries stay exact.
        await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('alpha', D1)]);
        await w.flushNow();
        const before2 = await summary();
        assert.equal(before2.count, 8);
        await compactPartition(store, encoder, { app: 'alpha', day: '2026-11-20', claimed: [] , crashAfterStep: 2 });
        const leftover = [...store.objects.keys()].filter((k) => k.includes('app=alpha/'));
        assert.equal(leftover.filter((k) => k.includes('_compaction-')).length, 1);
        assert.equal(leftover.length, 4, 'manifest, target and both sources');
        assert.deepEqual(await summary(), before2);
        // The writer's start finishes it.
        const done = await recoverCompactions(store, t.container.logger);
        assert.deepEqual(done, { finished: 1, discarded: 0, complete: true });
        assert.equal([...store.objects.keys()].filter((k) => k.includes('app=alpha/')).length, 1);
        assert.deepEqual(await summary(), before2);
        // Files of an unfinished batch are left out.
        await insertEvents(opened.database, [testEvent('beta', D1)]);
        await w.flushNow();
        const betaKeys = [...store.objects.keys()].filter((k) => k.includes('app=beta/'));
        assert.equal(betaKeys.length, 4);
        assert.equal(await compactPartition(store, encoder, { app: 'beta', day: '2026-11-20', claimed: [{ firstSeq: 0n, lastSeq: 1n << 60n }] }), undefined);
      } finally {
        await encoder.close();
      }
      await w.stop(1000);
    });

    it('compaction leaves out the rows of erased learners, even from a source not yet rewritten by the erasure', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const w = writer(store);
      const erased = 'l_erasedlearner00000000a';
      for (let i = 0; i < 2; i++) {
        await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('alpha', D1, { learner: erased })]);
        await w.flushNow();
      }
      const encoder = await openParquetEncoder();
      try {
        const result = await compactPartition(store, encoder, { app: 'alpha', day: '2026-11-20', claimed: [], erasedLearners: async () => [erased] });
        assert.equal(result?.sources, 2);
        const rows = await reader.rows(store, 'alpha');
        assert.equal(rows.length, 2);
        assert.ok(rows.every((r) => r.learner === 'l_testlearner000000000a'));
      } finally {
        await encoder.close();
      }
    });

    it('prunes exported events and finished batches past LAKE_DEDUP_DAYS, in chunks; pending and recent events stay', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const w = writer(store);
      const old = await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('alpha', D1)]);
      await w.flushNow();
      const recent = await insertEvents(opened.database, [testEvent('alpha', D1)]);
      await w.flushNow();
      const pending = await insertEvents(opened.database, [testEvent('alpha', D1)], new Date(Date.now() - 30 * 86_400_000));
      await sql`update kidslearn.lake_events set received_at = now() - interval '8 days' where event_id in (${sql.join(old.map((e) => e.eventId))})`.execute(db());
      await sql`update kidslearn.lake_batches set created_at = now() - interval '8 days' where id = (select min(id) from kidslearn.lake_batches)`.execute(db());
      const pruned = await w.prune();
      assert.deepEqual(pruned, { events: 2, batches: 1 });
      assert.deepEqual((await outbox()).map((o) => o.eventId), [recent[0]!.eventId, pending[0]!.eventId]);
      assert.equal((await db().selectFrom('kidslearn.lake_batches').select('id').execute()).length, 1);
      await w.stop(1000);
    });

    it('status of an app: backlog, oldest pending, last flush, dead letters, files and bytes', async () => {
      await reset();
      const store = new MemoryBlobStore();
      const w = writer(store);
      await insertEvents(opened.database, [testEvent('gamma', D1), testEvent('gamma', D0), testEvent('delta', D1)]);
      await w.flushNow();
      const receivedAt = new Date('2026-12-01T12:00:00.000Z');
      await insertEvents(opened.database, [testEvent('gamma', D1)], receivedAt);
      await db().insertInto('kidslearn.lake_dead_letters').values({ app: 'gamma', event_id: crypto.randomUUID(), type: 'answer_recorded', reason: 'conflict', event: '{}' }).execute();
      const { LakeStatusReader } = await import('../../src/analytics/lake-status.ts');
      const status = await new LakeStatusReader({ database: opened.database, store }).status('gamma');
      const sizes = (await store.list('events/app=gamma/')).reduce((s, b) => s + b.size, 0);
      assert.deepEqual({ ...status, lastFlushAt: typeof status.lastFlushAt }, { backlog: 1, oldestPendingAt: receivedAt.toISOString(), lastFlushAt: 'string', lastFlushEvents: 2, deadLetters: 1, files: 2, bytes: sizes });
      await w.stop(1000);
    });

    if (backend.name === 'postgres') {
      it('two writers at once: the advisory lock lets one write; no key is written twice; every event once', async () => {
        await reset();
        const store = new MemoryBlobStore();
        const a = writer(store);
        const b = writer(store);
        const all = [];
        for (let round = 0; round < 5; round++) {
          all.push(...(await insertEvents(opened.database, [testEvent('alpha', D1), testEvent('beta', D0), testEvent('alpha', D0)])));
          const [ra, rb] = await Promise.all([a.flushNow(), b.flushNow()]);
          assert.equal([ra, rb].filter((r) => r.locked).length, 1, 'exactly one of them works each round');
        }
        // One of them holds the lock for good: the other never wrote.
        const rounds = await Promise.all([a.flushNow(), b.flushNow()]);
        assert.equal(rounds.filter((r) => r.locked).length, 1);
        assert.ok([...store.puts.values()].every((n) => n === 1), JSON.stringify([...store.puts]));
        const rows = await reader.rows(store);
        assert.deepEqual(rows.map((r) => r.event_id).sort(), all.map((e) => e.eventId).sort());
        // The holder stops: the other takes over.
        const holder = rounds[0]!.locked ? b : a;
        const other = holder === a ? b : a;
        await holder.stop(1000);
        await insertEvents(opened.database, [testEvent('alpha', D1)]);
        const r = await other.flushNow();
        assert.equal(r.locked, false);
        assert.equal(r.events, 1);
      });
    }
  });
}
