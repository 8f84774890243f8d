import { execFileSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { seededRandom } from '../src/domain/seeded-random.ts';
import {
  createChildren,
  embeddedStack,
  freePort,
  machine,
  numericItems,
  postgresStack,
  startProcess,
  stateMismatches as countStateMismatches,
  stopServer,
  type BenchChild,
  type BenchItem,
  type BenchStack,
} from './support.ts';

/**
 * `npm run bench:durability [-- --duration 75 --stacks embedded,postgres --seed 20261203 --children 40]`:
 * are acknowledged answers stored exactly once when the API process dies at
 * any moment?
 *
 * Per stack (embedded PGlite in a data dir; a throwaway PostgreSQL database
 * with Redis under a key prefix of its own), the demo apps are seeded and the
 * real server is started on a fixed free port. Guardians sign up and start a
 * device session for each of `--children` children over HTTP. Then every
 * child is an offline-capable app: it keeps sending `POST /api/progress`,
 * a single answer or a small batch (2–5) each time, every answer with its own
 * client-made `clientEventId`, and resends the very same body (same ids,
 * same payload) after any failure — a dropped connection, a timeout, a 5xx,
 * a 429 — with growing, jittered pauses until it is acknowledged (2xx).
 *
 * Meanwhile a killer sends SIGKILL to the server process at moments drawn from
 * a seeded PRNG (a pause of `--kill-min`..`--kill-max` s after each start),
 * always while requests are in flight (it counts them, and prints them), and
 * starts the server again at once on the same data. After `--duration` s the
 * apps stop making new answers and drain their outboxes. Then the answers are
 * read back twice: every child's pages of `GET /api/progress/{childId}/answers`,
 * and, with the server stopped, straight from the database in SQL.
 *
 * Printed per stack: answers acknowledged and stored, lost (acknowledged, not
 * stored), duplicated (more than one stored row for one clientEventId, by SQL
 * or through the API), unexpected (stored but never acknowledged), concept
 * states whose attempt count disagrees with the stored answers (an answer
 * counted twice or not at all by the learner model), kills, requests and
 * answers in flight at the kills (sent, no response handled yet), those of
 * them the kill cut off (no response ever came; the others' responses were
 * already in the socket buffers), cut-off answers a retry found already
 * committed (the kill fell between commit and response), and retries. Exit
 * code 0 only if nothing was lost, duplicated or unexpected on any stack —
 * and only if the run measured something: kills that cut off writes, and
 * retries.
 *
 * The seed fixes the answers each child sends and the kill schedule; the
 * interleaving of requests with kills depends on timing, so runs with one
 * seed differ in their counts. BENCH_POSTGRES_URL and BENCH_REDIS_URL name the
 * servers (defaults: 127.0.0.1:5432, user postgres; 127.0.0.1:6379).
 */
const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '75' },
    stacks: { type: 'string', default: 'embedded,postgres' },
    seed: { type: 'string', default: '20261203' },
    children: { type: 'string', default: '40' },
    'kill-min': { type: 'string', default: '3' },
    'kill-max': { type: 'string', default: '12' },
  },
});

function positive(name: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    console.error(`--${name} must be a number in (0, ${max}], got ${value}`);
    process.exit(2);
  }
  return n;
}

// Child tokens live 15 minutes at most (ACCESS_TOKEN_TTL's cap), and the run, drain and read-back must fit in one.
const DURATION_SEC = positive('duration', options.duration, 600);
const CHILDREN = Math.round(positive('children', options.children, 500));
const SEED = Math.round(positive('seed', options.seed, 2 ** 31));
const KILL_MIN_SEC = positive('kill-min', options['kill-min'], 600);
const KILL_MAX_SEC = Math.max(KILL_MIN_SEC, positive('kill-max', options['kill-max'], 600));
const STACKS = (options.stacks ?? '').split(',').map((s) => s.trim()).filter(Boolean);
/** How long the apps may take to get their outboxes acknowledged once no new answers are made. */
const DRAIN_SEC = 120;
/** An app gives up on one attempt after this long and sends it again. */
const REQUEST_TIMEOUT_MS = 15_000;
/** The longest pause between two attempts of one request. */
const MAX_BACKOFF_MS = 2_000;

