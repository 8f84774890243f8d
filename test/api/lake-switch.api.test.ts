import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { unpackAllEventPacks } from '../../src/analytics/event-packs.ts';
import type { JobQueue } from '../../src/adapters/jobs/job-queue.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { answerMaker } from '../support/answers.ts';
import { stacks } from '../support/servers.ts';

type Ingest = { accepted: number; duplicates: number; conflicts: number; dropped: { count: number; reasons: { product_analytics_off: number; lake_disabled: number } } };

const PASSWORD = 'correct horse battery';

/**
 * LAKE_ENABLED: on (the default), answers, lesson completions and plan
 * requests write their server events and POST /api/events stores events;
 * off, the same requests store their records but no event, and
 * POST /api/events acknowledges and drops every event (reason lake_disabled).
 */
for (const stack of await stacks()) {
  for (const enabled of [true, false]) {
    describe(`LAKE_ENABLED=${String(enabled)} on ${stack.name}`, { skip: stack.skip }, () => {
      let t: TestApp;
      let dispose: () => Promise<void>;
      let ann: Principal;
      let mia: string;
      let miaToken: string;
      const db = () => t.container.database.db;
      // The outbox as the lake writer sees it: the answer path's packs unpacked first.
      const lakeRows = async () => {
        await unpackAllEventPacks(db());
        return (await sql<{ type: string; source: string }>`select type, source from kidslearn.lake_events order by seq`.execute(db())).rows;
      };

      before(async () => {
        const opened = await stack.open();
        dispose = opened.dispose;
        t = await createTestApp({ database: opened.database, cache: opened.cache, env: { LAKE_ENABLED: String(enabled) } });
        const c = t.container;
        await createFixtureApp(c, 'alpha');
        const account = await c.accounts.register('alpha', { email: 'ann@example.com', password: PASSWORD, role: 'guardian' });
        ann = { sub: account.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
        mia = (await c.children.create(ann, { nickname: 'Mia', grade: 1 })).id;
        await c.children.update(ann, mia, { settings: { productAnalytics: true } });
        miaToken = (await c.children.startDeviceSession(ann, mia)).accessToken;
      });
      after(async () => {
        await t?.container.close();
        await dispose?.();
      });

      it(`config.lake.enabled is ${String(enabled)}`, () => {
        assert.equal(t.container.config.lake.enabled, enabled);
      });

      it(enabled ? 'POST /api/events stores the events' : 'POST /api/events acknowledges and drops every event (lake_disabled), storing nothing', async () => {
        const at = new Date(Date.now() - 5000).toISOString();
        const events = [
          { eventId: randomUUID(), type: 'lesson_start', occurredAt: at, properties: { lessonId: 'alpha-only' } },
          { eventId: randomUUID(), type: 'screen_view', occurredAt: at, childId: mia, properties: { screen: 'home' } },
          { eventId: randomUUID(), type: 'session_start', occurredAt: at, properties: { platform: 'web', appVersion: '1.0.0' } },
        ];
        const res = await t.request('/api/events', { method: 'POST', token: miaToken, body: JSON.stringify({ events }) });
        assert.equal(res.status, 202);
        const body = (await res.json()) as Ingest;
        assert.deepEqual(
          body,
          enabled
            ? { accepted: 3, duplicates: 0, conflicts: 0, dropped: { count: 0, reasons: { product_analytics_off: 0, lake_disabled: 0 } } }
            : { accepted: 0, duplicates: 0, conflicts: 0, dropped: { count: 3, reasons: { product_analytics_off: 0, lake_disabled: 3 } } },
        );
        assert.deepEqual(
          (await lakeRows()).map((r) => r.type),
          enabled ? ['lesson_start', 'screen_view', 'session_start'] : [],
        );
        // Still only for roles that may send events: an admin is refused either way.
        const admin = await t.request('/api/events', { method: 'POST', token: await t.token('alpha', 'admin'), body: JSON.stringify({ events }) });
        assert.equal(admin.status, 403);
      });

      it(enabled ? 'answers, a lesson completion and a plan request write their server events' : 'answers, a lesson completion and a plan request are stored without server events', async () => {
        const before = (await lakeRows()).length;
        const answer = answerMaker('switch', () => mia);
        const single = await t.request('/api/progress', { method: 'POST', token: miaToken, body: JSON.stringify(answer()) });
        assert.equal(single.status, 200);
        const batch = await t.request('/api/progress', { method: 'POST', token: miaToken, body: JSON.stringify({ answers: [answer(), answer({ response: 4 })] }) });
        assert.equal(batch.status, 200);
        const done = { childId: mia, secondsSpent: 120, completedAt: new Date(Date.now() - 1000).toISOString(), clientEventId: 'switch-done-1' };
        assert.equal((await t.request('/api/progress/lessons/count-k/complete', { method: 'POST', token: miaToken, body: JSON.stringify(done) })).status, 200);
        const c = t.container;
        const real = c.jobQueue;
        c.jobQueue = () => Promise.resolve({ send: async () => 'job-1', get: async () => undefined } as unknown as JobQueue);
        try {
          const plan = await t.request('/api/adaptive/plans', { method: 'POST', token: (await c.accounts.login('alpha', { email: 'ann@example.com', password: PASSWORD })).accessToken, body: JSON.stringify({ childId: mia, minutes: 10 }) });
          assert.equal(plan.status, 202);
        } finally {
          c.jobQueue = real;
        }
        // The records are stored either way.
        const answers = (await sql<{ n: number }>`select count(*)::int as n from app_alpha.answers where child_id = ${mia}`.execute(db())).rows[0]!.n;
        assert.equal(answers, 3);
        const plans = (await sql<{ n: number }>`select count(*)::int as n from app_alpha.plans where child_id = ${mia}`.execute(db())).rows[0]!.n;
        assert.equal(plans, 1);
        const added = (await lakeRows()).slice(before);
        assert.deepEqual(
          // (in any order: the answers' events reach the outbox when their pack is unpacked)
          added.map((r) => `${r.source}:${r.type}`).sort(),
          enabled ? ['server:answer_recorded', 'server:answer_recorded', 'server:answer_recorded', 'server:lesson_recorded', 'server:plan_requested'] : [],
        );
      });
    });
  }
}

describe('LAKE_ENABLED=false: npm run lake', () => {
  it('exits at once with 0, saying why, before opening anything', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-lake-off-'));
    try {
      const r = spawnSync(process.execPath, ['src/runtimes/lake.ts'], {
        env: { ...process.env, KIDSLEARN_DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', LAKE_ENABLED: 'false', LAKE_PORT: '0' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /LAKE_ENABLED=false, so there is nothing to write; exiting/);
      // It opened no database: the data dir holds nothing.
      assert.deepEqual(spawnSync('ls', ['-A', dataDir], { encoding: 'utf8' }).stdout.trim(), '');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
