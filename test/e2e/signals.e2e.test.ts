import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `npm start` as a process manager runs it: npm in its own process group, and
 * the signal sent to npm's pid only (systemd, Docker and Kubernetes signal the
 * main process, not the group). npm runs the script through `sh -c`, and a
 * shell that is not told to `exec` dies on SIGTERM without passing it on,
 * leaving the server serving. Here the whole group must be gone, the port
 * closed, and the server must have drained (its "stopped" line) rather than
 * been killed.
 */
const SHUTDOWN_TIMEOUT_MS = 3000;
const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-signals-'));
const started: ChildProcess[] = [];

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function startNpm(): Promise<{ npm: ChildProcess; url: string; output: () => string }> {
  // `npm` from PATH: under `npm test` that is the npm running the tests.
  const npm = spawn('npm', ['start'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', KIDSLEARN_DATA_DIR: dataDir, SEED_DEMO_APPS: 'false', SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), LOG_LEVEL: 'info' },
  });
  started.push(npm);
  let output = '';
  npm.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /running at (http:\/\/localhost:\d+)/.exec(output);
      if (m) {
        clearInterval(timer);
        resolve(m[1]!.replace('localhost', '127.0.0.1'));
      }
    }, 50);
    npm.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`npm start exited with ${code} before serving:\n${output}`));
    });
  });
  return { npm, url, output: () => output };
}

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

after(() => {
  for (const child of started) if (child.pid !== undefined && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start stops on a signal sent to npm alone', { timeout: 180_000 }, () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: the server drains and exits, the port closes, no process of the group is left`, async () => {
      const { npm, url, output } = await startNpm();
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
      const pgid = npm.pid!;

      process.kill(npm.pid!, signal);

      const gone = await waitUntil(() => !groupAlive(pgid), SHUTDOWN_TIMEOUT_MS + 2000);
      assert.ok(gone, `processes of npm start's group are still running ${SHUTDOWN_TIMEOUT_MS + 2000} ms after ${signal}:\n${output()}`);
      await assert.rejects(fetch(`${url}/health`), (error: Error) => /ECONNREFUSED/.test(String((error.cause as Error | undefined)?.message ?? error)));
      assert.match(output(), new RegExp(`"signal":"${signal}","msg":"shutting down`), 'the server received the signal itself');
      assert.match(output(), /"msg":"stopped"/, 'the server finished its shutdown rather than being killed');
    });
  }
});