/** One answer as the app made it, and what became of it. */
interface Answer {
  childId: string;
  clientEventId: string;
  acknowledged: boolean;
  /** The acknowledging response said it was already stored (an earlier attempt had been committed). */
  duplicateOnAck: boolean;
}

/** One request body and its attempts: resent unchanged until acknowledged. */
interface AppRequest {
  child: BenchChild;
  body: string;
  answers: Answer[];
  attempts: number;
  /** The kill during which an attempt was in flight, and that attempt's number; cleared once the attempt ends. */
  atKill?: { kill: Kill; attempt: number };
  /** Attempts of this request that were in flight at a kill and got no response: the kills cut them off. */
  cutOff: number;
  /** The last kill that cut it off. */
  lastCutBy?: Kill;
  /** Refused with a 4xx other than 408/429: an app would not resend it. */
  refused?: { status: number; body: string };
}

/** One kill of the server process. */
interface Kill {
  atSec: number;
  /** Requests sent and not yet answered as the client saw it when the signal went. */
  inFlightRequests: number;
  inFlightAnswers: number;
  /** Of those, the ones that then got no response: the kill cut them off. */
  cutOffRequests: number;
  cutOffAnswers: number;
  /**
   * The others: their whole response was already on its way (in the
   * sockets' buffers) when the signal went, so they were acknowledged.
   */
  answeredAnyway: number;
  restartMs: number;
  /** From the restarted server's start-up message to its first acknowledgement. */
  firstAckMs?: number;
  /** When the restarted server said it was ready (performance.now()). */
  readyAt?: number;
  /** From ready to the acknowledgement of the last request this kill cut off (it may have been cut off again by a later kill). */
  recoveredMs?: number;
}

/** Everything one stack's run counts. */
interface Outcome {
  stack: string;
  requests: number;
  answers: number;
  acknowledged: number;
  storedSql: number;
  storedRowsSql: number;
  storedRowsApi: number;
  lost: number;
  lostApi: number;
  duplicated: number;
  duplicatedApi: number;
  unexpected: number;
  stateMismatches: number;
  refused: number;
  unresolved: number;
  badBodies: number;
  duplicateOnFirstAttempt: number;
  kills: Kill[];
  /** Acknowledged attempts' latency: median, 99th percentile and maximum (ms). */
  ackLatency: { p50: number; p99: number; max: number };
  /** Attempts not acknowledged, by status (0: no response). */
  failedAttempts: Map<number, { count: number; example: string }>;
  /** Requests cut off by at least one kill, and by more than one. */
  cutOffDistinct: number;
  cutOffMoreThanOnce: number;
  committedBeforeKill: number;
  retriedRequests: number;
  retriedAnswers: number;
  retryAttempts: number;
}

const key = (childId: string, clientEventId: string) => `${childId}\u0000${clientEventId}`;
const ok = (status: number) => status >= 200 && status < 300;

/** The server process of one stack: started, killed and started again on the same port and data. */
class Server {
  readonly #env: Record<string, string>;
  readonly base: string;
  #child: ChildProcess | undefined;

