import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumSkip, launchBrowser } from '../support/browser.ts';
import { startDashboardServer, type DashboardServer, type ReportName } from '../support/dashboard-fixture.ts';

/**
 * The admin dashboard (/admin/dashboard) in headless Chromium against the
 * real HTTP server: sign-in through the form, every chart drawn from the
 * report routes' JSON with the numbers of the seeded data, empty and error
 * states, a token refresh on 401, nothing loaded from another host, no
 * console or page errors. Keeps a screenshot in test-artifacts/dashboard.png.
 */

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const CHARTS = ['active-learners', 'accuracy', 'funnel', 'mastery', 'sessions'] as const;
const CARDS = [...CHARTS, 'errors', 'lake-status'] as const;
const int = new Intl.NumberFormat('en');
const pct = (num: number, den: number) => `${new Intl.NumberFormat('en', { maximumFractionDigits: 1 }).format((100 * num) / den)}%`;

/** The canvas as the page function sees it (the test compiles without the DOM library). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

/** The page's globals these tests read (the test compiles without the DOM library). */
interface PageGlobals {
  document: { querySelectorAll(selector: string): ArrayLike<{ dataset: Record<string, string | undefined> }> };
  localStorage: { length: number };
  sessionStorage: { length: number };
}

/**
 * Every card has left `idle`/`loading` (drawn, empty or failed), and `card`
 * is not in state `not`. A function, not a string: the page's CSP forbids
 * evaluating strings, and it runs in the page (so it uses nothing of this module).
 */
const allSettled = ([card, not]: [string, string]) =>
  Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('[data-report]')).every(
    (el) => ['ready', 'empty', 'error'].includes(el.dataset.state ?? '') && !(el.dataset.report === card && el.dataset.state === not),
  );
const ALL_SETTLED: [string, string] = ['', ''];

const skip = chromiumSkip();

