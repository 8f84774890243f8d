import type { ChildProcess } from 'node:child_process';
import type { Database } from '../src/adapters/db/database.ts';
import { lakeContents } from './lake-files-read.ts';
import { eventBody } from './lake-load.ts';
import { backlog } from './lake-outbox.ts';
import { startProcess, stopServer, type BenchChild } from './support.ts';

/** What the crash test found. */
export interface CrashResult {
  kills: number;
  /** Event ids acknowledged by a 202. */
  acknowledged: number;
  lakeRows: number;
  lakeDistinct: number;
  missing: number;
  /** Event ids in the lake that no 202 acknowledged (events of requests whose response was lost would be here). */
  unexpected: number;
  files: number;
  drainSec: number;
  passed: boolean;
}

const WRITER_READY = /lake writer \S+ working at/;

/**
 * The lake writer (`npm run lake`, its own process) killed with SIGKILL
 * `kills` times, each 0.2–3 s after it started working, and restarted,
 * while `workers` load loops keep posting batches of `batch` events; then
 * the load stops, a last writer drains the outbox, and the lake must hold
 * every acknowledged event id exactly once. `lakeDir` is a fresh lake (the
 * outbox must hold nothing pending from before).
 */
export async function crashTest(
  base: string,
  env: Record<string, string>,
  lakeDir: string,
  database: Database,
  children: BenchChild[],
  options: { kills: number; batch: number; workers: number; pauseMs: number; log: (line: string) => void },
): Promise<CrashResult> {
  const writerEnv = { ...env, LAKE_MODE: 'separate', LAKE_PORT: '0', LAKE_FLUSH_SECONDS: '0.5', LAKE_FLUSH_EVENTS: '2000', LOG_LEVEL: 'warn', LAKE_DIR: lakeDir };
  const acknowledged = new Set<string>();
  let loading = true;
  let refused = 0;
  const counter = { n: 0 };
  const worker = async (w: number) => {
    for (let i = 0; loading; i++) {
      const child = children[(w + i * options.workers) % children.length]!;
      const { body, ids } = eventBody(options.batch, counter);
      // Retry until acknowledged, as an app does; stop retrying only when the load ends.
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(`${base}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${child.token}` }, body }).catch(() => undefined);
        const text = await res?.text();
        if (res?.status === 202) {
          const m = /"accepted":(\d+),"duplicates":(\d+)/.exec(text ?? '');
          if (!m || Number(m[1]) + Number(m[2]) !== ids.length) throw new Error(`202 without every event acknowledged: ${text}`);
          for (const id of ids) acknowledged.add(id);
          break;
        }
        refused++;
        if (!loading && attempt > 20) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const load = Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w)));
  let kills = 0;
  let writer: ChildProcess | undefined;
  try {
    for (; kills < options.kills; kills++) {
      ({ child: writer } = await startProcess('src/runtimes/lake.ts', [], writerEnv, WRITER_READY));
      const delay = 200 + Math.random() * 2800;
      await new Promise((resolve) => setTimeout(resolve, delay));
      const exited = new Promise<void>((resolve) => writer!.once('exit', () => resolve()));
      writer.kill('SIGKILL');
      await exited;
      options.log(`    kill ${kills + 1}/${options.kills} after ${Math.round(delay)} ms; ${acknowledged.size} events acknowledged so far, backlog ${await backlog(database)}`);
    }
  } finally {
    loading = false;
    await load;
  }
  if (refused) options.log(`    ${refused} requests refused or failed and retried by the load`);
  const started = performance.now();
  ({ child: writer } = await startProcess('src/runtimes/lake.ts', [], writerEnv, WRITER_READY));
  try {
    for (let waited = 0; (await backlog(database)) > 0; waited++) {
      if (waited > 1200) throw new Error('the last writer did not drain the outbox in 10 minutes');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await stopServer(writer);
  }
  const drainSec = (performance.now() - started) / 1000;
  const lake = await lakeContents(lakeDir);
  const inLake = new Set(lake.ids);
  const missing = [...acknowledged].filter((id) => !inLake.has(id)).length;
  const unexpected = [...inLake].filter((id) => !acknowledged.has(id)).length;
  return {
    kills,
    acknowledged: acknowledged.size,
    lakeRows: lake.rows,
    lakeDistinct: lake.distinct,
    missing,
    unexpected,
    files: lake.files,
    drainSec,
    passed: acknowledged.size > 0 && lake.rows === lake.distinct && lake.distinct === acknowledged.size && missing === 0,
  };
}
