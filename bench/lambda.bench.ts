import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { Redis } from 'ioredis';
import pg from 'pg';
import { buildLambdas } from '../scripts/build-lambda.ts';
import { generatePrivateJwk, importSigningKey } from '../src/features/auth/signing-keys.ts';
import { TokenService } from '../src/features/auth/tokens.ts';
import { BENCH_POSTGRES_URL, BENCH_REDIS_URL, machine, median } from './support.ts';
import { httpApiEvent } from '../test/support/lambda-events.ts';

/**
 * `npm run bench:lambda`: the bundled "api" Lambda function (dist/lambda/api)
 * against PostgreSQL on this machine.
 * - bundle sizes: all of a function's code (index.mjs and chunks/*.mjs),
 *   gzipped file by file as a deployment zip would be, their source maps,
 *   and how much of it is loaded at init;
 * - cold start: in a fresh Node process, import of the bundle (module-scope
 *   init: config, container, pool) plus the first invocation (GET
 *   /api/lessons?grade=2 with a token: connect, verify, query), against the
 *   same for an empty handler bundled the same way; median of RUNS (default
 *   20) processes each, interleaved;
 * - warm invocations: the median of WARM (default 50) more invocations in
 *   each process, the median over processes reported;
 * - the same api cold start with `REDIS_URL` set, as the stack deploys it
 *   (infra/lib/api-stack.ts): ioredis and the Redis rate limiter are loaded
 *   only when Redis is configured, so this row shows what the deployed
 *   function pays (Redis on this machine; a key prefix of its own, so the
 *   first process fills the lesson cache and later ones hit it). The target
 *   line is the row without Redis, as issue 13 defines it.
 * Wall time and CPU time (user + system, all threads) are both reported: on
 * a shared machine the CPU time is the steadier figure. Node's own start is
 * the same for both and not counted. Lambda's init
 * (download, sandbox, runtime start) is not here either: this measures what
 * our code adds.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARM = Number(process.env.BENCH_WARM ?? 50);
const exec = promisify(execFile);

const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-lambda-'));
// Like the nodejs24.x runtime: the AWS SDK is importable, nothing else outside the bundle.
mkdirSync(path.join(dir, 'node_modules'));
symlinkSync(path.resolve('node_modules', '@aws-sdk'), path.join(dir, 'node_modules', '@aws-sdk'));

console.log(`kidslearn bench:lambda — ${new Date().toISOString()} — ${machine()}`);
const built = await buildLambdas({ outDir: path.join(dir, 'lambda') });
const emptySource = path.join(dir, 'empty.ts');
writeFileSync(emptySource, "export const handler = async () => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' });\n");
const emptyBundle = path.join(dir, 'empty', 'index.mjs');
await esbuild.build({ entryPoints: [emptySource], outfile: emptyBundle, bundle: true, platform: 'node', target: 'node24', format: 'esm', minify: true, sourcemap: true });

const gzipBytes = (file: string) => Number(execFileSync('sh', ['-c', `gzip -9 -c "${file}" | wc -c`]).toString().trim());
/** A function's code files: index.mjs and chunks/*.mjs. */
const codeFiles = (entry: string) => {
  const chunks = path.join(path.dirname(entry), 'chunks');
  return [entry, ...(existsSync(chunks) ? readdirSync(chunks).filter((f) => f.endsWith('.mjs')).map((f) => path.join(chunks, f)) : [])];
};
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const sizes = built.map((b) => {
  const files = codeFiles(b.file);
  return { name: b.name, bytes: b.bytes, atInit: b.initBytes, lazy: b.bytes - b.initBytes, gzip: sum(files.map(gzipBytes)), map: sum(files.map((f) => statSync(`${f}.map`).size)) };
});

// A database of its own: migrated and seeded (the demo apps) as a deployment would be.
const databaseName = `kidslearn_bench_lambda_${randomBytes(4).toString('hex')}`;
const url = new URL(BENCH_POSTGRES_URL);
url.pathname = `/${databaseName}`;
const databaseUrl = url.toString();
const jwk = await generatePrivateJwk();
const env: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  DATABASE_URL: databaseUrl,
  JWT_PRIVATE_KEY: JSON.stringify(jwk),
  KIDSLEARN_DATA_DIR: path.join(dir, 'data'),
  LOG_LEVEL: 'info',
  METRICS_EMF: 'true',
  DATABASE_POOL_SIZE: '2',
  RATE_LIMIT_API_PER_MINUTE: '1000000',
};
execFileSync(process.execPath, ['src/cli/main.ts', 'migrate'], { env: { ...env, SEED_DEMO_APPS: 'false' }, stdio: 'ignore' });
execFileSync(process.execPath, ['src/cli/main.ts', 'seed', '--app', 'mathkids'], { env, stdio: 'ignore' });
const token = await new TokenService([await importSigningKey(jwk)], 'kidslearn').issue({ sub: 'bench-child', app: 'mathkids', role: 'child' }, 3600);

const event = httpApiEvent('GET', '/api/lessons', { requestId: 'bench', headers: { authorization: `Bearer ${token}` }, rawQueryString: 'grade=2&limit=20', userAgent: 'bench' });