  constructor(env: Record<string, string>, port: number) {
    this.#env = { ...env, PORT: String(port), HOST: '127.0.0.1' };
    this.base = `http://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const { child } = await startProcess('src/runtimes/node-server.ts', [], this.#env, /running at http:\/\/localhost:\d+/);
    this.#child = child;
  }

  /** kill -9, and wait until the process is gone (PGlite's data dir lock is taken over only from a dead process). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error('server is not running');
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (this.#child) await stopServer(this.#child);
  }
}

/** One stack's run: setup, writers and killer, drain, read-back. */
async function runStack(kind: string): Promise<Outcome> {
  const stack: BenchStack = kind === 'postgres' ? await postgresStack('durability', { redis: true }) : embeddedStack('durability');
  try {
    const env = { ...stack.env, LOG_LEVEL: 'warn', RATE_LIMIT_API_PER_MINUTE: '10000000', RATE_LIMIT_AUTH_PER_MINUTE: '1000000', ACCESS_TOKEN_TTL: '15m' };
    execFileSync(process.execPath, ['src/cli/main.ts', 'seed'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    const server = new Server(env, await freePort());
    await server.start();
    try {
      const children = await createChildren(server.base, stack.env.KIDSLEARN_DATA_DIR!, CHILDREN);
      const { items } = await numericItems(server.base, children[0]!.token);
      console.log(`\n${stack.name}: ${children.length} children, ${items.length} numeric items; writing for ${DURATION_SEC} s with kills every ${KILL_MIN_SEC}–${KILL_MAX_SEC} s`);
      const run = new Run(server, children, items);
      await run.go();
      const api = await readBackThroughApi(server.base, children);
      await server.stop();
      const database = await stack.open();
      try {
        return await run.outcome(stack.name, api, database);
      } finally {
        await database.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    await stack.dispose();
  }
}

/** The writers, the killer and their ledger for one stack. */
class Run {
  readonly #server: Server;
  readonly #children: BenchChild[];
  readonly #items: BenchItem[];
  readonly requests: AppRequest[] = [];
  readonly kills: Kill[] = [];
  /** Requests sent and not yet answered (or failed). */
  readonly #inFlight = new Set<AppRequest>();
  #start = 0;
  #makeNew = true;
  #giveUp = false;
  badBodies = 0;
  duplicateOnFirstAttempt = 0;
  retryAttempts = 0;
  /** Time from sending to the response, of every acknowledged attempt (ms). */
  readonly ackLatencies: number[] = [];
  /** Attempts that were not acknowledged, by status (0: no response), with the first error code seen for each. */
  readonly failedAttempts = new Map<number, { count: number; example: string }>();

  constructor(server: Server, children: BenchChild[], items: BenchItem[]) {
    this.#server = server;
    this.#children = children;
    this.#items = items;
  }

  async go(): Promise<void> {
    this.#start = performance.now();
    const writers = this.#children.map((child, i) => this.#writer(child, seededRandom(SEED + 7919 * (i + 1))));
    try {
      await this.#killer(seededRandom(SEED ^ 0x5eed));
    } catch (error) {
      // The server did not come back: stop the apps so the run ends with the failure instead of retrying forever.
      this.#makeNew = false;
      this.#giveUp = true;
      await Promise.all(writers);
      throw error;
    }
    this.#makeNew = false;
    console.log(`  ${this.#sec().toFixed(1)} s: no new answers; draining the apps' outboxes`);
    const drained = await Promise.race([Promise.all(writers).then(() => true), sleep(DRAIN_SEC * 1000).then(() => false)]);
    if (!drained) {
      this.#giveUp = true;
      await Promise.all(writers);
    }
    console.log(`  ${this.#sec().toFixed(1)} s: outboxes ${drained ? 'empty' : `not empty after ${DRAIN_SEC} s`}`);
  }

  #sec(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** One child's app: makes answers, sends each request until it is acknowledged. */
  async #writer(child: BenchChild, random: () => number): Promise<void> {
    let seq = 0;
    while (this.#makeNew) {
      const size = random() < 0.6 ? 1 : 2 + Math.floor(random() * 4);
      const now = Date.now();
      const answers = [];
      for (let i = 0; i < size; i++) {
        const item = this.#items[child.next++ % this.#items.length]!;
        answers.push({
          childId: child.id,
          itemId: item.id,
          response: random() < 0.75 ? item.answer : item.answer + 1,
          durationMs: 2000 + Math.floor(random() * 13_000),
          answeredAt: new Date(now - (size - i) * 1000).toISOString(),
          clientEventId: `durability-${seq++}`,
        });
      }
      const request: AppRequest = {
        child,
        body: JSON.stringify(size === 1 ? answers[0] : { answers }),
        answers: answers.map((a) => ({ childId: a.childId, clientEventId: a.clientEventId, acknowledged: false, duplicateOnAck: false })),
        attempts: 0,
        cutOff: 0,
      };
      this.requests.push(request);
      await this.#deliver(request, random);
    }
  }

