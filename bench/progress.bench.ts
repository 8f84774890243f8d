import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/adapters/db/database.ts';
import { openPgliteDatabase } from '../src/adapters/db/pglite.ts';
import { openPostgresDatabase } from '../src/adapters/db/postgres.ts';
import { machine, signUpOverHttp, startProcess } from './support.ts';

/**
 * `npm run bench:progress`: POST /api/progress under load on the real server,
 * on embedded PGlite and on a PostgreSQL server, then a check that the stored
 * answers are exactly the acknowledged ones.
 *
 * Per stack: a fresh data dir (and, for PostgreSQL, a throwaway database that
 * is dropped afterwards) is seeded with the CLI, the server is started, and
 * guardians register, add children and sign each child in on "a device" —
 * all over HTTP, as apps do. Then a class of children answers at once:
 * BENCH_CONNECTIONS (default 50) connections, one child each with its own
 * child token, every request with fresh clientEventIds:
 *   (1) single answers — the measured target;
 *   (2) batches of 20 answers per request, as an app syncing after being
 *       offline (answers/s = acknowledged answers / s).
 * Each runs BENCH_DURATION_SEC (default 10) s after a BENCH_WARMUP_SEC
 * (default 2) s warm-up of single answers.
 *
 * Every request sent is recorded with its clientEventIds and its status.
 * When the load stops, the requests still in flight (and any that failed) are
 * retried with the same body, as an app would: that retry says whether the
 * answer had already been committed (`duplicate: true`). Then the server is
 * stopped (PGlite allows one process per data dir) and the database is read
 * directly: the set of stored (child, clientEventId) pairs must equal the set
 * of acknowledged ones — the 2xx answers of the run plus the acknowledged
 * retries — no answer refused with an error may turn out stored, every 2xx
 * body must list exactly the answers sent (none a duplicate), and every
 * concept state's attempt count must equal its stored answers.
 *
 * Target (PostgreSQL server, single answers): ≥ 1,000 answers/s and p99 ≤
 * 100 ms. Embedded PGlite is reported only. Exit code 0 only if the target and
 * every stored-equals-acknowledged check pass.
 *
 * BENCH_STACKS=embedded,postgres picks stacks (a skipped PostgreSQL run fails
 * the target); BENCH_POSTGRES_URL (or TEST_POSTGRES_URL) names the server,
 * default postgres://postgres@127.0.0.1:5432/postgres.
 */
