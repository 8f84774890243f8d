import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scoped } from '../../src/adapters/db/scoped.ts';
import { runDemo, type DemoRunResult } from '../../src/analytics/demo-runner.ts';
import { EVENT_CATEGORY, type EventType } from '../../src/domain/analytics/event-types.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { flushLakeOnce, LakeReader } from '../support/lake.ts';
import { stacks } from '../support/servers.ts';

/**
 * `kidslearn lake demo` sends its simulation through the real API: what
 * lands in the lake is exactly what the API kept — the answers and lesson
 * completions it recorded, and the device events the children's privacy
 * settings allow.
 */
describe('lake demo (through the real ingest path)', () => {
  const app = 'demoapp';
  let t: TestApp;
  let close: () => Promise<void>;
  let result: DemoRunResult;
  const reader = new LakeReader();
  let rows: Record<string, unknown>[] = [];

  before(async () => {
    const [embedded] = await stacks();
    const opened = await embedded!.open();
    t = await createTestApp({ database: opened.database, cache: opened.cache });
    close = async () => {
      await t.container.close();
      await opened.dispose();
    };
    await createFixtureApp(t.container, app);
    result = await runDemo(t.container, { app, days: 6, learners: 5, seed: 11, now: new Date() });
    await flushLakeOnce(t.container);
    rows = await reader.rows(t.container.lakeStore, app);
  });
  after(async () => {
    reader.close();
    await close?.();
  });

  it('writes the API-recorded answers and completions and the kept device events to the lake, each once, with nothing left pending', async () => {
    assert.ok(result.sessions > 5 && result.answers > 20, JSON.stringify(result));
    const count = (type: string) => rows.filter((r) => r.type === type).length;
    assert.equal(count('answer_recorded'), result.answers);
    assert.equal(count('lesson_recorded'), result.completions);
    assert.equal(rows.filter((r) => r.source === 'app').length, result.events.accepted);
    assert.equal(result.events.accepted + result.events.dropped, result.events.sent);
    assert.equal(new Set(rows.map((r) => r.event_id)).size, rows.length);
    const pending = await t.container.database.db.selectFrom('kidslearn.lake_events').select((eb) => eb.fn.countAll<string>().as('n')).where('app', '=', app).where('exported_at', 'is', null).executeTakeFirstOrThrow();
    assert.equal(Number(pending.n), 0);
  });

  it('keeps usage events only of children whose product analytics is on, and never a child id', async () => {
    const children = await scoped(t.container.database.db, app).selectFrom('children').select(['id', 'settings']).execute();
    assert.equal(children.length, 5);
    const keys = await t.container.learnerKeys.keysOf(app, children.map((c) => c.id));
    const on = new Set(children.filter((c) => (c.settings as { productAnalytics: boolean }).productAnalytics).map((c) => keys.get(c.id)));
    const off = new Set(children.filter((c) => !(c.settings as { productAnalytics: boolean }).productAnalytics).map((c) => keys.get(c.id)));
    assert.ok(on.size > 0 && off.size > 0, 'the seed gives both kinds of children');
    const usage = rows.filter((r) => EVENT_CATEGORY[r.type as EventType] === 'usage');
    assert.ok(usage.length > 0);
    for (const r of usage) assert.ok(on.has(r.learner as string), `usage event of ${String(r.learner)}`);
    assert.ok(rows.some((r) => off.has(r.learner as string) && r.type === 'answer_recorded'), 'learning events of the others are kept');
    assert.ok(result.events.dropped > 0);
    const text = JSON.stringify(rows);
    for (const c of children) assert.ok(!text.includes(c.id), 'no child id in the lake');
  });
});
