import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load, machine, median, rssMb, signUpOverHttp, startProcess, summarise, table, type LoadResult } from './support.ts';

/**
 * `npm run bench:http`: (a) bare node:http returning the same JSON as (b);
 * (b) GET /api/lessons/{id}, cached and authenticated; (c) GET
 * /api/lessons?grade=2&limit=20. 50 connections, 10 s each, all in one run so
 * the ratios compare like with like on a shared, noisy machine: each round
 * runs (a), (b) and (c) back to back, ratios are taken within a round, and
 * the median round is reported (BENCH_ROUNDS, default 3).
 */
const DURATION = Number(process.env.BENCH_DURATION_SEC ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-'));
// Limits are raised so load from one token and one address is measured, not
// refused; the limiter still counts every request, so its cost is included.
const env = {
  KIDSLEARN_DATA_DIR: dataDir,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  RATE_LIMIT_API_PER_MINUTE: '10000000',
  RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
};
const LOGIN_SECONDS = Number(process.env.BENCH_LOGIN_SEC ?? 5);

console.log(`kidslearn bench:http — ${new Date().toISOString()} — ${machine()}`);
// Seed in a separate process first, as a deployment does once; the server
// then starts on an existing data dir like every start after the first.
const { execFileSync } = await import('node:child_process');
execFileSync(process.execPath, ['src/cli/main.ts', 'seed'], { env: { ...process.env, ...env }, stdio: 'ignore' });
const { child: server, match } = await startProcess('src/runtimes/node-server.ts', [], env, /running at (http:\/\/localhost:(\d+))/);
const base = `http://127.0.0.1:${match[2]}`;
try {
  const token = execFileSync(process.execPath, ['src/cli/main.ts', 'token', '--app', 'mathkids', '--role', 'child', '--ttl', '1h'], { env: { ...process.env, ...env } })
    .toString()
    .trim();
  const headers = { authorization: `Bearer ${token}` };
  const list = (await (await fetch(`${base}/api/lessons?grade=2&limit=20`, { headers })).json()) as { items: { id: string }[] };
  const lessonId = list.items[0]!.id;
  const lessonBody = await (await fetch(`${base}/api/lessons/${lessonId}`, { headers })).text();

  const { child: bare, match: bareMatch } = await startProcess('bench/bare-server.ts', [], { BARE_BODY: lessonBody }, /bare listening on (\d+)/);
  const bareUrl = `http://127.0.0.1:${bareMatch[1]}/`;
  const bUrl = `${base}/api/lessons/${lessonId}`;
  const cUrl = `${base}/api/lessons?grade=2&limit=20`;
  const rounds: { a: LoadResult; b: LoadResult; c: LoadResult }[] = [];
  try {
    // Let V8 optimise the server's hot paths before anything is measured.
    await load('warm-up', bUrl, { durationSec: 3, headers });
    await load('warm-up', cUrl, { durationSec: 3, headers });
    // The machine is shared: other tenants come and go within seconds. Each
    // round measures (a), (b) and (c) back to back and the ratios are taken
    // within a round; the median round is reported.
    for (let i = 0; i < ROUNDS; i++) {
      const a = await load('(a) bare node:http, same body', bareUrl, { durationSec: DURATION });
      const b = await load(`(b) GET /api/lessons/${lessonId} (cached, authenticated)`, bUrl, { durationSec: DURATION, headers });
      const c = await load('(c) GET /api/lessons?grade=2&limit=20', cUrl, { durationSec: DURATION, headers });
      rounds.push({ a, b, c });
      console.log(`round ${i + 1}: (a) ${Math.round(a.requestsPerSec)} req/s, (b) ${(b.requestsPerSec / a.requestsPerSec).toFixed(2)}×, (c) ${(c.requestsPerSec / a.requestsPerSec).toFixed(2)}×`);
    }
  } finally {
    bare.kill('SIGTERM');
  }
  const bRatio = median(rounds.map((r) => r.b.requestsPerSec / r.a.requestsPerSec));
  const cRatio = median(rounds.map((r) => r.c.requestsPerSec / r.a.requestsPerSec));
  const results = (['a', 'b', 'c'] as const).map((k) => summarise(rounds.map((r) => r[k])));
  const rss = rssMb(server.pid!);
  // Sign-in is bounded by password hashing (scrypt on libuv's thread pool):
  // 8 connections measure its throughput without a queue of minutes.
  const authHeaders = { 'content-type': 'application/json', 'x-app-id': 'mathkids' };
  const credentials = { email: 'bench-parent@example.com', password: 'bench password 123' };
  await signUpOverHttp(base, dataDir, 'mathkids', credentials, 'guardian');
  const loginUrl = `${base}/auth/login`;
  const loginAs = (name: string, body: object, connections = 50) =>
    load(name, loginUrl, { durationSec: LOGIN_SECONDS, connections, method: 'POST', headers: authHeaders, body: JSON.stringify(body) });
  const logins = [
    await loginAs('(d) POST /auth/login, 8 connections', credentials, 8),
    // One connection: the latency is the work of one failed sign-in, not a queue.
    await loginAs('(e) POST /auth/login, wrong password (401), 1 connection', { ...credentials, password: 'not the password' }, 1),
    await loginAs('(f) POST /auth/login, unknown email (401), 1 connection', { ...credentials, email: 'nobody@example.com' }, 1),
  ];
  const rssAfterLogins = rssMb(server.pid!);
  const [a, b] = results as [LoadResult, LoadResult, LoadResult];
  console.log(`\nbody: ${lessonBody.length} bytes; ${ROUNDS} rounds of (a), (b), (c), ${DURATION} s each, 50 connections; medians over rounds\n`);
  console.log(table(results, [1, bRatio, cRatio]));
  console.log(`\nsign-in, ${LOGIN_SECONDS} s each; scrypt N=2^14, r=8, p=5 (the defaults: 16 MiB per hash), libuv pool of ${process.env.UV_THREADPOOL_SIZE ?? 4} threads\n`);
  console.log(table(logins, logins.map((l) => l.requestsPerSec / a.requestsPerSec)));
  const [, wrong, unknown] = logins as [LoadResult, LoadResult, LoadResult];
  console.log(`\nfailed sign-in, unknown email vs wrong password: p50 ${unknown.p50Ms} vs ${wrong.p50Ms} ms, p99 ${unknown.p99Ms} vs ${wrong.p99Ms} ms`);
  console.log(`\nserver RSS after (a)–(c): ${rss} MB (embedded PGlite included); after the sign-in rows: ${rssAfterLogins} MB (scrypt buffers, 16 MiB per hash in flight)`);
  const checks = [
    [`(b) ≥ 0.5× (a)`, bRatio >= 0.5],
    [`(b) p99 ≤ 25 ms`, b.p99Ms <= 25],
    [`(c) ≥ 0.25× (a)`, cRatio >= 0.25],
    [`RSS < 500 MB`, rss < 500],
    [`no errors`, rounds.every((r) => [r.a, r.b, r.c].every((x) => x.non2xx + x.errors === 0)) && logins[0]!.non2xx + logins[0]!.errors === 0],
  ] as const;
  console.log('');
  for (const [name, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}`);
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} finally {
  server.kill('SIGTERM');
}
