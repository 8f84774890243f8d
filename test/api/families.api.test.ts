import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { CHILD_DATA } from '../../src/adapters/db/child-data.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { signUp as signUpByMail } from '../support/mail.ts';
import { stacks } from '../support/servers.ts';

type Pair = { accessToken: string; refreshToken: string };
type ErrorJson = { error: { code: string; message: string; requestId: string } };
type ChildJson = { id: string; nickname: string; grade: number; avatar: string; birthYear: number | null; settings: Record<string, boolean>; pinSet: boolean; pinLocked: boolean };

const PASSWORD = 'correct horse battery';

for (const stack of await stacks()) {
  describe(`families and classrooms on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    const tokens: Record<string, string> = {};
    const ids: Record<string, string> = {};

    const call = async (method: string, path: string, token: string | undefined, body?: unknown) => {
      const res = await t.request(path, { method, ...(token ? { token } : {}), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> & ErrorJson };
    };
    const signUp = async (name: string, role: 'guardian' | 'teacher', app = 'alpha') => {
      const headers = { 'x-app-id': app };
      // Register, then the code from the verification mail creates the account.
      ids[name] = (await signUpByMail(t, app, `${name}@example.com`, PASSWORD, role)).id;
      const login = await t.request('/auth/login', { method: 'POST', headers, body: JSON.stringify({ email: `${name}@example.com`, password: PASSWORD }) });
      tokens[name] = ((await login.json()) as Pair).accessToken;
    };

    /** A new child of `guardian` (a token name), through the API. */
    const newChild = async (guardian: string, nickname: string, extra: Record<string, unknown> = {}) => {
      const res = await call('POST', '/api/children', tokens[guardian], { nickname, grade: 2, ...extra });
      assert.equal(res.status, 201);
      return res.body as unknown as ChildJson;
    };
    /** A device session for the child, started by its guardian. */
    const deviceSession = async (guardian: string, childId: string) => {
      const res = await call('POST', `/api/children/${childId}/sessions`, tokens[guardian]);
      assert.equal(res.status, 201);
      return res.body as unknown as Pair;
    };
    /** A classroom of `teacher` and a live invite code for it. */
    const newClassroom = async (teacher: string, name: string) => {
      const created = await call('POST', '/api/classrooms', tokens[teacher], { name, grade: 2 });
      assert.equal(created.status, 201);
      const invite = await call('POST', `/api/classrooms/${created.body.id as string}/invites`, tokens[teacher], {});
      assert.equal(invite.status, 201);
      return { id: created.body.id as string, code: invite.body.code as string };
    };

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache });
      await createFixtureApp(t.container, 'alpha');
      await createFixtureApp(t.container, 'beta');
      await signUp('ann', 'guardian');
      await signUp('bob', 'guardian');
      await signUp('tess', 'teacher');
      await signUp('tom', 'teacher');
      await signUp('cara', 'guardian');
      await signUp('zed', 'guardian', 'beta');
      tokens.admin = await t.token('alpha', 'admin', { sub: 'admin-1' });
    });
    after(async () => dispose());

    it('a guardian adds a child: 201 with an id and the most private settings', async () => {
      const res = await call('POST', '/api/children', tokens.ann, { nickname: 'Mia', grade: 2, birthYear: new Date().getUTCFullYear() - 7 });
      assert.equal(res.status, 201);
      const child = res.body as unknown as ChildJson;
      assert.match(child.id, /^[\w-]+$/);
      assert.deepEqual(child.settings, { leaderboard: false, productAnalytics: false, visibleToClassmates: false });
      assert.equal(child.pinSet, false);
      assert.deepEqual({ nickname: child.nickname, grade: child.grade, avatar: child.avatar }, { nickname: 'Mia', grade: 2, avatar: 'star' });
      assert.deepEqual((await call('GET', `/api/children/${child.id}`, tokens.ann)).body, res.body, 'stored as answered');
    });

    it('refuses personal data the profile does not hold, and ids or owners in the body', async () => {
      for (const extra of [{ email: 'kid@example.com' }, { fullName: 'Mia Smith' }, { location: 'Leeds' }, { guardianId: ids.bob }, { id: 'chosen' }]) {
        const res = await call('POST', '/api/children', tokens.ann, { nickname: 'X', grade: 1, ...extra });
        assert.equal(res.status, 400, JSON.stringify(extra));
        assert.equal(res.body.error.code, 'validation_failed');
      }
      const badYear = await call('POST', '/api/children', tokens.ann, { nickname: 'X', grade: 1, birthYear: 1970 });
      assert.equal(badYear.status, 400);
      assert.match(badYear.body.error.message, /birthYear/);
    });

    it('each guardian sees only their own children; others get 404, not 403', async () => {
      const mia = await newChild('cara', 'Mia');
      const leo = await newChild('cara', 'Leo', { grade: 0 });
      const bobsKid = await newChild('bob', 'Kai', { grade: 3, avatar: 'robot-2' });
      const mine = await call('GET', '/api/children', tokens.cara);
      assert.deepEqual((mine.body.items as ChildJson[]).map((c) => c.id).sort(), [mia.id, leo.id].sort());
      const theirs = await call('GET', `/api/children/${bobsKid.id}`, tokens.cara);
      assert.equal(theirs.status, 404);
      assert.equal(theirs.body.error.code, 'child_not_found');
      const missing = await call('GET', '/api/children/does-not-exist', tokens.cara);
      assert.deepEqual({ ...missing.body.error, requestId: '' }, { ...theirs.body.error, requestId: '' }, 'missing and hidden look the same');
      for (const [method, path, body] of [
        ['PATCH', `/api/children/${bobsKid.id}`, { nickname: 'Hacked' }],
        ['DELETE', `/api/children/${bobsKid.id}`, undefined],
        ['GET', `/api/children/${bobsKid.id}/export`, undefined],
        ['POST', `/api/children/${bobsKid.id}/sessions`, undefined],
        ['PUT', `/api/children/${bobsKid.id}/pin`, { pin: '1234' }],
      ] as const) {
        assert.equal((await call(method, path, tokens.cara, body)).status, 404, `${method} ${path}`);
      }
      assert.deepEqual((await call('GET', `/api/children/${bobsKid.id}`, tokens.bob)).body, bobsKid as unknown, 'nothing changed');
      const other = await call('GET', `/api/children/${mia.id}`, tokens.zed);
      assert.equal(other.status, 404, 'a guardian of another app never reaches this app’s children');
    });

    it('a guardian changes a profile and its settings; a partial settings change keeps the rest', async () => {
      const mia = await newChild('ann', 'Mia');
      ids.mia = mia.id;
      const res = await call('PATCH', `/api/children/${ids.mia}`, tokens.ann, { nickname: 'Mimi', settings: { leaderboard: true } });
      assert.equal(res.status, 200);
      const child = res.body as unknown as ChildJson;
      assert.equal(child.nickname, 'Mimi');
      assert.deepEqual(child.settings, { leaderboard: true, productAnalytics: false, visibleToClassmates: false });
      assert.equal((await call('PATCH', `/api/children/${ids.mia}`, tokens.ann, {})).status, 400);
      assert.equal((await call('PATCH', `/api/children/${ids.mia}`, tokens.ann, { settings: { tracking: true } })).status, 400);
      assert.deepEqual((await call('GET', `/api/children/${ids.mia}`, tokens.ann)).body, res.body, 'the refused changes changed nothing');
    });

    it('a device session gives child tokens that reach only that child', async () => {
      ids.mia = (await newChild('ann', 'Mia')).id;
      ids.leo = (await newChild('ann', 'Leo')).id;
      const res = await call('POST', `/api/children/${ids.mia}/sessions`, tokens.ann);
      assert.equal(res.status, 201);
      const pair = res.body as unknown as Pair;
      const claims = decodeJwt(pair.accessToken);
      assert.deepEqual({ sub: claims.sub, role: claims.role, child: claims.child, app: claims.app }, { sub: ids.mia, role: 'child', child: ids.mia, app: 'alpha' });
      tokens.mia = pair.accessToken;
      assert.equal((await call('GET', `/api/children/${ids.mia}`, tokens.mia)).status, 200);
      assert.deepEqual(((await call('GET', '/api/children', tokens.mia)).body.items as ChildJson[]).map((c) => c.id), [ids.mia]);
      assert.equal((await call('GET', `/api/children/${ids.leo}`, tokens.mia)).status, 404, 'not even a sibling');
      assert.equal((await call('PATCH', `/api/children/${ids.mia}`, tokens.mia, { nickname: 'Boss' })).status, 403, 'a child cannot change its profile');
      assert.equal((await call('POST', '/api/children', tokens.mia, { nickname: 'New', grade: 1 })).status, 403);
      assert.equal((await call('GET', '/api/lessons', tokens.mia)).status, 200);
      // The child's refresh token rotates like any other.
      const refreshed = await t.request('/auth/refresh', { method: 'POST', headers: { 'x-app-id': 'alpha' }, body: JSON.stringify({ refreshToken: pair.refreshToken }) });
      assert.equal(refreshed.status, 200);
      assert.equal(decodeJwt(((await refreshed.json()) as Pair).accessToken).role, 'child');
    });

    it('PIN sign-in works on the family device; wrong PINs earn a wait (not a lock) that the guardian can clear', async () => {
      ids.leo = (await newChild('ann', 'Leo')).id;
      assert.equal((await call('PUT', `/api/children/${ids.leo}/pin`, tokens.ann, { pin: '12a4' })).status, 400);
      assert.equal((await call('PUT', `/api/children/${ids.leo}/pin`, tokens.ann, { pin: '4821' })).status, 204);
      const created = await call('POST', '/api/family/device-key', tokens.ann);
      assert.equal(created.status, 201);
      const deviceKey = created.body.deviceKey as string;
      assert.match(deviceKey, /^dk_[\w-]{43}$/);
      const pin = (p: string, childId = ids.leo) =>
        t.request('/auth/pin', { method: 'POST', headers: { 'x-app-id': 'alpha' }, body: JSON.stringify({ childId, pin: p, deviceKey }) });
      const ok = await pin('4821');
      assert.equal(ok.status, 200);
      assert.equal(decodeJwt(((await ok.json()) as Pair).accessToken).sub, ids.leo);
      const unknownChild = await pin('4821', 'no-such-child');
      assert.equal(unknownChild.status, 401);
      assert.equal(((await unknownChild.json()) as ErrorJson).error.code, 'invalid_pin');
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await pin('0000')).status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429], 'four wrong PINs are free; the fifth earns a wait');
      const waiting = await pin('4821');
      assert.equal(waiting.status, 429, 'the right PIN waits too');
      assert.equal(((await waiting.json()) as ErrorJson).error.code, 'pin_retry_later');
      assert.equal(waiting.headers.get('retry-after'), '30');
      assert.equal(((await call('GET', `/api/children/${ids.leo}`, tokens.ann)).body as unknown as ChildJson).pinLocked, true);
      assert.equal((await call('POST', `/api/children/${ids.leo}/pin/unlock`, tokens.bob)).status, 404, 'only the child’s guardian unlocks');
      assert.equal((await call('POST', `/api/children/${ids.leo}/pin/unlock`, tokens.ann)).status, 204);
      assert.equal((await pin('4821')).status, 200, 'after the unlock the right PIN works at once (no counter left over)');
      // Guesses sent in parallel are counted before any is checked: the wait still holds.
      const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => pin(String(1000 + i))));
      assert.ok(burst.filter((r) => r.status === 401).length <= 5, 'at most five wrong PINs answer 401; the rest wait');
      assert.ok(burst.every((r) => r.status === 401 || r.status === 429));
      assert.equal((await pin('4821')).status, 429, 'waiting, even for the right PIN');
      assert.equal((await call('POST', `/api/children/${ids.leo}/pin/unlock`, tokens.ann)).status, 204);
    });

    it('classrooms: a teacher invites, a guardian accepts for a child, the teacher sees the roster', async () => {
      ids.mia = (await newChild('ann', 'Mimi')).id;
      ids.bobsKid = (await newChild('bob', 'Kai')).id;
      const created = await call('POST', '/api/classrooms', tokens.tess, { name: 'Room 3', grade: 2 });
      assert.equal(created.status, 201);
      ids.room = created.body.id as string;
      assert.equal((await call('POST', '/api/classrooms', tokens.ann, { name: 'Mine' })).status, 403, 'guardians do not create classrooms');
      const invite = await call('POST', `/api/classrooms/${ids.room}/invites`, tokens.tess, {});
      assert.equal(invite.status, 201);
      const code = invite.body.code as string;
      assert.match(code, /^[A-HJ-KM-NP-Z2-9]{8}$/);
      assert.equal((await call('POST', `/api/classrooms/${ids.room}/invites`, tokens.tom, {})).status, 404, 'another teacher’s classroom');
      // Before any guardian accepts, the teacher sees nobody and cannot read any child's progress.
      assert.deepEqual((await call('GET', `/api/classrooms/${ids.room}/children`, tokens.tess)).body.items, []);
      const preview = await call('GET', `/api/invites/${code.slice(0, 4)}-${code.slice(4).toLowerCase()}`, tokens.ann);
      assert.equal(preview.status, 200, 'codes are read leniently (case, dash)');
      assert.equal(preview.body.classroomName, 'Room 3');
      assert.equal((await call('POST', `/api/invites/${code}/accept`, tokens.ann, { childId: ids.bobsKid })).status, 404, 'not your child');
      assert.equal((await call('POST', `/api/invites/${code}/accept`, tokens.tess, { childId: ids.mia })).status, 403, 'teachers cannot accept for a child');
      const accepted = await call('POST', `/api/invites/${code}/accept`, tokens.ann, { childId: ids.mia });
      assert.equal(accepted.status, 200);
      assert.equal(accepted.body.status, 'active');
      assert.equal((await call('POST', `/api/invites/${code}/decline`, tokens.bob, { childId: ids.bobsKid })).body.status, 'declined');
      const roster = await call('GET', `/api/classrooms/${ids.room}/children`, tokens.tess);
      assert.deepEqual(roster.body.items, [{ id: ids.mia, nickname: 'Mimi', grade: 2, avatar: 'star' }], 'only accepted children, and only nickname, grade and avatar');
      assert.equal((await call('GET', `/api/classrooms/${ids.room}/children`, tokens.tom)).status, 404);
      assert.equal((await call('GET', `/api/classrooms/${ids.room}/children`, tokens.ann)).status, 403, 'guardians do not read rosters');
      assert.equal((await call('GET', `/api/children/${ids.mia}`, tokens.tess)).status, 403, 'teachers read progress, not profiles');
      assert.ok(((await call('GET', '/api/classrooms', tokens.ann)).body.items as { id: string }[]).some((c) => c.id === ids.room));
      assert.ok(!((await call('GET', '/api/classrooms', tokens.bob)).body.items as { id: string }[]).some((c) => c.id === ids.room), 'declined: not in the classroom');
      assert.equal((await call('GET', `/api/classrooms/${ids.room}`, tokens.bob)).status, 404);
      assert.equal((await call('GET', '/api/invites/ZZZZZZZZ', tokens.ann)).status, 404);
    });

    it('audits every read of child data by a teacher or an admin', async () => {
      ids.mia = (await newChild('ann', 'Mia')).id;
      const room = await newClassroom('tess', 'Audited room');
      assert.equal((await call('POST', `/api/invites/${room.code}/accept`, tokens.ann, { childId: ids.mia })).status, 200);
      assert.equal((await call('GET', `/api/classrooms/${room.id}/children`, tokens.tess)).status, 200);
      assert.equal((await call('GET', `/api/children/${ids.mia}`, tokens.ann)).status, 200);
      assert.equal((await call('GET', `/api/children/${ids.mia}`, tokens.admin)).status, 200);
      const rows = await sql<{ actor_role: string; purpose: string }>`select actor_role, purpose from app_alpha.audit_log where child_id = ${ids.mia} order by id`.execute(t.container.database.db);
      const entries = rows.rows.map((r) => `${r.actor_role}: ${r.purpose}`);
      assert.ok(entries.includes('teacher: read classroom roster'), entries.join('; '));
      assert.ok(entries.includes('admin: read child profile'), entries.join('; '));
      assert.ok(!entries.some((e) => e.startsWith('guardian')), 'a guardian reading their own child is not an audit event');
    });

    it('the guardian can take the child out of the classroom at any time', async () => {
      ids.mia = (await newChild('ann', 'Mia')).id;
      const room = await newClassroom('tess', 'Room 4');
      ids.room = room.id;
      assert.equal((await call('POST', `/api/invites/${room.code}/accept`, tokens.ann, { childId: ids.mia })).status, 200);
      assert.deepEqual(((await call('GET', `/api/classrooms/${ids.room}/children`, tokens.tess)).body.items as { id: string }[]).map((c) => c.id), [ids.mia]);
      assert.equal((await call('DELETE', `/api/classrooms/${ids.room}/children/${ids.mia}`, tokens.bob)).status, 404);
      assert.equal((await call('DELETE', `/api/classrooms/${ids.room}/children/${ids.mia}`, tokens.ann)).status, 204);
      assert.deepEqual((await call('GET', `/api/classrooms/${ids.room}/children`, tokens.tess)).body.items, []);
      assert.equal((await call('GET', `/api/progress/${ids.mia}`, tokens.tess)).status, 404, 'the teacher no longer reaches the child');
      // A fresh code lets the child back in.
      const code = (await call('POST', `/api/classrooms/${ids.room}/invites`, tokens.tess, { expiresInDays: 1 })).body.code as string;
      assert.equal((await call('POST', `/api/invites/${code}/accept`, tokens.ann, { childId: ids.mia })).status, 200);
      assert.deepEqual(((await call('GET', `/api/classrooms/${ids.room}/children`, tokens.tess)).body.items as { id: string }[]).map((c) => c.id), [ids.mia]);
    });

    /** A child in a classroom whose teacher read its roster, with a device session: rows in several tables. */
    const childWithHistory = async () => {
      const child = await newChild('ann', 'Mimi');
      const room = await newClassroom('tess', 'Room 3');
      assert.equal((await call('POST', `/api/invites/${room.code}/accept`, tokens.ann, { childId: child.id })).status, 200);
      assert.equal((await call('GET', `/api/classrooms/${room.id}/children`, tokens.tess)).status, 200);
      return { child, session: await deviceSession('ann', child.id) };
    };

    it('exports everything held about the child', async () => {
      const { child, session } = await childWithHistory();
      ids.mia = child.id;
      tokens.mia = session.accessToken;
      const res = await call('GET', `/api/children/${ids.mia}/export`, tokens.ann);
      assert.equal(res.status, 200);
      const body = res.body as unknown as { child: ChildJson; classrooms: { classroomName: string; status: string }[]; accessLog: { actorRole: string }[]; signedInDevices: number };
      assert.equal(body.child.id, ids.mia);
      assert.deepEqual(body.classrooms.map((c) => [c.classroomName, c.status]), [['Room 3', 'active']]);
      assert.ok(body.accessLog.some((e) => e.actorRole === 'teacher'));
      assert.ok(body.signedInDevices >= 1);
      assert.equal((await call('GET', `/api/children/${ids.mia}/export`, tokens.mia)).status, 403, 'a child cannot export');
    });

    it('erases the child from every table and cache, leaving a deletion record without personal data', async () => {
      const { child, session } = await childWithHistory();
      ids.mia = child.id;
      tokens.mia = session.accessToken;
      const db = t.container.database.db;
      // Every table with a child id except those the declaration keeps on purpose (the access log).
      const kept = CHILD_DATA.filter((d) => d.erase.action === 'keep').map((d) => d.table);
      const tables = await sql<{ table_name: string }>`
        select table_name from information_schema.columns
        where table_schema = 'app_alpha' and column_name = 'child_id' and not (table_name = any(${kept}::text[]))`.execute(db);
      assert.ok(tables.rows.length >= 2);
      const count = async () => {
        let n = (await sql<{ n: number }>`select count(*)::int as n from app_alpha.children where id = ${ids.mia}`.execute(db)).rows[0]!.n;
        for (const { table_name } of tables.rows) {
          n += (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(`app_alpha.${table_name}`)} where child_id = ${ids.mia}`.execute(db)).rows[0]!.n;
        }
        return n;
      };
      assert.ok((await count()) > 0);
      assert.equal((await call('DELETE', `/api/children/${ids.mia}`, tokens.ann)).status, 204);
      assert.equal(await count(), 0, `rows left in ${tables.rows.map((r) => r.table_name).join(', ')}`);
      assert.equal((await call('GET', `/api/children/${ids.mia}`, tokens.ann)).status, 404);
      const stillSignedIn = await call('GET', '/api/children', tokens.mia);
      assert.deepEqual([stillSignedIn.status, stillSignedIn.body.items], [200, []], 'the child token itself expires on its own, and reaches nothing…');
      const refresh = await t.request('/auth/refresh', { method: 'POST', headers: { 'x-app-id': 'alpha' }, body: JSON.stringify({ refreshToken: session.refreshToken }) });
      assert.equal(refresh.status, 401, '…but the device session cannot be renewed');
      assert.equal(((await refresh.json()) as ErrorJson).error.code, 'invalid_refresh_token');
      const record = (await sql<Record<string, unknown>>`select * from app_alpha.deletion_records order by id desc limit 1`.execute(db)).rows[0]!;
      const text = JSON.stringify(record);
      assert.equal(record.subject_kind, 'child');
      assert.ok(Number(record.rows_erased) >= 2);
      for (const personal of [ids.mia!, 'Mimi', ids.ann!]) assert.ok(!text.includes(personal), `deletion record holds "${personal}"`);
      assert.equal((await call('DELETE', `/api/children/${ids.mia}`, tokens.ann)).status, 404);
    });
  });
}
