import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { PREPARED, type Database } from '../../src/adapters/db/database.ts';
import type { NewLessonInput } from '../../src/domain/curriculum.ts';
import { migrateAll, tenantMigrations } from '../../src/adapters/db/migrations.ts';
import { itemContentHash } from '../../src/domain/content-pack.ts';
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import { findApp, insertApp, listApps } from '../../src/features/apps/apps.repo.ts';
import {
  countConcepts,
  deleteLesson,
  findLesson,
  listPublishedLessons,
  missingConcepts,
  writeConcepts,
  writeLesson,
} from '../../src/features/lessons/lessons.repo.ts';
import { MOST_PRIVATE_SETTINGS } from '../../src/domain/family.ts';
import { newConceptState } from '../../src/domain/learner/concept-state.ts';
import { insertAccount } from '../../src/features/accounts/accounts.repo.ts';
import { eraseChild, insertChild } from '../../src/features/families/families.repo.ts';
import { loadSnapshots, writeAnswerGroups, type AnswerWrite, type NewAnswer } from '../../src/features/progress/progress.repo.ts';
import { fixturePack } from '../support/app-fixture.ts';
import { databaseBackends } from '../support/servers.ts';

/** A copy of a fixture lesson under a new id, with item ids of its own. */
const renamed = (lesson: NewLessonInput, id: string): NewLessonInput => ({
  ...lesson,
  id,
  items: lesson.items.map((item, i) => ({ ...item, id: `${id}-q${i}` })),
});