const DURATION = Number(process.env.BENCH_DURATION_SEC ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SEC ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const STACKS = (process.env.BENCH_STACKS ?? 'embedded,postgres').split(',').map((s) => s.trim());
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BATCH = 20;
const CHILDREN_PER_GUARDIAN = 10;
const APP = 'mathkids';
const TARGET = { answersPerSec: 1000, p99Ms: 100 };
const RETRY_ATTEMPTS = 5;

interface Child {
  id: string;
  token: string;
  /** Position in the item rotation: each child works through the items in turn. */
  next: number;
}

interface Item {
  id: string;
  answer: number;
}

/** One request as sent: its answers' ids and what became of it. */
interface Sent {
  child: Child;
  ids: string[];
  body: string;
  /** Status during the run; undefined when no response came (in flight when the load stopped, or timed out). */
  status?: number;
  /** Set when the request was retried after the run. */
  retry?: { status: number; duplicates: number };
}

/** Every request of one scenario. */
class Ledger {
  readonly scenario: string;
  readonly batch: number;
  readonly items: readonly Item[];
  readonly sent: Sent[] = [];
  /** 2xx responses whose body did not list exactly the answers sent, each new. */
  badBodies = 0;
  #seq = 0;

  constructor(scenario: string, batch: number, items: readonly Item[]) {
    this.scenario = scenario;
    this.batch = batch;
    this.items = items;
  }

  build(child: Child): Sent {
    const now = Date.now();
    const answers = [];
    for (let i = 0; i < this.batch; i++) {
      const item = this.items[child.next++ % this.items.length]!;
      answers.push({
        childId: child.id,
        itemId: item.id,
        // About three in four right, so the learner model sees both outcomes.
        response: Math.random() < 0.75 ? item.answer : item.answer + 1,
        durationMs: 2000 + Math.floor(Math.random() * 13_000),
        answeredAt: new Date(now - (this.batch - i) * 1000).toISOString(),
        clientEventId: `${this.scenario}-${this.#seq++}`,
      });
    }
    const sent: Sent = { child, ids: answers.map((a) => a.clientEventId), body: JSON.stringify(this.batch === 1 ? answers[0] : { answers }) };
    this.sent.push(sent);
    return sent;
  }

  answered(sent: Sent, status: number, body: string): void {
    sent.status = status;
    if (ok(status) && !listsExactly(body, sent.ids, false)) this.badBodies++;
  }

  /** (child, clientEventId) keys of every acknowledged answer: 2xx in the run or on retry. */
  acknowledged(): string[] {
    return this.sent.filter((s) => ok(s.status) || ok(s.retry?.status)).flatMap((s) => s.ids.map((id) => key(s.child.id, id)));
  }

  answersAcknowledgedInRun(): number {
    return this.sent.reduce((n, s) => n + (ok(s.status) ? s.ids.length : 0), 0);
  }
}

const ok = (status: number | undefined) => status !== undefined && status >= 200 && status < 300;
const key = (childId: string, clientEventId: string) => `${childId}\u0000${clientEventId}`;

/** Does a 2xx body list exactly `ids`, in order, each with `duplicate` as given (or any, when undefined)? */
function listsExactly(body: string, ids: readonly string[], duplicate: boolean | undefined): boolean {
  try {
    const results = (JSON.parse(body) as { results?: { clientEventId?: unknown; duplicate?: unknown }[] }).results;
    return Array.isArray(results) && results.length === ids.length && results.every((r, i) => r.clientEventId === ids[i] && (duplicate === undefined || r.duplicate === duplicate));
  } catch {
    return false;
  }
}

/** One scenario's figures and integrity counts. */
interface ScenarioResult {
  stack: string;
  name: string;
  batch: number;
  answersPerSec: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  acknowledgedInRun: number;
  non2xx: number;
  errors: number;
  /** Requests without a response when the load stopped (or timed out). */
  noResponse: number;
  /** Answers of those that the retry showed were already committed. */
  committedUnanswered: number;
  /** Answers refused with an error status in the run that the retry showed were stored all the same. */
  refusedButStored: number;
  /** Requests still not acknowledged after the retries. */
  unresolved: number;
  badBodies: number;
}

async function runScenario(base: string, stack: string, name: string, scenario: string, batch: number, durationSec: number, children: Child[], items: Item[]): Promise<{ result: ScenarioResult; ledger: Ledger }> {
  const ledger = new Ledger(scenario, batch, items);
  let connection = 0;
  const r = await autocannon({
    url: `${base}/api/progress`,
    connections: CONNECTIONS,
    duration: durationSec,
    method: 'POST',
    // One child per connection, as a class answering at once: each
    // connection gets its own requests, built afresh for every request.
    setupClient(client) {
      const child = children[connection++ % children.length]!;
      let current: Sent | undefined;
      client.setRequests([
        {
          method: 'POST',
          path: '/api/progress',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${child.token}` },
          setupRequest(request) {
            current = ledger.build(child);
            return { ...request, body: current.body };
          },
          onResponse(status, body) {
            if (current) ledger.answered(current, status, body);
            current = undefined;
          },
        },
      ]);
    },
  });
  const retried = await retryUnacknowledged(base, ledger);
  const acknowledgedInRun = ledger.answersAcknowledgedInRun();
  return {
    ledger,
    result: {
      stack,
      name,
      batch,
      answersPerSec: acknowledgedInRun / r.duration,
      requestsPerSec: r.requests.average,
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      acknowledgedInRun,
      non2xx: r.non2xx,
      errors: r.errors,
      badBodies: ledger.badBodies,
      ...retried,
    },
  };
}

/**
 * Retries, with the same body, every request that was not acknowledged in
 * the run: as an app does until its answers are acknowledged.
 */
async function retryUnacknowledged(base: string, ledger: Ledger): Promise<Pick<ScenarioResult, 'noResponse' | 'committedUnanswered' | 'refusedButStored' | 'unresolved'>> {
  const pending = ledger.sent.filter((s) => !ok(s.status));
  const counts = { noResponse: pending.filter((s) => s.status === undefined).length, committedUnanswered: 0, refusedButStored: 0, unresolved: 0 };
  const queue = [...pending];
  const worker = async () => {
    for (let sent = queue.shift(); sent; sent = queue.shift()) {
      for (let attempt = 0; attempt < RETRY_ATTEMPTS; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        const res = await fetch(`${base}/api/progress`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sent.child.token}` },
          body: sent.body,
        }).catch(() => undefined);
        if (!res) continue;
        const text = await res.text();
        if (!ok(res.status)) {
          sent.retry = { status: res.status, duplicates: 0 };
          continue;
        }
        if (!listsExactly(text, sent.ids, undefined)) ledger.badBodies++;
        const results = (JSON.parse(text) as { results: { duplicate: boolean }[] }).results;
        const duplicates = results.filter((r) => r.duplicate).length;
        sent.retry = { status: res.status, duplicates };
        if (sent.status === undefined) counts.committedUnanswered += duplicates;
        else counts.refusedButStored += duplicates;
        break;
      }
      if (!ok(sent.retry?.status)) counts.unresolved++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(10, queue.length) }, worker));
  return counts;
}

