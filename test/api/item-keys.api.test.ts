import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scoped } from '../../src/adapters/db/scoped.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { ITEM_KEY_TTL_MS, ProgressService } from '../../src/features/progress/progress.service.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * The progress service's process-local copy of answer keys must not outlive
 * a lesson write by more than {@link ITEM_KEY_TTL_MS} in any process, even
 * one the write never reached (Redis down, so no new content generation):
 * the copy expires after its TTL. A write in this process drops it at once.
 * The clock is injected, so nothing sleeps.
 */
describe('answer keys cached by the progress service', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let child: Principal;
  let now = 1_000_000;
  let progress: ProgressService;
  let n = 0;
  const answer = async (response: number) => {
    const [result] = await progress.record(child, [
      { childId: child.sub, itemId: 'alpha-only-q1', response, durationMs: 3000, answeredAt: new Date(Date.now() - 60_000 + ++n * 10), clientEventId: `k-${n}` },
    ]);
    return result!.correct;
  };
  /** Changes the key in the database only, as a write in another process whose cache invalidation failed would look from here. */
  const setKeyBehindTheServicesBack = (value: number) =>
    scoped(t.container.database.db, 'alpha')
      .updateTable('practice_items')
      .set({ answer: JSON.stringify({ type: 'numeric', value, tolerance: 0 }) })
      .where('id', '=', 'alpha-only-q1')
      .executeTakeFirst()
      .then((r) => assert.equal(Number(r.numUpdatedRows), 1));

  before(async () => {
    const [embedded] = await stacks();
    const opened = await embedded!.open();
    dispose = opened.dispose;
    t = await createTestApp({ database: opened.database, cache: opened.cache });
    await createFixtureApp(t.container, 'alpha');
    const c = t.container;
    const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
    const guardian = { sub: ann.id, app: 'alpha', role: 'guardian' as const, exp: Math.floor(Date.now() / 1000) + 3600 };
    const childId = (await c.children.create(guardian, { nickname: 'Mia', grade: 1 })).id;
    child = await c.verifyToken((await c.children.startDeviceSession(guardian, childId)).accessToken);
    progress = new ProgressService({
      db: c.database,
      children: c.children,
      masteryThreshold: 0.95,
      models: c.models,
      apps: c.apps,
      lessons: c.lessons,
      perf: { now: () => now },
    });
  });
  after(async () => dispose());

  it(`reuses a key for at most ${ITEM_KEY_TTL_MS / 1000} s after a write it was not told of`, async () => {
    assert.equal(await answer(5), true); // cached now
    await setKeyBehindTheServicesBack(6);
    now += ITEM_KEY_TTL_MS - 1000;
    assert.equal(await answer(5), true, 'within the TTL the cached key is used (so the cache is real)');
    now += 2000;
    assert.equal(await answer(5), false, 'past the TTL the key is read again');
    assert.equal(await answer(6), true);
  });

  it('drops it at once when the lesson is written through the lessons service in this process', async () => {
    // Keys never change under a released id any more (see content identity), so the write that must
    // reach the copy at once is an unpublish: the key is still cached when it happens.
    await setKeyBehindTheServicesBack(5);
    assert.equal(await answer(6), true, 'the copy cached by the last test is used');
    const { id: _id, ...lesson } = await t.container.lessons.getForAdmin('alpha', 'alpha-only');
    await t.container.lessons.update('alpha', 'alpha-only', { ...lesson, published: false });
    try {
      await assert.rejects(answer(5), (e: unknown) => (e as { code?: string }).code === 'item_not_found');
    } finally {
      await t.container.lessons.update('alpha', 'alpha-only', lesson);
    }
    assert.equal(await answer(5), true, 'published again: graded with the stored key');
  });
});
