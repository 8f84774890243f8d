import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startServer } from '../support/server-process.ts';
import { createThrowawayDatabase, databaseBackends, cacheBackends, REDIS_URL } from '../support/servers.ts';

const run = promisify(execFile);
const NODE = process.execPath;


async function cli(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await run(NODE, ['src/cli/main.ts', ...args], { env: { ...process.env, ...env } });
  return stdout.trim();
}

const [, postgres] = await databaseBackends();
const [, redis] = await cacheBackends();
const variants = [
  { name: 'embedded defaults', skip: false as string | false, servers: false },
  { name: 'PostgreSQL + Redis', skip: postgres!.skip || redis!.skip, servers: true },
];

for (const variant of variants) {
  describe(`end to end: the real server on ${variant.name}`, { skip: variant.skip }, () => {
    let env: Record<string, string>;
    let server: Awaited<ReturnType<typeof startServer>>;
    let dropDb: (() => Promise<void>) | undefined;

    before(async () => {
      env = { KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-e2e-')), LOG_LEVEL: 'info' };
      if (variant.servers) {
        const db = await createThrowawayDatabase();
        dropDb = db.drop;
        env.DATABASE_URL = db.url;
        env.REDIS_URL = REDIS_URL;
        env.REDIS_KEY_PREFIX = `kidslearn-e2e-${process.pid}:`;
      }
      server = await startServer(env);
    });
    after(async () => {
      if (server?.child.exitCode === null) server.child.kill('SIGKILL');
      await dropDb?.();
    });

    it('seeds the demo apps on first start and serves them with a CLI-issued token', async () => {
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      const token = await cli(['token', '--app', 'mathkids', '--role', 'guardian', '--ttl', '5m'], env);
      assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const list = await fetch(`${server.url}/api/lessons?grade=2&limit=20`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(list.status, 200);
      const page = (await list.json()) as { items: { id: string; grade: number }[]; total: number };
      assert.equal(page.items.length, 20);
      assert.ok(page.items.every((l) => l.grade === 2));
      const id = page.items[0]!.id;
      const first = await fetch(`${server.url}/api/lessons/${id}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(first.headers.get('x-cache'), 'MISS');
      const lesson = (await first.json()) as { items: unknown[] };
      assert.ok(lesson.items.length > 0);
      const second = await fetch(`${server.url}/api/lessons/${id}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(second.headers.get('x-cache'), 'HIT');
      const all = (await (await fetch(`${server.url}/api/lessons?limit=50`, { headers: { authorization: `Bearer ${token}` } })).json()) as { total: number };
      assert.equal(all.total, 120);
      const words = await cli(['token', '--app', 'wordkids', '--role', 'child'], env);
      const wordLessons = (await (await fetch(`${server.url}/api/lessons`, { headers: { authorization: `Bearer ${words}` } })).json()) as { total: number; items: { subject: string }[] };
      assert.ok(wordLessons.total > 0);
      assert.ok(wordLessons.items.every((l) => l.subject === 'reading'));
      // Within grade 2, the teaching order puts place value before the addition that needs it.
      const grade2 = (await (await fetch(`${server.url}/api/lessons?grade=2&limit=50`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: { id: string }[] };
      const order = grade2.items.map((l) => l.id);
      assert.ok(order.indexOf('place-value-hundreds-learn') >= 0 && order.indexOf('place-value-hundreds-learn') < order.indexOf('add-3digit-learn'), order.join(', '));
      // The third demo app comes from the hand-written pack.
      const shapes = await cli(['token', '--app', 'shapekids', '--role', 'child'], env);
      const shapeLessons = (await (await fetch(`${server.url}/api/lessons`, { headers: { authorization: `Bearer ${shapes}` } })).json()) as { total: number; items: { id: string; unit: { id: string } }[] };
      assert.equal(shapeLessons.total, 9);
      assert.deepEqual([shapeLessons.items[0]!.id, shapeLessons.items[0]!.unit.id], ['naming-flat-shapes', 'flat-shapes-unit']);
    });

    it('drains and exits cleanly on SIGTERM', async () => {
      const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
      server.child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 12_000))]);
      assert.equal(code, 0);
      assert.match(server.output(), /"msg":"stopped"/);
    });

    it('wrote one JSON log line per request (flushed on exit)', () => {
      const lines = server
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; route?: string; requestId?: string });
      assert.ok(lines.some((l) => l.msg === 'request' && l.route === '/api/lessons/:lessonId' && l.requestId));
    });

    if (!variant.servers) {
      it('restarts on the same data dir without reseeding, and keeps the signing key', async () => {
        const token = await cli(['token', '--app', 'mathkids', '--role', 'admin'], env);
        server = await startServer(env);
        const res = await fetch(`${server.url}/admin/lessons/${'no-such'}`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 404);
        assert.doesNotMatch(server.output(), /demo app seeded/);
        const apps = await run(NODE, ['src/cli/main.ts', 'apps', 'list'], { env: { ...process.env, ...env } }).catch((e: { stderr: string; code: number }) => e);
        assert.ok('code' in apps && apps.code === 1, 'a second process may not open the embedded database');
        assert.match((apps as { stderr: string }).stderr, /in use by process/);
        server.child.kill('SIGTERM');
        await new Promise((r) => server.child.once('exit', r));
        assert.match(await cli(['apps', 'list'], env), /mathkids\tMath Kids/);
        assert.equal(await cli(['apps', 'create', 'spelling_bee', '--name', 'Spelling Bee'], env), 'created app spelling_bee (Spelling Bee)');
        assert.match(await cli(['apps', 'list'], env), /spelling_bee\tSpelling Bee/);
        assert.equal(await cli(['migrate'], env), 'migrations are up to date (nothing to apply)');
        // On a new data dir the same command does the work, and says so.
        const fresh = { KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-e2e-fresh-')), LOG_LEVEL: 'warn' };
        assert.match(await cli(['migrate'], fresh), /^applied [1-9]\d* migrations?:\n {2}control: 1 app registry; /);
        assert.equal(await cli(['migrate'], fresh), 'migrations are up to date (nothing to apply)');
      });
    }
  });
}

describe('end to end: configuration errors', () => {
  it('an invalid variable stops the process with one line naming it', async () => {
    const result = await run(NODE, ['src/runtimes/node-server.ts'], { env: { ...process.env, PORT: 'abc' } }).catch((e: { code: number; stderr: string }) => e);
    assert.ok('code' in result);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim(), 'Invalid PORT="abc": expected an integer');
  });
});
