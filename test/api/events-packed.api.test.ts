import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { decodeEventsMessage } from '../../src/analytics/event-messages.ts';
import { createFixtureFamily, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { flushLakeOnce, LakeReader } from '../support/lake.ts';
import { stacks } from '../support/servers.ts';

/**
 * `POST /api/events` with `EVENT_QUEUE=packed`, on both stacks: the same
 * checks as always, then the kept events of a request are stored as one
 * event pack, committed before the 202; the lake writer unpacks and writes
 * them, each once (a retried request is a duplicate, a changed one a
 * dead-lettered conflict).
 */
type Ingest = { accepted: number; duplicates: number; conflicts: number; dropped: { count: number; reasons: Record<string, number> } };

for (const stack of await stacks()) {
  describe(`POST /api/events with EVENT_QUEUE=packed on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let token: string;
    const reader = new LakeReader();
    const kids = {} as Record<'mia' | 'leo', string>;
    const ev = (o: Record<string, unknown> = {}) => ({ eventId: randomUUID(), type: 'lesson_start', occurredAt: new Date(Date.now() - 5000).toISOString(), childId: kids.mia, properties: { lessonId: 'alpha-only' }, ...o });
    const post = async (events: unknown[]) => {
      const res = await t.request('/api/events', { method: 'POST', token, body: JSON.stringify({ events }) });
      return { status: res.status, body: (await res.json()) as Ingest & { error: { code: string } } };
    };
    const packs = async () => (await sql<{ app: string; events: number; body: string }>`select app, events, body from kidslearn.lake_event_packs order by id`.execute(t.container.database.db)).rows;
    const flush = () => flushLakeOnce(t.container);

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache, env: { EVENT_QUEUE: 'packed', ...(opened.databaseUrl ? { DATABASE_URL: opened.databaseUrl } : {}) } });
      const family = await createFixtureFamily(t.container, 'alpha');
      Object.assign(kids, family.kids);
      token = family.token;
    });
    after(async () => {
      reader.close();
      await t?.container.close();
      await dispose?.();
    });

    it('stores the kept events of a request as one pack before the 202; the writer puts each in the lake once, a retry is a duplicate and a changed retry a dead letter', async () => {
      assert.equal(t.container.config.events.kind, 'packed');
      const kept = [ev(), ev({ childId: kids.leo, type: 'lesson_complete', properties: { lessonId: 'alpha-only', durationSeconds: 60, score: 1 } })];
      const res = await post([kept[0], ev({ type: 'screen_view', properties: { screen: 'home' } }), kept[1]]);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.deepEqual(res.body, { accepted: 2, duplicates: 0, conflicts: 0, dropped: { count: 1, reasons: { product_analytics_off: 1, lake_disabled: 0 } } });
      const stored = await packs();
      assert.deepEqual(stored.map((p) => [p.app, p.events, decodeEventsMessage(p.body).map((e) => [e.eventId, e.source, e.learner !== null])]), [['alpha', 2, kept.map((e) => [e.eventId, 'app', true])]]);
      assert.ok(!JSON.stringify(stored).includes(kids.mia) && !JSON.stringify(stored).includes(kids.leo), 'no child id in a pack');
      // The status and the backlog count them before the writer runs.
      assert.equal((await t.container.lakeStatus.status('alpha')).backlog, 2);

      // The app retries the same request, and sends one of them again changed.
      assert.equal((await post(kept)).status, 202);
      assert.equal((await post([{ ...kept[0]!, properties: { lessonId: 'changed' } }])).status, 202);
      const flushed = await flush();
      assert.equal(flushed.events, 2);
      const lake = (await reader.rows(t.container.lakeStore, 'alpha')).filter((r) => kept.some((e) => e.eventId === r.event_id));
      assert.deepEqual(lake.map((r) => [r.event_id, JSON.parse(String(r.properties)).lessonId]).sort(), kept.map((e) => [e.eventId, 'alpha-only']).sort());
      assert.deepEqual(await packs(), []);
      const letters = (await sql<{ event_id: string; reason: string }>`select event_id, reason from kidslearn.lake_dead_letters where app = 'alpha'`.execute(t.container.database.db)).rows;
      assert.deepEqual(letters, [{ event_id: kept[0]!.eventId, reason: 'conflict' }]);
      const m = await t.container.metrics.registry.getSingleMetric('kidslearn_lake_dead_letters_total')!.get();
      assert.equal(m.values.find((v) => v.labels.reason === 'conflict')?.value, 1);
    });

    it('refuses a bad batch whole (400) and a child the caller may not see (404): no pack', async () => {
      const before = (await packs()).length;
      assert.equal((await post([ev(), ev({ properties: { lessonId: 'x', extra: 1 } })])).status, 400);
      assert.equal((await post([ev({ childId: randomUUID() })])).status, 404);
      assert.equal((await packs()).length, before);
    });
  });
}
