import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, base64url } from 'jose';
import { sql } from 'kysely';
import { generatePrivateJwk, importSigningKey } from '../../src/features/auth/signing-keys.ts';
import { servedRoutes } from '../../src/http/app.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

type ErrorJson = { error: { code: string; message: string; requestId: string; details?: unknown } };

const [embedded] = await stacks();

describe('HTTP behaviour (embedded)', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let admin: string;
  let guardian: string;

  before(async () => {
    const opened = await embedded!.open();
    dispose = opened.dispose;
    t = await createTestApp({ database: opened.database, cache: opened.cache, env: { CORS_ORIGINS: 'https://app.example.org' } });
    await createFixtureApp(t.container, 'alpha');
    admin = await t.token('alpha', 'admin');
    guardian = await t.token('alpha', 'guardian');
  });
  after(async () => dispose());

  describe('errors share one JSON shape', () => {
    it('malformed JSON → 400 malformed_json', async () => {
      const res = await t.request('/admin/lessons', { method: 'POST', token: admin, body: '{"id": "x",' });
      assert.equal(res.status, 400);
      const body = (await res.json()) as ErrorJson;
      assert.equal(body.error.code, 'malformed_json');
      assert.equal(body.error.requestId, res.headers.get('x-request-id'));
    });

    it('body over 1 MiB → 413', async () => {
      const big = JSON.stringify({ id: 'big', summary: 'x'.repeat(1024 * 1024 + 10) });
      const res = await t.request('/admin/lessons', { method: 'POST', token: admin, body: big });
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as ErrorJson).error.code, 'payload_too_large');
    });

    it('body that is not JSON → 415', async () => {
      const res = await t.request('/admin/lessons', { method: 'POST', token: admin, body: 'id=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(res.status, 415);
      assert.equal(((await res.json()) as ErrorJson).error.code, 'unsupported_media_type');
    });

    it('missing body → 400', async () => {
      const res = await t.request('/admin/lessons', { method: 'POST', token: admin, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400);
    });

    it('unknown route → 404 route_not_found; wrong method → 405 with Allow', async () => {
      const missing = await t.request('/nowhere');
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as ErrorJson).error.code, 'route_not_found');
      const wrong = await t.request('/api/lessons', { method: 'DELETE', token: guardian });
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.get('allow'), 'GET');
      assert.equal(((await wrong.json()) as ErrorJson).error.code, 'method_not_allowed');
      const patch = await t.request('/admin/lessons/x', { method: 'PATCH', token: admin, body: '{}' });
      assert.equal(patch.status, 405);
      assert.deepEqual(patch.headers.get('allow')?.split(', ').sort(), ['DELETE', 'GET', 'PUT']);
    });

    it('unexpected failures → 500 with a request id and no internals', async () => {
      const broken = await createTestApp({ database: t.container.database, cache: t.container.cache });
      // Make the lessons query fail inside the database with an SQL error.
      const original = t.container.database.db;
      const failing = original.withPlugin({
        transformQuery: () => {
          throw new Error('relation "app_alpha.lessons" does not exist at SELECT * FROM secret_table');
        },
        transformResult: async (args) => args.result,
      });
      Object.defineProperty(broken.container.database, 'db', { value: failing, configurable: true });
      try {
        const res = await broken.request('/api/lessons', { token: await broken.token('alpha', 'guardian') });
        assert.equal(res.status, 500);
        const text = await res.text();
        const body = JSON.parse(text) as ErrorJson;
        assert.equal(body.error.code, 'internal_error');
        assert.equal(body.error.requestId, res.headers.get('x-request-id'));
        assert.doesNotMatch(text, /secret_table|relation|SELECT|at .*\.ts|stack/i);
        const logged = broken.logLines().find((l) => l.msg === 'request failed');
        assert.ok(logged, 'the failure is logged');
        assert.equal(logged.requestId, body.error.requestId);
        assert.match(JSON.stringify(logged.err), /secret_table/);
      } finally {
        Object.defineProperty(broken.container.database, 'db', { value: original, configurable: true });
      }
    });

    it('every error code the code can produce is documented in docs/errors.md', () => {
      const doc = readFileSync('docs/errors.md', 'utf8');
      const codes = new Set<string>();
      const walk = (dir: string) => {
        for (const f of readdirSync(dir)) {
          const p = path.join(dir, f);
          if (statSync(p).isDirectory()) walk(p);
          else if (p.endsWith('.ts')) {
            const src = readFileSync(p, 'utf8');
            for (const m of src.matchAll(/new AppError\(\s*'[a-z_]+',\s*'([a-z_]+)'/g)) codes.add(m[1]!);
            for (const m of src.matchAll(/(?:notFound|invalid)\(\s*'([a-z_]+)'/g)) codes.add(m[1]!);
          }
        }
      };
      walk('src');
      assert.ok(codes.size >= 15, `found ${codes.size} codes`);
      const missing = [...codes].filter((c) => !new RegExp(`\\b${c}\\b`).test(doc));
      assert.deepEqual(missing, [], `codes missing from docs/errors.md: ${missing.join(', ')}`);
    });
  });

  describe('authentication', () => {
    const attempt = (authorization?: string) =>
      t.request('/api/lessons', authorization ? { headers: { authorization } } : {}).then(async (r) => ({ status: r.status, code: ((await r.json()) as ErrorJson).error.code }));

    it('missing or malformed header → 401', async () => {
      assert.deepEqual(await attempt(), { status: 401, code: 'missing_token' });
      assert.deepEqual(await attempt('Basic abc'), { status: 401, code: 'invalid_token' });
      assert.deepEqual(await attempt('Bearer not-a-jwt'), { status: 401, code: 'invalid_token' });
    });

    it('expired, foreign-key, tampered and alg:none tokens → 401', async () => {
      // Signed like ours, but its exp passed (TokenService.issue refuses to mint such a token).
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ app: 'alpha', role: 'guardian' })
        .setProtectedHeader({ alg: 'EdDSA', kid: t.signingKey.kid })
        .setSubject('guardian-1')
        .setIssuer('kidslearn')
        .setAudience('kidslearn-api')
        .setIssuedAt(now - 70)
        .setExpirationTime(now - 10)
        .sign(t.signingKey.privateKey);
      assert.deepEqual(await attempt(`Bearer ${expired}`), { status: 401, code: 'token_expired' });

      const otherKey = await importSigningKey(await generatePrivateJwk());
      const forged = await new SignJWT({ app: 'alpha', role: 'admin' })
        .setProtectedHeader({ alg: 'EdDSA', kid: otherKey.kid })
        .setSubject('x')
        .setIssuer('kidslearn')
        .setExpirationTime('5m')
        .sign(otherKey.privateKey);
      assert.equal((await attempt(`Bearer ${forged}`)).status, 401);

      const [h, p, s] = guardian.split('.');
      const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p!))) as Record<string, unknown>;
      const tampered = `${h}.${base64url.encode(JSON.stringify({ ...payload, role: 'admin' }))}.${s}`;
      assert.equal((await attempt(`Bearer ${tampered}`)).status, 401);
      const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${p}.`;
      assert.equal((await attempt(`Bearer ${none}`)).status, 401);
    });

    it('a token signed by our key but without role or app → 401', async () => {
      const sign = (claims: Record<string, unknown>) =>
        new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: t.signingKey.kid }).setSubject('x').setIssuer('kidslearn').setAudience('kidslearn-api').setIssuedAt().setExpirationTime('5m').sign(t.signingKey.privateKey);
      const control = await t.request('/api/lessons', { token: await sign({ app: 'alpha', role: 'admin' }) });
      assert.equal(control.status, 200, 'control: complete claims pass');
      assert.deepEqual(await attempt(`Bearer ${await sign({ app: 'alpha' })}`), { status: 401, code: 'invalid_token' });
      assert.deepEqual(await attempt(`Bearer ${await sign({ role: 'admin' })}`), { status: 401, code: 'invalid_token' });
      assert.deepEqual(await attempt(`Bearer ${await sign({ app: 'alpha', role: 'superuser' })}`), { status: 401, code: 'invalid_token' });
    });
  });

  describe('request ids, logs and CORS', () => {
    it('echoes X-Request-Id or generates one, and logs one line per request', async () => {
      const res = await t.request('/api/lessons?grade=1', { token: guardian, headers: { 'x-request-id': 'trace-abc-123' } });
      assert.equal(res.headers.get('x-request-id'), 'trace-abc-123');
      const generated = await t.request('/health');
      assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      const line = t.logLines().find((l) => l.requestId === 'trace-abc-123');
      assert.ok(line);
      assert.equal(line.app, 'alpha');
      assert.equal(line.route, '/api/lessons');
      assert.equal(line.status, 200);
      assert.equal(typeof line.ms, 'number');
      assert.equal(t.logLines().filter((l) => l.requestId === 'trace-abc-123').length, 1);
      assert.doesNotMatch(JSON.stringify(t.logLines()), new RegExp(guardian.slice(-20)), 'tokens are never logged');
    });

    it('answers CORS preflights for configured origins only', async () => {
      const ok = await t.request('/api/lessons', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.org', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(ok.status, 204);
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.org');
      assert.equal(ok.headers.get('access-control-max-age'), '3600');
      assert.match(ok.headers.get('access-control-allow-headers') ?? '', /X-App-Id/);
      assert.match(ok.headers.get('access-control-allow-methods') ?? '', /DELETE/);
      const bad = await t.request('/api/lessons', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
      assert.notEqual(bad.headers.get('access-control-allow-origin'), 'https://evil.example');
    });
  });

  describe('OpenAPI', () => {
    it('documents exactly the routes the app serves', async () => {
      const spec = (await (await t.request('/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
      assert.equal(spec.openapi, '3.1.0');
      const documented = Object.entries(spec.paths)
        .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
        .sort();
      const served = (await servedRoutes(t.app))
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`)
        .sort();
      assert.deepEqual(served, documented);
      assert.ok(documented.includes('GET /api/lessons/{lessonId}'));
    });

    it('request schemas in the document come from the validating Zod schemas', async () => {
      const spec = (await (await t.request('/openapi.json')).json()) as {
        paths: Record<string, Record<string, { parameters?: { name: string; schema: { maximum?: number } }[] }>>;
      };
      const limit = spec.paths['/api/lessons']!.get!.parameters!.find((p) => p.name === 'limit');
      assert.equal(limit?.schema.maximum, 50);
    });

    it('serves a docs page', async () => {
      const res = await t.request('/docs');
      assert.equal(res.status, 200);
      assert.match(await res.text(), /swagger/i);
    });
  });
});

for (const stack of await stacks()) {
  describe(`/health on ${stack.name}`, { skip: stack.skip }, () => {
    it('answers 503 when the database does not answer within 1 s', async () => {
      const opened = await stack.open();
      try {
        const t = await createTestApp({ database: opened.database, cache: opened.cache });
        // Occupy every connection for 1.5 s so the health probe cannot get one.
        const busy =
          t.container.database.kind === 'pglite'
            ? [t.container.database.db.transaction().execute(() => new Promise((r) => setTimeout(r, 1500)))]
            : Array.from({ length: 5 }, () => sql`select pg_sleep(1.5)`.execute(t.container.database.db));
        await new Promise((r) => setTimeout(r, 50));
        const started = Date.now();
        const res = await t.request('/health');
        const waited = Date.now() - started;
        assert.equal(res.status, 503);
        const body = (await res.json()) as { status: string; database: { status: string } };
        assert.deepEqual([body.status, body.database.status], ['down', 'down']);
        assert.ok(waited < 1450, `answered after ${waited} ms`);
        await Promise.all(busy);
        assert.equal((await t.request('/health')).status, 200);
      } finally {
        await opened.dispose();
      }
    });
  });
}