// Runs in the fresh process: timings only, on stderr (stdout carries the function's logs and metrics).
const runner = path.join(dir, 'runner.mjs');
writeFileSync(
  runner,
  `
const [bundle, eventJson, warm] = process.argv.slice(2);
const event = JSON.parse(eventJson);
const context = { awsRequestId: 'bench', functionName: 'api' };
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const t0 = performance.now(), c0 = cpu();
const { handler } = await import(bundle);
const t1 = performance.now(), c1 = cpu();
const first = await handler(event, context);
const t2 = performance.now(), c2 = cpu();
if (first.statusCode !== 200) throw new Error('first invocation answered ' + first.statusCode + ': ' + first.body);
const warmMs = [];
for (let i = 0; i < Number(warm); i++) {
  const s = performance.now();
  const r = await handler(event, context);
  warmMs.push(performance.now() - s);
  if (r.statusCode !== 200) throw new Error('warm invocation answered ' + r.statusCode);
}
warmMs.sort((a, b) => a - b);
process.stderr.write('\\n@@' + JSON.stringify({ importMs: t1 - t0, firstMs: t2 - t1, cpuMs: c2 - c0, warmMedianMs: warmMs[Math.floor(warmMs.length / 2)] ?? null }) + '\\n');
process.exit(0);
`,
);

interface Run {
  importMs: number;
  firstMs: number;
  /** CPU time (user + system) of import + first invoke: less sensitive than wall time to other work on a shared machine. */
  cpuMs: number;
  warmMedianMs: number | null;
}
async function once(bundle: string, extraEnv: Record<string, string> = {}): Promise<Run> {
  const { stderr } = await exec(process.execPath, [runner, bundle, JSON.stringify(event), String(WARM)], { env: { ...env, ...extraEnv }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  const line = stderr.split('\n').find((l) => l.startsWith('@@'));
  if (!line) throw new Error(`no timings from ${bundle}: ${stderr.slice(0, 2000)}`);
  return JSON.parse(line.slice(2)) as Run;
}

const api: Run[] = [];
const apiRedis: Run[] = [];
const empty: Run[] = [];
const apiBundle = built.find((b) => b.name === 'api')!.file;
const withRedis = { REDIS_URL: BENCH_REDIS_URL, REDIS_KEY_PREFIX: `bench-lambda-${randomBytes(4).toString('hex')}:` };
try {
  // One of each to warm the file cache, not counted.
  await once(apiBundle);
  await once(apiBundle, withRedis);
  await once(emptyBundle);
  for (let i = 0; i < RUNS; i++) {
    api.push(await once(apiBundle));
    apiRedis.push(await once(apiBundle, withRedis));
    empty.push(await once(emptyBundle));
  }
} finally {
  const admin = new pg.Client({ connectionString: BENCH_POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  await admin.query(`drop database if exists ${databaseName} with (force)`);
  await admin.end();
  // The Redis row's keys (lesson cache, rate-limit counters) go with the run.
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  await redis.connect();
  for await (const keys of redis.scanStream({ match: `${withRedis.REDIS_KEY_PREFIX}*`, count: 500 }) as AsyncIterable<string[]>) if (keys.length) await redis.del(...keys);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

const ms = (v: number) => v.toFixed(1);
const cold = (runs: Run[]) => median(runs.map((r) => r.importMs + r.firstMs));
const difference = cold(api) - cold(empty);
console.log('\n| bundle | code (index.mjs + chunks) | gzip | source maps | loaded at init | loaded on first use |\n|---|---:|---:|---:|---:|---:|');
for (const s of sizes) {
  console.log(`| ${s.name} | ${(s.bytes / 1024).toFixed(0)} KiB | ${(s.gzip / 1024).toFixed(0)} KiB | ${(s.map / 1024).toFixed(0)} KiB | ${(s.atInit / 1024).toFixed(0)} KiB | ${(s.lazy / 1024).toFixed(0)} KiB |`);
}
console.log(`\n| handler (median of ${RUNS} fresh processes) | import ms | first invoke ms | import + first invoke ms | CPU ms (import + first invoke) | warm invoke ms (median of ${WARM}) |\n|---|---:|---:|---:|---:|---:|`);
for (const [name, runs] of [['empty handler', empty], ['api (GET /api/lessons?grade=2&limit=20, token)', api], ['api, REDIS_URL set (as deployed)', apiRedis]] as const) {
  console.log(
    `| ${name} | ${ms(median(runs.map((r) => r.importMs)))} | ${ms(median(runs.map((r) => r.firstMs)))} | ${ms(cold(runs))} | ${ms(median(runs.map((r) => r.cpuMs)))} | ${ms(median(runs.map((r) => r.warmMedianMs ?? NaN)))} |`,
  );
}
const cpuDifference = median(api.map((r) => r.cpuMs)) - median(empty.map((r) => r.cpuMs));
console.log(`\napi − empty (import + first invoke, medians): ${ms(difference)} ms wall, ${ms(cpuDifference)} ms CPU (target: at most 100 ms) — ${difference <= 100 ? 'within' : 'OVER'} the target`);
console.log(`api with REDIS_URL − empty: ${ms(cold(apiRedis) - cold(empty))} ms wall, ${ms(median(apiRedis.map((r) => r.cpuMs)) - median(empty.map((r) => r.cpuMs)))} ms CPU`);
console.log(`load average during the run (1, 5, 15 min): ${loadavg().map((l) => l.toFixed(1)).join(', ')} on ${cpus().length} cores`);
