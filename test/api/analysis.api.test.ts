import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * `GET /api/adaptive/children/{childId}/analysis` and the progress views on
 * both stacks: a concept practised today is mastered; the same concept
 * practised 200 days ago is learned but due for review, everywhere.
 */

interface Finding {
  conceptId: string;
  status: string;
  reason: string;
  evidence: { pKnown: number | null; recall: number | null; attempts: number; missingPrerequisites: string[] };
}
interface AnalysisBody {
  childId: string;
  mastered: string[];
  dueForReview: string[];
  frontier: string[];
  struggling: string[];
  pace: { itemsPerMinute: number; answers: number } | null;
  concepts: Finding[];
}

for (const stack of await stacks()) {
  describe(`adaptive analysis and "mastered means known now" on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let guardian: string;
    let fresh: string;
    let faded: string;
    const DAY = 86_400_000;

    const answerCounting = async (childId: string, daysAgo: number) => {
      const base = Date.now() - daysAgo * DAY - 3_600_000;
      const answers = Array.from({ length: 8 }, (_, i) => ({
        childId,
        itemId: 'count-k-q1',
        response: 5,
        durationMs: 6000,
        answeredAt: new Date(base + i * 60_000).toISOString(),
        clientEventId: `${childId}-${daysAgo}-${i}`,
      }));
      const res = await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify({ answers }) });
      assert.equal(res.status, 200, await res.text());
    };
    const analysisOf = async (childId: string, token = guardian) => {
      const res = await t.request(`/api/adaptive/children/${childId}/analysis`, { token });
      return { status: res.status, body: (await res.json()) as AnalysisBody };
    };

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      await createFixtureApp(t.container, 'beta');
      const c = t.container;
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
      const g: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      guardian = (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accessToken;
      fresh = (await c.children.create(g, { nickname: 'Fresh', grade: 1 })).id;
      faded = (await c.children.create(g, { nickname: 'Faded', grade: 1 })).id;
      await answerCounting(fresh, 0);
      await answerCounting(faded, 200);
    });
    after(async () => dispose());

    it('a concept practised today is mastered; the frontier is what its prerequisites open up, with reasons and evidence', async () => {
      const { status, body } = await analysisOf(fresh);
      assert.equal(status, 200);
      assert.deepEqual([body.childId, body.mastered, body.dueForReview, body.struggling], [fresh, ['counting'], [], []]);
      assert.deepEqual([...body.frontier].sort(), ['adding', 'reading'], 'adding needs counting (learned); reading needs nothing');
      const counting = body.concepts.find((c) => c.conceptId === 'counting')!;
      assert.equal(counting.status, 'mastered');
      assert.equal(counting.evidence.attempts, 8);
      assert.ok(counting.evidence.recall! > 0.9);
      assert.match(counting.reason, /^Known: P\(known\) /);
      assert.match(body.concepts.find((c) => c.conceptId === 'adding')!.reason, /^Ready to learn: its prerequisites \(Counting\) are learned\.$/);
      assert.deepEqual(body.pace, { itemsPerMinute: 10, answers: 8, minutesOnTask: 0.8 });
    });

    it('the same concept practised 200 days ago is learned but due for review, in the analysis and in both progress views', async () => {
      const { body } = await analysisOf(faded);
      assert.deepEqual([body.mastered, body.dueForReview], [[], ['counting']]);
      const counting = body.concepts.find((c) => c.conceptId === 'counting')!;
      assert.ok(counting.evidence.recall! < 0.9, `recall ${counting.evidence.recall}`);
      assert.match(counting.reason, /^Due for review: learned, but last practised 200 days ago; recall now about \d+%\.$/);

      const progress = async (childId: string) => {
        const res = await t.request(`/api/progress/${childId}`, { token: guardian });
        return ((await res.json()) as { concepts: { conceptId: string; mastered: boolean; learned: boolean; reviewDue: boolean; recall: number }[] }).concepts.find((c) => c.conceptId === 'counting')!;
      };
      const now = await progress(fresh);
      const then = await progress(faded);
      assert.deepEqual([now.mastered, now.learned, now.reviewDue], [true, true, false]);
      assert.deepEqual([then.mastered, then.learned, then.reviewDue], [false, true, true]);
      assert.ok(then.recall < 0.9 && now.recall > 0.9);

      const summary = (await (await t.request('/api/progress', { token: guardian })).json()) as { children: { childId: string; conceptsMastered: number; conceptsDueForReview: number }[] };
      const of = (id: string) => summary.children.find((c) => c.childId === id)!;
      assert.deepEqual([of(fresh).conceptsMastered, of(fresh).conceptsDueForReview], [1, 0]);
      assert.deepEqual([of(faded).conceptsMastered, of(faded).conceptsDueForReview], [0, 1]);
    });

    it('follows the access policy: another family, a teacher without the child, another app get 404; a bad id 400', async () => {
      const c = t.container;
      const bob = await c.accounts.register('alpha', { email: 'bob@example.com', password: 'correct horse battery', role: 'guardian' });
      const bobToken = (await c.accounts.login('alpha', { email: 'bob@example.com', password: 'correct horse battery' })).accessToken;
      assert.ok(bob.id);
      assert.equal((await analysisOf(fresh, bobToken)).status, 404);
      const tess = await c.accounts.register('alpha', { email: 'tess@example.com', password: 'correct horse battery', role: 'teacher' });
      assert.ok(tess.id);
      const teacher = (await c.accounts.login('alpha', { email: 'tess@example.com', password: 'correct horse battery' })).accessToken;
      assert.equal((await analysisOf(fresh, teacher)).status, 404);
      assert.equal((await analysisOf(fresh, await t.token('beta', 'admin'))).status, 404, 'another app’s admin');
      const bad = await t.request('/api/adaptive/children/%00/analysis', { token: guardian });
      assert.equal(bad.status, 400);
      const selfToken = await t.container.tokens.issue({ sub: faded, app: 'alpha', role: 'child' }, 600);
      assert.equal((await analysisOf(faded, selfToken)).status, 200, 'a child reads its own');
      assert.equal((await analysisOf(fresh, selfToken)).status, 404, 'but not a sibling’s');
    });
  });
}