/** The database port's contract: every repository and the migrator, run on every adapter. */
for (const backend of await databaseBackends()) {
  describe(`database contract: ${backend.name}`, { skip: backend.skip }, () => {
    let database: Database;
    let url: string | undefined;
    let dispose: () => Promise<void>;

    let apps = 0;
    /** A new app with the fixture curriculum written into it, so each test has rows no other test touched. */
    const freshApp = async (prefix = 'app'): Promise<string> => {
      const appId = `${prefix}_${++apps}`;
      await insertApp(database.db, appId, `App ${appId}`);
      const pack = fixturePack(appId);
      await database.db.transaction().execute(async (trx) => {
        await writeConcepts(trx, appId, pack.concepts);
        for (const l of pack.lessons) await writeLesson(trx, appId, l);
      });
      return appId;
    };

    before(async () => {
      const opened = await backend.open();
      ({ database, dispose } = opened);
      url = opened.url;
      await migrateAll(database.db);
    });
    after(async () => dispose());

    it('migrates from empty, then finds nothing left to do', async () => {
      const empty = await backend.open();
      try {
        assert.ok((await migrateAll(empty.database.db)) >= 1);
        assert.equal(await migrateAll(empty.database.db), 0);
        const control = await empty.database.db.selectFrom('kidslearn.schema_migrations').select('scope').execute();
        assert.ok(control.length >= 1 && control.every((r) => !r.scope.startsWith('app:')), 'control tables only: no app yet');
      } finally {
        await empty.dispose();
      }
    });

    it('migration 9 upgrades existing content: hashes as imports compute them, answered items released even in an unpublished lesson, exact difficulties', async () => {
      const schema = '"app_upgrade9"';
      await database.db.transaction().execute(async (trx) => {
        await sql.raw(`create schema ${schema}`).execute(trx);
        for (const m of tenantMigrations.filter((m) => m.version < 9)) await m.up(trx, schema);
        const q = (text: string) => sql.raw(text).execute(trx);
        await q(`insert into ${schema}.concepts (id, subject, grade, name) values ('adding', 'math', 1, 'Adding')`);
        await q(`insert into ${schema}.lessons (id, subject, grade, title, summary, blocks, concept_ids, estimated_minutes, published)
                 values ('was-public', 'math', 1, 'Unpublished after use', '', '[]', '{adding}', 5, false),
                        ('public', 'math', 1, 'Published', '', '[]', '{adding}', 5, true)`);
        await q(`insert into ${schema}.practice_items (id, lesson_id, position, concept_id, type, prompt, answer, difficulty)
                 values ('answered', 'was-public', 0, 'adding', 'numeric', 'What is 2 + 3?', '{"type":"numeric","value":5,"tolerance":0}', 0.5),
                        ('never-seen', 'was-public', 1, 'adding', 'numeric', 'What is 2 + 4?', '{"type":"numeric","value":6,"tolerance":0}', 0),
                        ('shown', 'public', 0, 'adding', 'numeric', 'What is 1 + 1?', '{"type":"numeric","value":2,"tolerance":0}', 0)`);
        await q(`insert into ${schema}.accounts (id, email, role, password_hash) values ('g1', 'g@example.com', 'guardian', 'x')`);
        await q(`insert into ${schema}.children (id, guardian_id, nickname, grade, avatar, settings) values ('c1', 'g1', 'Mia', 1, 'fox', '{}')`);
        await q(`insert into ${schema}.answers (child_id, client_event_id, item_id, lesson_id, concept_id, response, correct, duration_ms, answered_at)
                 values ('c1', 'e1', 'answered', 'was-public', 'adding', '5', true, 3000, now())`);
        await tenantMigrations.find((m) => m.version === 9)!.up(trx, schema);
        await q(`update ${schema}.practice_items set difficulty = 0.123456789 where id = 'never-seen'`);
      });
      const rows = await sql<{ id: string; content_hash: string; released: boolean; difficulty: number }>`
        select id, content_hash, released_at is not null as released, difficulty from app_upgrade9.practice_items order by id`.execute(database.db);
      const byId = new Map(rows.rows.map((r) => [r.id, r]));
      assert.deepEqual(rows.rows.map((r) => [r.id, r.released]), [['answered', true], ['never-seen', false], ['shown', true]]);
      assert.equal(byId.get('answered')!.content_hash, itemContentHash({ conceptId: 'adding', type: 'numeric', prompt: 'What is 2 + 3?', answer: { type: 'numeric', value: 5, tolerance: 0 } }));
      assert.equal(Number(byId.get('never-seen')!.difficulty), 0.123456789);
    });

    it('creates an app with its own migrated schema, atomically and once', async () => {
      const app = await insertApp(database.db, 'made', 'Made');
      assert.equal(app.id, 'made');
      await assert.rejects(insertApp(database.db, 'made', 'Again'), (e: Error & { code?: string }) => e.code === 'app_exists');
      await assert.rejects(insertApp(database.db, 'Bad-Id', 'x'), (e: Error & { code?: string }) => e.code === 'invalid_app_id');
      await assert.rejects(insertApp(database.db, 'a"; drop schema kidslearn cascade; --', 'x'), (e: Error & { code?: string }) => e.code === 'invalid_app_id');
      assert.equal((await findApp(database.db, 'made'))?.name, 'Made');
      assert.equal(await findApp(database.db, 'nobody'), undefined);
      const versions = await database.db
        .selectFrom('kidslearn.schema_migrations')
        .select('version')
        .where('scope', '=', 'app:made')
        .execute();
      assert.deepEqual(versions.map((v) => v.version), tenantMigrations.map((m) => m.version));
      await insertApp(database.db, 'made_too', 'Made too');
      const ids = (await listApps(database.db)).map((a) => a.id);
      assert.deepEqual(ids.filter((id) => id.startsWith('made')), ['made', 'made_too']);
      assert.deepEqual(ids, [...ids].sort(), 'listed by id');
    });

    it('writes and reads concepts, lessons and items per app, isolated from other apps', async () => {
      const alpha = await freshApp('alpha');
      const beta = await freshApp('beta');
      assert.equal(await countConcepts(database.db, alpha), 3);
      const a = await findLesson(database.db, alpha, 'shared-lesson');
      const b = await findLesson(database.db, beta, 'shared-lesson');
      assert.equal(a?.lesson.title, `${alpha} shared-lesson`);
      assert.equal(b?.lesson.title, `${beta} shared-lesson`);
      assert.equal(await findLesson(database.db, alpha, `${beta}-only`), undefined);
      assert.equal((await findLesson(database.db, beta, `${beta}-only`))?.lesson.title, `${beta} ${beta}-only`);
      assert.deepEqual(a?.items[1]?.answer, { type: 'multiple_choice', choiceId: 'a' });
      assert.deepEqual(a?.items[1]?.choices?.map((c) => c.id), ['a', 'b']);
      assert.equal(a?.items[0]?.difficulty, -1);
      assert.deepEqual(a?.lesson.blocks, [{ type: 'text', text: 'Welcome to shared-lesson' }]);
      assert.deepEqual(await missingConcepts(database.db, alpha, ['adding', 'nope', 'adding']), ['nope']);
    });

    it('lists published lessons in a stable order with totals', async () => {
      const app = await freshApp();
      const page = await listPublishedLessons(database.db, app, { page: 1, limit: 2 });
      assert.equal(page.total, 4);
      assert.deepEqual(page.items.map((l) => l.id), ['count-k', 'shared-lesson']);
      const next = await listPublishedLessons(database.db, app, { page: 2, limit: 2 });
      assert.deepEqual(next.items.map((l) => l.id), ['read-1', `${app}-only`]);
      const graded = await listPublishedLessons(database.db, app, { page: 1, limit: 10, grade: 1, subject: 'math' });
      assert.deepEqual(graded.items.map((l) => l.id), ['shared-lesson']);
    });

    it('rewrites a lesson’s item list keeping released items (retired, not deleted) and retires a deleted lesson that children saw', async () => {
      const app = await freshApp();
      const other = await freshApp();
      const pack = fixturePack(app);
      const lesson = { ...pack.lessons[0]!, title: 'changed', items: pack.lessons[0]!.items.slice(0, 1) };
      const items = () =>
        database.db.withSchema(`app_${app}`).selectFrom('practice_items').select(['id', 'retired_at', 'released_at']).where('lesson_id', '=', lesson.id).orderBy('id').execute();
      await database.db.transaction().execute((trx) => writeLesson(trx, app, lesson));
      const found = await findLesson(database.db, app, lesson.id);
      assert.equal(found?.lesson.title, 'changed');
      assert.deepEqual(found?.items.map((i) => i.id), [lesson.items[0]!.id], 'only the live item is served');
      const kept = await items();
      assert.equal(kept.length, 3, 'items that left a published lesson are kept for the answers that point at them');
      assert.deepEqual(kept.map((i) => i.retired_at !== null), [false, true, true]);
      assert.ok(kept.every((i) => i.released_at !== null));
      assert.equal(await database.db.transaction().execute((trx) => deleteLesson(trx, app, lesson.id)), true);
      assert.equal(await database.db.transaction().execute((trx) => deleteLesson(trx, app, lesson.id)), false);
      assert.equal((await findLesson(database.db, app, lesson.id))?.retired, true);
      assert.ok((await items()).every((i) => i.retired_at !== null), 'the deleted lesson and its items are retired');
      // The other app's copy is untouched.
      assert.equal((await findLesson(database.db, other, lesson.id))?.items.length, 3);
    });

    it('deletes for real what children never saw: items of a draft and a draft lesson', async () => {
      const app = await freshApp();
      const draft = { ...renamed(fixturePack(app).lessons[0]!, 'draft-only'), published: false };
      const rows = () => database.db.withSchema(`app_${app}`).selectFrom('practice_items').select('id').where('lesson_id', '=', 'draft-only').execute();
      await database.db.transaction().execute((trx) => writeLesson(trx, app, draft));
      assert.equal((await rows()).length, draft.items.length);
      await database.db.transaction().execute((trx) => writeLesson(trx, app, { ...draft, items: draft.items.slice(0, 1) }));
      assert.equal((await rows()).length, 1, 'unreleased items that left the draft are gone');
      assert.equal(await database.db.transaction().execute((trx) => deleteLesson(trx, app, 'draft-only')), true);
      assert.equal(await findLesson(database.db, app, 'draft-only'), undefined);
      assert.deepEqual(await rows(), []);
    });

    it('rolls a failed transaction back completely', async () => {
      const app = await freshApp();
      const pack = fixturePack(app);
      await assert.rejects(
        database.db.transaction().execute(async (trx) => {
          await writeLesson(trx, app, renamed(pack.lessons[1]!, 'half-written'));
          throw new Error('boom');
        }),
      );
      assert.equal(await findLesson(database.db, app, 'half-written'), undefined);
    });

    it('serialises concurrent transactions and plain queries correctly', async () => {
      // A plain read issued while another transaction is open, after it wrote,
      // must neither see its uncommitted rows nor be rolled back with it.
      const app = await freshApp();
      const pack = fixturePack(app);
      let release!: () => void;
      const hold = new Promise<void>((r) => (release = r));
      let wrote!: () => void;
      const written = new Promise<void>((r) => (wrote = r));
      const tx: Promise<unknown> = database.db.transaction().execute(async (trx) => {
        await writeLesson(trx, app, renamed(pack.lessons[1]!, 'uncommitted'));
        wrote();
        await hold;
        throw new Error('roll back');
      });
      const txFailed = assert.rejects(tx, /roll back/);
      await written;
      const read = findLesson(database.db, app, 'uncommitted');
      release();
      await txFailed;
      assert.equal(await read, undefined);
    });

    it('runs a PREPARED statement like any other, with array parameters, and prepares it once per connection on a server', async () => {
      const twice = (xs: number[]) => sql<{ v: number }>`${sql.raw(PREPARED)}select v * 2 as v from unnest(${xs}::int[]) as v`;
      for (const xs of [[1, 2, 3], [], [7]]) assert.deepEqual((await twice(xs).execute(database.db)).rows.map((r) => r.v), xs.map((x) => x * 2));
      const texts = [`a "quoted" one, a back\\slash`, '{"json": [1, 2]}', 'comma, and ü'];
      assert.deepEqual((await sql<{ t: string }>`${sql.raw(PREPARED)}select t from unnest(${texts}::text[]) as t`.execute(database.db)).rows.map((r) => r.t), texts);
      await database.db.connection().execute(async (conn) => {
        await twice([1]).execute(conn);
        await twice([2]).execute(conn);
        const held = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement like '/* prepared */%'`.execute(conn);
        assert.equal(held.rows[0]!.n > 0, database.kind === 'postgres', 'named on the server; plain on PGlite');
      });
    });

    it('writes answers and concept states only while the child’s learner clock reads what the writer read', async () => {
      const app = await freshApp();
      await insertAccount(database.db, app, { id: 'g-1', email: 'g1@example.com', role: 'guardian', passwordHash: 'x' });
      const child = { guardianId: 'g-1', nickname: 'Mia', grade: 1, avatar: 'fox', birthYear: null, settings: MOST_PRIVATE_SETTINGS };
      await insertChild(database.db, app, { id: 'kid-1', ...child });
      const answer = (event: string): NewAnswer => ({
        childId: 'kid-1', clientEventId: event, itemId: 'i1', lessonId: 'l1', conceptId: 'counting', response: '5', correct: true, durationMs: 3000, answeredAt: new Date('2026-11-20T10:00:00Z'),
      });
      const state = (attempts: number) => ({ childId: 'kid-1', conceptId: 'counting', state: { ...newConceptState(), attempts, correct: attempts } });
      const writeAnswers = async (w: AnswerWrite) => (await writeAnswerGroups(database.db, app, [w])).has(0);
      const snapshot = async () => (await loadSnapshots(database.db, app, ['kid-1'])).get('kid-1')!;
      const answers = async () => (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(`app_${app}.answers`)} where child_id = 'kid-1'`.execute(database.db)).rows[0]!.n;

      assert.deepEqual(await snapshot(), { seq: 0, states: new Map(), totals: { answers: 0, correct: 0 } });
      assert.equal(await writeAnswers({ clocks: [{ childId: 'kid-1', expectedSeq: 0 }], answers: [answer('e1')], states: [state(1)] }), true);
      const first = await snapshot();
      assert.equal(first.seq, 1);
      assert.equal(first.states.get('counting')?.attempts, 1);
      assert.deepEqual(first.totals, { answers: 1, correct: 1 });
      // A writer that read the clock before e1 landed: refused, nothing written.
      assert.equal(await writeAnswers({ clocks: [{ childId: 'kid-1', expectedSeq: 0 }], answers: [answer('e2')], states: [state(9)] }), false);
      assert.equal(await answers(), 1);
      assert.deepEqual(await snapshot(), first);
      // An event id already stored fails the whole statement; the clock does not move.
      await assert.rejects(
        writeAnswers({ clocks: [{ childId: 'kid-1', expectedSeq: 1 }], answers: [answer('e2'), answer('e1')], states: [state(3)] }),
        (e: Error & { code?: string }) => e.code === '23505',
      );
      assert.deepEqual(await snapshot(), first);
      assert.equal(await answers(), 1);
      assert.equal(await writeAnswers({ clocks: [{ childId: 'kid-1', expectedSeq: 1 }], answers: [answer('e2'), answer('e3')], states: [state(3)] }), true);
      assert.equal((await snapshot()).seq, 2);
      assert.equal(await answers(), 3);
      // Several writers in one statement: each group lands or not on its own.
      await insertChild(database.db, app, { id: 'kid-2', ...child });
      await insertChild(database.db, app, { id: 'kid-3', ...child });
      const of = (childId: string, event: string) => ({ ...answer(event), childId });
      const landed = await writeAnswerGroups(database.db, app, [
        { clocks: [{ childId: 'kid-2', expectedSeq: 0 }], answers: [of('kid-2', 'x1'), of('kid-2', 'x2')], states: [{ ...state(2), childId: 'kid-2' }] },
        { clocks: [{ childId: 'kid-1', expectedSeq: 1 }], answers: [answer('stale')], states: [state(99)] },
        { clocks: [{ childId: 'kid-3', expectedSeq: 0 }], answers: [of('kid-3', 'y1')], states: [{ ...state(1), childId: 'kid-3' }] },
      ]);
      assert.deepEqual([...landed].sort(), [0, 2], 'the group that read kid-1 at seq 1 (now 2) did not land; the others did');
      const all = await loadSnapshots(database.db, app, ['kid-1', 'kid-2', 'kid-3']);
      assert.deepEqual([...all].map(([id, snap]) => [id, snap.seq, snap.totals.answers]), [['kid-1', 2, 3], ['kid-2', 1, 2], ['kid-3', 1, 1]]);
      assert.equal(await answers(), 3, 'nothing of the stale group');
      const order = await sql<{ e: string }>`select client_event_id as e from ${sql.table(`app_${app}.answers`)} where child_id = 'kid-2' order by id`.execute(database.db);
      assert.deepEqual(order.rows.map((r) => r.e), ['x1', 'x2'], 'stored in the order given');
      // An erased child: a foreign-key violation, whatever its writer last read.
      await database.db.transaction().execute((trx) => eraseChild(trx, app, 'kid-1', 'guardian'));
      await assert.rejects(
        writeAnswers({ clocks: [{ childId: 'kid-1', expectedSeq: 2 }], answers: [answer('e4')], states: [state(4)] }),
        (e: Error & { code?: string }) => e.code === '23503',
      );
    });

    it('answers ping and bounds waits with a timeout', async () => {
      await database.ping(1000);
      const stats = database.poolStats();
      assert.ok(stats.total >= 1);
      if (database.kind === 'pglite') {
        // The single connection is held: a second caller gives up after its timeout.
        const holder = database.db.transaction().execute(() => new Promise((r) => setTimeout(r, 300)));
        await new Promise((r) => setTimeout(r, 10));
        await assert.rejects(database.ping(100), (e: Error & { code?: string }) => e.code === 'database_unavailable');
        await holder;
      } else {
        // The server cancels statements past statement_timeout.
        const short = await openPostgresDatabase({ url: url!, poolSize: 1, connectTimeoutMs: 2000, statementTimeoutMs: 200 });
        try {
          await assert.rejects(
            sql`select pg_sleep(2)`.execute(short.db),
            (e: Error & { code?: string; cause?: { code?: string; message?: string } }) =>
              e.code === 'database_unavailable' && e.cause?.code === '57014' && /statement timeout/.test(e.cause.message ?? ''),
          );
        } finally {
          await short.close();
        }
      }
    });

    if (backend.name === 'postgres') {
      it('two processes migrating at once both succeed and apply each migration once', async () => {
        const others = await Promise.all([1, 2, 3].map(() => openPostgresDatabase({ url: url!, poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 })));
        try {
          await insertApp(database.db, 'gamma', 'Gamma');
          await sql`delete from kidslearn.schema_migrations where scope = 'app:gamma'`.execute(database.db);
          await sql.raw('drop schema app_gamma cascade').execute(database.db);
          const results = await Promise.all(others.map((o) => migrateAll(o.db)));
          assert.deepEqual(results.sort(), [0, 0, tenantMigrations.length]);
          const rows = await sql<{ n: number }>`select count(*)::int as n from kidslearn.schema_migrations where scope = 'app:gamma'`.execute(database.db);
          assert.equal(rows.rows[0]!.n, tenantMigrations.length);
        } finally {
          await Promise.all(others.map((o) => o.close()));
        }
      });
    }
  });
}
