import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ExportedEvent } from '../../src/analytics/lake-privacy.ts';
import { parseRollupKey, buildRollups } from '../../src/analytics/lake-rollups.ts';
import { addDays, REPORT_NAMES, runReport } from '../../src/analytics/reports.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { flushLakeOnce, LakeReader } from '../support/lake.ts';
import { stacks } from '../support/servers.ts';

/**
 * A child's export includes its analytics events (written to the lake or
 * still waiting), and its erasure reaches the lake: the outbox rows and dead
 * letters go in the erasure's transaction, and the lake writer rewrites
 * every Parquet file holding the child's learner key. The whole lake is
 * scanned afterwards.
 */
for (const stack of await stacks()) {
  describe(`the analytics lake and a child's rights on ${stack.name}`, { skip: stack.skip }, () => {
    const app = 'privapp';
    let t: TestApp;
    let dispose: () => Promise<void>;
    let ann: Principal;
    const kids = {} as Record<'mia' | 'leo', string>;
    const tokens = {} as Record<'mia' | 'leo' | 'ann', string>;
    const reader = new LakeReader();
    const sent = { mia: [] as string[], leo: [] as string[] };

    const post = async (who: 'mia' | 'leo', events: Record<string, unknown>[]) => {
      const res = await t.request('/api/events', { method: 'POST', token: tokens[who], body: JSON.stringify({ events }) });
      assert.equal(res.status, 202, await res.clone().text());
      return (await res.json()) as { accepted: number; conflicts: number };
    };
    const events = (who: 'mia' | 'leo', n: number, day: number) =>
      Array.from({ length: n }, (_, i) => {
        const eventId = randomUUID();
        sent[who].push(eventId);
        return { eventId, type: i % 2 ? 'screen_view' : 'lesson_start', occurredAt: new Date(Date.now() - day * 86_400_000 - i * 1000).toISOString(), childId: kids[who], properties: i % 2 ? { screen: 'home' } : { lessonId: `${app}-only` } };
      });
    const flush = () => flushLakeOnce(t.container);
    const lakeRows = () => reader.rows(t.container.lakeStore);

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache, ...(opened.databaseUrl ? { env: { DATABASE_URL: opened.databaseUrl } } : {}) });
      const c = t.container;
      await createFixtureApp(c, app);
      const account = await c.accounts.register(app, { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
      ann = { sub: account.id, app, role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      for (const who of ['mia', 'leo'] as const) {
        kids[who] = (await c.children.create(ann, { nickname: who, grade: 1 })).id;
        await c.children.update(ann, kids[who], { settings: { productAnalytics: true } });
        tokens[who] = (await c.children.startDeviceSession(ann, kids[who])).accessToken;
      }
      tokens.ann = (await c.accounts.login(app, { email: 'ann@example.com', password: 'correct horse battery' })).accessToken;
      // Three days of events for both, written to the lake; then a few more that wait in the outbox.
      for (const day of [1, 2, 3]) {
        await post('mia', events('mia', 6, day));
        await post('leo', events('leo', 5, day));
      }
      const flushed = await flush();
      assert.equal(flushed.events, 33);
      await post('mia', events('mia', 3, 0));
      await post('leo', events('leo', 2, 0));
      // Answers whose answer_recorded events wait in packs (not unpacked yet): two of Mia's, one of Leo's.
      for (const [who, n] of [['mia', 2], ['leo', 1]] as const) {
        const answers = Array.from({ length: n }, (_, i) => ({ childId: kids[who], itemId: `${app}-only-q1`, response: 5, durationMs: 5000, answeredAt: new Date(Date.now() - 30_000 + i * 10).toISOString(), clientEventId: `${who}-answer-${i}` }));
        const res = await t.request('/api/progress', { method: 'POST', token: tokens[who], body: JSON.stringify({ answers }) });
        assert.equal(res.status, 200, await res.clone().text());
      }
      const packed = await c.database.db.selectFrom('kidslearn.lake_event_packs').select((eb) => eb.fn.sum<string>('events').as('n')).where('app', '=', app).executeTakeFirstOrThrow();
      assert.equal(Number(packed.n), 3);
      // A conflicting retry of one of Mia's events: a dead letter about her.
      const conflict = await post('mia', [{ eventId: sent.mia[0], type: 'lesson_start', occurredAt: new Date().toISOString(), childId: kids.mia, properties: { lessonId: 'another' } }]);
      assert.equal(conflict.conflicts, 1);
    });
    after(async () => {
      reader.close();
      await t?.container.close();
      await dispose?.();
    });

    it("exports the child's events from the lake and the outbox, each once, and no one else's", async () => {
      const res = await t.request(`/api/children/${kids.mia}/export`, { token: tokens.ann });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { analyticsEvents: ExportedEvent[] };
      const exported = body.analyticsEvents;
      const answerEvents = exported.filter((e) => e.type === 'answer_recorded');
      assert.deepEqual(exported.filter((e) => e.type !== 'answer_recorded').map((e) => e.eventId).sort(), [...sent.mia].sort());
      assert.equal(exported.filter((e) => e.inLake).length, 18);
      assert.equal(exported.filter((e) => !e.inLake).length, 3 + 2, 'three events in the outbox, two answers in a pack');
      assert.deepEqual(
        answerEvents.map((e) => [e.source, e.inLake, e.sessionId, (e.properties as { itemId: string }).itemId]),
        [['server', false, null, `${app}-only-q1`], ['server', false, null, `${app}-only-q1`]],
      );
      const first = exported.find((e) => e.eventId === sent.mia[0])!;
      assert.deepEqual(first.properties, { lessonId: `${app}-only` }, 'the stored event, not the conflicting retry');
      assert.equal(first.type, 'lesson_start');
      assert.ok(!JSON.stringify(exported).includes(kids.leo));
    });

    it("erasure removes the child's outbox rows and dead letters at once, and its rows from every lake file on the writer's next cycle", async () => {
      const miaKey = await t.container.learnerKeys.keyOf(app, kids.mia);
      const leoKey = await t.container.learnerKeys.keyOf(app, kids.leo);
      const before = await lakeRows();
      assert.equal(before.filter((r) => r.learner === miaKey).length, 18);
      assert.equal(before.filter((r) => r.learner === leoKey).length, 15);
      const filesBefore = new Set(before.map((r) => r._file));
      // The reports' daily rollups of those days (as `lake compact` builds them): some hold her key, some are aggregated over learners.
      const today = new Date().toISOString().slice(0, 10);
      await buildRollups(t.container.lakeStore, app, { throughDay: today });
      const herDays = new Set(before.filter((r) => r.learner === miaKey).map((r) => String(r.occurred_at).slice(0, 10)));
      const rollupsBefore = await reader.rollupFiles(t.container.lakeStore, app);
      const keyedWithHer = rollupsBefore.filter((f) => f.learners.includes(miaKey));
      const aggregatedOfHerDays = rollupsBefore.filter((f) => /\/(sessions|accuracy)-/.test(f.key) && herDays.has(parseRollupKey(f.key)!.day));
      assert.ok(keyedWithHer.length >= 3 && aggregatedOfHerDays.length === 6, `${keyedWithHer.length} keyed, ${aggregatedOfHerDays.length} aggregated`);

      const res = await t.request(`/api/children/${kids.mia}`, { method: 'DELETE', token: tokens.ann });
      assert.equal(res.status, 204, await res.clone().text());
      const db = t.container.database.db;
      // Her 3 pending outbox rows and 2 packed answer events went; Leo's 2 rows and his packed answer event (unpacked) stay.
      // Exported rows keep no learner key at all (only app, id and hash, for dedup).
      assert.deepEqual((await db.selectFrom('kidslearn.lake_events').select('type').where('learner', '=', leoKey).orderBy('seq').execute()).map((r) => r.type), ['lesson_start', 'screen_view', 'answer_recorded']);
      assert.deepEqual(await db.selectFrom('kidslearn.lake_event_packs').select('id').where('app', '=', app).execute(), []);
      const exported = await db.selectFrom('kidslearn.lake_events').select(['learner', 'session_id', 'properties']).where('app', '=', app).where('exported_at', 'is not', null).execute();
      assert.equal(exported.length, 33);
      assert.ok(exported.every((r) => r.learner === null && r.session_id === null && JSON.stringify(r.properties) === '{}'));
      assert.equal((await db.selectFrom('kidslearn.lake_events').select('seq').where('learner', '=', miaKey).execute()).length, 0);
      assert.equal((await db.selectFrom('kidslearn.lake_dead_letters').select('id').where('learner', '=', miaKey).execute()).length, 0);
      const erasure = await db.selectFrom('kidslearn.lake_erasures').selectAll().where('learner', '=', miaKey).executeTakeFirstOrThrow();
      assert.equal(erasure.done_at, null);
      // Until the writer runs, her rows are still in the files.
      assert.equal((await lakeRows()).filter((r) => r.learner === miaKey).length, 18);

      await flush();
      const done = await db.selectFrom('kidslearn.lake_erasures').selectAll().where('learner', '=', miaKey).executeTakeFirstOrThrow();
      assert.ok(done.done_at instanceof Date);
      assert.equal(done.rows_removed, 18);
      assert.equal(
        done.files_rewritten,
        filesBefore.size + keyedWithHer.length + aggregatedOfHerDays.length,
        'each of the three day files held her rows, and so did those rollups',
      );
      // Every rollup: none holds her key; those aggregated over learners are gone for her days (read raw until rebuilt); Leo is still there.
      const rollupsAfter = await reader.rollupFiles(t.container.lakeStore, app);
      assert.ok(rollupsAfter.every((f) => !f.learners.includes(miaKey)));
      assert.ok(rollupsAfter.some((f) => f.learners.includes(leoKey)));
      assert.deepEqual(
        rollupsAfter.map((f) => f.key).sort(),
        rollupsBefore.map((f) => f.key).filter((k) => !aggregatedOfHerDays.some((a) => a.key === k)).sort(),
      );
      for (const report of REPORT_NAMES) {
        const range = { app, from: addDays(today, -6), to: today };
        const options = { masteryThreshold: 0.8, now: () => new Date(0) };
        assert.deepEqual(await runReport(t.container.lakeQuery(), report, range, options), await runReport(t.container.lakeQuery(), report, range, { ...options, rollups: false }), report);
      }

      // Scan the whole lake: every file, every row.
      const after = await lakeRows();
      assert.equal(after.filter((r) => r.learner === miaKey).length, 0);
      assert.ok(!JSON.stringify(after).includes(miaKey));
      const leoAfter = after.filter((r) => r.learner === leoKey);
      assert.deepEqual(
        leoAfter.filter((r) => r.type !== 'answer_recorded').map((r) => r.event_id).sort(),
        [...sent.leo].sort(),
        "Leo's events are all there, once (his pending two written by the same flush)",
      );
      assert.equal(leoAfter.filter((r) => r.type === 'answer_recorded').length, 1, 'and his packed answer event');
      assert.equal(new Set(after.map((r) => r.event_id)).size, after.length);
    });
  });
}