async function call<T>(base: string, method: 'GET' | 'POST', pathname: string, options: { token?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { 'x-app-id': APP };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${pathname}`, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Guardians register and sign in, add their children and start a device session for each: all over HTTP. */
async function createChildren(base: string, dataDir: string, count: number): Promise<Child[]> {
  const families = Math.ceil(count / CHILDREN_PER_GUARDIAN);
  const perFamily = await Promise.all(
    Array.from({ length: families }, async (_, g) => {
      const credentials = { email: `bench-guardian-${g}@example.com`, password: 'bench password 123' };
      await signUpOverHttp(base, dataDir, APP, credentials, 'guardian');
      const { accessToken: guardian } = await call<{ accessToken: string }>(base, 'POST', '/auth/login', { body: credentials });
      const children: Child[] = [];
      for (let i = g * CHILDREN_PER_GUARDIAN; i < Math.min(count, (g + 1) * CHILDREN_PER_GUARDIAN); i++) {
        const { id } = await call<{ id: string }>(base, 'POST', '/api/children', { token: guardian, body: { nickname: `Kid ${i + 1}`, grade: 2 } });
        const { accessToken } = await call<{ accessToken: string }>(base, 'POST', `/api/children/${id}/sessions`, { token: guardian });
        children.push({ id, token: accessToken, next: i * 3 });
      }
      return children;
    }),
  );
  return perFamily.flat();
}

/** "What is 20 + 60?" → 80; undefined for prompts that are not one simple operation. */
function solve(prompt: string): number | undefined {
  const m = /^What is (\d+) ([+\-−×÷]) (\d+)\?$/.exec(prompt);
  if (!m) return undefined;
  const [a, b] = [Number(m[1]), Number(m[3])];
  const value = { '+': a + b, '-': a - b, '−': a - b, '×': a * b, '÷': a / b }[m[2] as '+' | '-' | '−' | '×' | '÷'];
  return Number.isInteger(value) ? value : undefined;
}

/** Numeric items of the demo app whose answer the bench can work out, across its lessons. */
async function numericItems(base: string, token: string): Promise<{ items: Item[]; concepts: number; lessons: number }> {
  const list = await call<{ items: { id: string }[] }>(base, 'GET', '/api/lessons?limit=50', { token });
  const items: Item[] = [];
  const concepts = new Set<string>();
  let lessons = 0;
  for (const { id } of list.items) {
    const lesson = await call<{ items: { id: string; type: string; prompt: string; conceptId: string }[] }>(base, 'GET', `/api/lessons/${id}`, { token });
    let used = false;
    for (const item of lesson.items) {
      const answer = item.type === 'numeric' ? solve(item.prompt) : undefined;
      if (answer === undefined) continue;
      items.push({ id: item.id, answer });
      concepts.add(item.conceptId);
      used = true;
    }
    if (used) lessons++;
  }
  if (items.length === 0) throw new Error(`No numeric items with a simple prompt in ${APP}`);
  return { items, concepts: concepts.size, lessons };
}

/** One database stack: the server's environment, a direct way into its database, and clean-up. */
interface Stack {
  name: string;
  isServer: boolean;
  env: Record<string, string>;
  open(): Promise<Database>;
  dispose(): Promise<void>;
}

function embeddedStack(): Stack {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-progress-'));
  return {
    name: 'embedded (PGlite)',
    isServer: false,
    env: { KIDSLEARN_DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' },
    open: () => openPgliteDatabase({ dataDir: path.join(dataDir, 'pglite'), acquireTimeoutMs: 60_000 }),
    async dispose() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function postgresStack(): Promise<Stack> {
  const name = `kidslearn_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-progress-'));
  return {
    name: 'PostgreSQL server',
    isServer: true,
    env: { KIDSLEARN_DATA_DIR: dataDir, DATABASE_URL: url.toString(), REDIS_URL: '' },
    open: () => openPostgresDatabase({ url: url.toString(), poolSize: 1, connectTimeoutMs: 5000, statementTimeoutMs: 120_000 }),
    async dispose() {
      rmSync(dataDir, { recursive: true, force: true });
      const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** SIGTERM (the server drains in-flight requests), and wait for the process to be gone. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(force);
}

/** What the database holds after the run, read directly with the server stopped. */
interface Integrity {
  stack: string;
  isServer: boolean;
  acknowledged: number;
  storedRows: number;
  missing: number;
  unexpected: number;
  stateMismatches: number;
  refusedButStored: number;
  unresolved: number;
  badBodies: number;
  passed: boolean;
}

async function checkStored(database: Database, stack: Stack, ledgers: Ledger[], results: ScenarioResult[]): Promise<Integrity> {
  const expected = new Set(ledgers.flatMap((l) => l.acknowledged()));
  const rows = (await sql<{ child_id: string; client_event_id: string }>`select child_id, client_event_id from app_mathkids.answers`.execute(database.db)).rows;
  const stored = new Set(rows.map((r) => key(r.child_id, r.client_event_id)));
  const missing = [...expected].filter((k) => !stored.has(k)).length;
  const unexpected = [...stored].filter((k) => !expected.has(k)).length;
  const stateMismatches = (
    await sql<{ n: number }>`
      select count(*)::int as n
      from (select child_id, concept_id, count(*)::int as answers from app_mathkids.answers group by child_id, concept_id) a
      full join app_mathkids.concept_states s using (child_id, concept_id)
      where coalesce(a.answers, 0) <> coalesce(s.attempts, 0)`.execute(database.db)
  ).rows[0]!.n;
  const sum = (f: (r: ScenarioResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const integrity = {
    stack: stack.name,
    isServer: stack.isServer,
    acknowledged: expected.size,
    storedRows: rows.length,
    missing,
    unexpected,
    stateMismatches,
    refusedButStored: sum((r) => r.refusedButStored),
    unresolved: sum((r) => r.unresolved),
    badBodies: sum((r) => r.badBodies),
  };
  const passed =
    integrity.storedRows === integrity.acknowledged && missing === 0 && unexpected === 0 && stateMismatches === 0 && integrity.refusedButStored === 0 && integrity.badBodies === 0;
  return { ...integrity, passed };
}

async function benchStack(kind: string): Promise<{ results: ScenarioResult[]; integrity: Integrity }> {
  const stack = kind === 'postgres' ? await postgresStack() : embeddedStack();
  try {
    const env = { ...stack.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_API_PER_MINUTE: '10000000', RATE_LIMIT_AUTH_PER_MINUTE: '1000000' };
    // Seed in a separate process first, as a deployment does once.
    execFileSync(process.execPath, ['src/cli/main.ts', 'seed'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    const { child: server, match } = await startProcess('src/runtimes/node-server.ts', [], env, /running at (http:\/\/localhost:(\d+))/);
    const base = `http://127.0.0.1:${match[2]}`;
    const results: ScenarioResult[] = [];
    const ledgers: Ledger[] = [];
    try {
      const children = await createChildren(base, stack.env.KIDSLEARN_DATA_DIR!, CONNECTIONS);
      const { items, concepts, lessons } = await numericItems(base, children[0]!.token);
      console.log(`\n${stack.name}: ${children.length} children of ${Math.ceil(children.length / CHILDREN_PER_GUARDIAN)} guardians; ${items.length} numeric items, ${concepts} concepts, ${lessons} lessons`);
      const scenarios = [
        { name: 'warm-up, single answers', scenario: 'warmup', batch: 1, durationSec: WARMUP },
        { name: 'single answers', scenario: 'single', batch: 1, durationSec: DURATION },
        { name: `batches of ${BATCH} (offline sync)`, scenario: 'batch', batch: BATCH, durationSec: DURATION },
      ].filter((s) => s.durationSec > 0);
      for (const s of scenarios) {
        const { result, ledger } = await runScenario(base, stack.name, s.name, s.scenario, s.batch, s.durationSec, children, items);
        ledgers.push(ledger);
        if (s.scenario !== 'warmup') results.push(result);
        console.log(
          `  ${s.name}: ${Math.round(result.answersPerSec)} answers/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms; ` +
            `${result.acknowledgedInRun} answers acknowledged, ${result.non2xx} non-2xx, ${result.errors} errors; ` +
            `${result.noResponse} requests in flight at stop, retried (${result.committedUnanswered} answers already committed)` +
            (result.unresolved ? `; ${result.unresolved} requests still unacknowledged after ${RETRY_ATTEMPTS} retries` : ''),
        );
      }
    } finally {
      await stopServer(server);
    }
    const database = await stack.open();
    try {
      const integrity = await checkStored(database, stack, ledgers, results);
      return { results, integrity };
    } finally {
      await database.close();
    }
  } finally {
    await stack.dispose();
  }
}

console.log(`kidslearn bench:progress — ${new Date().toISOString()} — ${machine()}`);
console.log(`POST /api/progress, unique clientEventIds; ${CONNECTIONS} connections, one child each; ${DURATION} s per scenario after a ${WARMUP} s warm-up`);

const results: ScenarioResult[] = [];
const integrities: Integrity[] = [];
const failures: string[] = [];
for (const kind of STACKS) {
  try {
    const outcome = await benchStack(kind);
    results.push(...outcome.results);
    integrities.push(outcome.integrity);
  } catch (error) {
    const message = `${kind}: ${error instanceof Error ? error.message : String(error)}`;
    console.error(`\n${message}`);
    failures.push(message);
  }
}

const fmt = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : '–');
console.log('\n| stack | scenario | answers/s | req/s | p50 ms | p99 ms | acknowledged answers | non-2xx + errors |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.stack} | ${r.name} | ${fmt(r.answersPerSec)} | ${fmt(r.requestsPerSec)} | ${r.p50Ms} | ${r.p99Ms} | ${r.acknowledgedInRun} | ${r.non2xx + r.errors} |`);
}

console.log('\nstored vs acknowledged (all scenarios incl. warm-up; acknowledged = 2xx in the run + in-flight requests acknowledged on retry):\n');
for (const i of integrities) {
  console.log(
    `  ${i.stack}: ${i.storedRows} stored, ${i.acknowledged} acknowledged; missing ${i.missing}, unexpected ${i.unexpected}; ` +
      `refused-but-stored ${i.refusedButStored}; 2xx bodies not listing the answers sent ${i.badBodies}; concept states disagreeing with answers ${i.stateMismatches}` +
      (i.unresolved ? `; ${i.unresolved} requests never acknowledged (not expected to be stored)` : ''),
  );
}

const server = results.find((r) => r.stack === 'PostgreSQL server' && r.batch === 1);
const checks: [string, boolean][] = [
  [`PostgreSQL server, single answers: ≥ ${TARGET.answersPerSec} answers/s (${server ? fmt(server.answersPerSec) : 'not measured'})`, !!server && server.answersPerSec >= TARGET.answersPerSec],
  [`PostgreSQL server, single answers: p99 ≤ ${TARGET.p99Ms} ms (${server ? `${server.p99Ms} ms` : 'not measured'})`, !!server && server.p99Ms <= TARGET.p99Ms],
  ...integrities.map((i): [string, boolean] => [`${i.stack}: stored answers == acknowledged answers (${i.storedRows} == ${i.acknowledged})`, i.passed]),
  ...failures.map((f): [string, boolean] => [`run failed — ${f.split('\n')[0]}`, false]),
];
console.log('');
for (const [name, passed] of checks) console.log(`${passed ? 'PASS' : 'FAIL'}  ${name}`);
if (integrities.some((i) => !i.isServer)) console.log('note  embedded (PGlite): figures reported only, no target');
process.exitCode = checks.every(([, passed]) => passed) ? 0 : 1;
