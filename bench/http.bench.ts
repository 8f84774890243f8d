import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load, machine, rssMb, startProcess, table, type LoadResult } from './support.ts';

/**
 * `npm run bench:http`: (a) bare node:http returning the same JSON as (b);
 * (b) GET /api/lessons/{id}, cached and authenticated; (c) GET
 * /api/lessons?grade=2&limit=20. 50 connections, 10 s each, all in one run so
 * the ratios compare like with like on a shared, noisy machine. (a) runs
 * first and last; its mean is the baseline.
 */
const DURATION = Number(process.env.BENCH_DURATION_SEC ?? 10);
const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-'));
const env = { KIDSLEARN_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' };

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
  const results: LoadResult[] = [];
  try {
    // Let V8 optimise the server's hot paths before anything is measured.
    await load('warm-up', `${base}/api/lessons/${lessonId}`, { durationSec: 3, headers });
    await load('warm-up', `${base}/api/lessons?grade=2&limit=20`, { durationSec: 3, headers });
    const a1 = await load('(a) bare node:http, same body', bareUrl, { durationSec: DURATION });
    results.push(await load(`(b) GET /api/lessons/${lessonId} (cached, authenticated)`, `${base}/api/lessons/${lessonId}`, { durationSec: DURATION, headers }));
    results.push(await load('(c) GET /api/lessons?grade=2&limit=20', `${base}/api/lessons?grade=2&limit=20`, { durationSec: DURATION, headers }));
    const a2 = await load('(a) bare node:http, same body', bareUrl, { durationSec: DURATION });
    const baseline: LoadResult = {
      ...a1,
      requestsPerSec: (a1.requestsPerSec + a2.requestsPerSec) / 2,
      p50Ms: Math.max(a1.p50Ms, a2.p50Ms),
      p99Ms: Math.max(a1.p99Ms, a2.p99Ms),
      non2xx: a1.non2xx + a2.non2xx,
      errors: a1.errors + a2.errors,
    };
    results.unshift(baseline);
  } finally {
    bare.kill('SIGTERM');
  }
  const rss = rssMb(server.pid!);
  const [a, b, c] = results as [LoadResult, LoadResult, LoadResult];
  console.log(`\nbody: ${lessonBody.length} bytes; ${DURATION} s per scenario, 50 connections; (a) is the mean of a run before and after\n`);
  console.log(table(results, a.requestsPerSec));
  console.log(`\nserver RSS after the run: ${rss} MB (embedded PGlite included)`);
  const checks = [
    [`(b) ≥ 0.5× (a)`, b.requestsPerSec >= 0.5 * a.requestsPerSec],
    [`(b) p99 ≤ 25 ms`, b.p99Ms <= 25],
    [`(c) ≥ 0.25× (a)`, c.requestsPerSec >= 0.25 * a.requestsPerSec],
    [`RSS < 500 MB`, rss < 500],
    [`no errors`, results.every((r) => r.non2xx + r.errors === 0)],
  ] as const;
  console.log('');
  for (const [name, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}`);
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} finally {
  server.kill('SIGTERM');
}
