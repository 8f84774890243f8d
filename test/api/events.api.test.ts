import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { JobQueue } from '../../src/adapters/jobs/job-queue.ts';
import { countBacklog, deterministicUuid } from '../../src/analytics/event-outbox.ts';
import { decodeEventsMessage } from '../../src/analytics/event-messages.ts';
import { unpackAllEventPacks } from '../../src/analytics/event-packs.ts';
import { LearnerKeys } from '../../src/analytics/learner-keys.ts';
import { LEARNER_KEY_PATTERN } from '../../src/domain/analytics/pseudonym.ts';
import { SERVER_EVENT_PROPERTIES, type ServerEventType } from '../../src/domain/analytics/event-types.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { planJobHandler } from '../../src/engine/plan-job.ts';
import { serverEvent } from '../../src/analytics/server-events.ts';
import { newConceptState } from '../../src/domain/learner/concept-state.ts';
import { writeAnswerGroups } from '../../src/features/progress/progress.repo.ts';
import { PLAN_QUEUE } from '../../src/features/plans/plans.service.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { answerMaker } from '../support/answers.ts';
import { stacks } from '../support/servers.ts';

type Ingest = { accepted: number; duplicates: number; conflicts: number; dropped: { count: number; reasons: { product_analytics_off: number; lake_disabled: number } } };
type ErrorJson = { error: { code: string; message: string; details?: { field: string; message: string }[] } };
type Row = {
  seq: string | number;
  app: string;
  event_id: string;
  type: string;
  source: string;
  occurred_at: Date;
  received_at: Date;
  learner: string | null;
  session_id: string | null;
  properties: Record<string, unknown>;
  payload_hash: string;
  batch_id: unknown;
  exported_at: Date | null;
};

const PASSWORD = 'correct horse battery';
/** Small enough to fill in a test; events for app `beta` fill it. */
const MAX_BACKLOG = 3000;

