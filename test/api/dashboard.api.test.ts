import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../support/app-fixture.ts';
import { stacks } from '../support/servers.ts';

/**
 * The admin dashboard's page and files over HTTP (what the browser test
 * relies on, without a browser): public, under a strict CSP, files from this
 * server only with content-hashed URLs kept a year, and nothing else of
 * /admin opened up.
 */

const [embedded] = await stacks();
const require = createRequire(import.meta.url);
const CHART_JS = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');

describe('the admin dashboard page and its files (embedded)', () => {
  let t: TestApp;
  let dispose: () => Promise<void>;

  before(async () => {
    const opened = await embedded!.open();
    dispose = opened.dispose;
    t = await createTestApp({ database: opened.database, cache: opened.cache });
  });
  after(async () => {
    await t?.container.close();
    await dispose();
  });

  it('serves the page without a token, under a CSP that allows this origin only and no inline code', async () => {
    const page = await t.request('/admin/dashboard');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      assert.ok(csp.split(';').map((d) => d.trim()).includes(directive), `CSP has ${directive}: ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/, 'no inline code, no eval, no other host');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    const html = await page.text();
    assert.doesNotMatch(html, /https?:\/\//, 'nothing loaded from elsewhere');
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /\sstyle=|<style/, 'no inline style');
    assert.doesNotMatch(html, /\{\{/, 'every asset placeholder is filled');
    for (const name of ['active-learners', 'accuracy', 'funnel', 'mastery', 'sessions']) assert.match(html, new RegExp(`data-chart="${name}"`));
  });

  it('serves the page’s files, Chart.js from the pinned package, at content-hashed URLs kept a year', async () => {
    const html = await (await t.request('/admin/dashboard')).text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(refs.map((r) => r.replace(/\?v=[0-9a-f]{16}$/, '')).sort(), [
      'dashboard/assets/chart.umd.min.js',
      'dashboard/assets/dashboard.css',
      'dashboard/assets/dashboard.js',
      'dashboard/assets/favicon.svg',
    ]);
    for (const ref of refs) {
      // Relative to /admin/dashboard, as a browser resolves them.
      const url = new URL(ref, 'http://localhost/admin/dashboard');
      const res = await t.request(url.pathname + url.search);
      assert.equal(res.status, 200, ref);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(url.searchParams.get('v'), createHash('sha256').update(body).digest('hex').slice(0, 16), `${ref}: the URL carries the content's hash`);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', ref);
      if (ref.includes('chart.umd')) {
        assert.deepEqual(body, readFileSync(CHART_JS), 'Chart.js is the installed package’s UMD build, unchanged');
        assert.match(res.headers.get('content-type') ?? '', /javascript/);
      }
      if (ref.endsWith('.css')) assert.match(res.headers.get('content-type') ?? '', /text\/css/);
      if (ref.includes('favicon')) assert.equal(res.headers.get('content-type'), 'image/svg+xml');
    }
  });

  it('serves only the listed files, never caches an error, and leaves the rest of /admin behind the admin check', async () => {
    for (const p of ['/admin/dashboard/assets/package.json', '/admin/dashboard/assets/..%2F..%2Fpackage.json', '/admin/dashboard/assets/index.html']) {
      const res = await t.request(p);
      assert.equal(res.status, 404, p);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'route_not_found', p);
      assert.equal(res.headers.get('cache-control'), 'no-store', `${p}: an error is not kept`);
    }
    for (const p of ['/admin/dashboard/other', '/admin/reports/funnel', '/admin/lessons/x']) {
      const res = await t.request(p);
      assert.equal(res.status, 401, p);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'missing_token', p);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
    const guardian = await t.token('alpha', 'guardian');
    assert.equal((await t.request('/admin/dashboard', { token: guardian })).status, 200, 'a token changes nothing: the page is the same for everyone');
  });

  it('is in the API document as public (no 401/403 listed)', async () => {
    const doc = (await (await t.request('/openapi.json')).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    for (const p of ['/admin/dashboard', '/admin/dashboard/assets/{name}']) {
      const statuses = Object.keys(doc.paths[p]?.get?.responses ?? {});
      assert.ok(statuses.includes('200') && statuses.includes('503'), `${p}: ${statuses.join(', ')}`);
      assert.ok(!statuses.includes('401') && !statuses.includes('403'), `${p} lists no sign-in failure: ${statuses.join(', ')}`);
    }
    assert.ok(doc.paths['/admin/lessons/{lessonId}']?.get?.responses['401'], 'the rest of /admin still lists 401');
  });
});
