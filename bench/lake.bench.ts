import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/config.ts';
import os from 'node:os';
import { cpuShare, describeShare } from './cpu-share.ts';
import { crashTest, type CrashResult } from './lake-crash.ts';
import { measureFreshness, type FreshnessResult } from './lake-freshness.ts';
import { unpackAllEventPacks } from '../src/analytics/event-packs.ts';
import { answerRun, createLakeChildren, ingestRun, type AnswerResult, type IngestResult } from './lake-load.ts';
import { backlog, drainWithWriter, fillOutbox } from './lake-outbox.ts';
import { benchReports, type ReportTiming } from './lake-reports.ts';
import { embeddedStack, machine, median, numericItems, postgresStack, startProcess, stopServer, type BenchChild, type BenchStack } from './support.ts';

/**
 * npm run bench:lake — the analytics lake on the PostgreSQL server and on
 * embedded PGlite:
 *  1. ingest: events acknowledged per second by POST /api/events on the real
 *     server process (batches of 100 and 500, pre-generated bodies); the
 *     outbox must then hold exactly the acknowledged events;
 *  2. answer writes with the lake on vs off (LAKE_ENABLED), interleaved;
 *  3. the writer: outbox → Parquet, events/s;
 *  4. freshness: acknowledged → visible in the lake files, p50/p95;
 *  5. the canned reports over a synthetic 10M-event lake (30 days);
 *  6. crash test (PostgreSQL): the writer process kill -9'd 20 times under
 *     load; every acknowledged event must be in the lake exactly once
 *     (the command fails otherwise).
 *
 * Scale with BENCH_LAKE_* (see the constants below); BENCH_STACKS picks the
 * stacks (postgres,embedded); BENCH_LAKE_PARTS picks parts (ingest,answers,
 * writer,freshness,reports,crash).
 */
const env = process.env;
const num = (name: string, fallback: number) => Number(env[name] ?? fallback);
const STACKS = (env.BENCH_STACKS ?? 'postgres,embedded').split(',').map((s) => s.trim()).filter(Boolean);
const PARTS = new Set((env.BENCH_LAKE_PARTS ?? 'ingest,writer,answers,indexes,freshness,reports,crash').split(',').map((s) => s.trim()));
const INGEST_SEC = num('BENCH_LAKE_DURATION_SEC', 10);
const INGEST_CONNECTIONS = num('BENCH_LAKE_CONNECTIONS', 20);
const INGEST_POOL = num('BENCH_LAKE_INGEST_POOL', 120_000);
/** The event sink of the crash test's server (BENCH_LAKE_CRASH_EVENT_QUEUE). */
const CRASH_EVENT_QUEUE = env.BENCH_LAKE_CRASH_EVENT_QUEUE ?? 'packed';
/** Seconds of ingest before the measured runs on each server (a fresh process runs much slower until its code is optimised). */
const INGEST_WARMUP_SEC = num('BENCH_LAKE_WARMUP_SEC', 5);
/** The event sinks ingest is measured with (EVENT_QUEUE), each on its own server over the same database. */
const INGEST_SINKS = (env.BENCH_LAKE_EVENT_QUEUES ?? 'database,packed').split(',').map((s) => s.trim()).filter(Boolean);
const ANSWER_SEC = num('BENCH_LAKE_ANSWER_SEC', 6);
const ANSWER_ROUNDS = num('BENCH_LAKE_ROUNDS', 3);
const ANSWER_CONNECTIONS = num('BENCH_LAKE_ANSWER_CONNECTIONS', 50);
const WRITER_EVENTS = { postgres: num('BENCH_LAKE_WRITER_EVENTS', 300_000), embedded: num('BENCH_LAKE_WRITER_EVENTS_PGLITE', 100_000) };
const FLUSH_SECONDS = num('BENCH_LAKE_FLUSH_SECONDS', 10);
const FRESH_SEC = num('BENCH_LAKE_FRESH_SEC', 40);
const FRESH_RATE = num('BENCH_LAKE_FRESH_RATE', 200);
const KILLS = num('BENCH_LAKE_KILLS', 20);
const REPORT_EVENTS = num('BENCH_LAKE_REPORT_EVENTS', 10_000_000);
const REPORT_DAYS = 30;
const REPORT_END_DAY = '2026-11-30';
const SYNTHETIC_DIR = env.BENCH_LAKE_SYNTHETIC_DIR ?? path.join(tmpdir(), 'kidslearn-bench-lake-synthetic', 'lake');
const TARGET = { ingestPerSec: 50_000, onOffRatio: 0.8, reportMs: 1000, freshSlackSec: 10 };
const CHILDREN = Math.max(INGEST_CONNECTIONS, ANSWER_CONNECTIONS);

