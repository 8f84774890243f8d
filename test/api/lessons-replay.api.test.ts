import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cache } from '../../src/adapters/cache/cache.ts';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.ts';
import { MAX_PENDING_LESSONS_PER_APP } from '../../src/features/lessons/lessons.service.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/** An in-process cache that can be switched off and on, and says when it is back, as the Redis adapter does. */
function switchableCache(): Cache & { down: boolean; up(): void } {
  const inner = createMemoryCache({ maxEntries: 10_000 });
  const listeners = new Set<() => void>();
  const guard = <A extends unknown[], R>(f: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    if (cache.down) throw new Error('cache is down (test)');
    return f(...args);
  };
  const cache = {
    kind: 'redis' as const,
    down: false,
    get: guard(inner.get),
    set: guard(inner.set),
    add: guard(inner.add),
    delete: guard(inner.delete),
    ping: guard(inner.ping),
    close: inner.close,
    onReady(listener: () => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    up() {
      cache.down = false;
      for (const l of listeners) l();
    },
  };
  return cache;
}

describe('lesson cache invalidations that failed are replayed when the cache is back', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let cache: ReturnType<typeof switchableCache>;
  let guardian: string;
  let admin: string;
  const read = async (id: string) => {
    const res = await t.request(`/api/lessons/${id}`, { token: guardian });
    return { status: res.status, cache: res.headers.get('x-cache'), title: res.status === 200 ? ((await res.json()) as { title: string }).title : undefined };
  };
  const retitle = async (id: string, title: string) => {
    const { id: _id, ...lesson } = await t.container.lessons.getForAdmin('alpha', id);
    const res = await t.request(`/admin/lessons/${id}`, { method: 'PUT', token: admin, body: JSON.stringify({ ...lesson, title }) });
    assert.equal(res.status, 200);
  };

  before(async () => {
    const [embedded] = await stacks();
    const opened = await embedded!.open();
    dispose = opened.dispose;
    cache = switchableCache();
    t = await createTestApp({ database: opened.database, cache });
    await createFixtureApp(t.container, 'alpha');
    guardian = await t.token('alpha', 'guardian');
    admin = await t.token('alpha', 'admin');
  });
  after(async () => dispose());

  it('a lesson written while the cache is down: served from the database meanwhile, written through on reconnect', async () => {
    await read('alpha-only');
    assert.equal((await read('alpha-only')).cache, 'HIT');
    cache.down = true;
    await retitle('alpha-only', 'Retitled while down');
    assert.ok(t.container.lessons.hasPendingInvalidations('alpha'));
    // Back, but not announced yet: the stale entry is there, and this process does not trust it.
    cache.down = false;
    const meanwhile = await read('alpha-only');
    assert.deepEqual([meanwhile.cache, meanwhile.title], ['MISS', 'Retitled while down']);
    cache.up();
    await t.container.lessons.replayPendingInvalidations();
    assert.equal(t.container.lessons.hasPendingInvalidations('alpha'), false);
    const after = await read('alpha-only');
    assert.deepEqual([after.cache, after.title], ['HIT', 'Retitled while down'], 'the replay wrote the lesson through');
  });

  it(`past ${MAX_PENDING_LESSONS_PER_APP} lessons pending, the replay starts a new generation and this process ignores cached lessons of the app`, async () => {
    await read('count-k');
    assert.equal((await read('count-k')).cache, 'HIT');
    cache.down = true;
    await retitle('count-k', 'Counting, during a big import');
    const ids = Array.from({ length: MAX_PENDING_LESSONS_PER_APP + 1 }, (_, i) => `imported-${i}`);
    await t.container.lessons.afterBulkWrite('alpha', ids);
    cache.up();
    await t.container.lessons.replayPendingInvalidations();
    assert.equal(t.container.lessons.hasPendingInvalidations('alpha'), false);
    for (let i = 0; i < 2; i++) {
      const r = await read('count-k');
      assert.deepEqual([r.cache, r.title], ['MISS', 'Counting, during a big import'], 'cached lessons of the app are not trusted after an overflow');
    }
  });
});
