import { spawn, type ChildProcess } from 'node:child_process';
import { listOutbox, outboxDir } from '../src/adapters/mail/outbox-mailer.ts';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import autocannon from 'autocannon';

/** One load run's figures. */
export interface LoadResult {
  name: string;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  total: number;
}

/** Runs autocannon against `url` (after a short warm-up) and summarises it. */
export async function load(
  name: string,
  url: string,
  options: { connections?: number; durationSec?: number; headers?: Record<string, string>; method?: 'GET' | 'POST'; body?: string; requests?: autocannon.Request[] } = {},
): Promise<LoadResult> {
  const base = { url, connections: options.connections ?? 50, headers: options.headers ?? {}, method: options.method ?? 'GET', ...(options.body ? { body: options.body } : {}), ...(options.requests ? { requests: options.requests } : {}) };
  await autocannon({ ...base, duration: 2 });
  const r = await autocannon({ ...base, duration: options.durationSec ?? 10 });
  return {
    name,
    requestsPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    total: r.requests.total,
  };
}

/**
 * Spawns a Node 24 process running `script` and resolves once `ready` matches
 * its output. BENCH_NODE_ARGS adds Node options to it, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the server under load.
 */
export function startProcess(script: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${out}`)), 120_000);
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}:\n${out}`)));
  });
}

/** Resident set size of a process in MB (Linux). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

/** A one-line description of this machine for the performance record. */
export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** The median of `values` (the upper one of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** One scenario over several rounds: median req/s, p50 and p99; errors summed. */
export function summarise(runs: LoadResult[]): LoadResult {
  return {
    name: runs[0]?.name ?? '',
    requestsPerSec: median(runs.map((r) => r.requestsPerSec)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    total: runs.reduce((n, r) => n + r.total, 0),
  };
}

/** Prints a Markdown table of results with each one's ratio to the baseline. */
export function table(results: LoadResult[], ratios: number[]): string {
  const rows = results.map(
    (r, i) =>
      `| ${r.name} | ${Math.round(r.requestsPerSec)} | ${r.p50Ms} | ${r.p99Ms} | ${(ratios[i] ?? NaN).toFixed(2)}× | ${r.non2xx + r.errors} |`,
  );
  return ['| scenario | req/s | p50 ms | p99 ms | ratio to (a) | non-2xx + errors |', '|---|---:|---:|---:|---:|---:|', ...rows].join('\n');
}

/**
 * Signs up as a new user does against a server on embedded mail: register
 * (202), read the code from the outbox under `dataDir`, verify it (201).
 */
export async function signUpOverHttp(base: string, dataDir: string, appId: string, credentials: { email: string; password: string }, role: 'guardian' | 'teacher'): Promise<void> {
  const headers = { 'content-type': 'application/json', 'x-app-id': appId };
  const reg = await fetch(`${base}/auth/register`, { method: 'POST', headers, body: JSON.stringify({ ...credentials, role }) });
  if (reg.status !== 202) throw new Error(`register → ${reg.status}: ${await reg.text()}`);
  const mail = listOutbox(outboxDir(dataDir), { to: credentials.email }).at(-1);
  const code = mail && /^ {2}([A-Za-z0-9_-]{43})$/m.exec(mail.text)?.[1];
  if (!code) throw new Error(`no verification code in the outbox for ${credentials.email}`);
  const verified = await fetch(`${base}/auth/email/verify`, { method: 'POST', headers, body: JSON.stringify({ token: code }) });
  if (verified.status !== 201) throw new Error(`verify → ${verified.status}: ${await verified.text()}`);
}
