import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Principal } from '../../src/domain/principal.ts';
import { servedRoutes } from '../../src/http/app.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';
import { DOCUMENTS, hash, LEAKS, operationsOf, requestFor, type Known, type Schema } from './openapi-requests.ts';

/**
 * Issue 9, point 12: every operation the app documents in `/openapi.json`,
 * called with generated valid and hostile parameters and bodies (NUL, lone
 * surrogates, huge and negative numbers, extreme dates, extra fields, deep
 * nesting, broken JSON) as each role and with no token, on both stacks. No
 * answer may be a 5xx, and no body may carry a stack trace or SQL.
 *
 * Operations are read from the document, so a route added later is fuzzed
 * without touching this file; a served route missing from the document fails
 * the first test. Path ids are drawn partly from seeded data (a real lesson,
 * the guardian's child, the teacher's classroom, a live join code), so
 * requests reach the handlers' database work, not only their 404s.
 *
 * Fixed seed; `FUZZ_RUNS` (per operation and role, default 20; a fifth of that for operations without parameters or body) and
 * `FUZZ_SEED` change the budget and the sequence.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 20);
const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
/** `FUZZ_ONLY="POST /api/progress"` narrows the run to operations whose "METHOD path" contains it (while investigating). */
const ONLY = process.env.FUZZ_ONLY;

