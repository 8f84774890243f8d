import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import type { JobQueue } from '../../src/adapters/jobs/job-queue.ts';
import { openJobQueue } from '../../src/adapters/jobs/pg-boss-queue.ts';
import type { Database } from '../../src/adapters/db/database.ts';
import { startEngineProcess } from '../support/server-process.ts';
import { createThrowawayDatabase, databaseBackends } from '../support/servers.ts';

/**
 * `npm run engine` as its own process against a PostgreSQL server: its
 * /health checks the database and the queue, /metrics shows the stored
 * jobs by state, and SIGTERM stops it cleanly within the shutdown timeout.
 */
const postgres = (await databaseBackends())[1]!;

describe('engine process (npm run engine) on PostgreSQL', { skip: postgres.skip }, () => {
  let db: { url: string; drop(): Promise<void> };
  let database: Database;
  let queue: JobQueue;
  let engine: Awaited<ReturnType<typeof startEngineProcess>>;
  before(async () => {
    db = await createThrowawayDatabase();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-engine-e2e-'));
    engine = await startEngineProcess({ DATABASE_URL: db.url, KIDSLEARN_DATA_DIR: dataDir, REDIS_URL: '', SHUTDOWN_TIMEOUT_MS: '3000', LOG_LEVEL: 'info' });
    database = await openPostgresDatabase({ url: db.url, poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
    queue = await openJobQueue({ database, databaseUrl: db.url, timeoutMs: 5000 });
  });
  after(async () => {
    if (engine?.child.exitCode === null) engine.child.kill('SIGKILL');
    await queue?.stop({ graceful: false, timeoutMs: 0 });
    await database?.close();
    await db?.drop();
  });

  it('GET /health: 200 with the database and the queue up', async () => {
    const res = await fetch(`${engine.url}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, { status: string; kind: string }>;
    assert.equal(body.status as unknown, 'ok');
    assert.equal(body.database!.status, 'up');
    assert.equal(body.database!.kind, 'postgres');
    assert.equal(body.queue!.status, 'up');
    assert.equal(body.queue!.kind, 'pg-boss');
    assert.equal((await fetch(`${engine.url}/nothing`)).status, 404);
  });

  it('GET /metrics: Prometheus text with the stored jobs by state', async () => {
    await queue.send('e2e-metrics', { n: 1 }, { retryLimit: 0, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 });
    await queue.send('e2e-metrics', { n: 2 }, { retryLimit: 0, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 });
    const res = await fetch(`${engine.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /^kidslearn_engine_jobs\{queue="e2e-metrics",state="queued"\} 2$/m);
    assert.match(text, /^# TYPE kidslearn_engine_job_attempts_total counter$/m);
    assert.match(text, /^kidslearn_process_resident_memory_bytes \d+/m);
  });

  it('SIGTERM: stops taking jobs, closes and exits 0 within the shutdown timeout', async () => {
    const started = Date.now();
    engine.child.kill('SIGTERM');
    const [code] = (await once(engine.child, 'exit')) as [number | null];
    assert.equal(code, 0, engine.output());
    assert.ok(Date.now() - started < 3000 + 2000, 'within the shutdown timeout (plus closing)');
    assert.match(engine.output(), /engine stopped/);
    // Stopped means unreachable.
    await assert.rejects(fetch(`${engine.url}/health`));
  });
});