const log = (line: string) => console.log(line);
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

interface StackFigures {
  stack: string;
  ingest: (IngestResult & { cpu: string; sink: string })[];
  ingestCheck?: { acknowledged: number; rows: number; distinct: number; passed: boolean };
  answers: { lake: 'on' | 'off'; round: number; single: AnswerResult; batch: AnswerResult; cpu: string }[];
  indexes: { variant: string; batch: AnswerResult; single: AnswerResult }[];
  writer?: { cpu: string; inserted: number; insertSec: number; events: number; batches: number; files: number; seconds: number; pendingAfter: number };
  freshness?: FreshnessResult & { flushSeconds: number };
  crash?: CrashResult;
}

/** The API server process over a stack; `lake` settings as given. */
async function startServer(stack: BenchStack, extra: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const { child, match } = await startProcess('src/runtimes/node-server.ts', [], { ...serverEnv(stack), ...extra }, /running at (http:\/\/localhost:(\d+))/);
  return { child, base: `http://127.0.0.1:${match[2]}` };
}

function serverEnv(stack: BenchStack): Record<string, string> {
  return {
    ...stack.env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    RATE_LIMIT_API_PER_MINUTE: '10000000',
    RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
    LAKE_MAX_BACKLOG: '50000000',
  };
}

async function benchStack(kind: string): Promise<StackFigures> {
  const stack = kind === 'postgres' ? await postgresStack('lake') : embeddedStack('lake');
  const figures: StackFigures = { stack: stack.name, ingest: [], answers: [], indexes: [] };
  const lakeDir = path.join(stack.env.KIDSLEARN_DATA_DIR!, 'lake');
  const servers: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(servers.splice(0).map((s) => stopServer(s)));
  };
  try {
    execFileSync(process.execPath, ['src/cli/main.ts', 'seed'], { env: { ...process.env, ...serverEnv(stack) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let server = await startServer(stack, {});
    servers.push(server.child);
    const children: BenchChild[] = await createLakeChildren(server.base, stack.env.KIDSLEARN_DATA_DIR!, CHILDREN);
    const { items } = await numericItems(server.base, children[0]!.token);
    log(`\n${stack.name}: ${children.length} children (productAnalytics on), ${items.length} numeric items`);

    // 1. Ingest.
    if (PARTS.has('ingest')) {
      const acknowledged = new Set<string>();
      let serving = 'database';
      for (const sink of INGEST_SINKS) {
        if (sink !== serving) {
          // The same database and children, a server with the other sink. The earlier sink's rows are
          // vacuumed and a checkpoint taken first, so autovacuum and the checkpointer do not run
          // during this sink's runs (they cost the second sink 10–30 % before).
          await stopAll();
          if (stack.isServer) {
            const database = await stack.open();
            try {
              const started = performance.now();
              await sql`vacuum analyze kidslearn.lake_events`.execute(database.db);
              await sql`vacuum analyze kidslearn.lake_event_packs`.execute(database.db);
              await sql`checkpoint`.execute(database.db);
              log(`  vacuum analyze of the outbox and packs, and a checkpoint, before EVENT_QUEUE=${sink}: ${fmt((performance.now() - started) / 1000, 1)} s`);
            } finally {
              await database.close();
            }
          }
          server = await startServer(stack, { EVENT_QUEUE: sink });
          servers.push(server.child);
          serving = sink;
        }
        for (const [batch, sec, label] of [
          [100, INGEST_WARMUP_SEC, 'warm-up'],
          [100, INGEST_SEC, ''],
          [500, INGEST_SEC, ''],
        ] as const) {
          const share = cpuShare({ server: server.child.pid, 'load generator': process.pid });
          const r = await ingestRun(server.base, children, { batch, durationSec: sec, connections: INGEST_CONNECTIONS, poolEventsPerSec: INGEST_POOL });
          const cpu = describeShare(share.stop(), os.cpus().length);
          for (const id of r.acknowledgedIds) acknowledged.add(id);
          if (!label) figures.ingest.push({ ...r, cpu, sink });
          log(
            `  ingest, EVENT_QUEUE=${sink}, ${label || `batches of ${batch}`}${label ? ` (batches of ${batch})` : ''}: ${fmt(r.eventsPerSec)} events/s (${fmt(r.requestsPerSec)} req/s), p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms; ` +
              `${r.acknowledgedInRun} acknowledged in the run, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.badBodies} bad bodies${r.exhausted ? '; BODY POOL EXHAUSTED (raise BENCH_LAKE_INGEST_POOL)' : ''}`,
          );
          log(`    CPU (incl. body generation and retries): ${cpu}`);
        }
      }
      await stopAll();
      const database = await stack.open();
      try {
        // Packed requests (EVENT_QUEUE=packed) are outbox rows once unpacked, as the lake writer would.
        const unpackStarted = performance.now();
        const unpacked = await unpackAllEventPacks(database.db);
        if (unpacked) log(`  unpacked ${unpacked} packed events into the outbox in ${fmt((performance.now() - unpackStarted) / 1000, 1)} s (${fmt(unpacked / ((performance.now() - unpackStarted) / 1000))} events/s)`);
        const { rows } = await sql<{ n: number; d: number }>`select count(*)::int as n, count(distinct event_id)::int as d from kidslearn.lake_events where source = 'app'`.execute(database.db);
        const check = { acknowledged: acknowledged.size, rows: rows[0]!.n, distinct: rows[0]!.d, passed: rows[0]!.n === acknowledged.size && rows[0]!.d === acknowledged.size };
        figures.ingestCheck = check;
        log(`  outbox after ingest: ${check.rows} app events (${check.distinct} distinct ids), ${check.acknowledged} acknowledged → ${check.passed ? 'equal' : 'DIFFERENT'}`);
      } finally {
        await database.close();
      }
    } else await stopAll();

    // 3. The writer, outbox → Parquet (before the answer runs, so PGlite's inline writer starts them with an empty backlog).
    if (PARTS.has('writer')) {
      const database = await stack.open();
      const n = kind === 'postgres' ? WRITER_EVENTS.postgres : WRITER_EVENTS.embedded;
      let insertSec: number;
      try {
        insertSec = await fillOutbox(database, n);
        log(`  writer: ${n} events inserted into the outbox in ${fmt(insertSec, 1)} s; ${await backlog(database)} pending in all`);
      } finally {
        await database.close();
      }
      const share = cpuShare({ 'writer (this process)': process.pid });
      const w = await drainWithWriter(serverEnv(stack));
      const cpu = describeShare(share.stop(), os.cpus().length);
      figures.writer = { inserted: n, insertSec, ...w, cpu };
      log(`  writer: ${w.events} events in ${w.batches} batches (${w.files} files) in ${fmt(w.seconds, 1)} s = ${fmt(w.events / w.seconds)} events/s; ${w.pendingAfter} pending after`);
      log(`    CPU: ${cpu}`);
    }

    // 2. Answer writes, lake on vs off, interleaved.
    if (PARTS.has('answers')) {
      const modes = ['on', 'off'] as const;
      const lakeEnv = (m: 'on' | 'off') => ({ LAKE_ENABLED: m === 'on' ? 'true' : 'false' });
      // PostgreSQL: both servers run side by side (an idle one costs nothing); PGlite allows one process, so it restarts.
      const running = new Map<'on' | 'off', { base: string; pid: number | undefined }>();
      if (stack.isServer) {
        for (const m of modes) {
          const s = await startServer(stack, lakeEnv(m));
          servers.push(s.child);
          running.set(m, { base: s.base, pid: s.child.pid });
        }
      }
      let tag = 0;
      for (let round = 1; round <= ANSWER_ROUNDS; round++) {
        for (const m of round % 2 === 1 ? modes : ([...modes].reverse() as ('on' | 'off')[])) {
          let target = running.get(m);
          if (!target) {
            await stopAll();
            const s = await startServer(stack, lakeEnv(m));
            servers.push(s.child);
            target = { base: s.base, pid: s.child.pid };
          }
          const base = target.base;
          await answerRun(base, children, items, { batch: 1, durationSec: 1, connections: ANSWER_CONNECTIONS, tag: `w${round}${m}-${tag++}` });
          const share = cpuShare({ server: target.pid, 'load generator': process.pid });
          const single = await answerRun(base, children, items, { batch: 1, durationSec: ANSWER_SEC, connections: ANSWER_CONNECTIONS, tag: `s${round}${m}-${tag++}` });
          const batch = await answerRun(base, children, items, { batch: 20, durationSec: ANSWER_SEC, connections: ANSWER_CONNECTIONS, tag: `b${round}${m}-${tag++}` });
          const cpu = describeShare(share.stop(), os.cpus().length);
          figures.answers.push({ lake: m, round, single, batch, cpu });
          log(
            `  answers, lake ${m}, round ${round}: single ${fmt(single.answersPerSec)}/s (p99 ${single.p99Ms} ms, ${single.non2xx + single.errors} non-2xx/errors), ` +
              `batches of 20 ${fmt(batch.answersPerSec)}/s (p99 ${batch.p99Ms} ms, ${batch.non2xx + batch.errors} non-2xx/errors); CPU ${cpu}`,
          );
        }
      }
      // 2b. PostgreSQL: what the outbox's indexes cost the answer path, measured with indexes dropped by hand (recreated after).
      if (PARTS.has('indexes') && stack.isServer) {
        const database = await stack.open();
        const variants: [string, string[]][] = [
          ['lake off', []],
          ['lake on, all indexes', []],
          ['lake on, without lake_events_learner', ['lake_events_learner']],
          ['lake on, without lake_events_pending', ['lake_events_pending']],
          ['lake on, without both', ['lake_events_learner', 'lake_events_pending']],
          ['lake off (again)', []],
        ];
        const definitions = new Map<string, string>();
        for (const name of ['lake_events_learner', 'lake_events_pending']) {
          const { rows } = await sql<{ def: string }>`select pg_get_indexdef(${`kidslearn.${name}`}::regclass) as def`.execute(database.db);
          definitions.set(name, rows[0]!.def);
        }
        try {
          for (const [variant, drop] of variants) {
            for (const name of drop) await sql.raw(`drop index kidslearn.${name}`).execute(database.db);
            try {
              const base = running.get(variant.startsWith('lake off') ? 'off' : 'on')!.base;
              const single = await answerRun(base, children, items, { batch: 1, durationSec: ANSWER_SEC, connections: ANSWER_CONNECTIONS, tag: `is${tag++}` });
              const batch = await answerRun(base, children, items, { batch: 20, durationSec: ANSWER_SEC, connections: ANSWER_CONNECTIONS, tag: `ib${tag++}` });
              figures.indexes.push({ variant, single, batch });
              log(`  answers, ${variant}: single ${fmt(single.answersPerSec)}/s, batches of 20 ${fmt(batch.answersPerSec)}/s (p99 ${batch.p99Ms} ms)`);
            } finally {
              for (const name of drop) await sql.raw(definitions.get(name)!).execute(database.db);
            }
          }
        } finally {
          await database.close();
        }
      }
      await stopAll();
    }

    // 4. Freshness: the writer in its own process on PostgreSQL, inline on PGlite.
    if (PARTS.has('freshness')) {
      // Start from an empty backlog (the answer runs left server events pending): freshness, not catching up.
      const before = await drainWithWriter(serverEnv(stack));
      log(`  freshness: ${before.events} events left by the earlier parts written first (${fmt(before.seconds, 1)} s)`);
      const lake = { LAKE_FLUSH_SECONDS: String(FLUSH_SECONDS) };
      server = await startServer(stack, stack.isServer ? {} : { ...lake, LAKE_MODE: 'inline' });
      servers.push(server.child);
      let writer: ChildProcess | undefined;
      if (stack.isServer) {
        writer = (await startProcess('src/runtimes/lake.ts', [], { ...serverEnv(stack), ...lake, LAKE_MODE: 'separate', LAKE_PORT: '0' }, /lake writer \S+ working at/)).child;
        servers.push(writer);
      }
      const f = await measureFreshness(server.base, lakeDir, children, { ratePerSec: FRESH_RATE, batch: 20, durationSec: FRESH_SEC, pollMs: 250, waitSec: FLUSH_SECONDS + 60 });
      figures.freshness = { ...f, flushSeconds: FLUSH_SECONDS };
      log(
        `  freshness (LAKE_FLUSH_SECONDS=${FLUSH_SECONDS}, ${FRESH_RATE} events/s for ${FRESH_SEC} s): ${f.visible}/${f.events} acknowledged events visible; ` +
          `p50 ${fmt(f.p50Sec, 1)} s, p95 ${fmt(f.p95Sec, 1)} s, max ${fmt(f.maxSec, 1)} s; ${f.failedRequests} failed requests`,
      );
      await stopAll();
    }

    // 6. Crash test (PostgreSQL: the writer is its own process there).
    if (PARTS.has('crash') && stack.isServer) {
      // EVENT_QUEUE=packed: each request is a pack the writer unpacks, so the kills also land in unpacks.
      server = await startServer(stack, { EVENT_QUEUE: CRASH_EVENT_QUEUE });
      servers.push(server.child);
      const pending = await drainWithWriter(serverEnv(stack));
      if (pending.pendingAfter !== 0) throw new Error(`crash test: ${pending.pendingAfter} events still pending before it`);
      const crashLake = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-lake-crash-'));
      const database = await stack.open();
      try {
        log(`  crash test: writer killed -9 ${KILLS} times under load (EVENT_QUEUE=${CRASH_EVENT_QUEUE}), lake ${crashLake}`);
        const c = await crashTest(server.base, serverEnv(stack), crashLake, database, children, { kills: KILLS, batch: 100, workers: 2, pauseMs: 50, log });
        figures.crash = c;
        log(
          `  crash test: ${c.acknowledged} acknowledged; lake count(*) ${c.lakeRows}, count(distinct event_id) ${c.lakeDistinct}, missing ${c.missing}, unexpected ${c.unexpected}, ` +
            `${c.files} files; last writer drained in ${fmt(c.drainSec, 1)} s → ${c.passed ? 'exactly once' : 'NOT EXACTLY ONCE'}`,
        );
      } finally {
        await database.close();
        rmSync(crashLake, { recursive: true, force: true });
      }
      await stopAll();
    }
    return figures;
  } finally {
    await stopAll();
    await stack.dispose();
  }
}

console.log(`kidslearn bench:lake — ${new Date().toISOString()} — ${machine()}`);
console.log(
  `ingest: ${INGEST_CONNECTIONS} connections, ${INGEST_SEC} s per batch size; answers: ${ANSWER_CONNECTIONS} connections, ${ANSWER_ROUNDS} interleaved rounds of ${ANSWER_SEC} s; ` +
    `freshness: LAKE_FLUSH_SECONDS=${FLUSH_SECONDS}; crash: ${KILLS} kills`,
);

const all: StackFigures[] = [];
const failures: string[] = [];
for (const kind of STACKS) {
  try {
    all.push(await benchStack(kind));
  } catch (error) {
    const message = `${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    console.error(`\n${message}`);
    failures.push(message);
  }
}

let reports: ReportTiming[] = [];
if (PARTS.has('reports')) {
  log(`\nreports over ${REPORT_EVENTS} synthetic events (${REPORT_DAYS} days ending ${REPORT_END_DAY}; report range: those ${REPORT_DAYS} days):`);
  try {
    const threshold = loadConfig({ KIDSLEARN_DATA_DIR: tmpdir() }, { envFile: null }).masteryThreshold;
    reports = (await benchReports(SYNTHETIC_DIR, { events: REPORT_EVENTS, days: REPORT_DAYS, learners: 20_000, endDay: REPORT_END_DAY, rangeDays: REPORT_DAYS, runs: 5, masteryThreshold: threshold, log })).timings;
  } catch (error) {
    const message = `reports: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    console.error(message);
    failures.push(message);
  }
}

// Summary tables.
for (const f of all) {
  console.log(`\n### ${f.stack}\n`);
  console.log('| measure | figure | target |');
  console.log('|---|---:|---|');
  for (const r of f.ingest) console.log(`| ingest, EVENT_QUEUE=${r.sink}, batches of ${r.batch} | ${fmt(r.eventsPerSec)} events/s (p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms) | ≥ ${TARGET.ingestPerSec} events/s (server) |`);
  if (f.ingestCheck) console.log(`| outbox rows = acknowledged | ${f.ingestCheck.rows} = ${f.ingestCheck.acknowledged} | equal |`);
  for (const [label, pick] of [
    ['single answers', (a: (typeof f.answers)[number]) => a.single],
    ['batches of 20', (a: (typeof f.answers)[number]) => a.batch],
  ] as const) {
    const on = median(f.answers.filter((a) => a.lake === 'on').map((a) => pick(a).answersPerSec));
    const off = median(f.answers.filter((a) => a.lake === 'off').map((a) => pick(a).answersPerSec));
    if (f.answers.length) console.log(`| answers/s, ${label}: lake on / off | ${fmt(on)} / ${fmt(off)} = ${fmt(on / off, 2)}× | ≥ ${TARGET.onOffRatio}× |`);
  }
  for (const i of f.indexes) console.log(`| answers/s with ${i.variant} | single ${fmt(i.single.answersPerSec)}, batches of 20 ${fmt(i.batch.answersPerSec)} | – |`);
  if (f.writer) console.log(`| writer, outbox → Parquet | ${fmt(f.writer.events / f.writer.seconds)} events/s (${f.writer.events} events, ${f.writer.batches} batches, ${f.writer.files} files, ${fmt(f.writer.seconds, 1)} s) | – |`);
  if (f.freshness) console.log(`| freshness, acknowledged → in the lake (LAKE_FLUSH_SECONDS=${f.freshness.flushSeconds}) | p50 ${fmt(f.freshness.p50Sec, 1)} s, p95 ${fmt(f.freshness.p95Sec, 1)} s (${f.freshness.visible}/${f.freshness.events}) | p95 ≤ ${f.freshness.flushSeconds + TARGET.freshSlackSec} s |`);
  if (f.crash) console.log(`| crash test, ${f.crash.kills} × kill -9 | ${f.crash.acknowledged} acknowledged, ${f.crash.lakeRows} rows, ${f.crash.lakeDistinct} distinct, ${f.crash.missing} missing | exactly once |`);
}
if (reports.length) {
  console.log(`\n### Reports over ${REPORT_EVENTS} events (${REPORT_DAYS}-day range)\n`);
  console.log('| report | rollups | cold ms | median of 5 ms | max ms | raw events only, ms | rows |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of reports) console.log(`| ${r.report} | ${r.scenario} | ${fmt(r.coldMs)} | ${fmt(r.medianMs)} | ${fmt(r.maxMs)} | ${fmt(r.rawMs)} | ${r.rows} |`);
}

const server = all.find((f) => f.stack.startsWith('PostgreSQL'));
const ratio = (f: StackFigures, pick: (a: StackFigures['answers'][number]) => AnswerResult) =>
  median(f.answers.filter((a) => a.lake === 'on').map((a) => pick(a).answersPerSec)) / median(f.answers.filter((a) => a.lake === 'off').map((a) => pick(a).answersPerSec));
const checks: [string, boolean, boolean][] = [];
// [name, passed, hard] — hard checks fail the command (correctness); targets are reported.
for (const f of all) {
  if (f.ingestCheck) checks.push([`${f.stack}: outbox rows == acknowledged events (${f.ingestCheck.rows} == ${f.ingestCheck.acknowledged})`, f.ingestCheck.passed, true]);
  for (const r of f.ingest) if (r.badBodies) checks.push([`${f.stack}: ingest 202 bodies acknowledge every event sent (${r.badBodies} did not)`, false, true]);
  if (f.crash) checks.push([`${f.stack}: crash test, every acknowledged event in the lake exactly once (${f.crash.lakeRows} rows, ${f.crash.lakeDistinct} distinct, ${f.crash.acknowledged} acknowledged, ${f.crash.missing} missing)`, f.crash.passed, true]);
  if (f.writer) checks.push([`${f.stack}: the writer drained the outbox (${f.writer.pendingAfter} pending after)`, f.writer.pendingAfter === 0, true]);
  if (f.freshness) checks.push([`${f.stack}: every acknowledged event became visible (${f.freshness.visible}/${f.freshness.events})`, f.freshness.events > 0 && f.freshness.visible === f.freshness.events, true]);
}
if (server) {
  for (const sink of INGEST_SINKS) {
    const runs = server.ingest.filter((r) => r.sink === sink);
    const best = Math.max(...runs.map((r) => r.eventsPerSec));
    if (runs.length) checks.push([`PostgreSQL server: ingest with EVENT_QUEUE=${sink} ≥ ${TARGET.ingestPerSec} events/s (best ${fmt(best)}, batches of ${runs.find((r) => r.eventsPerSec === best)!.batch})`, best >= TARGET.ingestPerSec, false]);
  }
  if (server.answers.length) {
    checks.push([`PostgreSQL server: single answers lake on/off ≥ ${TARGET.onOffRatio}× (${fmt(ratio(server, (a) => a.single), 2)}×)`, ratio(server, (a) => a.single) >= TARGET.onOffRatio, false]);
    checks.push([`PostgreSQL server: batches of 20 lake on/off ≥ ${TARGET.onOffRatio}× (${fmt(ratio(server, (a) => a.batch), 2)}×)`, ratio(server, (a) => a.batch) >= TARGET.onOffRatio, false]);
  }
}
for (const f of all) if (f.freshness) checks.push([`${f.stack}: freshness p95 ≤ ${f.freshness.flushSeconds + TARGET.freshSlackSec} s (${fmt(f.freshness.p95Sec, 1)} s)`, f.freshness.p95Sec <= f.freshness.flushSeconds + TARGET.freshSlackSec, false]);
for (const r of reports) checks.push([`report ${r.report} (${r.scenario}) over ${REPORT_EVENTS} events: median ≤ ${TARGET.reportMs} ms (${fmt(r.medianMs)} ms; cold ${fmt(r.coldMs)} ms)`, r.medianMs <= TARGET.reportMs, false]);
for (const r of reports) checks.push([`report ${r.report} (${r.scenario}): the same result with rollups as from the raw events`, r.same, true]);
for (const f of failures) checks.push([`run failed — ${f.split('\n')[0]}`, false, true]);
console.log('');
for (const [name, passed, hard] of checks) console.log(`${passed ? 'PASS' : hard ? 'FAIL' : 'MISS'}  ${name}`);
console.log('(FAIL = correctness, fails the command; MISS = a performance target not reached, reported)');
process.exitCode = checks.every(([, passed, hard]) => passed || !hard) ? 0 : 1;
