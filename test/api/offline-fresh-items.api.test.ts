import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../src/domain/principal.ts';
import { seedDemoApp } from '../../src/seed/seed-demo-apps.ts';
import { createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * The offline generator (the default, and every model's fallback) on the
 * mathkids pack, where a small concept's question space is mostly taken by
 * the authored items: a fresh practice question must still be found for a
 * new child (a plan's "fresh" activity depends on it), and a child who has
 * had every question of a space gets none, quickly, instead of a repeat.
 */
const [pglite] = await stacks();

describe('offline fresh items on the mathkids pack (PGlite)', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let guardian: Principal;
  const newChild = async () => (await t.container.children.create(guardian, { nickname: 'Kit', grade: 1 })).id;

  before(async () => {
    const opened = await pglite!.open();
    dispose = opened.dispose;
    t = await createTestApp({ database: opened.database, cache: opened.cache });
    await seedDemoApp(t.container, 'mathkids');
    const ann = await t.container.accounts.register('mathkids', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
    guardian = { sub: ann.id, app: 'mathkids', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
  });
  after(() => dispose());

  it('finds a new question for every new child on concepts whose space the authored items mostly fill', async () => {
    // With one round of three draws, adding within 5 came back empty for 57% of new children and counting to 10 for 42%.
    for (const [concept, lesson] of [['add-within-5', 'add-within-5-practice'], ['count-to-10', 'count-to-10-practice'], ['count-to-10', 'compare-numbers-10-practice']] as const) {
      const authored = new Set((await t.container.lessons.getForAdmin('mathkids', lesson)).items.map((i) => i.prompt));
      for (let k = 0; k < 12; k++) {
        const result = await t.container.generator.generate({ app: 'mathkids', concept, lesson, count: 1, forChildId: await newChild() });
        assert.equal(result.items.length, 1, `${concept} in ${lesson}, child ${k}: ${JSON.stringify(result.offlineRejected)}`);
        assert.equal(result.fromOffline, 1);
        assert.ok(!authored.has(result.items[0]!.prompt), `repeats an authored item: ${result.items[0]!.prompt}`);
      }
    }
  });

  it('gives a child every new question of a small space once, then none (no repeat), within the draw cap', async () => {
    const child = await newChild();
    const prompts: string[] = [];
    let empty = 0;
    for (let k = 0; k < 20; k++) {
      const result = await t.container.generator.generate({ app: 'mathkids', concept: 'count-to-10', lesson: 'count-to-10-practice', count: 1, forChildId: child });
      prompts.push(...result.items.map((i) => i.prompt));
      if (result.items.length === 0) {
        empty++;
        const rejected = Object.values(result.offlineRejected).reduce((a, b) => a + (b ?? 0), 0);
        assert.ok(rejected >= 100 && rejected <= 260, `draws before giving up: ${rejected}`);
      }
    }
    assert.equal(new Set(prompts).size, prompts.length, `a child got a question twice: ${prompts.join(' | ')}`);
    assert.ok(prompts.length >= 3, `only ${prompts.length} new questions`);
    assert.ok(empty > 0, 'the space of counting to 10 never ran out in 20 requests');
  });
});
