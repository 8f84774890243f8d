import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ContentPack } from '../../src/domain/content-pack.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { PlanBuilder, lastSessionItems } from '../../src/engine/plan-builder.ts';
import { createTestApp, type TestApp } from '../support/app-fixture.ts';
import { testPack } from '../support/content-pack.ts';
import { stacks } from '../support/servers.ts';

/** The engine's plan builder over stored data, on both stacks: catalogue in teaching order, the child's history, the active model. */
for (const stack of await stacks()) {
  describe(`plan builder on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let childId: string;
    let builder: PlanBuilder;

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      const c = t.container;
      await c.apps.create('alpha', 'Alpha');
      await c.content.importPack('alpha', ContentPack.parse(testPack()));
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
      const g: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      childId = (await c.children.create(g, { nickname: 'Mia', grade: 1 })).id;
      const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
      // Counting learned well ten days ago (due for review since); today one answer on adding.
      await c.progress.record(g, [
        ...Array.from({ length: 8 }, (_, k) => ({ childId, itemId: k % 2 ? 'tiny-count-2' : 'tiny-count-1', response: k % 2 ? 'b' : 3, durationMs: 20_000, answeredAt: at(10 * 24 * 60 + 20 - k), clientEventId: `y-${k}` })),
        { childId, itemId: 'tiny-add-1', response: 5, durationMs: 20_000, answeredAt: at(5), clientEventId: 't-1' },
      ]);
      builder = new PlanBuilder({ db: c.database, models: c.models, masteryThreshold: 0.95 });
    });
    after(async () => dispose());

    it('plans from the stored curriculum and history: due review first, the frontier, never the item just answered, within the minutes asked', async () => {
      const { plan, inputs } = await builder.build('alpha', childId, { minutes: 3 });
      assert.ok(plan.activities.length > 0);
      const items = plan.activities.flatMap((a) => a.itemIds);
      assert.ok(!items.includes('tiny-add-1'), 'answered in the last session');
      assert.ok(items.every((id) => id.startsWith('tiny-')), items.join(','));
      const concepts = new Set(plan.activities.map((a) => a.conceptId));
      assert.ok(concepts.has('tiny-adding'), `adding is on the frontier: ${[...concepts]}`);
      // The tiny pack has six items: the plan uses every one it may (all but the one just answered) and stays within the time.
      assert.deepEqual([...items].sort(), ['tiny-add-2', 'tiny-count-1', 'tiny-count-2', 'tiny-more-1', 'tiny-read-1']);
      assert.equal(plan.activities[0]!.kind, 'review', 'counting, learned ten days ago, is due');
      assert.ok(plan.minutes <= 3 * 1.1, String(plan.minutes));
      assert.deepEqual([inputs.modelVersion, inputs.answers, inputs.request], [null, 9, { minutes: 3 }]);
    });

    it('keeps to a focus and never serves retired items', async () => {
      const pack = testPack();
      pack.units[0]!.lessons[1]!.items!.splice(1, 1); // tiny-add-2 leaves the pack
      await t.container.content.importPack('alpha', ContentPack.parse(pack));
      const { plan } = await builder.build('alpha', childId, { minutes: 10, focusConcepts: ['tiny-adding'] });
      const items = plan.activities.flatMap((a) => a.itemIds);
      assert.ok(plan.activities.every((a) => a.conceptId === 'tiny-adding'));
      assert.ok(!items.includes('tiny-add-2'), 'retired');
    });
  });
}

describe('last session items', () => {
  it('takes answers back from the newest until a gap of more than 30 minutes', () => {
    const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 12, m));
    const recent = [
      { answeredAt: at(50), itemId: 'c' },
      { answeredAt: at(40), itemId: 'b' },
      { answeredAt: at(30), itemId: 'a' },
      { answeredAt: at(-1), itemId: 'old' },
    ];
    assert.deepEqual([...lastSessionItems(recent)], ['c', 'b', 'a']);
  });
});
