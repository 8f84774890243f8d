import { execFileSync } from 'node:child_process';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import type { Database } from '../src/adapters/db/database.ts';
import {
  CHILDREN_PER_GUARDIAN,
  createChildren,
  embeddedStack,
  machine,
  numericItems,
  postgresStack,
  startProcess,
  stateMismatches as countStateMismatches,
  stopServer,
  type BenchChild as Child,
  type BenchItem as Item,
  type BenchStack as Stack,
} from './support.ts';

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
const BATCH = 20;
const TARGET = { answersPerSec: 1000, p99Ms: 100 };
const RETRY_ATTEMPTS = 5;

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
  const stateMismatches = await countStateMismatches(database);
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
  const stack = kind === 'postgres' ? await postgresStack('progress') : embeddedStack('progress');
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