  /** Sends the request, and again with the same body after every failure, until a 2xx (or a refusal an app would not retry). */
  async #deliver(request: AppRequest, random: () => number): Promise<void> {
    while (!this.#giveUp) {
      request.attempts++;
      if (request.attempts > 1) this.retryAttempts++;
      this.#inFlight.add(request);
      const sentAt = performance.now();
      let status = 0;
      let text = '';
      try {
        const res = await fetch(`${this.#server.base}/api/progress`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${request.child.token}` },
          body: request.body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        status = res.status;
        text = await res.text();
      } catch {
        // No response (status stays 0): refused connection while the server is down, reset by the kill, or timed out.
      } finally {
        this.#inFlight.delete(request);
      }
      if (request.atKill?.attempt === request.attempts) {
        const { kill } = request.atKill;
        if (status === 0) {
          kill.cutOffRequests++;
          kill.cutOffAnswers += request.answers.length;
          request.cutOff++;
          request.lastCutBy = kill;
        } else {
          kill.answeredAnyway++;
        }
        request.atKill = undefined;
      }
      if (ok(status)) {
        this.#acknowledge(request, text, performance.now() - sentAt);
        return;
      }
      const failed = this.failedAttempts.get(status) ?? { count: 0, example: status === 0 ? 'no response' : (/"code":"([^"]+)"/.exec(text)?.[1] ?? text.slice(0, 80)) };
      failed.count++;
      this.failedAttempts.set(status, failed);
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        request.refused = { status, body: text.slice(0, 300) };
        console.log(`  refused ${status} for ${request.child.id}: ${request.refused.body}`);
        return;
      }
      const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(request.attempts - 1, 5));
      await sleep(backoff * (0.5 + random()));
    }
  }

  #acknowledge(request: AppRequest, text: string, latencyMs: number): void {
    const now = performance.now();
    this.ackLatencies.push(latencyMs);
    const last = this.kills.at(-1);
    if (last?.readyAt !== undefined && last.firstAckMs === undefined) last.firstAckMs = Math.round(now - last.readyAt);
    const cutBy = request.lastCutBy;
    if (cutBy?.readyAt !== undefined) cutBy.recoveredMs = Math.max(cutBy.recoveredMs ?? 0, Math.round(now - cutBy.readyAt));
    let results: { clientEventId?: unknown; duplicate?: unknown }[] | undefined;
    try {
      results = (JSON.parse(text) as { results?: { clientEventId?: unknown; duplicate?: unknown }[] }).results;
    } catch {
      results = undefined;
    }
    if (!Array.isArray(results) || results.length !== request.answers.length || results.some((r, i) => r.clientEventId !== request.answers[i]!.clientEventId)) {
      this.badBodies++;
    }
    for (const [i, answer] of request.answers.entries()) {
      answer.acknowledged = true;
      answer.duplicateOnAck = results?.[i]?.duplicate === true;
      // A first attempt can only find its id stored if ids collided: count it as a defect of the bench or the server.
      if (answer.duplicateOnAck && request.attempts === 1) this.duplicateOnFirstAttempt++;
    }
  }

  /** Kills the server at seeded random moments while writes are in flight, and starts it again at once. */
  async #killer(random: () => number): Promise<void> {
    for (;;) {
      const pause = KILL_MIN_SEC + random() * (KILL_MAX_SEC - KILL_MIN_SEC);
      if (this.#sec() + pause >= DURATION_SEC) {
        await sleep(Math.max(0, (DURATION_SEC - this.#sec()) * 1000));
        return;
      }
      await sleep(pause * 1000);
      // Mid-write means with requests on the wire; under this load there always are, but wait for one if not.
      for (let waited = 0; this.#inFlight.size === 0 && waited < 2000; waited += 5) await sleep(5);
      const inFlight = [...this.#inFlight];
      const kill: Kill = {
        atSec: this.#sec(),
        inFlightRequests: inFlight.length,
        inFlightAnswers: inFlight.reduce((n, r) => n + r.answers.length, 0),
        cutOffRequests: 0,
        cutOffAnswers: 0,
        answeredAnyway: 0,
        restartMs: 0,
      };
      // Marked and killed in one synchronous run: no response can be handled in between.
      for (const r of inFlight) r.atKill = { kill, attempt: r.attempts };
      this.kills.push(kill);
      await this.#server.kill();
      const restarting = performance.now();
      await this.#server.start();
      kill.readyAt = performance.now();
      kill.restartMs = Math.round(kill.readyAt - restarting);
      console.log(
        `  ${kill.atSec.toFixed(1)} s: kill -9 #${this.kills.length} with ${kill.inFlightRequests} requests (${kill.inFlightAnswers} answers) in flight, ` +
          `${kill.cutOffRequests} (${kill.cutOffAnswers}) of them cut off; serving again after ${kill.restartMs} ms`,
      );
    }
  }

