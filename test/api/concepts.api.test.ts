import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scoped } from '../../src/adapters/db/scoped.ts';
import { decide } from '../../src/domain/access-policy.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * Issue 10, point 5: the concept graph over the API. Every role reads it
 * (prerequisites first, with the lessons teaching each concept); admins
 * create, replace and remove concepts, and every write that would break the
 * graph is refused with nothing written. Both stacks.
 */

interface ConceptJson {
  id: string;
  subject: string;
  grade: number;
  name: string;
  description: string;
  prerequisites: string[];
  lessonIds: string[];
  packId: string | null;
}
interface ErrorJson {
  error: { code: string; message: string; details?: unknown };
}

const concept = (id: string, overrides: Record<string, unknown> = {}) => ({ id, subject: 'math', grade: 1, name: `Concept ${id}`, description: 'Made by a test', prerequisites: [], ...overrides });
const { id: _omit, ...replacement } = concept('x');

const lessonBody = (id: string, conceptIds: string[]) => ({
  id,
  subject: 'math',
  grade: 1,
  title: `Lesson ${id}`,
  summary: 'Made by a test',
  blocks: [{ type: 'text', text: 'Hello' }],
  conceptIds,
  estimatedMinutes: 5,
  published: true,
  items: conceptIds.map((c, i) => ({ id: `${id}-q${i}`, conceptId: c, type: 'numeric', prompt: '1 + 1?', answer: { type: 'numeric', value: 2 }, difficulty: 0 })),
});

