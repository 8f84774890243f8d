import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHttpApp, servedRoutes } from '../../src/http/app.ts';
import { ROUTE_GROUPS, type RouteGroup } from '../../src/http/route-groups.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

type ErrorJson = { error: { code: string; message: string; requestId: string } };

const [embedded] = await stacks();

/**
 * Route groups are built on the first request under their prefixes
 * (http/route-groups.ts): each test builds a fresh app over the same
 * container, with the real groups wrapped to record which ones load.
 */
describe('route groups built on first use (embedded)', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let child: string;
  let admin: string;

  before(async () => {
    const opened = await embedded!.open();
    dispose = opened.dispose;
    t = await createTestApp({ database: opened.database, cache: opened.cache });
    await createFixtureApp(t.container, 'alpha');
    child = await t.token('alpha', 'child');
    admin = await t.token('alpha', 'admin');
  });
  after(async () => dispose());

  /** A fresh app whose groups record their loads in `loads`; `fail` makes a group's next loads fail. */
  function freshApp(fail: Map<string, number> = new Map()) {
    const loads: string[] = [];
    const groups: RouteGroup[] = ROUTE_GROUPS.map((g) => ({
      ...g,
      load: async (container) => {
        loads.push(g.name);
        const failures = fail.get(g.name) ?? 0;
        if (failures > 0) {
          fail.set(g.name, failures - 1);
          throw new Error(`cannot load ${g.name} (test)`);
        }
        return g.load(container);
      },
    }));
    const app = createHttpApp(t.container, { routeGroups: groups });
    const request = (path: string, init: RequestInit & { token?: string } = {}) => {
      const headers = new Headers(init.headers);
      if (init.token) headers.set('authorization', `Bearer ${init.token}`);
      return Promise.resolve(app.request(path, { ...init, headers }));
    };
    return { app, loads, request };
  }

  it('the first request under a group loads that group alone, and it answers as usual', async () => {
    const { loads, request } = freshApp();
    const res = await request('/api/lessons?grade=1&limit=5', { token: child });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { items: { id: string }[]; limit: number };
    assert.equal(body.limit, 5);
    assert.ok(body.items.length > 0);
    assert.deepEqual(loads, ['lessons']);
    // Loaded once: later requests do not load it again.
    assert.equal((await request('/api/lessons/shared-lesson', { token: child })).status, 200);
    assert.deepEqual(loads, ['lessons']);
  });

  it('a wrong method on a group not loaded yet → 405 with Allow, as when every group is loaded', async () => {
    const { loads, request } = freshApp();
    const wrong = await request('/api/lessons', { method: 'DELETE', token: child });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
    assert.equal(((await wrong.json()) as ErrorJson).error.code, 'method_not_allowed');
    assert.deepEqual(loads, ['lessons']);

    const patch = freshApp();
    const res = await patch.request('/admin/concepts/x', { method: 'PATCH', token: admin, body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 405);
    assert.deepEqual(res.headers.get('allow')?.split(', ').sort(), ['DELETE', 'PUT']);
    assert.deepEqual(patch.loads, ['concepts']);

    // Two groups share /api/adaptive: both are loaded before the path is routed.
    const adaptive = freshApp();
    const plan = await adaptive.request('/api/adaptive/plans', { method: 'GET', token: admin });
    assert.equal(plan.status, 405);
    assert.equal(plan.headers.get('allow'), 'POST');
    assert.deepEqual(adaptive.loads.sort(), ['adaptive', 'plans']);
  });

  it('a path under no group → 404 route_not_found without loading any', async () => {
    const { loads, request } = freshApp();
    const res = await request('/api/nothing-here', { token: child });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as ErrorJson).error.code, 'route_not_found');
    // Only a prefix on segment boundaries counts: /api/lessonsX is not under /api/lessons.
    const near = await request('/api/lessonsX', { token: child });
    assert.equal(near.status, 404);
    assert.deepEqual(loads, []);
  });

  it('/openapi.json as the first request lists every route the app serves', async () => {
    const { loads, request } = freshApp();
    const spec = (await (await request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(spec.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    assert.deepEqual(loads.sort(), ROUTE_GROUPS.map((g) => g.name).sort());
    const served = (await servedRoutes(freshApp().app)).map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`).sort();
    assert.deepEqual(documented, served);
    assert.ok(documented.includes('GET /api/lessons') && documented.includes('POST /api/progress') && documented.includes('GET /admin/reports/{report}'));
  });

  it('concurrent first requests load a group once', async () => {
    const { loads, request } = freshApp();
    const answers = await Promise.all(Array.from({ length: 5 }, () => request('/api/lessons', { token: child })));
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
    assert.deepEqual(loads, ['lessons']);
  });

  it('a group that fails to load → 500 in the usual error shape; the next request loads it again', async () => {
    const { loads, request } = freshApp(new Map([['lessons', 1]]));
    const failed = await request('/api/lessons', { token: child });
    assert.equal(failed.status, 500);
    const body = (await failed.json()) as ErrorJson;
    assert.equal(body.error.code, 'internal_error');
    assert.equal(body.error.requestId, failed.headers.get('x-request-id'));
    assert.doesNotMatch(body.error.message, /cannot load/);
    const again = await request('/api/lessons', { token: child });
    assert.equal(again.status, 200);
    assert.deepEqual(loads, ['lessons', 'lessons']);
  });
});
