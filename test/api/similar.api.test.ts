import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Embedder } from '../../src/adapters/embeddings/embedder.ts';
import { embeddingUnavailable } from '../../src/adapters/embeddings/embedder.ts';
import { CurriculumIndex } from '../../src/engine/curriculum-index.ts';
import { createFixtureApp, createTestApp, fixturePack, testEmbedder, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

interface SimilarBody {
  model: string;
  items: Array<{ kind: string; id: string; score: number }>;
}
interface ErrorBody {
  error: { code: string; message: string };
}

/** The shared local embedder under another model name: what a change of model looks like to the index. */
function renamed(inner: Embedder, model: string): Embedder {
  return { ...inner, provider: inner.provider, model, dimension: inner.dimension, ready: async () => ({ model, dimension: inner.dimension }), embed: (t, o) => inner.embed(t, o), close: async () => {} };
}

/** An embedder whose provider is down. */
const failing: Embedder = {
  provider: 'openai',
  model: 'down-model',
  dimension: 8,
  ready: async () => ({ model: 'down-model', dimension: 8 }),
  embed: async () => {
    throw embeddingUnavailable('openai', 'unreachable', 'connection refused');
  },
  close: async () => {},
};

/** The fixture's published content: 3 concepts, 4 published lessons with 3 items each (the draft and its items are left out). */
const FIXTURE_DOCUMENTS = 3 + 4 + 4 * 3;

for (const stack of await stacks()) {
  describe(`curriculum vector search (GET /api/adaptive/similar, the curriculum index) on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let teacher: string;
    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      await createFixtureApp(t.container, 'beta');
      // Seeding wrote content: the index refreshed in the background.
      await t.container.curriculumIndex.idle();
      teacher = await t.token('alpha', 'teacher');
    });
    after(async () => {
      await t.container.close();
      await dispose();
    });

    const similar = (query: string, token = teacher) => t.request(`/api/adaptive/similar?${query}`, { token });

    it('content seeded into an app is embedded without a manual step: every live concept, published lesson and item, with the model recorded', async () => {
      const stored = await t.container.vectors.list('alpha');
      assert.equal(stored.length, FIXTURE_DOCUMENTS);
      assert.deepEqual(
        stored.filter((v) => v.kind === 'lesson').map((v) => v.id),
        ['alpha-only', 'count-k', 'read-1', 'shared-lesson'],
      );
      assert.ok(stored.every((v) => v.model === 'local-wink-sg100-tfidf-v1' && v.dimensions === 100));
      assert.ok(!stored.some((v) => v.id.startsWith('draft')), 'drafts are not indexed');
    });

    it('finds the lessons and items nearest to a text, best first with scores, of the caller app only', async () => {
      const res = await similar('q=Welcome%20to%20reading&limit=5&kind=lesson');
      assert.equal(res.status, 200);
      const body = (await res.json()) as SimilarBody;
      assert.equal(body.model, 'local-wink-sg100-tfidf-v1');
      assert.equal(body.items.length, 4, 'every published lesson of alpha, and nothing of beta');
      assert.equal(body.items[0]!.id, 'read-1');
      assert.ok(body.items.every((m) => m.kind === 'lesson' && m.score <= 1 && m.score >= -1));
      for (let i = 1; i < body.items.length; i++) assert.ok(body.items[i - 1]!.score >= body.items[i]!.score);
      assert.ok(!body.items.some((m) => m.id === 'beta-only'));
    });

    it('finds what is like a lesson, leaving the lesson out, and filters by kind, grade and subject', async () => {
      const res = await similar('lessonId=shared-lesson&limit=20');
      assert.equal(res.status, 200);
      const body = (await res.json()) as SimilarBody;
      assert.ok(!body.items.some((m) => m.kind === 'lesson' && m.id === 'shared-lesson'), 'the lesson itself is left out');
      assert.ok(body.items.every((m) => m.kind === 'lesson' || m.kind === 'item'), 'lessons and items only');
      assert.equal(body.items.length, 3 + 4 * 3, '3 other lessons and 12 items');

      const items = (await (await similar('lessonId=shared-lesson&kind=item&grade=1&subject=math&limit=20')).json()) as SimilarBody;
      assert.deepEqual(
        items.items.map((m) => m.id).sort(),
        ['shared-lesson-q1', 'shared-lesson-q2', 'shared-lesson-q3'],
      );
      const reading = (await (await similar('q=numbers&subject=reading&limit=20')).json()) as SimilarBody;
      assert.deepEqual(reading.items.map((m) => m.id).sort(), ['read-1', 'read-1-q1', 'read-1-q2', 'read-1-q3']);
      const limited = (await (await similar('q=numbers&limit=2')).json()) as SimilarBody;
      assert.equal(limited.items.length, 2);
    });

    it('400 naming the field without exactly one of lessonId and q, or with a q over 500 characters', async () => {
      const problem = async (query: string) => {
        const res = await similar(query);
        const body = (await res.json()) as ErrorBody;
        return { status: res.status, code: body.error.code, message: body.error.message };
      };
      const neither = await problem('limit=5');
      assert.deepEqual([neither.status, neither.code], [400, 'validation_failed']);
      assert.match(neither.message, /"q"/);
      const both = await problem('lessonId=read-1&q=reading');
      assert.deepEqual([both.status, both.code], [400, 'validation_failed']);
      assert.match(both.message, /"lessonId".*not both/);
      const long = await problem(`q=${'a'.repeat(501)}`);
      assert.deepEqual([long.status, long.code], [400, 'validation_failed']);
      assert.match(long.message, /"q"/);
      assert.equal((await similar(`q=${'a'.repeat(500)}`)).status, 200, '500 characters are accepted');
      assert.equal((await problem('q=x&limit=51')).status, 400);
      assert.equal((await problem('q=x&kind=concept')).status, 400);
    });

    it('404 for a lesson that does not exist, is a draft, or is another app’s', async () => {
      for (const lessonId of ['no-such-lesson', 'draft', 'beta-only']) {
        const res = await similar(`lessonId=${lessonId}`);
        assert.equal(res.status, 404, lessonId);
        assert.equal(((await res.json()) as ErrorBody).error.code, 'lesson_not_found');
      }
    });

    it('teachers and admins only', async () => {
      assert.equal((await similar('q=reading', await t.token('alpha', 'guardian'))).status, 403);
      assert.equal((await similar('q=reading', await t.token('alpha', 'child'))).status, 403);
      assert.equal((await similar('q=reading', await t.token('alpha', 'admin'))).status, 200);
    });

    it('never logs q, whether the search succeeds or is refused', async () => {
      const secret = 'zebrasecretphrase';
      assert.equal((await similar(`q=${secret}%20reading`)).status, 200);
      assert.equal((await similar(`q=${secret}${'b'.repeat(500)}`)).status, 400);
      assert.equal((await similar(`q=${secret}&lessonId=read-1`)).status, 400);
      const lines = t.logLines().filter((l) => l.route === '/api/adaptive/similar');
      assert.equal(lines.length >= 3, true, 'the requests were logged');
      assert.doesNotMatch(JSON.stringify(t.logLines()), new RegExp(secret));
    });

    it('lessons and concepts written over the admin API are embedded after the commit; deleted ones are removed', async () => {
      const admin = await t.token('alpha', 'admin');
      const lesson = {
        ...fixturePack('alpha').lessons[0]!,
        id: 'volcanoes',
        title: 'Volcanoes and lava',
        summary: 'How volcanoes erupt',
        items: [{ id: 'volcano-q1', conceptId: 'adding', type: 'numeric', prompt: 'How many volcanoes are on the map?', answer: { type: 'numeric', value: 3, tolerance: 0 }, difficulty: 0 }],
      };
      const created = await t.request('/admin/lessons', { method: 'POST', token: admin, body: JSON.stringify(lesson) });
      assert.equal(created.status, 201);
      const concept = await t.request('/admin/concepts', {
        method: 'POST',
        token: admin,
        body: JSON.stringify({ id: 'geology', subject: 'science', grade: 3, name: 'Geology', description: 'Rocks and volcanoes', prerequisites: [] }),
      });
      assert.equal(concept.status, 201);
      await t.container.curriculumIndex.idle();
      const stored = await t.container.vectors.list('alpha');
      assert.ok(stored.some((v) => v.kind === 'lesson' && v.id === 'volcanoes'));
      assert.ok(stored.some((v) => v.kind === 'item' && v.id === 'volcano-q1'));
      assert.ok(stored.some((v) => v.kind === 'concept' && v.id === 'geology'));
      const found = (await (await similar('q=volcano%20eruption&kind=lesson&limit=1')).json()) as SimilarBody;
      assert.equal(found.items[0]!.id, 'volcanoes');

      assert.equal((await t.request('/admin/lessons/volcanoes', { method: 'DELETE', token: admin })).status, 204);
      await t.container.curriculumIndex.idle();
      const after = await t.container.vectors.list('alpha');
      assert.ok(!after.some((v) => v.id === 'volcanoes' || v.id === 'volcano-q1'), 'vectors of deleted content are removed');
    });

    it('reindex embeds only what changed, and everything after a model change', async () => {
      const again = await t.container.curriculumIndex.reindex('alpha');
      assert.equal(again.embedded, 0);
      assert.equal(again.unchanged, again.documents);
      assert.equal(again.removed, 0);

      let calls = 0;
      const counting = renamed(testEmbedder(), 'local-renamed-v2');
      const inner = counting.embed;
      counting.embed = (texts, o) => ((calls += texts.length), inner(texts, o));
      const other = new CurriculumIndex({ db: t.container.database, vectors: t.container.vectors, embedder: counting, logger: t.container.logger });
      const changed = await other.reindex('alpha');
      assert.equal(changed.embedded, changed.documents, 'a model change re-embeds everything');
      assert.equal(calls, changed.documents);
      assert.ok((await t.container.vectors.list('alpha')).every((v) => v.model === 'local-renamed-v2'));
      // Searches compare only vectors of the configured model: the container's (old) model has none now.
      const stale = (await (await similar('q=reading')).json()) as SimilarBody;
      assert.deepEqual(stale.items, []);
      const back = await t.container.curriculumIndex.reindex('alpha');
      assert.equal(back.embedded, back.documents);
      await other.close();
    });

    it('a failing embedder never fails the admin write; the failure is logged and reindex repairs it', async () => {
      const opened = await stack.open();
      const broken = await createTestApp({ database: opened.database, cache: opened.cache, embedder: failing });
      try {
        await broken.container.apps.create('gamma', 'Gamma');
        const admin = await broken.token('gamma', 'admin');
        const concept = await broken.request('/admin/concepts', {
          method: 'POST',
          token: admin,
          body: JSON.stringify({ id: 'counting', subject: 'math', grade: 0, name: 'Counting', description: '', prerequisites: [] }),
        });
        assert.equal(concept.status, 201);
        await broken.container.curriculumIndex.idle();
        const logged = broken.logLines().find((l) => l.msg?.toString().startsWith('curriculum index refresh failed'));
        assert.ok(logged, 'the failure is logged');
        assert.equal(logged.appId, 'gamma');
        assert.equal(await broken.container.vectors.count('gamma'), 0);
        const repaired = await new CurriculumIndex({ db: broken.container.database, vectors: broken.container.vectors, embedder: testEmbedder(), logger: broken.container.logger }).reindex('gamma');
        assert.equal(repaired.embedded, 1);
        assert.equal(await broken.container.vectors.count('gamma'), 1);
      } finally {
        await broken.container.close();
        await opened.dispose();
      }
    });
  });
}