for (const stack of await stacks()) {
  describe(`OpenAPI fuzz on ${stack.name}`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let doc: Schema;
    let tokens: Record<string, string | undefined>;
    let known: Known;

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      t = await createTestApp({ database: opened.database, cache: opened.cache, env: opened.databaseUrl ? { DATABASE_URL: opened.databaseUrl } : {} });
      await createFixtureApp(t.container, 'alpha');
      const c = t.container;
      const password = 'correct horse battery';
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password, role: 'guardian' });
      const tess = await c.accounts.register('alpha', { email: 'tess@example.com', password, role: 'teacher' });
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const guardian: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp };
      const teacher: Principal = { sub: tess.id, app: 'alpha', role: 'teacher', exp };
      const child = await c.children.create(guardian, { nickname: 'Mia', grade: 1 });
      await c.children.setPin(guardian, child.id, '4821');
      const classroom = await c.classrooms.create(teacher, { name: 'Room 3' });
      const invite = await c.classrooms.createInvite(teacher, classroom.id, 14);
      const session = await c.children.startDeviceSession(guardian, child.id);
      const login = await c.accounts.login('alpha', { email: 'ann@example.com', password });
      // Some history, so progress reads run their SQL over rows (a time zone PostgreSQL refuses only fails there).
      const history = await t.request('/api/progress', {
        method: 'POST',
        token: session.accessToken,
        body: JSON.stringify({ childId: child.id, itemId: 'alpha-only-q1', response: 5, durationMs: 3000, answeredAt: new Date(Date.now() - 3600_000).toISOString(), clientEventId: 'seed-1' }),
      });
      assert.equal(history.status, 200);
      tokens = {
        none: undefined,
        guardian: login.accessToken,
        child: session.accessToken,
        teacher: await t.token('alpha', 'teacher', { sub: tess.id }),
        admin: await t.token('alpha', 'admin'),
        // What `kidslearn token --role guardian` mints: no account behind the subject.
        'guardian without account': await t.token('alpha', 'guardian', { sub: 'guardian-cli' }),
      };
      known = {
        lessonId: ['alpha-only', 'shared-lesson', 'draft', 'count-k'],
        id: ['alpha-only', 'fresh-lesson', 'q1'],
        childId: [child.id],
        classroomId: [classroom.id],
        code: [invite.code],
        // Published items three times as often as the draft's: one draft item makes a whole batch 404.
        itemId: ['alpha-only-q1', 'alpha-only-q2', 'alpha-only-q3', 'draft-q1'].flatMap((id) => (id.startsWith('draft') ? [id] : [id, id, id])),
        conceptId: ['adding', 'counting'],
        conceptIds: [['adding'], ['counting']],
        response: [5, '5', 'a', 'two'],
        subject: ['math', 'reading'],
        'x-app-id': ['alpha'],
        email: ['ann@example.com', 'new@example.com'],
        password: [password],
        pin: ['4821', '1234'],
        refreshToken: [login.refreshToken],
        // Zones JavaScript and PostgreSQL may read differently (or not at all), next to plain ones.
        tz: ['Europe/Berlin', 'America/Los_Angeles', 'US/Pacific-New', 'Etc/GMT+5', 'EST5EDT', 'Europe/Kyiv', 'posix/Europe/Berlin'],
      };
      const res = await t.request('/openapi.json');
      assert.equal(res.status, 200);
      doc = (await res.json()) as Schema;
    });
    // The container first: a plan request opened its job queue, whose timers keep the process alive.
    after(async () => {
      await t?.container.close();
      await dispose();
    });

    it('the document lists operations, and every served route among them', async () => {
      const ops = operationsOf(doc);
      assert.ok(ops.length > 0, 'the OpenAPI document lists no operations: nothing would be fuzzed');
      const documented = new Set(ops.map((o) => `${o.method} ${o.path.replace(/\{([^}]+)\}/g, ':$1')}`));
      const undocumented = (await servedRoutes(t.app))
        // The docs page's own assets are not API operations.
        .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS' && !r.path.startsWith('/docs/'))
        .map((r) => `${r.method} ${r.path}`)
        .filter((r) => !documented.has(r));
      assert.deepEqual(undocumented, [], 'served but not in /openapi.json (so not fuzzed)');
    });

    it(`no operation answers 5xx or leaks a stack or SQL (${RUNS} runs per operation and role)`, async (ctx) => {
      const ops = operationsOf(doc);
      assert.ok(ops.length > 0, 'the OpenAPI document lists no operations');
      const started = performance.now();
      let requests = 0;
      const statuses = new Map<number, number>();
      for (const op of ops) {
        if (ONLY && !`${op.method} ${op.path}`.includes(ONLY)) continue;
        await ctx.test(`${op.method} ${op.path}`, async () => {
          for (const [role, token] of Object.entries(tokens)) {
            await fc.assert(
              fc.asyncProperty(requestFor(doc, op, known), async (req) => {
                requests++;
                const headers = new Headers(req.headers);
                if (token) headers.set('authorization', `Bearer ${token}`);
                if (req.body) headers.set('content-type', req.body.type);
                const res = await t.app.request(req.url, { method: op.method, headers, ...(req.body ? { body: req.body.text } : {}) });
                const text = await res.text();
                statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
                if (process.env.FUZZ_DEBUG) console.log(role, res.status, req.url.slice(0, 80), req.body?.text.slice(0, 200), text.slice(0, 160));
                const where = `${op.method} ${req.url.slice(0, 300)} as ${role} → ${res.status} ${text.slice(0, 300)}`;
                assert.ok(res.status < 500, `5xx: ${where}`);
                if (!(DOCUMENTS.has(op.path) && res.status < 300)) {
                  for (const [what, pattern] of LEAKS) assert.ok(!pattern.test(text), `${what} in the body: ${where}`);
                }
              }),
              // An operation without parameters or body only varies by an unknown query parameter: a few runs cover it.
              { seed: (SEED ^ hash(`${op.method} ${op.path} ${role}`)) | 0, numRuns: op.parameters.length || op.body ? RUNS : Math.ceil(RUNS / 5) },
            );
          }
        });
      }
      ctx.diagnostic(`${requests} requests over ${ops.length} operations × ${Object.keys(tokens).length} roles in ${Math.round(performance.now() - started)} ms`);
      // How many reached a handler's happy path (2xx) versus each refusal: a fuzz that only ever gets 400s tests little.
      ctx.diagnostic(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    });
  });
}