  /** Compares what the apps were told with what the API and the database hold. */
  async outcome(stack: string, api: Map<string, number>, database: Awaited<ReturnType<BenchStack['open']>>): Promise<Outcome> {
    const answers = this.requests.flatMap((r) => r.answers);
    const acknowledged = new Set(answers.filter((a) => a.acknowledged).map((a) => key(a.childId, a.clientEventId)));
    const rows = (
      await sql<{ child_id: string; client_event_id: string; n: number }>`
        select child_id, client_event_id, count(*)::int as n from app_mathkids.answers group by child_id, client_event_id`.execute(database.db)
    ).rows;
    const stored = new Map(rows.map((r) => [key(r.child_id, r.client_event_id), r.n]));
    const stateMismatches = await countStateMismatches(database);
    const retried = this.requests.filter((r) => r.attempts > 1);
    return {
      stack,
      requests: this.requests.length,
      answers: answers.length,
      acknowledged: acknowledged.size,
      storedSql: stored.size,
      storedRowsSql: rows.reduce((n, r) => n + r.n, 0),
      storedRowsApi: [...api.values()].reduce((n, c) => n + c, 0),
      lost: [...acknowledged].filter((k) => !stored.has(k)).length,
      lostApi: [...acknowledged].filter((k) => !api.has(k)).length,
      duplicated: rows.reduce((n, r) => n + r.n - 1, 0),
      duplicatedApi: [...api.values()].reduce((n, c) => n + c - 1, 0),
      unexpected: [...stored.keys()].filter((k) => !acknowledged.has(k)).length,
      stateMismatches,
      refused: this.requests.filter((r) => r.refused).length,
      unresolved: this.requests.filter((r) => !r.refused && r.answers.some((a) => !a.acknowledged)).length,
      badBodies: this.badBodies,
      duplicateOnFirstAttempt: this.duplicateOnFirstAttempt,
      kills: this.kills,
      failedAttempts: this.failedAttempts,
      ackLatency: percentiles(this.ackLatencies),
      cutOffDistinct: this.requests.filter((r) => r.cutOff > 0).length,
      cutOffMoreThanOnce: this.requests.filter((r) => r.cutOff > 1).length,
      committedBeforeKill: this.requests.filter((r) => r.cutOff > 0).reduce((n, r) => n + r.answers.filter((a) => a.duplicateOnAck).length, 0),
      retriedRequests: retried.length,
      retriedAnswers: retried.reduce((n, r) => n + r.answers.length, 0),
      retryAttempts: this.retryAttempts,
    };
  }
}

/** Median, 99th percentile and maximum, rounded to ms. */
function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
  return { p50: at(0.5), p99: at(0.99), max: Math.round(sorted.at(-1) ?? NaN) };
}

/** Every child's answers as the API pages them: (child, clientEventId) → rows seen. */
async function readBackThroughApi(base: string, children: BenchChild[]): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const child of children) {
    let cursor: string | null = null;
    do {
      const res = await fetch(`${base}/api/progress/${child.id}/answers?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${child.token}` } });
      if (!res.ok) throw new Error(`GET answers of ${child.id} → ${res.status}: ${await res.text()}`);
      const page = (await res.json()) as { items: { clientEventId: string }[]; nextCursor: string | null };
      for (const a of page.items) seen.set(key(child.id, a.clientEventId), (seen.get(key(child.id, a.clientEventId)) ?? 0) + 1);
      cursor = page.nextCursor;
    } while (cursor);
  }
  return seen;
}

console.log(`kidslearn bench:durability — ${new Date().toISOString()} — ${machine()}`);
console.log(`seed ${SEED}; ${CHILDREN} children writing single answers and batches of 2–5; ${DURATION_SEC} s per stack; kill -9 every ${KILL_MIN_SEC}–${KILL_MAX_SEC} s`);

const outcomes: Outcome[] = [];
const failures: string[] = [];
for (const kind of STACKS) {
  if (kind !== 'embedded' && kind !== 'postgres') {
    failures.push(`unknown stack "${kind}" (embedded or postgres)`);
    continue;
  }
  try {
    outcomes.push(await runStack(kind));
  } catch (error) {
    const message = `${kind}: ${error instanceof Error ? error.message : String(error)}`;
    console.error(`\n${message}`);
    failures.push(message);
  }
}

