import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { answerMaker } from '../support/answers.ts';
import { stacks } from '../support/servers.ts';

type ErrorJson = { error: { code: string; message: string; details?: Record<string, unknown> } };
type Operation = { responses: Record<string, { description: string }>; 'x-error-codes'?: Record<string, string> };
type Doc = { paths: Record<string, Record<string, Operation>> };

const [embedded] = await stacks();

/** The headers every response must carry, whatever route, status or handler made it. */
function assertStandardHeaders(res: Response, what: string): void {
  const h = res.headers;
  assert.equal(h.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  assert.equal(h.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`);
  assert.equal(h.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
  assert.equal(h.get('strict-transport-security'), 'max-age=31536000', `${what}: HSTS`);
  assert.ok(h.get('content-security-policy')?.includes("frame-ancestors 'none'"), `${what}: CSP forbids framing`);
  assert.equal(h.get('x-powered-by'), null, `${what}: no X-Powered-By`);
}

describe('response headers, the docs page and the OpenAPI statuses (embedded)', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let admin: string;
  let guardian: string;
  let childToken: string;
  let childId: string;
  let doc: Doc;
  const answer = answerMaker('h', () => childId);
  /** Fails unless the document lists `status` for the operation. */
  const assertDocumented = (method: string, template: string, status: number) => {
    const op = doc.paths[template]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${template} is in the document`);
    assert.ok(op.responses[String(status)], `${method.toUpperCase()} ${template} documents ${status}; it lists ${Object.keys(op.responses).join(', ')}`);
  };

  before(async () => {
    const opened = await embedded!.open();
    dispose = opened.dispose;
    // Limits low enough to reach within a test; each caller has its own budget.
    t = await createTestApp({ database: opened.database, cache: opened.cache, env: { CORS_ORIGINS: 'https://app.example.org', RATE_LIMIT_API_PER_MINUTE: '40', RATE_LIMIT_AUTH_PER_MINUTE: '3', RATE_LIMIT_AUTH_IP_PER_MINUTE: '5' } });
    await createFixtureApp(t.container, 'alpha');
    admin = await t.token('alpha', 'admin');
    const c = t.container;
    const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
    const principal: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
    childId = (await c.children.create(principal, { nickname: 'Mia', grade: 1 })).id;
    childToken = (await c.children.startDeviceSession(principal, childId)).accessToken;
    guardian = (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accessToken;
    doc = (await (await t.request('/openapi.json')).json()) as Doc;
  });
  after(async () => dispose());

  describe('headers', () => {
    it("children's data is no-store, with nosniff and the JSON CSP, on the hot cached path and on errors", async () => {
      for (const [pathname, token] of [
        ['/api/lessons/alpha-only', guardian],
        ['/api/lessons/alpha-only', guardian], // second read: served from the cache through sendJson
        [`/api/children/${childId}`, guardian],
        [`/api/progress/${childId}`, guardian],
        [`/api/children/${childId}/export`, guardian],
        ['/api/lessons/nope', guardian],
        ['/api/children', undefined],
        ['/admin/lessons/draft', admin],
      ] as const) {
        const res = await t.request(pathname, token ? { token } : {});
        await res.arrayBuffer();
        assert.equal(res.headers.get('cache-control'), 'no-store', `${pathname} → ${res.status}: no-store`);
        assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", pathname);
        assertStandardHeaders(res, `${pathname} → ${res.status}`);
      }
      const cached = await t.request('/api/lessons/alpha-only', { token: guardian });
      assert.equal(cached.headers.get('x-cache'), 'HIT', 'the sendJson path was exercised');
    });

    it('/auth answers (tokens) are no-store too; public documents may be kept', async () => {
      const login = await t.request('/auth/login', { method: 'POST', headers: { 'x-app-id': 'alpha' }, body: JSON.stringify({ email: 'ann@example.com', password: 'correct horse battery' }) });
      assert.equal(login.status, 200);
      assert.ok(((await login.json()) as { accessToken: string }).accessToken);
      assert.equal(login.headers.get('cache-control'), 'no-store');
      assertStandardHeaders(login, 'POST /auth/login');
      const jwks = await t.request('/.well-known/jwks.json');
      assert.equal(jwks.headers.get('cache-control'), 'public, max-age=300', 'the JWKS keeps its own short public max-age');
      assertStandardHeaders(jwks, 'jwks');
      const health = await t.request('/health');
      assert.equal(health.headers.get('cache-control'), 'no-store');
      const openapi = await t.request('/openapi.json');
      assert.equal(openapi.headers.get('cache-control'), 'no-cache');
      assertStandardHeaders(openapi, '/openapi.json');
      const missing = await t.request('/nowhere');
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('cache-control'), 'no-store');
      assertStandardHeaders(missing, '404');
    });

    it('CORS lets the apps use PATCH (PATCH /api/children/{id} exists)', async () => {
      const res = await t.request(`/api/children/${childId}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.org', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.org');
      assert.ok(res.headers.get('access-control-allow-methods')?.split(',').map((m) => m.trim()).includes('PATCH'), `allowed: ${res.headers.get('access-control-allow-methods')}`);
      const patched = await t.request(`/api/children/${childId}`, { method: 'PATCH', token: guardian, headers: { origin: 'https://app.example.org' }, body: JSON.stringify({ nickname: 'Mia B' }) });
      assert.equal(patched.status, 200);
      assert.equal(((await patched.json()) as { nickname: string }).nickname, 'Mia B');
      assert.equal(patched.headers.get('access-control-allow-origin'), 'https://app.example.org');
      assert.equal(patched.headers.get('cache-control'), 'no-store');
    });
  });

  describe('the docs page', () => {
    it('loads Swagger UI from this server only, under a CSP that allows this origin only', async () => {
      const page = await t.request('/docs');
      assert.equal(page.status, 200);
      const html = await page.text();
      const csp = page.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'(;|$)/, 'scripts from this origin only (no inline, no CDN)');
      assert.match(csp, /connect-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assertStandardHeaders(page, '/docs');
      assert.doesNotMatch(html, /https?:\/\//, 'no absolute URL: nothing is loaded from elsewhere');
      assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'no inline script (the CSP would block it)');
      const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      assert.ok(refs.some((r) => r.includes('swagger-ui-bundle.js')) && refs.some((r) => r.includes('swagger-ui.css')) && refs.some((r) => r.includes('init.js')), refs.join(' '));
      for (const ref of refs) {
        // Relative to /docs, as a browser resolves them.
        const url = new URL(ref, 'http://localhost/docs');
        const res = await t.request(url.pathname + url.search);
        assert.equal(res.status, 200, ref);
        const body = await res.text();
        assert.ok(body.length > 0, ref);
        assert.equal(res.headers.get('cache-control'), 'public, max-age=604800, immutable', ref);
        assertStandardHeaders(res, ref);
        if (ref.includes('swagger-ui-bundle.js')) {
          assert.match(res.headers.get('content-type') ?? '', /javascript/);
          assert.match(body, /SwaggerUIBundle/);
        }
        if (ref.includes('init.js')) assert.match(body, /url: 'openapi\.json'/, 'the page reads this server’s document');
        if (ref.includes('.css')) assert.match(res.headers.get('content-type') ?? '', /text\/css/);
      }
      const outside = await t.request('/docs/assets/package.json');
      assert.equal(outside.status, 404, 'only the listed files are served');
      const traversal = await t.request('/docs/assets/..%2F..%2Fpackage.json');
      assert.equal(traversal.status, 404);
    });
  });

  describe('the document lists every status an operation can answer', () => {
    it('429 from the per-caller limit on /api and /admin, and from the per-IP limit on /auth', async () => {
      const teacher = await t.token('alpha', 'teacher');
      let res: Response | undefined;
      for (let i = 0; i < 60 && res?.status !== 429; i++) res = await t.request('/api/lessons?grade=1', { token: teacher });
      assert.equal(res!.status, 429);
      assert.equal(((await res!.json()) as ErrorJson).error.code, 'rate_limited');
      assert.ok(Number(res!.headers.get('retry-after')) > 0);
      assertDocumented('get', '/api/lessons', 429);

      let adminRes: Response | undefined;
      for (let i = 0; i < 60 && adminRes?.status !== 429; i++) adminRes = await t.request('/admin/lessons/draft', { token: admin });
      assert.equal(adminRes!.status, 429, '/admin is held to the per-caller limit');
      assertDocumented('get', '/admin/lessons/{lessonId}', 429);

      let authRes: Response | undefined;
      for (let i = 0; i < 10 && authRes?.status !== 429; i++) authRes = await t.request('/auth/logout', { method: 'POST', headers: { 'x-app-id': 'alpha' }, body: JSON.stringify({ refreshToken: 'x'.repeat(40) }) });
      assert.equal(authRes!.status, 429);
      assertDocumented('post', '/auth/logout', 429);
    });

    it('503 write_contention from POST /api/progress when another writer wins every round', async () => {
      // The child's first answer creates its learner clock; then a trigger
      // makes every clock update a no-op, as if another process always got
      // there first: the write never lands and gives up after its retries.
      const first = await t.request('/api/progress', { method: 'POST', token: childToken, body: JSON.stringify(answer()) });
      assert.equal(first.status, 200);
      const db = t.container.database.db;
      await sql`create function app_alpha.lose_race() returns trigger language plpgsql as $$ begin return null; end $$`.execute(db);
      await sql`create trigger lose_race before update on app_alpha.learner_clock for each row execute function app_alpha.lose_race()`.execute(db);
      try {
        const res = await t.request('/api/progress', { method: 'POST', token: childToken, body: JSON.stringify(answer()) });
        assert.equal(res.status, 503);
        assert.equal(((await res.json()) as ErrorJson).error.code, 'write_contention');
        assert.equal(res.headers.get('retry-after'), '1');
      } finally {
        await sql`drop trigger lose_race on app_alpha.learner_clock`.execute(db);
        await sql`drop function app_alpha.lose_race()`.execute(db);
      }
      assertDocumented('post', '/api/progress', 503);
      assert.match(doc.paths['/api/progress']!.post!.responses['503']!.description, /write_contention/, 'the description names the code');
    });

    it('409 event_conflict and the middleware statuses (401, 413, 415) are documented where they occur', async () => {
      const a = answer();
      assert.equal((await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify(a) })).status, 200);
      const conflict = await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify({ ...a, answeredAt: new Date(Date.parse(a.answeredAt) + 1000).toISOString() }) });
      assert.equal(conflict.status, 409);
      assertDocumented('post', '/api/progress', 409);
      const noToken = await t.request(`/api/children/${childId}`, { method: 'DELETE' });
      assert.equal(noToken.status, 401);
      assertDocumented('delete', '/api/children/{childId}', 401);
      const notJson = await t.request(`/api/children/${childId}`, { method: 'PATCH', token: guardian, body: 'nickname=x', headers: { 'content-type': 'text/plain' } });
      assert.equal(notJson.status, 415);
      assertDocumented('patch', '/api/children/{childId}', 415);
      const tooBig = await t.request('/admin/lessons', { method: 'POST', token: await t.token('alpha', 'admin', { sub: 'admin-2' }), body: JSON.stringify({ id: 'big', summary: 'x'.repeat(1024 * 1024 + 10) }) });
      assert.equal(tooBig.status, 413);
      assertDocumented('post', '/admin/lessons', 413);
    });

    it('every operation documents the statuses of the middleware on its group', () => {
      const expected: [RegExp, number[]][] = [
        [/^\/api\//, [401, 429, 500, 503]],
        // The dashboard's page and files are public (mounted before the /admin sign-in check).
        [/^\/admin\/(?!dashboard(\/|$))/, [401, 403, 429, 500, 503]],
        [/^\/auth\//, [400, 404, 429, 500]],
        [/./, [500]],
      ];
      let checked = 0;
      for (const [template, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          for (const [pattern, statuses] of expected) if (pattern.test(template)) for (const s of statuses) assertDocumented(method, template, s);
          if (['post', 'put', 'patch'].includes(method)) for (const s of [413, 415]) assertDocumented(method, template, s);
          checked++;
          void op;
        }
      }
      assert.ok(checked > 40, `${checked} operations checked`);
    });

    it('every error code a route declares is raised with that kind somewhere in src/', () => {
      const sources: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const file = path.join(dir, name);
          if (statSync(file).isDirectory()) walk(file);
          else if (file.endsWith('.ts')) sources.push(readFileSync(file, 'utf8'));
        }
      };
      walk(path.resolve('src'));
      const all = sources.join('\n');
      let declared = 0;
      for (const ops of Object.values(doc.paths)) {
        for (const op of Object.values(ops)) {
          for (const [code, kind] of Object.entries(op['x-error-codes'] ?? {})) {
            declared++;
            const literal = new RegExp(`new AppError\\(\\s*'${kind}',\\s*'${code}'`).test(all);
            const viaNotFoundFor = kind === 'not_found' && code.endsWith('_not_found') && all.includes(`notFoundFor('${code.slice(0, -'_not_found'.length)}')`);
            assert.ok(literal || viaNotFoundFor, `code ${code} (${kind}) is raised in src/`);
          }
        }
      }
      assert.ok(declared >= 6, `${declared} declared codes checked`);
    });
  });

  describe('409 event_conflict names what differs', () => {
    it('a regenerated answeredAt: the message and details name answeredAt with both values, and nothing else', async () => {
      const a = answer();
      assert.equal((await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify(a) })).status, 200);
      const sentAt = new Date(Date.parse(a.answeredAt) + 5000).toISOString();
      const res = await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify({ ...a, answeredAt: sentAt }) });
      assert.equal(res.status, 409);
      const body = (await res.json()) as ErrorJson;
      assert.equal(body.error.code, 'event_conflict');
      assert.match(body.error.message, /different answeredAt/);
      assert.ok(body.error.message.includes(a.answeredAt) && body.error.message.includes(sentAt), body.error.message);
      assert.deepEqual(body.error.details, { clientEventId: a.clientEventId, fields: ['answeredAt'], stored: { answeredAt: a.answeredAt }, sent: { answeredAt: sentAt } });
      const same = await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify(a) });
      assert.equal(same.status, 200, 'the exact retry is still a duplicate, not a conflict');
      assert.equal(((await same.json()) as { results: { duplicate: boolean }[] }).results[0]!.duplicate, true);
    });

    it('a different response and duration: both named; a lesson completion conflict names its fields too', async () => {
      const a = answer();
      await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify(a) });
      const res = await t.request('/api/progress', { method: 'POST', token: guardian, body: JSON.stringify({ ...a, response: 4, durationMs: 7000 }) });
      const body = (await res.json()) as ErrorJson;
      assert.equal(res.status, 409);
      assert.deepEqual(body.error.details?.fields, ['response', 'durationMs']);
      assert.deepEqual(body.error.details?.stored, { response: 5, durationMs: 6000 });

      const completion = { childId, clientEventId: 'done-1', secondsSpent: 300, score: 0.8, completedAt: new Date(Date.now() - 1000).toISOString() };
      assert.equal((await t.request('/api/progress/lessons/alpha-only/complete', { method: 'POST', token: guardian, body: JSON.stringify(completion) })).status, 200);
      const again = await t.request('/api/progress/lessons/alpha-only/complete', { method: 'POST', token: guardian, body: JSON.stringify({ ...completion, score: 0.9 }) });
      assert.equal(again.status, 409);
      const err = (await again.json()) as ErrorJson;
      assert.match(err.error.message, /different score/);
      assert.deepEqual(err.error.details, { clientEventId: 'done-1', fields: ['score'], stored: { score: 0.8 }, sent: { score: 0.9 } });
    });
  });
});
