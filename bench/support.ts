import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { listOutbox, outboxDir } from '../src/adapters/mail/outbox-mailer.ts';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/adapters/db/database.ts';
import { openPgliteDatabase } from '../src/adapters/db/pglite.ts';
import { openPostgresDatabase } from '../src/adapters/db/postgres.ts';

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

/** The demo app every progress bench writes to. */
export const BENCH_APP = 'mathkids';
/** Children each bench guardian registers. */
export const CHILDREN_PER_GUARDIAN = 10;
/** The PostgreSQL server the benches create their throwaway databases on. */
export const BENCH_POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The Redis server of the server stack. */
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A child signed in on "a device": its id and child-scoped token. */
export interface BenchChild {
  id: string;
  token: string;
  /** Position in the item rotation: each child works through the items in turn. */
  next: number;
}

/** A numeric practice item and its right answer. */
export interface BenchItem {
  id: string;
  answer: number;
}

/** One JSON call to the API as the bench's app; throws on a non-2xx status. */
export async function call<T>(base: string, method: 'GET' | 'POST', pathname: string, options: { token?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { 'x-app-id': BENCH_APP };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${pathname}`, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Signs up as a new user does against a server on embedded mail: register
 * (202), read the code from the outbox under `dataDir`, verify it with the password (201).
 */
export async function signUpOverHttp(base: string, dataDir: string, appId: string, credentials: { email: string; password: string }, role: 'guardian' | 'teacher'): Promise<void> {
  const headers = { 'content-type': 'application/json', 'x-app-id': appId };
  const reg = await fetch(`${base}/auth/register`, { method: 'POST', headers, body: JSON.stringify({ ...credentials, role }) });
  if (reg.status !== 202) throw new Error(`register → ${reg.status}: ${await reg.text()}`);
  const mail = listOutbox(outboxDir(dataDir), { to: credentials.email }).at(-1);
  const code = mail && /^ {2}([A-Za-z0-9_-]{43})$/m.exec(mail.text)?.[1];
  if (!code) throw new Error(`no verification code in the outbox for ${credentials.email}`);
  const verified = await fetch(`${base}/auth/email/verify`, { method: 'POST', headers, body: JSON.stringify({ token: code, password: credentials.password }) });
  if (verified.status !== 201) throw new Error(`verify → ${verified.status}: ${await verified.text()}`);
}

/**
 * Guardians sign up (register, verify the code from the outbox under the
 * server's `dataDir`) and sign in, add their children and start a device
 * session for each: all over HTTP.
 */
export async function createChildren(base: string, dataDir: string, count: number): Promise<BenchChild[]> {
  const families = Math.ceil(count / CHILDREN_PER_GUARDIAN);
  const perFamily = await Promise.all(
    Array.from({ length: families }, async (_, g) => {
      const credentials = { email: `bench-guardian-${g}@example.com`, password: 'bench password 123' };
      await signUpOverHttp(base, dataDir, BENCH_APP, credentials, 'guardian');
      const { accessToken: guardian } = await call<{ accessToken: string }>(base, 'POST', '/auth/login', { body: credentials });
      const children: BenchChild[] = [];
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
export async function numericItems(base: string, token: string): Promise<{ items: BenchItem[]; concepts: number; lessons: number }> {
  const list = await call<{ items: { id: string }[] }>(base, 'GET', '/api/lessons?limit=50', { token });
  const items: BenchItem[] = [];
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
  if (items.length === 0) throw new Error(`No numeric items with a simple prompt in ${BENCH_APP}`);
  return { items, concepts: concepts.size, lessons };
}

/** One database stack: the server's environment, a direct way into its database, and clean-up. */
export interface BenchStack {
  name: string;
  isServer: boolean;
  env: Record<string, string>;
  open(): Promise<Database>;
  dispose(): Promise<void>;
}

/** Embedded PGlite in a fresh temporary data dir, in-process cache. */
export function embeddedStack(label: string): BenchStack {
  const dataDir = mkdtempSync(path.join(tmpdir(), `kidslearn-bench-${label}-`));
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

/**
 * A throwaway database on the PostgreSQL server (dropped by `dispose`), and,
 * with `redis`, Redis under a key prefix of its own (its keys deleted by
 * `dispose`), so runs never see each other's data.
 */
export async function postgresStack(label: string, options: { redis?: boolean } = {}): Promise<BenchStack> {
  const name = `kidslearn_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BENCH_POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(BENCH_POSTGRES_URL);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), `kidslearn-bench-${label}-`));
  const prefix = `${name}:`;
  return {
    name: options.redis ? 'PostgreSQL server + Redis' : 'PostgreSQL server',
    isServer: true,
    env: { KIDSLEARN_DATA_DIR: dataDir, DATABASE_URL: url.toString(), REDIS_URL: options.redis ? BENCH_REDIS_URL : '', REDIS_KEY_PREFIX: prefix },
    open: () => openPostgresDatabase({ url: url.toString(), poolSize: 1, connectTimeoutMs: 5000, statementTimeoutMs: 120_000 }),
    async dispose() {
      rmSync(dataDir, { recursive: true, force: true });
      const c = new pg.Client({ connectionString: BENCH_POSTGRES_URL, connectionTimeoutMillis: 5000 });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
      if (options.redis) await deleteRedisKeys(prefix);
    },
  };
}

async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(BENCH_REDIS_URL, { connectTimeout: 5000, maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** SIGTERM (the server drains in-flight requests), and wait for the process to be gone. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(force);
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Children's concepts whose stored state disagrees with their stored answers
 * (attempts ≠ answers): a write that landed half, or twice. 0 when the
 * database is consistent.
 */
export async function stateMismatches(database: Database): Promise<number> {
  const { rows } = await sql<{ n: number }>`
      select count(*)::int as n
      from (select child_id, concept_id, count(*)::int as answers from app_mathkids.answers group by child_id, concept_id) a
      full join app_mathkids.concept_states s using (child_id, concept_id)
      where coalesce(a.answers, 0) <> coalesce(s.attempts, 0)`.execute(database.db);
  return rows[0]!.n;
}
