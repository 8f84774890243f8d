import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { insertPlan, writeReadyPlan } from '../../src/features/plans/plans.repo.ts';
import { CHILD_DATA, camelCase, ERASED_CHILD_TABLES } from '../../src/adapters/db/child-data.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * The child-data declaration against the real schema: every table that holds
 * a child id is declared, exported with rows and erased (or kept, with a
 * reason). A table added by a migration without a declaration fails here.
 */

const PASSWORD = 'correct horse battery';

for (const stack of await stacks()) {
  describe(`a child's export and erasure cover every table with child data, on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
    });
    after(async () => dispose());

    /** Tenant tables holding a child id: a `child_id` column or a foreign key to `children`, and `children` itself. */
    const childTablesInSchema = async (): Promise<string[]> => {
      const { rows } = await sql<{ table_name: string }>`
        select table_name from information_schema.columns where table_schema = 'app_alpha' and column_name = 'child_id'
        union
        select tc.table_name from information_schema.table_constraints tc
          join information_schema.constraint_column_usage cu on cu.constraint_name = tc.constraint_name and cu.constraint_schema = tc.constraint_schema
          where tc.constraint_schema = 'app_alpha' and tc.constraint_type = 'FOREIGN KEY' and cu.table_name = 'children'
        union
        select 'children'`.execute(t.container.database.db);
      return rows.map((r) => r.table_name).sort();
    };
    const columnsOf = async (table: string): Promise<string[]> => {
      const { rows } = await sql<{ column_name: string }>`
        select column_name from information_schema.columns where table_schema = 'app_alpha' and table_name = ${table}`.execute(t.container.database.db);
      return rows.map((r) => r.column_name).sort();
    };
    const rowsOf = async (table: string, column: string, childId: string): Promise<number> =>
      (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(`app_alpha.${table}`)} where ${sql.ref(column)} = ${childId}`.execute(t.container.database.db)).rows[0]!.n;

    it('declares every column of every table: exported, or omitted with a reason', async () => {
      const inSchema = await childTablesInSchema();
      assert.deepEqual(CHILD_DATA.map((d) => d.table).sort(), inSchema, 'CHILD_DATA (src/adapters/db/child-data.ts) lists exactly the tables holding a child id');
      for (const d of CHILD_DATA) {
        const exported: string[] = [...d.exported];
        const omitted = Object.entries(d.omitted as Record<string, string>);
        assert.deepEqual([...exported, ...omitted.map(([c]) => c)].sort(), await columnsOf(d.table), `${d.table}: exported + omitted = its columns`);
        for (const [column, why] of omitted) assert.ok(why.length > 10, `${d.table}.${column} says why it is omitted`);
        assert.equal(new Set(CHILD_DATA.map((x) => x.section)).size, CHILD_DATA.length, 'section names are unique');
      }
      assert.equal(ERASED_CHILD_TABLES.at(-1)!.table, 'children', 'the profile is erased last');
    });

    it('exports a section with the rows of every such table, and erasure leaves none of them', async () => {
      const c = t.container;
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: PASSWORD, role: 'guardian' });
      const tess = await c.accounts.register('alpha', { email: 'tess@example.com', password: PASSWORD, role: 'teacher' });
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const guardian: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp };
      const teacher: Principal = { sub: tess.id, app: 'alpha', role: 'teacher', exp };
      const guardianToken = (await c.accounts.login('alpha', { email: 'ann@example.com', password: PASSWORD })).accessToken;
      const teacherToken = (await c.accounts.login('alpha', { email: 'tess@example.com', password: PASSWORD })).accessToken;
      const childId = (await c.children.create(guardian, { nickname: 'Mia', grade: 2 })).id;
      const siblingId = (await c.children.create(guardian, { nickname: 'Leo', grade: 1 })).id;
      await c.children.setPin(guardian, childId, '4821');
      const session = await c.children.startDeviceSession(guardian, childId);
      const room = await c.classrooms.create(teacher, { name: 'Room 3' });
      await c.classrooms.respond(guardian, (await c.classrooms.createInvite(teacher, room.id, 7)).code, childId, 'accept');
      assert.equal((await t.request(`/api/progress/${childId}`, { token: teacherToken })).status, 200, 'a teacher read: an audit entry');

      const at = (s: number) => new Date(Date.now() - 600_000 + s * 1000).toISOString();
      const answers = [
        { childId, itemId: 'alpha-only-q1', response: 5, durationMs: 4000, answeredAt: at(1), clientEventId: 'a-1' },
        { childId, itemId: 'alpha-only-q2', response: 'b', durationMs: 3000, answeredAt: at(2), clientEventId: 'a-2' },
        { childId, itemId: 'read-1-q3', response: 'two', durationMs: 5000, answeredAt: at(3), clientEventId: 'a-3' },
      ];
      assert.equal((await t.request('/api/progress', { method: 'POST', token: session.accessToken, body: JSON.stringify({ answers }) })).status, 200);
      const done = { childId, secondsSpent: 240, score: 0.5, completedAt: at(4), clientEventId: 'done-1' };
      assert.equal((await t.request('/api/progress/lessons/alpha-only/complete', { method: 'POST', token: session.accessToken, body: JSON.stringify(done) })).status, 200);
      // Practice items generated for Mia (offline generator): hers, exported and erased with her.
      const generated = await c.generator.generate({ app: 'alpha', concept: 'adding', lesson: 'alpha-only', count: 2, forChildId: childId });
      assert.equal(generated.items.length, 2);
      await c.generator.generate({ app: 'alpha', concept: 'adding', lesson: 'alpha-only', count: 1, forChildId: siblingId });
      // A lesson plan, as the engine's job stores it (no queue needed here).
      const built = await c.planBuilder.build('alpha', childId, { minutes: 5 });
      await insertPlan(c.database.db, 'alpha', { id: 'plan-of-mia', childId, request: { minutes: 5 }, requestHash: 'h', inputsKey: 'k', idempotencyKey: null, requestedByRole: 'guardian' });
      await writeReadyPlan(c.database.db, 'alpha', 'plan-of-mia', { plan: built.plan, inputs: { ...built.inputs, planner: built.planner }, modelVersion: null });
      // The sibling's rows must not appear in Mia's export.
      const siblingSession = await c.children.startDeviceSession(guardian, siblingId);
      const siblingAnswer = { childId: siblingId, itemId: 'alpha-only-q1', response: 5, durationMs: 1000, answeredAt: at(5), clientEventId: 'sibling-1' };
      assert.equal((await t.request('/api/progress', { method: 'POST', token: siblingSession.accessToken, body: JSON.stringify(siblingAnswer) })).status, 200);

      const res = await t.request(`/api/children/${childId}/export`, { token: guardianToken });
      assert.equal(res.status, 200);
      const text = await res.text();
      const body = JSON.parse(text) as Record<string, unknown>;
      for (const table of await childTablesInSchema()) {
        const d = CHILD_DATA.find((x) => x.table === table);
        assert.ok(d, `${table} holds a child id but CHILD_DATA does not declare it`);
        const section = body[d.section];
        if (d.rows === 'one') assert.ok(section && typeof section === 'object' && !Array.isArray(section), `${table}: section ${d.section} holds the row`);
        else assert.ok(Array.isArray(section) && section.length > 0, `${table}: section ${d.section} holds rows`);
        const rows = (Array.isArray(section) ? section : [section]) as Record<string, unknown>[];
        const fields = [...d.exported.map(camelCase), ...Object.keys(d.related ?? {}), ...Object.keys(d.derived ?? {})].sort();
        for (const row of rows) assert.deepEqual(Object.keys(row).sort(), fields, `${table}: exactly the exported fields`);
        assert.equal(rows.length, await rowsOf(table, d.childColumn, childId), `${table}: every row of the child`);
      }

      const exported = body as {
        child: Record<string, unknown>;
        answers: { id: string; clientEventId: string; response: unknown; correct: boolean; answeredAt: string }[];
        conceptStates: { conceptId: string; attempts: number }[];
        learnerClock: { seq: string };
        lessonCompletions: { lessonId: string; clientEventId: string; secondsSpent: number; score: number; completedAt: string }[];
        deviceSessions: { revokedAt: string | null }[];
        classrooms: { classroomName: string; status: string }[];
        accessLog: { actorRole: string; purpose: string }[];
        signedInDevices: number;
      };
      assert.deepEqual(exported.answers.map((a) => [a.clientEventId, a.response, a.correct, a.answeredAt]), answers.map((a, i) => [a.clientEventId, a.response, i !== 1, a.answeredAt]));
      assert.ok(exported.answers.every((a) => /^\d+$/.test(a.id)), 'answer ids as decimal strings on both stacks');
      assert.deepEqual(exported.conceptStates.map((s) => [s.conceptId, s.attempts]), [['adding', 2], ['reading', 1]]);
      assert.match(exported.learnerClock.seq, /^\d+$/);
      assert.deepEqual(exported.lessonCompletions.map((l) => ({ ...l, id: undefined })), [{ id: undefined, lessonId: 'alpha-only', clientEventId: 'done-1', secondsSpent: 240, score: 0.5, completedAt: done.completedAt }]);
      assert.deepEqual(exported.classrooms.map((m) => [m.classroomName, m.status]), [['Room 3', 'active']]);
      assert.ok(exported.accessLog.some((e) => e.actorRole === 'teacher' && e.purpose === 'read child progress'));
      assert.equal(exported.signedInDevices, 1);
      assert.equal(exported.child.id, childId);
      assert.equal(exported.child.pinSet, true);
      assert.ok(!text.includes('sibling-1') && !text.includes(siblingId), 'nothing of the sibling');
      const pinHash = (await sql<{ pin_hash: string }>`select pin_hash from app_alpha.children where id = ${childId}`.execute(c.database.db)).rows[0]!.pin_hash;
      assert.ok(!text.includes(pinHash) && !/pinHash|pin_hash|tokenHash/.test(text), 'no PIN hash and no token digest');
      assert.ok(!text.includes(ann.id) && !text.includes(tess.id), 'no account ids of the guardian or the teacher');

      assert.equal((await t.request(`/api/children/${childId}`, { method: 'DELETE', token: guardianToken })).status, 204);
      for (const d of CHILD_DATA) {
        const left = await rowsOf(d.table, d.childColumn, childId);
        if (d.erase.action === 'delete') assert.equal(left, 0, `${d.table}: erased`);
        else assert.ok(left > 0, `${d.table} is kept (${d.erase.why})`);
      }
      const record = (await sql<{ tables_erased: Record<string, number>; rows_erased: number }>`select tables_erased, rows_erased from app_alpha.deletion_records order by id desc limit 1`.execute(c.database.db)).rows[0]!;
      assert.deepEqual(Object.keys(record.tables_erased).sort(), ERASED_CHILD_TABLES.map((d) => d.table).sort());
      assert.equal(record.tables_erased.answers, 3);
      assert.equal(record.tables_erased.children, 1);
      assert.equal(await rowsOf('answers', 'child_id', siblingId), 1, 'the sibling keeps its answers');
      const refresh = await t.request('/auth/refresh', { method: 'POST', headers: { 'x-app-id': 'alpha' }, body: JSON.stringify({ refreshToken: session.refreshToken }) });
      assert.equal(refresh.status, 401, 'the erased child’s device session cannot be renewed');
      assert.equal((await t.request(`/api/children/${childId}/export`, { token: guardianToken })).status, 404);
    });
  });
}