for (const stack of await stacks()) {
  describe(`concepts API on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let admin: string;
    const roles = {} as Record<'guardian' | 'child' | 'teacher' | 'admin', string>;

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      await createFixtureApp(t.container, 'beta');
      admin = await t.token('alpha', 'admin');
      roles.admin = admin;
      roles.guardian = await t.token('alpha', 'guardian');
      roles.teacher = await t.token('alpha', 'teacher');
      roles.child = await t.token('alpha', 'child');
    });
    after(async () => dispose());

    const graph = async (app = 'alpha', query = ''): Promise<ConceptJson[]> => {
      const res = await t.request(`/api/concepts${query}`, { token: app === 'alpha' ? admin : await t.token(app, 'guardian') });
      assert.equal(res.status, 200);
      return ((await res.json()) as { items: ConceptJson[] }).items;
    };
    const send = (method: string, path: string, body?: unknown, token = admin) =>
      t.request(path, { method, token, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const refusal = async (res: Response, status: number, code: string) => {
      const body = (await res.json()) as ErrorJson;
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(body.error.code, code, body.error.message);
      return body.error;
    };

    describe('GET /api/concepts', () => {
      it('gives every role the app’s graph with prerequisites and teaching lessons, prerequisites first', async () => {
        for (const [role, token] of Object.entries(roles)) {
          const res = await t.request('/api/concepts', { token });
          assert.equal(res.status, 200, role);
          const { items } = (await res.json()) as { items: ConceptJson[] };
          assert.deepEqual(
            items,
            [
              { id: 'counting', subject: 'math', grade: 0, name: 'Counting', description: '', prerequisites: [], lessonIds: ['count-k'], packId: null },
              // The draft lesson also uses "adding" but is not published.
              { id: 'adding', subject: 'math', grade: 1, name: 'Adding', description: '', prerequisites: ['counting'], lessonIds: ['shared-lesson', 'alpha-only'], packId: null },
              { id: 'reading', subject: 'reading', grade: 1, name: 'Reading', description: '', prerequisites: [], lessonIds: ['read-1'], packId: null },
            ],
            role,
          );
        }
      });

      it('filters by subject and grade (K or 0–8) like the lesson catalogue, and names a bad filter', async () => {
        assert.deepEqual((await graph('alpha', '?grade=1')).map((c) => c.id), ['adding', 'reading']);
        assert.deepEqual((await graph('alpha', '?grade=K')).map((c) => c.id), ['counting']);
        assert.deepEqual((await graph('alpha', '?subject=reading&grade=1')).map((c) => c.id), ['reading']);
        assert.deepEqual(await graph('alpha', '?subject=art'), []);
        for (const [query, field] of [['grade=9', 'grade'], ['grade=1.5', 'grade'], ['subject=Math', 'subject']] as const) {
          const error = await refusal(await t.request(`/api/concepts?${query}`, { token: admin }), 400, 'validation_failed');
          assert.match(error.message, new RegExp(`query parameter "${field}"`), query);
        }
      });

      it('needs a token, and each app sees only its own graph', async () => {
        assert.equal((await t.request('/api/concepts')).status, 401);
        const beta = await graph('beta');
        assert.deepEqual(beta.find((c) => c.id === 'adding')?.lessonIds, ['shared-lesson', 'beta-only']);
      });
    });

    describe('admin writes', () => {
      it('creates a concept, reads it back, replaces it and deletes it', async () => {
        const created = await send('POST', '/admin/concepts', concept('subtracting', { grade: 1, prerequisites: ['counting'] }));
        assert.equal(created.status, 201);
        const view = { ...concept('subtracting', { prerequisites: ['counting'] }), lessonIds: [], packId: null };
        assert.deepEqual(await created.json(), view);
        let stored = await graph();
        assert.deepEqual(stored.find((c) => c.id === 'subtracting'), view);
        assert.deepEqual(stored.map((c) => c.id), ['counting', 'adding', 'subtracting', 'reading']);

        const put = await send('PUT', '/admin/concepts/subtracting', { ...replacement, grade: 2, name: 'Taking away', description: '', prerequisites: ['reading', 'adding'] });
        assert.equal(put.status, 200);
        const updated = { id: 'subtracting', subject: 'math', grade: 2, name: 'Taking away', description: '', prerequisites: ['adding', 'reading'], lessonIds: [], packId: null };
        assert.deepEqual(await put.json(), updated);
        stored = await graph();
        assert.deepEqual(stored.find((c) => c.id === 'subtracting'), updated);
        assert.deepEqual(stored.map((c) => c.id), ['counting', 'adding', 'reading', 'subtracting']);

        // Defaults: no description, no prerequisites.
        assert.equal((await send('PUT', '/admin/concepts/subtracting', { subject: 'math', grade: 2, name: 'Taking away' })).status, 200);
        assert.deepEqual((await graph()).find((c) => c.id === 'subtracting')?.prerequisites, []);

        assert.equal((await send('DELETE', '/admin/concepts/subtracting')).status, 204);
        assert.equal((await graph()).find((c) => c.id === 'subtracting'), undefined);
        assert.equal((await send('DELETE', '/admin/concepts/subtracting')).status, 404);
        // Never answered on: deleted outright, so the id can be used again.
        assert.equal((await send('POST', '/admin/concepts', concept('subtracting'))).status, 201);
        assert.equal((await send('DELETE', '/admin/concepts/subtracting')).status, 204);
      });

      it('refuses an existing id, unknown prerequisites and a self-prerequisite on create, writing nothing', async () => {
        const before = await graph();
        const exists = await refusal(await send('POST', '/admin/concepts', concept('adding', { name: 'Other' })), 409, 'concept_exists');
        assert.match(exists.message, /"adding"/);
        const unknown = await refusal(await send('POST', '/admin/concepts', concept('n1', { prerequisites: ['counting', 'zebra', 'alpha-only'] })), 400, 'unknown_concept');
        assert.deepEqual(unknown.details, { conceptIds: ['alpha-only', 'zebra'] });
        assert.match(unknown.message, /alpha-only, zebra/);
        const self = await refusal(await send('POST', '/admin/concepts', concept('n2', { prerequisites: ['n2'] })), 400, 'prerequisite_cycle');
        assert.deepEqual(self.details, { cycle: ['n2', 'n2'] });
        assert.match(self.message, /own prerequisite/);
        assert.deepEqual(await graph(), before);
      });

      it('refuses bad input with a 400 naming the field', async () => {
        const cases: [unknown, string][] = [
          [concept('Bad Id'), 'id'],
          [concept('n3', { grade: 9 }), 'grade'],
          [concept('n3', { subject: 'Math' }), 'subject'],
          [concept('n3', { name: '' }), 'name'],
          [concept('n3', { name: 'Two\nlines' }), 'name'],
          [concept('n3', { description: 'nul \u0000' }), 'description'],
          [concept('n3', { prerequisites: ['counting', 'counting'] }), 'prerequisites.1'],
          [concept('n3', { prerequisites: ['Not An Id'] }), 'prerequisites.0'],
          [concept('n3', { prerequisites: Array.from({ length: 21 }, (_, i) => `p${i}`) }), 'prerequisites'],
          [concept('n3', { owner: 'me' }), 'owner'],
        ];
        for (const [body, field] of cases) {
          const error = await refusal(await send('POST', '/admin/concepts', body), 400, 'validation_failed');
          assert.match(error.message, new RegExp(`body field "${field.replace('.', '\\.')}"`), JSON.stringify(body));
        }
        const put = await refusal(await send('PUT', '/admin/concepts/adding', { ...replacement, id: 'adding' }), 400, 'validation_failed');
        assert.match(put.message, /"id"/);
        assert.equal((await graph()).find((c) => c.id === 'n3'), undefined);
      });

      it('refuses a replacement that makes a cycle, or names unknown prerequisites, or a missing concept, writing nothing', async () => {
        for (const c of [concept('c1'), concept('c2', { prerequisites: ['c1'] }), concept('c3', { prerequisites: ['c2', 'counting'] })]) {
          assert.equal((await send('POST', '/admin/concepts', c)).status, 201);
        }
        const before = await graph();
        const cycle = await refusal(await send('PUT', '/admin/concepts/c1', { ...replacement, prerequisites: ['reading', 'c3'] }), 400, 'prerequisite_cycle');
        assert.deepEqual(cycle.details, { cycle: ['c1', 'c3', 'c2', 'c1'] });
        assert.match(cycle.message, /c1 -> c3 -> c2 -> c1/);
        const short = await refusal(await send('PUT', '/admin/concepts/c2', { ...replacement, prerequisites: ['c3'] }), 400, 'prerequisite_cycle');
        assert.deepEqual(short.details, { cycle: ['c2', 'c3', 'c2'] });
        const self = await refusal(await send('PUT', '/admin/concepts/c1', { ...replacement, prerequisites: ['c1'] }), 400, 'prerequisite_cycle');
        assert.deepEqual(self.details, { cycle: ['c1', 'c1'] });
        const unknown = await refusal(await send('PUT', '/admin/concepts/c1', { ...replacement, name: 'Changed', prerequisites: ['nope'] }), 400, 'unknown_concept');
        assert.deepEqual(unknown.details, { conceptIds: ['nope'] });
        await refusal(await send('PUT', '/admin/concepts/no-such', replacement), 404, 'concept_not_found');
        assert.deepEqual(await graph(), before);
        assert.equal((await graph()).find((c) => c.id === 'no-such'), undefined);
      });

      it('refuses to delete a concept lessons use (published, draft or retired) or another concept needs, writing nothing', async () => {
        const before = await graph();
        const inUse = await refusal(await send('DELETE', '/admin/concepts/adding'), 409, 'concept_in_use');
        assert.deepEqual(inUse.details, { lessonIds: ['alpha-only', 'draft', 'shared-lesson'] });
        assert.match(inUse.message, /alpha-only, draft, shared-lesson/);

        // Only retired lessons or items name it (children saw them): it is retired with them, not deleted.
        const retiredAt = async (id: string) =>
          (await scoped(t.container.database.db, 'alpha').selectFrom('concepts').select('retired_at').where('id', '=', id).executeTakeFirst())?.retired_at;
        assert.equal((await send('POST', '/admin/concepts', concept('old-skill'))).status, 201);
        assert.equal((await send('POST', '/admin/lessons', lessonBody('old-lesson', ['old-skill']))).status, 201);
        assert.equal((await send('DELETE', '/admin/lessons/old-lesson')).status, 204, 'a published lesson is retired, not deleted');
        assert.deepEqual((await graph()).find((c) => c.id === 'old-skill')?.lessonIds, [], 'a retired lesson does not teach it');
        assert.equal((await send('DELETE', '/admin/concepts/old-skill')).status, 204);
        assert.ok((await retiredAt('old-skill')) instanceof Date, 'kept, retired: the retired lesson’s items still point at it');
        assert.equal((await graph()).find((c) => c.id === 'old-skill'), undefined);

        // Items count on their own: a lesson whose concept list no longer names the concept (as after
        // a pack import that retired the item) still holds answers' items on it.
        assert.equal((await send('POST', '/admin/concepts', concept('item-only'))).status, 201);
        assert.equal((await send('POST', '/admin/lessons', { ...lessonBody('mixed', ['counting', 'item-only']), published: false })).status, 201);
        await scoped(t.container.database.db, 'alpha').updateTable('lessons').set({ concept_ids: ['counting'] }).where('id', '=', 'mixed').execute();
        const itemUse = await refusal(await send('DELETE', '/admin/concepts/item-only'), 409, 'concept_in_use');
        assert.deepEqual(itemUse.details, { lessonIds: ['mixed'] }, 'a live item of a live lesson practises it');
        await scoped(t.container.database.db, 'alpha').updateTable('practice_items').set({ retired_at: new Date() }).where('id', '=', 'mixed-q1').execute();
        assert.equal((await send('DELETE', '/admin/concepts/item-only')).status, 204);
        assert.ok((await retiredAt('item-only')) instanceof Date);

        assert.equal((await send('POST', '/admin/concepts', concept('base'))).status, 201);
        assert.equal((await send('POST', '/admin/concepts', concept('derived-b', { prerequisites: ['base'] }))).status, 201);
        assert.equal((await send('POST', '/admin/concepts', concept('derived-a', { prerequisites: ['base', 'counting'] }))).status, 201);
        const needed = await refusal(await send('DELETE', '/admin/concepts/base'), 409, 'concept_is_prerequisite');
        assert.deepEqual(needed.details, { conceptIds: ['derived-a', 'derived-b'] });
        assert.match(needed.message, /derived-a, derived-b/);

        const now = await graph();
        for (const id of ['counting', 'adding', 'reading', 'base', 'derived-a', 'derived-b']) assert.ok(now.some((c) => c.id === id), id);
        assert.deepEqual(now.filter((c) => before.some((b) => b.id === c.id)), before);
        // Once nothing needs it, it goes.
        for (const id of ['derived-a', 'derived-b', 'base']) assert.equal((await send('DELETE', `/admin/concepts/${id}`)).status, 204, id);
      });

      it('retires instead of deleting a concept children answered on: hidden, its history kept, its id reserved', async () => {
        assert.equal((await send('POST', '/admin/concepts', concept('hist'))).status, 201);
        assert.equal((await send('POST', '/admin/lessons', lessonBody('hist-lesson', ['hist']))).status, 201);
        const c = t.container;
        const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
        const guardian: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
        const child = await c.children.create(guardian, { nickname: 'Mia', grade: 1 });
        const session = await c.children.startDeviceSession(guardian, child.id);
        const answer = { childId: child.id, itemId: 'hist-lesson-q0', response: 2, durationMs: 2000, answeredAt: new Date().toISOString(), clientEventId: 'hist-1' };
        assert.equal((await send('POST', '/api/progress', answer, session.accessToken)).status, 200);
        // The lesson is gone for good, its items with it (as lessons deleted before retirement existed
        // are): only the answers and the learner state still name the concept.
        await scoped(c.database.db, 'alpha').deleteFrom('lessons').where('id', '=', 'hist-lesson').execute();

        assert.equal((await send('DELETE', '/admin/concepts/hist')).status, 204);
        assert.equal((await graph()).find((x) => x.id === 'hist'), undefined);
        const row = await scoped(c.database.db, 'alpha').selectFrom('concepts').select(['name', 'retired_at']).where('id', '=', 'hist').executeTakeFirstOrThrow();
        assert.equal(row.name, 'Concept hist');
        assert.ok(row.retired_at instanceof Date);
        // The child's progress still names the concept.
        const progress = (await (await send('GET', `/api/progress/${child.id}`, undefined, session.accessToken)).json()) as { concepts: { conceptId: string; name: string | null }[] };
        assert.deepEqual(progress.concepts.map((x) => [x.conceptId, x.name]), [['hist', 'Concept hist']]);

        const again = await refusal(await send('POST', '/admin/concepts', concept('hist')), 409, 'concept_exists');
        assert.deepEqual(again.details, { conceptId: 'hist', retired: true });
        await refusal(await send('PUT', '/admin/concepts/hist', replacement), 404, 'concept_not_found');
        await refusal(await send('DELETE', '/admin/concepts/hist'), 404, 'concept_not_found');
        await refusal(await send('POST', '/admin/concepts', concept('needs-hist', { prerequisites: ['hist'] })), 400, 'unknown_concept');
      });

      it('leaves a content pack’s concepts to the pack: listed with their pack, not changed or removed here', async () => {
        const db = t.container.database.db;
        await scoped(db, 'alpha')
          .insertInto('content_packs')
          .values({ id: 'core-math', rank: 1, version: '1.0.0', title: 'Core math', language: 'en', license: 'CC-BY-4.0', authors: JSON.stringify([{ name: 'A' }]) } as never)
          .execute();
        await scoped(db, 'alpha').insertInto('concepts').values({ id: 'packed', subject: 'math', grade: 3, name: 'From a pack', description: '', pack_id: 'core-math' }).execute();
        assert.equal((await graph()).find((c) => c.id === 'packed')?.packId, 'core-math');
        const put = await refusal(await send('PUT', '/admin/concepts/packed', replacement), 409, 'concept_in_pack');
        assert.deepEqual(put.details, { packId: 'core-math' });
        await refusal(await send('DELETE', '/admin/concepts/packed'), 409, 'concept_in_pack');
        assert.equal((await graph()).find((c) => c.id === 'packed')?.name, 'From a pack');
        // An API concept may build on it.
        assert.equal((await send('POST', '/admin/concepts', concept('on-pack', { prerequisites: ['packed'] }))).status, 201);
        assert.equal((await send('DELETE', '/admin/concepts/on-pack')).status, 204);
      });

      it('two concurrent replacements cannot close a cycle together', async () => {
        for (let round = 0; round < 6; round++) {
          const [a, b] = [`race-a${round}`, `race-b${round}`];
          for (const id of [a, b]) assert.equal((await send('POST', '/admin/concepts', concept(id))).status, 201);
          const results = await Promise.all([
            send('PUT', `/admin/concepts/${a}`, { ...replacement, prerequisites: [b] }),
            send('PUT', `/admin/concepts/${b}`, { ...replacement, prerequisites: [a] }),
          ]);
          assert.deepEqual(results.map((r) => r.status).sort(), [200, 400], `round ${round}`);
          const stored = (await graph()).filter((c) => c.id === a || c.id === b);
          assert.equal(stored.filter((c) => c.prerequisites.length > 0).length, 1, `round ${round}: exactly one edge stored`);
        }
      });

      it('is for admins only, and writes only the caller’s app', async () => {
        // /admin/* already stops other roles; the function itself is admin-only too.
        for (const role of ['guardian', 'child', 'teacher'] as const) {
          assert.equal(decide({ sub: 'x', app: 'alpha', role, exp: 0 }, 'concepts.author'), 'forbidden', role);
          assert.equal(decide({ sub: 'x', app: 'alpha', role, exp: 0 }, 'concepts.read'), 'allow', role);
        }
        for (const role of ['guardian', 'child', 'teacher'] as const) {
          await refusal(await send('POST', '/admin/concepts', concept('nope'), roles[role]), 403, 'forbidden');
          await refusal(await send('PUT', '/admin/concepts/adding', replacement, roles[role]), 403, 'forbidden');
          await refusal(await send('DELETE', '/admin/concepts/reading', undefined, roles[role]), 403, 'forbidden');
        }
        assert.equal((await send('DELETE', '/admin/concepts/reading')).status, 409);
        const betaAdmin = await t.token('beta', 'admin');
        assert.equal((await send('POST', '/admin/concepts', concept('beta-thing'), betaAdmin)).status, 201);
        assert.equal((await graph()).find((c) => c.id === 'beta-thing'), undefined);
        assert.ok((await graph('beta')).some((c) => c.id === 'beta-thing'));
        await refusal(await send('PUT', '/admin/concepts/beta-thing', replacement), 404, 'concept_not_found');
        assert.equal((await graph()).find((c) => c.id === 'nope'), undefined);
      });
    });

    it('a new app gets its concepts over the API, and then lessons on them', async () => {
      await t.container.apps.create('gamma', 'App gamma');
      const gamma = await t.token('gamma', 'admin');
      assert.deepEqual(((await (await t.request('/api/concepts', { token: gamma })).json()) as { items: unknown[] }).items, []);
      // Without concepts every lesson is refused.
      await refusal(await send('POST', '/admin/lessons', lessonBody('first', ['shapes']), gamma), 400, 'unknown_concept');

      assert.equal((await send('POST', '/admin/concepts', concept('shapes', { grade: 0 }), gamma)).status, 201);
      assert.equal((await send('POST', '/admin/concepts', concept('corners', { grade: 0, prerequisites: ['shapes'] }), gamma)).status, 201);
      assert.equal((await send('POST', '/admin/lessons', lessonBody('first', ['shapes', 'corners']), gamma)).status, 201);

      const reader = await t.token('gamma', 'child');
      const lesson = await t.request('/api/lessons/first', { token: reader });
      assert.equal(lesson.status, 200);
      const items = ((await (await t.request('/api/concepts', { token: reader })).json()) as { items: ConceptJson[] }).items;
      assert.deepEqual(items.map((c) => [c.id, c.prerequisites, c.lessonIds]), [['shapes', [], ['first']], ['corners', ['shapes'], ['first']]]);
    });
  });
}
