import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { countBacklog } from '../../src/analytics/event-outbox.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { answerMaker } from '../support/answers.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { LakeReader } from '../support/lake.ts';
import { MemoryBlobStore } from '../support/memory-blob-store.ts';
import { stacks } from '../support/servers.ts';

/**
 * "Children can learn even if the analytics pipeline is down": with the
 * lake's object store unreachable (the writer running and failing) and with
 * the writer stopped, the API keeps acknowledging events (they wait in the
 * outbox) and answers, progress and plans are unaffected; when the store is
 * back every acknowledged event reaches the lake once.
 */
for (const stack of await stacks()) {
  describe(`the API with the lake down on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    const store = new MemoryBlobStore();
    const reader = new LakeReader();
    let childId = '';
    let token = '';
    let guardianToken = '';
    /** Children for plan requests (a child gets at most one plan per 10 s). */
    const planChildren: string[] = [];
    const acknowledged: string[] = [];
    const answer = answerMaker('down', () => childId);

    const sendEvents = async (n: number) => {
      const events = Array.from({ length: n }, () => ({ eventId: randomUUID(), type: 'lesson_start', occurredAt: new Date(Date.now() - 1000).toISOString(), childId, properties: { lessonId: 'alpha-only' } }));
      const res = await t.request('/api/events', { method: 'POST', token, body: JSON.stringify({ events }) });
      assert.equal(res.status, 202, await res.clone().text());
      assert.equal(((await res.json()) as { accepted: number }).accepted, n);
      acknowledged.push(...events.map((e) => e.eventId));
    };
    const learnAsUsual = async () => {
      const a = await t.request('/api/progress', { method: 'POST', token, body: JSON.stringify(answer()) });
      assert.equal(a.status, 200, await a.clone().text());
      assert.equal(((await a.json()) as { results: { duplicate: boolean }[] }).results[0]!.duplicate, false);
      const p = await t.request(`/api/progress/${childId}`, { token });
      assert.equal(p.status, 200);
      const plan = await t.request('/api/adaptive/plans', { method: 'POST', token: guardianToken, body: JSON.stringify({ childId: planChildren.pop(), minutes: 10 }) });
      assert.ok([200, 202].includes(plan.status), `plan request answered ${plan.status}: ${await plan.clone().text()}`);
    };
    /** Events of the app not in the lake yet: outbox rows and the answer path's packs. */
    const pending = () => countBacklog(t.container.database.db, 'alpha');

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache, lakeStore: store, ...(opened.databaseUrl ? { env: { DATABASE_URL: opened.databaseUrl } } : {}) });
      await createFixtureApp(t.container, 'alpha');
      const guardian = await t.container.accounts.register('alpha', { email: 'g@example.com', password: 'correct horse battery', role: 'guardian' });
      const principal: Principal = { sub: guardian.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      childId = (await t.container.children.create(principal, { nickname: 'Sam', grade: 1 })).id;
      token = (await t.container.children.startDeviceSession(principal, childId)).accessToken;
      for (let i = 0; i < 3; i++) planChildren.push((await t.container.children.create(principal, { nickname: `Kid ${i}`, grade: 1 })).id);
      guardianToken = (await t.container.accounts.login('alpha', { email: 'g@example.com', password: 'correct horse battery' })).accessToken;
    });
    after(async () => {
      reader.close();
      await t?.container.close();
      await dispose?.();
    });

    it('store unreachable, writer running: events are acknowledged and wait; learning goes on; nothing reaches the lake', async () => {
      store.failAll(true);
      const writer = t.container.lakeWriter({ retryBaseMs: 10, retryCapMs: 20 });
      try {
        await sendEvents(20);
        await learnAsUsual();
        const r = await writer.flushNow({ retryNow: true });
        assert.ok(r.failed >= 1, JSON.stringify(r));
        assert.equal(r.events, 0);
        await sendEvents(5);
        await learnAsUsual();
        // 25 device events and the server's own (answers, plan requests) all wait in the outbox.
        assert.ok((await pending()) >= 25 + 2);
        assert.equal(store.objects.size, 0);
      } finally {
        await writer.stop(1000);
      }
    });

    it('writer stopped: the same; then the store is back and one flush writes every acknowledged event once', async () => {
      await sendEvents(10);
      await learnAsUsual();
      const waiting = await pending();
      assert.ok(waiting >= 35 + 3);
      store.failAll(false);
      const writer = t.container.lakeWriter();
      try {
        await writer.flushNow({ retryNow: true });
      } finally {
        await writer.stop(1000);
      }
      assert.equal(await pending(), 0);
      const rows = await reader.rows(store, 'alpha');
      assert.equal(rows.length, waiting);
      const ids = rows.map((r) => String(r.event_id));
      assert.equal(new Set(ids).size, ids.length, 'each once');
      for (const id of acknowledged) assert.ok(ids.includes(id), `acknowledged ${id} is in the lake`);
      assert.equal(rows.filter((r) => r.type === 'answer_recorded').length, 3);
    });
  });
}