describe('admin dashboard in Chromium', { skip }, () => {
  let server: DashboardServer;
  let browser: Browser;

  before(async () => {
    server = await startDashboardServer();
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A fresh page (own context: no shared storage) that records console errors, page errors and every URL requested. */
  async function open(): Promise<{ context: BrowserContext; page: Page; problems: string[]; requests: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    const res = await page.goto(`${server.url}/admin/dashboard`);
    assert.equal(res?.status(), 200);
    return { context, page, problems, requests };
  }

  async function signIn(page: Page, password = server.password): Promise<void> {
    // By their labels: the form is usable with a screen reader.
    await page.getByLabel('App id').fill(server.appId);
    await page.getByLabel('Email').fill(server.email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  const state = (page: Page, card: string) => page.locator(`[data-report="${card}"]`).getAttribute('data-state');
  const rows = async (page: Page, card: string) => Number(await page.locator(`[data-report="${card}"]`).getAttribute('data-rows'));
  const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();

  /** Share of the canvas's pixels that are not transparent. */
  async function painted(page: Page, chart: string): Promise<number> {
    return page.locator(`canvas[data-chart="${chart}"]`).evaluate((canvas: CanvasLike) => {
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let opaque = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) opaque++;
      return opaque / (data.length / 4);
    });
  }

  /** Every URL the page asked for is on the test server (no CDN, no font service, nothing else). */
  function assertLocalOnly(requests: string[]): void {
    assert.ok(requests.length > 0);
    const elsewhere = requests.filter((u) => !u.startsWith('data:') && !['127.0.0.1', 'localhost'].includes(new URL(u).hostname));
    assert.deepEqual(elsewhere, [], 'requests to another host');
  }

  it('signs an admin in, draws every chart with the seeded numbers, and shows the pipeline’s trouble', async () => {
    const dayBefore = new Date().toISOString().slice(0, 10);
    const { context, page, problems, requests } = await open();
    try {
      assert.equal(await page.locator('#dashboard').isVisible(), false, 'nothing but the form before signing in');
      await signIn(page);
      await page.waitForFunction(allSettled, ALL_SETTLED);
      const from = await page.locator('#from').inputValue();
      const to = await page.locator('#to').inputValue();
      // Today (UTC), read before and after the page chose it: a run across midnight passes too.
      assert.ok([dayBefore, new Date().toISOString().slice(0, 10)].includes(to), `the range ends today (UTC), not ${to}`);
      assert.equal((Date.parse(to) - Date.parse(from)) / 86_400_000, 29, 'default range: the last 30 days');
      const expected = (name: ReportName) => server.report(name, from, to);

      for (const card of CARDS) assert.equal(await state(page, card), 'ready', `${card} drawn (${await text(page, `[data-report="${card}"] .status`)})`);
      for (const chart of CHARTS) {
        assert.equal(await rows(page, chart), expected(chart).rows.length, `${chart}: data-rows`);
        const share = await painted(page, chart);
        assert.ok(share > 0.01, `${chart}: canvas painted (${(share * 100).toFixed(2)}% of pixels)`);
      }
      assert.equal(await rows(page, 'active-learners'), 30, 'one row per day of the range');
      assert.equal(await rows(page, 'mastery'), 10, 'ten buckets');

      // The funnel's totals, as the report gives them.
      const funnel = expected('funnel') as unknown as { totals: { started: number; completed: number } };
      assert.deepEqual(funnel.totals.started > 0 && funnel.totals.completed > 0, true, 'the seeded data has a funnel');
      assert.equal(await text(page, '[data-total="started"]'), int.format(funnel.totals.started));
      assert.equal(await text(page, '[data-total="completed"]'), int.format(funnel.totals.completed));
      assert.equal(await text(page, '[data-total="completionRate"]'), pct(funnel.totals.completed, funnel.totals.started));

      // Mastery: mastered count, threshold, and learner × concept pairs in the histogram.
      const mastery = expected('mastery') as unknown as { rows: { count: number }[]; mastered: number };
      assert.ok(mastery.mastered > 0, 'the seeded data has mastered pairs');
      assert.equal(await text(page, '[data-total="mastered"]'), int.format(mastery.mastered));
      assert.equal(await text(page, '[data-total="threshold"]'), '≥ 95%');
      assert.equal(await text(page, '[data-total="pairs"]'), String(mastery.rows.reduce((s, r) => s + r.count, 0)));

      const active = expected('active-learners').rows as { weekly: number }[];
      assert.equal(await text(page, '[data-kpi="active"]'), String(active.at(-1)!.weekly), 'weekly active learners on the last day');

      // Accuracy over the range, answers-weighted (the key figure).
      const accuracy = expected('accuracy').rows as { answers: number; correct: number }[];
      const answers = accuracy.reduce((s, r) => s + r.answers, 0);
      assert.equal(await text(page, '[data-kpi="answers"]'), int.format(answers));
      assert.equal(await text(page, '[data-kpi="accuracy"]'), pct(accuracy.reduce((s, r) => s + r.correct, 0), answers));

      // Top errors: one table row per report row, in its order.
      const errorRows = expected('errors').rows as { code: string; events: number; learners: number; fatal: number }[];
      assert.equal(await rows(page, 'errors'), errorRows.length);
      const cells = await page.locator('[data-table="errors"] tbody tr').evaluateAll((trs: { textContent: string | null }[]) => trs.map((tr) => tr.textContent));
      assert.deepEqual(
        cells,
        errorRows.map((r) => `${r.code}${r.events}${r.learners}${r.fatal}`),
      );

      // Pipeline health: dead letters and an old backlog are highlighted.
      const lake = page.locator('[data-report="lake-status"]');
      assert.equal(await lake.getAttribute('data-health'), 'alert');
      assert.match((await lake.locator('[data-field="deadLetters"]').getAttribute('class')) ?? '', /\balert\b/);
      assert.equal(await text(page, '[data-field="deadLetters"] dd'), String(server.lake.deadLetters));
      assert.match((await lake.locator('[data-field="backlog"]').getAttribute('class')) ?? '', /\bwarning\b/);
      assert.equal(await text(page, '[data-field="backlog"] dd'), `${int.format(server.lake.backlog)} events`);
      assert.ok(server.lake.files > 0 && server.lake.bytes > 0);
      assert.equal(await text(page, '[data-field="files"] dd'), int.format(server.lake.files));
      assert.match(await text(page, '[data-field="bytes"] dd'), /^\d+(\.\d+)? (B|KiB|MiB)$/);
      assert.match(await text(page, '[data-report="lake-status"] .status'), /^Needs attention — 3 dead letters: .+ the oldest pending event has waited 25 min; is the lake writer running\?$/);
      assert.equal(await page.locator('.presets [aria-pressed="true"]').textContent(), '30 days', 'the default range’s quick button is marked');

      // Each report asked for the range on screen, with the signed-in admin's token (the routes are behind /admin's check).
      for (const name of CHARTS) assert.ok(server.reportRequests.includes(`/admin/reports/${name}?from=${from}&to=${to}`), `${name} requested for ${from}..${to}`);
      // The tokens live in memory only.
      assert.deepEqual(await context.cookies(), []);
      assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.length + (globalThis as unknown as PageGlobals).sessionStorage.length), 0);

      assertLocalOnly(requests);
      assert.deepEqual(problems, []);
      await page.screenshot({ path: new URL('dashboard.png', ARTIFACTS).pathname, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('a wrong password shows an error and no charts, and asks for no report', async () => {
    const { context, page, problems, requests } = await open();
    try {
      const asked = server.reportRequests.length;
      await signIn(page, 'not the password at all');
      const error = page.locator('#sign-in-error');
      await error.waitFor({ state: 'visible' });
      assert.equal(await error.textContent(), 'Wrong email or password.');
      assert.equal(await page.locator('#dashboard').isVisible(), false);
      for (const card of CARDS) assert.equal(await state(page, card), 'idle', `${card} not drawn`);
      assert.equal(server.reportRequests.length, asked, 'no report requested');
      await page.screenshot({ path: new URL('dashboard-sign-in.png', ARTIFACTS).pathname });
      assertLocalOnly(requests);
      // The browser reports the 401 of the sign-in itself; nothing else may go wrong.
      assert.deepEqual(
        problems.filter((p) => !/Failed to load resource: the server responded with a status of 401/.test(p)),
        [],
      );
      assert.equal(problems.length, 1, problems.join('\n'));
    } finally {
      await context.close();
    }
  });

  it('shows a failed report’s error and an empty range’s empty states, never a blank chart', async () => {
    const { context, page, problems, requests } = await open();
    server.failing.add('errors');
    try {
      await signIn(page);
      await page.waitForFunction(allSettled, ALL_SETTLED);
      assert.equal(await state(page, 'errors'), 'error');
      assert.match(await text(page, '[data-report="errors"] .status'), /^Could not load this report\. The lake’s blob store did not answer in time \(HTTP 503, blob_store_unavailable\)$/);
      assert.equal(await page.locator('[data-table="errors"]').isVisible(), false, 'no table under the error');
      for (const card of CARDS.filter((c) => c !== 'errors')) assert.equal(await state(page, card), 'ready', `${card} unaffected`);

      // A range before any data: every chart says so instead of drawing nothing.
      server.failing.clear();
      await page.getByLabel('From', { exact: true }).fill('2020-01-01');
      await page.getByLabel('To', { exact: true }).fill('2020-01-31');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForFunction(allSettled, ['errors', 'error'] as [string, string]);
      for (const chart of CHARTS) {
        assert.equal(await state(page, chart), 'empty', chart);
        assert.equal(await page.locator(`canvas[data-chart="${chart}"]`).isVisible(), false, `${chart}: no blank canvas`);
      }
      assert.equal(await rows(page, 'active-learners'), 31, 'a zero row per day');
      assert.equal(await rows(page, 'accuracy'), 0);
      assert.equal(await text(page, '[data-report="accuracy"] .status'), 'No answers were recorded from 2020-01-01 to 2020-01-31.');
      assert.equal(await text(page, '[data-report="active-learners"] .status'), 'No learner was active from 2020-01-01 to 2020-01-31.');
      assert.equal(await state(page, 'errors'), 'empty');
      assert.equal(await text(page, '[data-total="started"]'), '0');
      assert.equal(await text(page, '[data-total="completionRate"]'), '–');
      await page.screenshot({ path: new URL('dashboard-empty.png', ARTIFACTS).pathname, fullPage: true });
      assertLocalOnly(requests);
      // The failed report's 503 is the only thing the browser complains about.
      assert.deepEqual(
        problems.filter((p) => !/status of 503/.test(p)),
        [],
      );
    } finally {
      server.failing.clear();
      await context.close();
    }
  });

  it('a signed-in account that is not an admin is sent back to the form with the reason', async () => {
    const { context, page, problems } = await open();
    try {
      const email = 'guardian@dashapp.example';
      await server.testApp.container.accounts.register(server.appId, { email, password: server.password, role: 'guardian' });
      await page.getByLabel('App id').fill(server.appId);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(server.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const error = page.locator('#sign-in-error');
      await error.waitFor({ state: 'visible' });
      assert.equal(await error.textContent(), `${email} is not an admin of “${server.appId}”: the reports are for the app’s admins. Sign in with an admin account.`);
      assert.equal(await page.locator('#dashboard').isVisible(), false);
      for (const card of CARDS) assert.equal(await state(page, card), 'idle', `${card} not drawn`);
      assert.deepEqual(
        problems.filter((p) => !/status of 403/.test(p)),
        [],
      );
    } finally {
      await context.close();
    }
  });

  it('refreshes the tokens once when the access token has expired, then draws', async () => {
    const { context, page, problems, requests } = await open();
    try {
      server.expireFirstToken();
      await signIn(page);
      await page.waitForFunction(allSettled, ALL_SETTLED);
      for (const card of CARDS) assert.equal(await state(page, card), 'ready', card);
      assert.equal(requests.filter((u) => u.endsWith('/auth/refresh')).length, 1, 'one refresh for every request that met the 401');
      assert.deepEqual(
        problems.filter((p) => !/status of 401/.test(p)),
        [],
      );
    } finally {
      await context.close();
    }
  });
});
