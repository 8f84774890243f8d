import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { openRedisCache } from '../../src/adapters/cache/redis-cache.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createContainer } from '../../src/wiring/container.ts';
import { createTestApp, testEmbedder, type TestApp } from '../support/app-fixture.ts';
import { testPack } from '../support/content-pack.ts';
import { answerMaker } from '../support/answers.ts';
import { guardianWithChild } from '../support/mail.ts';
import { REDIS_URL, stacks } from '../support/servers.ts';

/**
 * Content packs over the admin API, on both stacks: a new app filled from a
 * pack serves its lessons in teaching order and grades answers; item
 * identity survives every later import; what leaves the pack is retired.
 */

interface ImportBody {
  changed: boolean;
  dryRun: boolean;
  counts: Record<'concepts' | 'units' | 'lessons' | 'items', Record<'added' | 'changed' | 'restored' | 'unchanged' | 'retired', number>>;
  report: Record<'concepts' | 'units' | 'lessons' | 'items', Record<'added' | 'changed' | 'restored' | 'unchanged' | 'retired', string[]>>;
}

for (const stack of await stacks()) {
  describe(`content packs over the admin API on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let opened: Awaited<ReturnType<typeof stack.open>>;
    let admin: string;
    let childId: string;
    let guardian: string;
    const APP = 'freshapp';
    const answer = answerMaker('content', () => childId);

    const importPack = async (pack: unknown, query = '') => {
      const res = await t.request(`/admin/content/import${query}`, { method: 'POST', token: admin, body: JSON.stringify(pack) });
      return { status: res.status, body: (await res.json()) as ImportBody & { error?: { code: string; message: string; details: { path: string; message: string }[] } } };
    };
    const get = async (path: string, token = guardian) => {
      const res = await t.request(path, { token });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const record = async (overrides: Record<string, unknown>) => {
      const res = await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify({ answers: [answer(overrides)] }) });
      return { status: res.status, body: (await res.json()) as { results: { correct: boolean }[] } };
    };

    before(async () => {
      opened = await stack.open();
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      // A brand-new app, exactly as `apps create` makes it: no concepts, no lessons.
      await t.container.apps.create(APP, 'Fresh App');
      admin = await t.token(APP, 'admin');
      ({ guardian, childId } = await guardianWithChild(t, APP, 'ann@example.com', 'correct horse battery', 'Mia'));
    });
    after(async () => opened.dispose());

    it('fills a new app: every concept, unit, lesson and item is added, served in teaching order and answerable', async () => {
      const before = await get('/api/lessons');
      assert.deepEqual(before.body.items, [], 'a new app has no content');
      const res = await importPack(testPack());
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.changed, true);
      assert.deepEqual(res.body.counts.concepts, { added: 3, changed: 0, restored: 0, unchanged: 0, retired: 0 });
      assert.deepEqual(res.body.counts.lessons, { added: 4, changed: 0, restored: 0, unchanged: 0, retired: 0 });
      assert.deepEqual(res.body.counts.items, { added: 6, changed: 0, restored: 0, unchanged: 0, retired: 0 });
      const list = await get('/api/lessons');
      assert.deepEqual(
        (list.body.items as { id: string; unit: { id: string } | null }[]).map((l) => [l.id, l.unit?.id]),
        [
          ['tiny-count', 'tiny-numbers'],
          ['tiny-add', 'tiny-numbers'],
          ['tiny-read', 'tiny-words'],
          ['tiny-add-more', 'tiny-words'],
        ],
        'the pack’s teaching order, not grade/subject/id',
      );
      const byGrade = await get('/api/lessons?order=grade');
      assert.deepEqual((byGrade.body.items as { id: string }[]).map((l) => l.id), ['tiny-count', 'tiny-add', 'tiny-add-more', 'tiny-read']);
      const lesson = await get('/api/lessons/tiny-count');
      assert.equal(lesson.status, 200);
      const items = lesson.body.items as Record<string, unknown>[];
      assert.deepEqual(items.map((i) => i.id), ['tiny-count-1', 'tiny-count-2']);
      assert.equal(items[0]!.mediaId, 'apples');
      assert.equal(items[0]!.conceptId, 'tiny-counting', 'the lesson’s only concept when the item names none');
      assert.equal('answer' in items[0]!, false, 'answer keys never leave the server');
      const graded = await record({ itemId: 'tiny-count-1', response: 3 });
      assert.equal(graded.status, 200);
      assert.equal(graded.body.results[0]!.correct, true);
      assert.equal((await record({ itemId: 'tiny-read-1', response: 'Two' })).body.results[0]!.correct, true);
    });

    it('imports the same pack again as unchanged, writing nothing', async () => {
      const stamp = async () => (await sql<{ at: Date }>`select max(updated_at) as at from ${sql.table(`app_${APP}.lessons`)}`.execute(t.container.database.db)).rows[0]!.at;
      const was = await stamp();
      const res = await importPack(testPack());
      assert.equal(res.status, 200);
      assert.equal(res.body.changed, false);
      assert.deepEqual(res.body.counts.items, { added: 0, changed: 0, restored: 0, unchanged: 6, retired: 0 });
      assert.deepEqual(res.body.counts.lessons, { added: 0, changed: 0, restored: 0, unchanged: 4, retired: 0 });
      assert.deepEqual(await stamp(), was);
    });

    it('refuses a different question under an item id children have seen, writes nothing, and stored answers still point at the question asked', async () => {
      const pack = testPack();
      pack.units[0]!.lessons[0]!.items![0]!.prompt = 'How many pears are in the picture?';
      pack.units[0]!.lessons[1]!.title = 'A title change that must not land either';
      const res = await importPack(pack);
      assert.equal(res.status, 409);
      assert.equal(res.body.error!.code, 'content_conflict');
      assert.equal(res.body.error!.details[0]!.path, 'units.0.lessons.0.items.0.id');
      assert.match(res.body.error!.details[0]!.message, /different question.*prompt changed.*give the changed question a new id/);
      assert.equal(((await get('/api/lessons/tiny-add')).body.title), 'Add small numbers', 'nothing of the refused pack was written');
      const stored = await sql<{ prompt: string; response: unknown; correct: boolean }>`
        select i.prompt, a.response, a.correct from ${sql.table(`app_${APP}.answers`)} a
        join ${sql.table(`app_${APP}.practice_items`)} i on i.id = a.item_id where a.item_id = 'tiny-count-1'`.execute(t.container.database.db);
      assert.deepEqual(stored.rows.map((r) => [r.prompt, r.response, r.correct]), [['How many apples are in the picture?', 3, true]]);
      const history = await get('/admin/items/tiny-count-1', admin);
      assert.equal(history.body.prompt, 'How many apples are in the picture?');
      assert.match(String(history.body.contentHash), /^sha256:[0-9a-f]{64}$/);
      // The same change under a new id is fine: the old question is retired, the new one served.
      const renamed = testPack();
      renamed.units[0]!.lessons[0]!.items![0] = { ...renamed.units[0]!.lessons[0]!.items![0]!, id: 'tiny-count-1b', prompt: 'How many pears are in the picture?' };
      const ok = await importPack(renamed, '?dryRun=true');
      assert.equal(ok.status, 200);
      assert.deepEqual([ok.body.dryRun, ok.body.report.items.added, ok.body.report.items.retired], [true, ['tiny-count-1b'], ['tiny-count-1']]);
      const live = await sql<{ id: string }>`select id from ${sql.table(`app_${APP}.practice_items`)} where lesson_id = 'tiny-count' and retired_at is null order by position`.execute(t.container.database.db);
      assert.deepEqual(live.rows.map((r) => r.id), ['tiny-count-1', 'tiny-count-2'], 'a dry run writes nothing');
      assert.equal((await get('/admin/items/tiny-count-1b', admin)).status, 404);
    });

    it('retires what leaves the pack: not served, still graded, still resolvable; and restores it when it comes back', async () => {
      const pack = testPack();
      pack.units[0]!.lessons[0]!.items!.shift(); // tiny-count-1 leaves
      pack.units[1]!.lessons.splice(0, 1); // tiny-read leaves
      const res = await importPack(pack);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.report.items.retired.sort(), ['tiny-count-1', 'tiny-read-1']);
      assert.deepEqual(res.body.report.lessons.retired, ['tiny-read']);
      assert.deepEqual(res.body.report.lessons.changed, ['tiny-count'], 'it lost an item; tiny-add-more only moved up because tiny-read left: same order, unchanged');
      assert.equal((await get('/api/lessons/tiny-read')).status, 404);
      assert.deepEqual(((await get('/api/lessons')).body.items as { id: string }[]).map((l) => l.id), ['tiny-count', 'tiny-add', 'tiny-add-more']);
      assert.deepEqual(((await get('/api/lessons/tiny-count')).body.items as { id: string }[]).map((i) => i.id), ['tiny-count-2']);
      const history = await get('/admin/items/tiny-count-1', admin);
      assert.equal(history.status, 200);
      assert.equal(history.body.lessonId, 'tiny-count');
      assert.notEqual(history.body.retiredAt, null);
      // An answer recorded on a device before the item was retired still syncs and is graded with its key.
      assert.equal((await record({ itemId: 'tiny-count-1', response: 3 })).body.results[0]!.correct, true);
      assert.equal((await record({ itemId: 'tiny-read-1', response: 'three' })).body.results[0]!.correct, false);

      const back = await importPack(testPack());
      assert.equal(back.status, 200);
      assert.deepEqual(back.body.report.items.restored.sort(), ['tiny-count-1', 'tiny-read-1']);
      assert.deepEqual(back.body.report.lessons.restored, ['tiny-read']);
      assert.equal((await get('/api/lessons/tiny-read')).status, 200);
      assert.equal((await get('/admin/items/tiny-count-1', admin)).body.retiredAt, null);
    });

    it('exports a pack that imports back unchanged', async () => {
      const exported = await get('/admin/content/packs/tiny', admin);
      assert.equal(exported.status, 200);
      const pack = exported.body as { pack: { id: string }; units: { lessons: { id: string; items: { id: string }[] }[] }[] };
      assert.equal(pack.pack.id, 'tiny');
      assert.deepEqual(pack.units.map((u) => u.lessons.map((l) => l.id)), [['tiny-count', 'tiny-add'], ['tiny-read', 'tiny-add-more']]);
      assert.deepEqual(pack.units[0]!.lessons[0]!.items.map((i) => i.id), ['tiny-count-1', 'tiny-count-2']);
      const again = await importPack(exported.body);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.changed, false);
      assert.equal(again.body.counts.items.unchanged, 6);
      const listed = await get('/admin/content/packs', admin);
      assert.deepEqual((listed.body.items as { id: string; lessons: number; items: number }[]).map((p) => [p.id, p.lessons, p.items]), [['tiny', 4, 6]]);
    });

    it('refuses a broken pack with every problem and its path (400 invalid_pack), writing nothing', async () => {
      const pack = testPack('bad');
      pack.concepts[0]!.prerequisites = ['bad-adding']; // counting ↔ adding
      pack.units.reverse(); // adding is now taught before counting… and so is reading, which is fine
      const res = await importPack(pack);
      assert.equal(res.status, 400);
      assert.equal(res.body.error!.code, 'invalid_pack');
      const messages = res.body.error!.details.map((d) => `${d.path}: ${d.message}`);
      assert.ok(messages.some((m) => /^concepts\.\d\.prerequisites: prerequisite cycle: /.test(m)), messages.join('\n'));
      assert.equal((await get('/admin/content/packs', admin)).body.items instanceof Array ? ((await get('/admin/content/packs', admin)).body.items as unknown[]).length : -1, 1);
      const schemaError = await importPack({ ...testPack('bad2'), concepts: [{ id: 'Bad Id', subject: 'math', grade: 0, name: 'x' }] });
      assert.equal(schemaError.status, 400);
      assert.match(JSON.stringify(schemaError.body), /concepts\.0\.id/);
    });

    it('never takes over ids of another pack of the app', async () => {
      const other = testPack('other');
      other.units[0]!.lessons[0]!.id = 'tiny-count';
      const res = await importPack(other);
      assert.equal(res.status, 409);
      assert.match(res.body.error!.details.map((d) => d.message).join('\n'), /lesson "tiny-count" belongs to pack "tiny"/);
      assert.equal(((await get('/admin/content/packs', admin)).body.items as unknown[]).length, 1);
    });

    it('refuses a released question whose picture changed under its id', async () => {
      const pack = testPack();
      pack.units[0]!.lessons[0]!.media![0]!.url = 'https://example.org/five-apples.png';
      const res = await importPack(pack);
      assert.equal(res.status, 409);
      assert.match(res.body.error!.details.map((d) => `${d.path}: ${d.message}`).join('\n'), /units\.0\.lessons\.0\.items\.0\.id: item "tiny-count-1" is a different question/);
      const alt = testPack();
      alt.units[0]!.lessons[0]!.media![0]!.alt = 'Three red apples on a table';
      const ok = await importPack(alt);
      assert.equal(ok.status, 200, 'the alt text describes the picture; it is not the question');
      assert.deepEqual(ok.body.report.items.changed, []);
      assert.equal((await importPack(testPack())).status, 200);
    });

    it('keeps every process’s lesson detail fresh when a unit is renamed or an item moves out of a lesson', async () => {
      await get('/api/lessons/tiny-count');
      const renamed = testPack();
      renamed.units[0]!.title = 'Numbers to ten';
      const res = await importPack(renamed);
      assert.deepEqual([res.body.report.units.changed, res.body.report.lessons.changed], [['tiny-numbers'], []]);
      assert.deepEqual((await get('/api/lessons/tiny-count')).body.unit, { id: 'tiny-numbers', title: 'Numbers to ten' });
      assert.equal((await importPack(testPack())).status, 200);

      // An item authored over the API is taken into a pack lesson: the lesson it left is served without it at once.
      const lesson = { id: 'api-lesson', subject: 'math', grade: 1, title: 'API lesson', summary: '', blocks: [], conceptIds: ['tiny-adding'], estimatedMinutes: 3, published: true, items: [
        { id: 'api-1', conceptId: 'tiny-adding', type: 'numeric', prompt: 'What is 9 + 1?', answer: { type: 'numeric', value: 10, tolerance: 0 }, difficulty: 0 },
        { id: 'api-2', conceptId: 'tiny-adding', type: 'numeric', prompt: 'What is 9 + 2?', answer: { type: 'numeric', value: 11, tolerance: 0 }, difficulty: 0 },
      ] };
      assert.equal((await t.request('/admin/lessons', { method: 'POST', token: admin, body: JSON.stringify(lesson) })).status, 201);
      assert.deepEqual(((await get('/api/lessons/api-lesson')).body.items as { id: string }[]).map((i) => i.id), ['api-1', 'api-2']);
      const taking = testPack();
      taking.units[0]!.lessons[1]!.items!.push({ ...lesson.items[1]!, conceptId: undefined } as never);
      const moved = await importPack(taking);
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual(moved.body.report.items.changed, ['api-2']);
      assert.deepEqual(((await get('/api/lessons/api-lesson')).body.items as { id: string }[]).map((i) => i.id), ['api-1']);
    });

    it('keeps item identity and the pack whole under admin edits: foreign concepts refused on pack lessons, a revived lesson leaves its pack, exports after a delete import unchanged', async () => {
      const base = testPack('ed');
      base.units[0]!.lessons[1]!.items![0]!.difficulty = 0.123456789;
      assert.equal((await importPack(base)).status, 200);
      const again = await importPack(base);
      assert.equal(again.body.changed, false, 'a difficulty with many digits comes back exactly');

      const { id: _id, ...lesson } = (await get('/admin/lessons/ed-add', admin)).body as Record<string, unknown> & { conceptIds: string[] };
      const put = await t.request('/admin/lessons/ed-add', { method: 'PUT', token: admin, body: JSON.stringify({ ...lesson, conceptIds: [...lesson.conceptIds, 'tiny-reading'] }) });
      assert.equal(put.status, 409);
      assert.equal(((await put.json()) as { error: { code: string } }).error.code, 'concept_outside_pack');

      assert.equal((await t.request('/admin/lessons/ed-read', { method: 'DELETE', token: admin })).status, 204);
      const exported = await get('/admin/content/packs/ed', admin);
      const reimport = await importPack(exported.body);
      assert.equal(reimport.status, 200, JSON.stringify(reimport.body));
      assert.equal(reimport.body.changed, false, JSON.stringify(reimport.body.counts));

      // Created anew over the API, the retired lesson is no longer the pack's: importing the pack again leaves it alone.
      const revived = { id: 'ed-read', subject: 'reading', grade: 1, title: 'Reading, by the school', summary: '', blocks: [], conceptIds: ['ed-reading'], estimatedMinutes: 4, published: true, items: [] };
      assert.equal((await t.request('/admin/lessons', { method: 'POST', token: admin, body: JSON.stringify(revived) })).status, 201);
      const after = await importPack(exported.body, '?dryRun=true');
      assert.deepEqual([after.body.changed, after.body.report.lessons.retired], [false, []]);
      const packs = (await get('/admin/content/packs', admin)).body.items as { id: string; lessons: number }[];
      assert.equal(packs.find((p) => p.id === 'ed')!.lessons, 3);
    });

    it('deletes, rather than retires, a draft lesson that leaves its pack before anyone saw it', async () => {
      const pack = testPack('dr');
      pack.units[1]!.lessons[0]!.published = false;
      assert.equal((await importPack(pack)).status, 200);
      pack.units[1]!.lessons.splice(0, 1);
      const res = await importPack(pack);
      assert.deepEqual(res.body.report.lessons.retired, ['dr-read']);
      const rows = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(`app_${APP}.lessons`)} where id = 'dr-read'`.execute(t.container.database.db);
      assert.equal(rows.rows[0]!.n, 0);
      assert.equal((await get('/admin/items/dr-read-1', admin)).status, 404);
    });

    it('reads an import body of up to 16 MiB only from an admin: anonymous callers are turned away first', async () => {
      const big = 'x'.repeat(17 * 1024 * 1024);
      const anonymous = await t.request('/admin/content/import', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
      assert.equal(anonymous.status, 401);
      const tooBig = await t.request('/admin/content/import', { method: 'POST', token: admin, body: big });
      assert.equal(tooBig.status, 413);
      const elsewhere = await t.request('/admin/lessons', { method: 'POST', token: admin, body: 'x'.repeat(2 * 1024 * 1024) });
      assert.equal(elsewhere.status, 413, 'other routes keep 1 MiB');
    });

    it('publishes the JSON Schema of packs, the same as the committed file', async () => {
      const res = await t.request('/schemas/content-pack.json');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/schema+json');
      assert.equal(await res.text(), readFileSync(new URL('../../schemas/content-pack.json', import.meta.url), 'utf8'));
    });

    it('is for admins only', async () => {
      for (const role of ['guardian', 'teacher', 'child'] as const) {
        const token = await t.token(APP, role);
        const res = await t.request('/admin/content/import', { method: 'POST', token, body: JSON.stringify(testPack()) });
        assert.equal(res.status, 403, role);
        assert.equal((await t.request('/admin/items/tiny-count-1', { token })).status, 403, role);
      }
    });

    it('tells other processes sharing the cache at once (servers only)', { skip: stack.name.startsWith('embedded') ? 'one process per embedded database' : false }, async (tc) => {
      assert.ok(opened.redisPrefix, 'the servers stack shares Redis');
      const cache = await openRedisCache({ url: REDIS_URL, keyPrefix: opened.redisPrefix, timeoutMs: 1000 });
      const quiet = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
      const other = await createContainer(t.container.config, { embedder: testEmbedder(), database: opened.database, cache, logger: quiet, signingKey: t.signingKey, skipMigrations: true });
      tc.after(async () => {
        await cache.close();
        await other.rateLimiter.close();
      });
      const otherApp = createHttpApp(other);
      const read = async (path: string) => {
        const res = await otherApp.request(path, { headers: { authorization: `Bearer ${guardian}` } });
        return { cache: res.headers.get('x-cache'), body: (await res.json()) as { title?: string; items?: { id: string; title: string }[] } };
      };
      await read('/api/lessons/tiny-add');
      assert.equal((await read('/api/lessons/tiny-add')).cache, 'HIT', 'the other process serves its cached copy');
      await read('/api/lessons');
      const pack = testPack();
      pack.units[0]!.lessons[1]!.title = 'Adding, renamed';
      assert.equal((await importPack(pack)).status, 200);
      assert.equal((await read('/api/lessons/tiny-add')).body.title, 'Adding, renamed');
      assert.equal((await read('/api/lessons')).body.items!.find((l) => l.id === 'tiny-add')!.title, 'Adding, renamed');
    });
  });
}