for (const stack of await stacks()) {
  describe(`POST /api/events on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let ann: Principal;
    const tokens = {} as Record<'mia' | 'ann' | 'bob' | 'tess' | 'admin', string>;
    const kids = {} as Record<'mia' | 'leo' | 'kai' | 'zoe', string>;
    const db = () => t.container.database.db;

    const ev = (o: Record<string, unknown> = {}): { eventId: string; type: string; occurredAt: string; childId?: string; sessionId?: string; properties: Record<string, unknown> } => ({
      eventId: randomUUID(),
      type: 'lesson_start',
      occurredAt: new Date(Date.now() - 5000).toISOString(),
      childId: kids.mia,
      properties: { lessonId: 'alpha-only' },
      ...o,
    });
    const post = async (events: unknown[], token = tokens.mia) => {
      const res = await t.request('/api/events', { method: 'POST', token, body: JSON.stringify({ events }) });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Ingest & ErrorJson };
    };
    const rowsOf = async (ids: readonly string[]): Promise<Row[]> =>
      ids.length === 0
        ? []
        : (await sql<Row>`select * from kidslearn.lake_events where app = 'alpha' and event_id in (${sql.join(ids.map((id) => sql`${id}::uuid`))}) order by seq`.execute(db())).rows;
    /** The outbox rows of a type and learner, after unpacking the answer path's packs as the lake writer does. */
    const serverRows = async (type: ServerEventType, learner: string): Promise<Row[]> => {
      await unpackAllEventPacks(db());
      return outboxRows(type, learner);
    };
    const outboxRows = async (type: ServerEventType, learner: string): Promise<Row[]> =>
      (await sql<Row>`select * from kidslearn.lake_events where app = 'alpha' and type = ${type} and learner = ${learner} order by seq`.execute(db())).rows;
    const keyOf = (childId: string) => t.container.learnerKeys.keyOf('alpha', childId);
    const metric = async (outcome: string) => {
      const m = await t.container.metrics.registry.getSingleMetric('kidslearn_lake_events_total')!.get();
      return m.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    };
    /** No stored row of any kind holds a child id. */
    const assertNoChildIds = (rows: unknown[]) => {
      const text = JSON.stringify(rows);
      for (const id of Object.values(kids)) assert.ok(!text.includes(id), `a row holds child id ${id}`);
    };

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache, env: { LAKE_MAX_BACKLOG: String(MAX_BACKLOG) } });
      const c = t.container;
      await createFixtureApp(c, 'alpha');
      await c.apps.create('beta', 'App beta');
      const annAccount = await c.accounts.register('alpha', { email: 'ann@example.com', password: PASSWORD, role: 'guardian' });
      const bobAccount = await c.accounts.register('alpha', { email: 'bob@example.com', password: PASSWORD, role: 'guardian' });
      const tessAccount = await c.accounts.register('alpha', { email: 'tess@example.com', password: PASSWORD, role: 'teacher' });
      const exp = Math.floor(Date.now() / 1000) + 3600;
      ann = { sub: annAccount.id, app: 'alpha', role: 'guardian', exp };
      const bob: Principal = { sub: bobAccount.id, app: 'alpha', role: 'guardian', exp };
      const tess: Principal = { sub: tessAccount.id, app: 'alpha', role: 'teacher', exp };
      kids.mia = (await c.children.create(ann, { nickname: 'Mia', grade: 1 })).id;
      kids.leo = (await c.children.create(ann, { nickname: 'Leo', grade: 1 })).id;
      await c.children.update(ann, kids.leo, { settings: { productAnalytics: true } });
      kids.kai = (await c.children.create(bob, { nickname: 'Kai', grade: 1 })).id;
      kids.zoe = (await c.children.create(bob, { nickname: 'Zoe', grade: 1 })).id;
      const room = await c.classrooms.create(tess, { name: 'Room 3' });
      const { code } = await c.classrooms.createInvite(tess, room.id, 7);
      await c.classrooms.respond(bob, code, kids.zoe, 'accept');
      tokens.mia = (await c.children.startDeviceSession(ann, kids.mia)).accessToken;
      tokens.ann = (await c.accounts.login('alpha', { email: 'ann@example.com', password: PASSWORD })).accessToken;
      tokens.bob = (await c.accounts.login('alpha', { email: 'bob@example.com', password: PASSWORD })).accessToken;
      tokens.tess = (await c.accounts.login('alpha', { email: 'tess@example.com', password: PASSWORD })).accessToken;
      tokens.admin = await t.token('alpha', 'admin');
    });
    after(async () => {
      await t?.container.close();
      await dispose?.();
    });

    it('stores a batch after commit: 202, one row per event with the app, the learner key (never the child id) and the receive time', async () => {
      const sessionId = randomUUID();
      const events = [
        ev({ sessionId }),
        ev({ type: 'item_shown', properties: { itemId: 'alpha-only-q1', lessonId: 'alpha-only', position: 0 }, sessionId }),
        // A child token's event without childId is about the child itself.
        ev({ type: 'hint_used', childId: undefined, properties: { itemId: 'alpha-only-q1', hintLevel: 2 } }),
      ];
      const before = await metric('accepted');
      const sentAt = Date.now();
      const res = await post(events);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.deepEqual(res.body, { accepted: 3, duplicates: 0, conflicts: 0, dropped: { count: 0, reasons: { product_analytics_off: 0, lake_disabled: 0 } } });
      const rows = await rowsOf(events.map((e) => e.eventId));
      const mia = await keyOf(kids.mia);
      assert.match(mia, LEARNER_KEY_PATTERN);
      assert.deepEqual(
        rows.map((r) => ({ id: r.event_id, app: r.app, type: r.type, source: r.source, learner: r.learner, session: r.session_id, props: r.properties, at: new Date(r.occurred_at).toISOString(), pending: r.batch_id === null && r.exported_at === null })),
        events.map((e) => ({ id: e.eventId, app: 'alpha', type: e.type, source: 'app', learner: mia, session: e.sessionId ?? null, props: e.properties, at: e.occurredAt, pending: true })),
      );
      for (const r of rows) {
        const received = new Date(r.received_at).getTime();
        assert.ok(received >= sentAt - 1000 && received <= Date.now() + 1000, 'received_at is the server’s receive time');
        assert.match(r.payload_hash, /^[0-9a-f]{64}$/);
      }
      assertNoChildIds(rows);
      assert.equal((await metric('accepted')) - before, 3);
    });

    it('is idempotent on eventId: a retried batch is stored once and reported as duplicates', async () => {
      const events = [ev(), ev({ type: 'lesson_complete', properties: { lessonId: 'alpha-only', durationSeconds: 300, score: 0.5 } })];
      assert.equal((await post(events)).body.accepted, 2);
      const again = await post(events);
      assert.equal(again.status, 202);
      assert.deepEqual(again.body, { accepted: 0, duplicates: 2, conflicts: 0, dropped: { count: 0, reasons: { product_analytics_off: 0, lake_disabled: 0 } } });
      assert.equal((await rowsOf(events.map((e) => e.eventId))).length, 2);
      // Key order in properties does not make another payload.
      const reordered = { ...events[1]!, properties: { score: 0.5, durationSeconds: 300, lessonId: 'alpha-only' } };
      assert.equal((await post([reordered])).body.duplicates, 1);
    });

    it('the same id with another payload is a conflict: one dead letter with the event as sent, the stored row unchanged', async () => {
      const first = ev();
      assert.equal((await post([first])).body.accepted, 1);
      const [stored] = await rowsOf([first.eventId]);
      const changed = { ...first, properties: { lessonId: 'count-k' } };
      const res = await post([changed]);
      assert.equal(res.status, 202);
      assert.deepEqual(res.body, { accepted: 0, duplicates: 0, conflicts: 1, dropped: { count: 0, reasons: { product_analytics_off: 0, lake_disabled: 0 } } });
      assert.deepEqual(await rowsOf([first.eventId]), [stored], 'the stored event is not overwritten');
      const letters = (await sql<{ app: string; event_id: string; reason: string; type: string; learner: string; event: Record<string, unknown>; seq: unknown }>`
        select app, event_id, reason, type, learner, event, seq from kidslearn.lake_dead_letters where event_id = ${first.eventId}::uuid`.execute(db())).rows;
      assert.equal(letters.length, 1);
      const [letter] = letters;
      assert.deepEqual({ app: letter!.app, reason: letter!.reason, type: letter!.type, learner: letter!.learner }, { app: 'alpha', reason: 'conflict', type: 'lesson_start', learner: await keyOf(kids.mia) });
      assert.deepEqual(letter!.event.properties, { lessonId: 'count-k' }, 'the event as sent');
      assert.equal(letter!.event.eventId, first.eventId);
      assertNoChildIds(letters);
    });

    it('within one batch a repeated id is a duplicate if identical, else a conflict', async () => {
      const e = ev();
      const res = await post([e, e, { ...e, properties: { lessonId: 'read-1' } }]);
      assert.deepEqual({ a: res.body.accepted, d: res.body.duplicates, c: res.body.conflicts }, { a: 1, d: 1, c: 1 });
      const rows = await rowsOf([e.eventId]);
      assert.deepEqual(rows.map((r) => r.properties), [{ lessonId: 'alpha-only' }], 'the first is stored');
      const letters = (await sql<{ n: number }>`select count(*)::int as n from kidslearn.lake_dead_letters where event_id = ${e.eventId}::uuid and reason = 'conflict'`.execute(db())).rows[0]!.n;
      assert.equal(letters, 1);
    });

    it('one bad event refuses the whole batch (400 naming events.N.…) and stores nothing', async () => {
      const events = [ev(), ev(), ev({ properties: { lessonId: 'Not An Id!' } }), ev()];
      const res = await post(events);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'validation_failed');
      assert.match(res.body.error.message, /"events\.2\.properties\.lessonId"/);
      assert.deepEqual(res.body.error.details!.map((d) => d.field), ['events.2.properties.lessonId']);
      assert.deepEqual(await rowsOf(events.map((e) => e.eventId)), []);
    });

    it('an unknown property, type or envelope field is 400 naming it; so are bad ids, instants and session ids', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ properties: { lessonId: 'alpha-only', colour: 'red' } }, 'events.0.properties.colour'],
        [{ type: 'purchase', properties: {} }, 'events.0.type'],
        [{ type: 'answer_recorded', properties: { itemId: 'a', lessonId: 'b', conceptId: 'c', correct: true, durationMs: 1, mastery: 0.5 } }, 'events.0.type'],
        [{ nickname: 'Mia' }, 'events.0.nickname'],
        [{ eventId: 'not-a-uuid' }, 'events.0.eventId'],
        [{ occurredAt: '2026-12-01 10:00' }, 'events.0.occurredAt'],
        [{ occurredAt: new Date(Date.now() + 3 * 86_400_000).toISOString() }, 'events.0.occurredAt'],
        [{ sessionId: 'mia@example.com' }, 'events.0.sessionId'],
        [{ type: 'screen_view', properties: { screen: 'Hello Mia, well done' } }, 'events.0.properties.screen'],
      ];
      for (const [o, field] of cases) {
        const e = ev(o);
        const res = await post([e]);
        assert.equal(res.status, 400, field);
        assert.equal(res.body.error.details![0]!.field, field, JSON.stringify(res.body));
        assert.match(res.body.error.message, new RegExp(`"${field.replaceAll('.', '\\.')}"`));
        if (o.eventId === undefined) assert.deepEqual(await rowsOf([e.eventId as string]), []);
      }
      const empty = await post([]);
      assert.equal(empty.status, 400);
      assert.equal(empty.body.error.details![0]!.field, 'events');
    });

    it('more than 500 events is 400; a body over 1 MiB is 413; nothing stored', async () => {
      const many = Array.from({ length: 501 }, () => ev());
      const res = await post(many);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.details![0]!.field, 'events');
      assert.deepEqual(await rowsOf(many.slice(0, 5).map((e) => e.eventId)), []);
      assert.equal((await post(many.slice(0, 500))).body.accepted, 500, '500 is allowed');
      const big = Array.from({ length: 400 }, () => ev({ sessionId: 'x'.repeat(60), properties: { lessonId: 'a'.repeat(64) } }));
      const body = JSON.stringify({ events: big, pad: 'p'.repeat(1024 * 1024) });
      const huge = await t.request('/api/events', { method: 'POST', token: tokens.mia, body });
      assert.equal(huge.status, 413);
      assert.equal(((await huge.json()) as ErrorJson).error.code, 'payload_too_large');
      assert.deepEqual(await rowsOf(big.slice(0, 5).map((e) => e.eventId)), []);
    });

    it('a child token may send only about itself: another child is 404 and the batch is refused whole', async () => {
      const mine = ev();
      for (const other of [kids.kai, kids.leo, 'no-such-child']) {
        const res = await post([mine, ev({ childId: other })]);
        assert.equal(res.status, 404);
        assert.equal(res.body.error.code, 'child_not_found');
      }
      assert.deepEqual(await rowsOf([mine.eventId]), []);
    });

    it('guardians send about their own children only; teachers about children of their classrooms; admins not at all', async () => {
      const notAnns = ev({ childId: kids.kai });
      const g = await post([notAnns], tokens.ann);
      assert.equal(g.status, 404);
      assert.equal(g.body.error.code, 'child_not_found');
      const anns = ev({ childId: kids.leo });
      assert.equal((await post([anns], tokens.ann)).status, 202);
      const zoe = ev({ childId: kids.zoe });
      const teacher = await post([zoe], tokens.tess);
      assert.equal(teacher.status, 202);
      assert.equal(teacher.body.accepted, 1);
      assert.deepEqual((await rowsOf([zoe.eventId])).map((r) => r.learner), [await keyOf(kids.zoe)]);
      const notInRoom = await post([ev({ childId: kids.mia })], tokens.tess);
      assert.equal(notInRoom.status, 404);
      assert.equal(notInRoom.body.error.code, 'child_not_found');
      const admin = await post([ev({ childId: undefined })], tokens.admin);
      assert.equal(admin.status, 403);
      assert.equal(admin.body.error.code, 'forbidden');
      assert.deepEqual(await rowsOf([notAnns.eventId]), []);
    });

    it('productAnalytics off: usage events are dropped and counted, learning events kept; on: all kept; no child: kept', async () => {
      const usage = (childId: string | undefined) => [
        ev({ childId, type: 'session_start', properties: { platform: 'ios', appVersion: '2.4.1' } }),
        ev({ childId, type: 'screen_view', properties: { screen: 'home' } }),
        ev({ childId, type: 'app_error', properties: { code: 'E_NET', fatal: false } }),
        ev({ childId, type: 'session_end', properties: { durationSeconds: 60 } }),
      ];
      const droppedBefore = await metric('dropped');
      const miaUsage = usage(kids.mia);
      const learning = ev({ childId: kids.mia });
      const off = await post([...miaUsage, learning], tokens.ann);
      assert.equal(off.status, 202);
      assert.deepEqual(off.body, { accepted: 1, duplicates: 0, conflicts: 0, dropped: { count: 4, reasons: { product_analytics_off: 4, lake_disabled: 0 } } });
      assert.deepEqual((await rowsOf([...miaUsage, learning].map((e) => e.eventId))).map((r) => r.event_id), [learning.eventId]);
      assert.equal((await metric('dropped')) - droppedBefore, 4);
      // The child's own token, events without childId: about the child, so dropped the same.
      const selfUsage = usage(undefined);
      const self = await post(selfUsage, tokens.mia);
      assert.equal(self.body.dropped.count, 4);
      assert.deepEqual(await rowsOf(selfUsage.map((e) => e.eventId)), []);

      const leoUsage = usage(kids.leo);
      const on = await post(leoUsage, tokens.ann);
      assert.deepEqual(on.body, { accepted: 4, duplicates: 0, conflicts: 0, dropped: { count: 0, reasons: { product_analytics_off: 0, lake_disabled: 0 } } });
      const leoRows = await rowsOf(leoUsage.map((e) => e.eventId));
      assert.deepEqual(leoRows.map((r) => r.learner), Array(4).fill(await keyOf(kids.leo)));

      const noChild = usage(undefined);
      const none = await post(noChild, tokens.ann);
      assert.equal(none.body.accepted, 4);
      assert.deepEqual((await rowsOf(noChild.map((e) => e.eventId))).map((r) => r.learner), [null, null, null, null]);
    });

    it('an answer writes its answer_recorded event in the same statement; a duplicate or failed answer writes none', async () => {
      const leoToken = (await t.container.children.startDeviceSession(ann, kids.leo)).accessToken;
      const answer = answerMaker('lake', () => kids.leo);
      const postAnswer = async (body: unknown) => {
        const res = await t.request('/api/progress', { method: 'POST', token: leoToken, body: JSON.stringify(body) });
        return { status: res.status, body: (await res.json()) as { results: { concept: { pKnown: number } }[] } };
      };
      const learner = await keyOf(kids.leo);
      await unpackAllEventPacks(db());
      const a = answer();
      const res = await postAnswer(a);
      assert.equal(res.status, 200);
      // Stored with the answer as one pack (no outbox row yet); no child id in it.
      const packs = (await sql<{ events: number; body: string }>`select events, body from kidslearn.lake_event_packs where app = 'alpha'`.execute(db())).rows;
      assert.deepEqual(packs.map((p) => [p.events, decodeEventsMessage(p.body).map((e) => [e.type, e.source, e.learner])]), [[1, [['answer_recorded', 'server', learner]]]]);
      assertNoChildIds(packs);
      assert.deepEqual(await outboxRows('answer_recorded', learner), []);
      const rows = await serverRows('answer_recorded', learner);
      assert.equal((await sql`select 1 from kidslearn.lake_event_packs`.execute(db())).rows.length, 0, 'unpacked: the pack is gone');
      assert.equal(rows.length, 1);
      const [row] = rows;
      assert.deepEqual(
        { id: row!.event_id, source: row!.source, at: new Date(row!.occurred_at).toISOString(), session: row!.session_id, props: row!.properties },
        {
          id: deterministicUuid(`answer_recorded\u0000alpha\u0000${kids.leo}\u0000${a.clientEventId}`),
          source: 'server',
          at: a.answeredAt,
          session: null,
          props: { itemId: 'alpha-only-q1', lessonId: 'alpha-only', conceptId: 'adding', correct: true, durationMs: 6000, mastery: row!.properties.mastery },
        },
      );
      // The concept's P(known) after the answer (the API shows it rounded to 4 places).
      const near = (a: unknown, b: number) => typeof a === 'number' && Math.abs(a - b) < 1e-4;
      assert.ok(near(row!.properties.mastery, res.body.results[0]!.concept.pKnown), `mastery ${String(row!.properties.mastery)}`);
      assert.ok(SERVER_EVENT_PROPERTIES.answer_recorded.safeParse(row!.properties).success);
      assertNoChildIds(rows);
      // A retry of the same answer: a duplicate, no second event.
      assert.equal((await postAnswer(a)).status, 200);
      // The same clientEventId with another answer: 409, no event.
      assert.equal((await postAnswer({ ...a, response: 4 })).status, 409);
      // An unknown item: 404, nothing stored.
      assert.equal((await postAnswer(answer({ itemId: 'no-such-item' }))).status, 404);
      assert.equal((await sql`select 1 from kidslearn.lake_event_packs`.execute(db())).rows.length, 0, 'no pack for a duplicate or failed answer');
      assert.equal((await serverRows('answer_recorded', learner)).length, 1);
      // A batch: one event per answer, each with the mastery after that answer.
      const batch = [answer(), answer({ response: 4 })];
      const two = await postAnswer({ answers: batch });
      assert.equal(two.status, 200);
      const after = await serverRows('answer_recorded', learner);
      assert.equal(after.length, 3);
      assert.deepEqual(after.slice(1).map((r) => r.properties.correct), [true, false]);
      // Both answers are on one concept: the first event has the mastery between them, the second the final one.
      const [m1, m2] = after.slice(1).map((r) => r.properties.mastery as number);
      assert.ok(m1! > m2!, 'a wrong answer lowers it');
      assert.ok(near(m2, two.body.results[1]!.concept.pKnown));
    });

    it('a write that loses the race for its learner clock stores neither its answers nor their events', async () => {
      const learner = await keyOf(kids.zoe);
      const answer = { childId: kids.zoe, clientEventId: 'stale-1', itemId: 'alpha-only-q1', lessonId: 'alpha-only', conceptId: 'adding', response: 5, correct: true, durationMs: 1000, answeredAt: new Date() };
      const event = serverEvent({ app: 'alpha', type: 'answer_recorded', recordKey: `${kids.zoe}\u0000stale-1`, learner, occurredAt: answer.answeredAt, properties: { itemId: 'alpha-only-q1', lessonId: 'alpha-only', conceptId: 'adding', correct: true, durationMs: 1000, mastery: 0.5 } });
      const state = { childId: kids.zoe, conceptId: 'adding', state: { ...newConceptState(), attempts: 1, correct: 1 } };
      // The first writer that read Zoe's clock at 0 lands (the clock moves to 1)…
      const ok = await writeAnswerGroups(db(), 'alpha', [{ clocks: [{ childId: kids.zoe, expectedSeq: 0 }], answers: [answer], states: [state], events: [event] }]);
      assert.equal(ok.size, 1);
      await unpackAllEventPacks(db());
      assert.deepEqual((await rowsOf([event.eventId])).map((r) => r.type), ['answer_recorded']);
      // …a second one that read it at 0 too is refused: neither its answer nor its event is stored.
      const late = { ...answer, clientEventId: 'stale-2' };
      const lateEvent = serverEvent({ app: 'alpha', type: 'answer_recorded', recordKey: `${kids.zoe}\u0000stale-2`, learner, occurredAt: late.answeredAt, properties: { itemId: 'alpha-only-q1', lessonId: 'alpha-only', conceptId: 'adding', correct: true, durationMs: 1000, mastery: 0.6 } });
      const refused = await writeAnswerGroups(db(), 'alpha', [{ clocks: [{ childId: kids.zoe, expectedSeq: 0 }], answers: [late], states: [state], events: [lateEvent] }]);
      assert.equal(refused.size, 0);
      assert.deepEqual(await sql`select 1 from kidslearn.lake_event_packs where strpos(body, ${lateEvent.eventId}) > 0`.execute(db()).then((r) => r.rows), [], 'no pack');
      await unpackAllEventPacks(db());
      assert.deepEqual(await rowsOf([lateEvent.eventId]), []);
      const stored = (await sql<{ n: number }>`select count(*)::int as n from app_alpha.answers where child_id = ${kids.zoe}`.execute(db())).rows[0]!.n;
      assert.equal(stored, 1);
    });

    it('a lesson completion writes lesson_recorded once', async () => {
      const learner = await keyOf(kids.mia);
      const body = { childId: kids.mia, secondsSpent: 240, score: 0.75, completedAt: new Date(Date.now() - 1000).toISOString(), clientEventId: 'done-1' };
      const complete = () => t.request('/api/progress/lessons/count-k/complete', { method: 'POST', token: tokens.mia, body: JSON.stringify(body) });
      assert.equal((await complete()).status, 200);
      assert.equal((await complete()).status, 200, 'a retry');
      const rows = await serverRows('lesson_recorded', learner);
      assert.deepEqual(
        rows.map((r) => ({ source: r.source, props: r.properties, at: new Date(r.occurred_at).toISOString() })),
        [{ source: 'server', props: { lessonId: 'count-k', secondsSpent: 240, score: 0.75 }, at: body.completedAt }],
      );
      assert.ok(SERVER_EVENT_PROPERTIES.lesson_recorded.safeParse(rows[0]!.properties).success);
      const conflicting = await t.request('/api/progress/lessons/count-k/complete', { method: 'POST', token: tokens.mia, body: JSON.stringify({ ...body, secondsSpent: 1 }) });
      assert.equal(conflicting.status, 409);
      assert.equal((await serverRows('lesson_recorded', learner)).length, 1);
    });

    it('a plan request writes plan_requested with the plan row; the engine writes plan_ready with the plan', async () => {
      const c = t.container;
      const real = c.jobQueue;
      // No engine here: a queue that takes the job; the job is then run by hand.
      c.jobQueue = () => Promise.resolve({ send: async () => 'job-1', get: async () => undefined } as unknown as JobQueue);
      try {
        const res = await t.request('/api/adaptive/plans', { method: 'POST', token: tokens.ann, body: JSON.stringify({ childId: kids.leo, minutes: 10 }) });
        assert.equal(res.status, 202);
        const { planId } = (await res.json()) as { planId: string };
        const learner = await keyOf(kids.leo);
        const requested = await serverRows('plan_requested', learner);
        assert.deepEqual(requested.map((r) => [r.event_id, r.properties]), [[deterministicUuid(`plan_requested\u0000alpha\u0000${planId}`), { planId, minutes: 10 }]]);
        const handler = planJobHandler({ db: c.database, builder: c.planBuilder, metrics: c.metrics, logger: c.logger, learnerKeys: c.learnerKeys });
        const job = { id: 'job-1', queue: PLAN_QUEUE, data: { app: 'alpha', planId }, attempt: 1, signal: new AbortController().signal };
        assert.deepEqual(await handler(job), { planId, status: 'ready' });
        await handler(job);
        const plan = (await sql<{ plan: { minutes: number; activities: unknown[] } }>`select plan from app_alpha.plans where id = ${planId}`.execute(db())).rows[0]!.plan;
        const ready = await serverRows('plan_ready', learner);
        assert.deepEqual(ready.map((r) => r.properties), [{ planId, activities: plan.activities.length, minutes: plan.minutes }], 'once, though the job ran twice');
        assert.ok(SERVER_EVENT_PROPERTIES.plan_ready.safeParse(ready[0]!.properties).success);
        assertNoChildIds([...requested, ...ready]);
      } finally {
        c.jobQueue = real;
      }
    });

    it('learner keys: processes racing to create an app’s secret agree; a secret created in a rolled-back transaction is not kept', async () => {
      const c = t.container;
      await c.apps.create('gamma', 'App gamma');
      // Two "processes" (instances) start at once on an app without a secret.
      const [a, b] = [new LearnerKeys(c.database), new LearnerKeys(c.database)];
      const [ka, kb] = await Promise.all([a.keyOf('gamma', 'kid-1'), b.keyOf('gamma', 'kid-1')]);
      assert.equal(ka, kb);
      assert.match(ka, LEARNER_KEY_PATTERN);
      assert.notEqual(ka, await a.keyOf('gamma', 'kid-2'));
      assert.notEqual(ka, await c.learnerKeys.keyOf('alpha', 'kid-1'), 'keys differ per app');
      const secrets = (await sql<{ n: number }>`select count(*)::int as n from kidslearn.lake_keys where app = 'gamma'`.execute(db())).rows[0]!.n;
      assert.equal(secrets, 1);

      await c.apps.create('delta', 'App delta');
      const inTrx = new LearnerKeys(c.database);
      let rolledBack: string | undefined;
      await db()
        .transaction()
        .execute(async (trx) => {
          rolledBack = await inTrx.keyOf('delta', 'kid-1', trx);
          throw new Error('roll back');
        })
        .catch(() => undefined);
      const fresh = await new LearnerKeys(c.database).keyOf('delta', 'kid-1');
      assert.notEqual(rolledBack, fresh, 'the rolled-back secret is gone');
      assert.equal(await inTrx.keyOf('delta', 'kid-1'), fresh, 'and the instance that made it did not keep it');
    });

    it(`over LAKE_MAX_BACKLOG: 503 lake_backlog_full with Retry-After; other routes and answer writes keep working`, async () => {
      const outbox = t.container.eventOutbox;
      // Pending events of another app fill the backlog (it is counted over all apps).
      await sql`insert into kidslearn.lake_events (app, event_id, type, source, occurred_at, learner, properties, payload_hash)
        select 'beta', gen_random_uuid(), 'lesson_start', 'app', now(), null, '{"lessonId":"x"}'::jsonb, 'h' from generate_series(1, ${MAX_BACKLOG + 1})`.execute(db());
      outbox.forgetBacklog();
      try {
        const e = ev();
        const res = await post([e]);
        assert.equal(res.status, 503);
        assert.equal(res.body.error.code, 'lake_backlog_full');
        assert.equal(res.headers.get('retry-after'), '30');
        assert.deepEqual(await rowsOf([e.eventId]), []);
        assert.equal((await t.request('/api/lessons', { token: tokens.mia })).status, 200);
        const answered = await t.request('/api/progress', { method: 'POST', token: tokens.mia, body: JSON.stringify(answerMaker('full', () => kids.mia)()) });
        assert.equal(answered.status, 200, 'answers are never refused for the lake');
        assert.equal((await serverRows('answer_recorded', await keyOf(kids.mia))).length, 1, 'and their events are still written');
      } finally {
        await sql`delete from kidslearn.lake_events where app = 'beta'`.execute(db());
        outbox.forgetBacklog();
      }
      assert.equal((await post([ev()])).status, 202, 'accepted again once the writer caught up');
    });

    it('events waiting in packs count toward LAKE_MAX_BACKLOG (and toward the app’s backlog)', async () => {
      const outbox = t.container.eventOutbox;
      const before = await countBacklog(db(), 'beta');
      await sql`insert into kidslearn.lake_event_packs (app, events, body) values ('beta', ${MAX_BACKLOG + 1}, '[]')`.execute(db());
      outbox.forgetBacklog();
      try {
        assert.equal(await countBacklog(db(), 'beta'), before + MAX_BACKLOG + 1);
        const res = await post([ev()]);
        assert.equal(res.status, 503);
        assert.equal(res.body.error.code, 'lake_backlog_full');
      } finally {
        await sql`delete from kidslearn.lake_event_packs where app = 'beta'`.execute(db());
        outbox.forgetBacklog();
      }
      assert.equal((await post([ev()])).status, 202);
    });
  });
}
