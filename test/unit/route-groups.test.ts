import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHttpApp, servedRoutes } from '../../src/http/app.ts';
import { ROUTE_GROUPS, underPrefix } from '../../src/http/route-groups.ts';
import { standInContainer } from '../support/stand-in-container.ts';

describe('route groups (http/route-groups.ts)', () => {
  it('every route of a group is under one of its prefixes, so a request loads every group that could answer it', async () => {
    const container = standInContainer();
    const outside: string[] = [];
    for (const group of ROUTE_GROUPS) {
      const routes = await group.load(container);
      assert.ok(routes.routes.length > 0, `${group.name} has no routes`);
      for (const r of routes.routes) {
        // A route's literal part, up to its first parameter or wildcard, must start with a prefix.
        const literal = r.path.split(/\/[:*]/)[0]!;
        if (!group.prefixes.some((p) => underPrefix(literal, p))) outside.push(`${group.name}: ${r.method} ${r.path}`);
      }
    }
    assert.deepEqual(outside, []);
  });

  it('the groups and /openapi.json are every route the app serves', async () => {
    const container = standInContainer();
    const inGroups = new Set<string>(['GET /openapi.json']);
    for (const group of ROUTE_GROUPS) for (const r of (await group.load(container)).routes) if (r.method !== 'ALL' && !r.path.includes('*')) inGroups.add(`${r.method} ${r.path}`);
    const served = (await servedRoutes(createHttpApp(container))).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual([...inGroups].sort(), served.sort());
  });

  it('prefixes are whole segments: /api/lessons covers /api/lessons and /api/lessons/x, not /api/lessonsx', () => {
    assert.ok(underPrefix('/api/lessons', '/api/lessons'));
    assert.ok(underPrefix('/api/lessons/', '/api/lessons'));
    assert.ok(underPrefix('/api/lessons/x/y', '/api/lessons'));
    assert.ok(!underPrefix('/api/lessonsx', '/api/lessons'));
    assert.ok(!underPrefix('/api', '/api/lessons'));
  });
});