const total = (o: Outcome, f: (k: Kill) => number) => o.kills.reduce((n, k) => n + f(k), 0);
console.log(
  '\n| stack | requests | answers acknowledged | stored (SQL) | stored rows via API | lost | duplicated | kills | in flight at kills: requests (answers) | cut off by kills: requests (answers) | cut-off answers already committed | retried requests (answers) | retry attempts |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const o of outcomes) {
  console.log(
    `| ${o.stack} | ${o.requests} | ${o.acknowledged} | ${o.storedSql} | ${o.storedRowsApi} | ${o.lost} | ${o.duplicated} | ${o.kills.length} | ` +
      `${total(o, (k) => k.inFlightRequests)} (${total(o, (k) => k.inFlightAnswers)}) | ${total(o, (k) => k.cutOffRequests)} (${total(o, (k) => k.cutOffAnswers)}) | ` +
      `${o.committedBeforeKill} | ${o.retriedRequests} (${o.retriedAnswers}) | ${o.retryAttempts} |`,
  );
}
console.log('\n(in flight: sent, no response handled yet when the signal went; cut off: then got no response at all — the rest were already answered in the socket buffers.');
console.log(' already committed: the retry of a cut-off request was acknowledged as a duplicate, i.e. the kill fell between commit and response.)');
for (const o of outcomes) {
  const restarts = o.kills.map((k) => k.restartMs).sort((a, b) => a - b);
  console.log(
    `\n${o.stack}: ${o.answers} answers made; lost through the API ${o.lostApi}, duplicated through the API ${o.duplicatedApi}; stored rows (SQL) ${o.storedRowsSql}; ` +
      `unexpected (stored, never acknowledged) ${o.unexpected}; concept states disagreeing with stored answers ${o.stateMismatches}; ` +
      `refused ${o.refused}; unacknowledged at the end ${o.unresolved}; 2xx bodies not listing the answers sent ${o.badBodies}; duplicate on a first attempt ${o.duplicateOnFirstAttempt}; ` +
      `restart ${restarts[0] ?? '–'}–${restarts.at(-1) ?? '–'} ms, then first acknowledgement after ${o.kills.map((k) => k.firstAckMs ?? '–').join(', ')} ms, ` +
      `every request each kill cut off acknowledged after ${o.kills.map((k) => k.recoveredMs ?? '–').join(', ')} ms; ` +
      `acknowledged attempts' latency p50 ${o.ackLatency.p50} ms, p99 ${o.ackLatency.p99} ms, max ${o.ackLatency.max} ms; ` +
      `${o.cutOffDistinct} distinct requests cut off, ${o.cutOffMoreThanOnce} of them by more than one kill; ` +
      `attempts not acknowledged: ${[...o.failedAttempts].sort(([a], [b]) => a - b).map(([status, f]) => `${f.count} × ${status === 0 ? 'no response' : `${status} ${f.example}`}`).join(', ') || 'none'}`,
  );
}

const checks: [string, boolean][] = [];
for (const o of outcomes) {
  const cutOff = total(o, (k) => k.cutOffRequests);
  checks.push(
    [`${o.stack}: 0 lost (${o.lost} by SQL, ${o.lostApi} through the API)`, o.lost === 0 && o.lostApi === 0],
    [`${o.stack}: 0 duplicated (${o.duplicated} by SQL, ${o.duplicatedApi} through the API)`, o.duplicated === 0 && o.duplicatedApi === 0],
    [`${o.stack}: stored == acknowledged, nothing unexpected (${o.storedSql} == ${o.acknowledged}, ${o.unexpected} unexpected)`, o.storedSql === o.acknowledged && o.unexpected === 0],
    [`${o.stack}: every concept state counts its stored answers once (${o.stateMismatches} disagree)`, o.stateMismatches === 0],
    [`${o.stack}: every request acknowledged, none refused, every 2xx body lists the answers sent`, o.unresolved === 0 && o.refused === 0 && o.badBodies === 0 && o.duplicateOnFirstAttempt === 0],
    [`${o.stack}: the run killed mid-write and retried (${o.kills.length} kills, ${cutOff} requests cut off by them, ${o.retriedRequests} retried)`, o.kills.length > 0 && cutOff > 0 && o.retriedRequests > 0],
  );
}
for (const f of failures) checks.push([`run failed — ${f.split('\n')[0]}`, false]);
console.log('');
for (const [name, passed] of checks) console.log(`${passed ? 'PASS' : 'FAIL'}  ${name}`);
process.exitCode = checks.length > 0 && checks.every(([, passed]) => passed) ? 0 : 1;
