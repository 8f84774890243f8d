import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { controlMigrations, tenantMigrations, type AppliedMigration } from '../../src/adapters/db/migrations.ts';
import { describeMigrations } from '../../src/cli/commands/migrate.ts';
import { execCli, startProgress, type CliIo } from '../../src/cli/main.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createContainer } from '../../src/wiring/container.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { createFixtureApp, testEmbedder } from '../support/app-fixture.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs a command line in-process, as `kidslearn` would, and collects what it printed. */
async function kidslearn(argv: string[], config: Config, io: Partial<CliIo> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await execCli(argv, { config, io, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

function tempConfig(prefix: string): Config {
  return loadConfig({ KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), prefix)), LOG_LEVEL: 'warn' }, { envFile: null });
}

/** A stream that says it is a terminal and keeps what is written to it. */
function fakeTerminal(): Writable & { isTTY: true; columns: number; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { isTTY: true as const, columns: 100, text: () => chunks.join('') });
}

/** Rows in `app_<id>.model_versions`, read through a container of its own. */
async function modelVersions(config: Config, appId: string): Promise<number> {
  const c = await createContainer(config, { embedder: testEmbedder(), logger: createLogger({ level: 'silent' }) });
  try {
    const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(`app_${appId}.model_versions`)}`.execute(c.database.db);
    return r.rows[0]!.n;
  } finally {
    await c.close();
  }
}

describe('cli: help', () => {
  const config = tempConfig('kidslearn-cli-help-');

  it('with no arguments prints the help: every command, its options, and the exit codes', async () => {
    const r = await kidslearn([], config);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Usage: kidslearn <command>\n/);
    for (const line of ['kidslearn migrate', 'kidslearn apps create <id> --name <name>', 'kidslearn seed [--app <id>]', 'kidslearn token --app <id> --role <role> [--sub <id>] [--ttl <duration>]', 'kidslearn model fit --app <id>']) {
      assert.ok(r.stdout.includes(`\n  ${line}\n`), `lists ${line}`);
    }
    assert.match(r.stdout, /Exit codes: 0 done, 1 failed .*, 2 wrong command line/);
    assert.equal((await kidslearn(['--help'], config)).stdout, r.stdout);
    assert.equal((await kidslearn(['help'], config)).stdout, r.stdout);
  });

  it('`seed --help` prints the command help with its option and choices (it used to say "Unknown option")', async () => {
    const r = await kidslearn(['seed', '--help'], config);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Usage: kidslearn seed \[--app <id>\]\n\nimport the demo apps’ committed content packs/);
    assert.match(r.stdout, /\n {2}--app <id> +seed only this demo app \(default: all\) \(choices: "mathkids",\s+"wordkids",\s+"shapekids"\)/);
    assert.equal((await kidslearn(['seed', '-h'], config)).stdout, r.stdout);
  });

  it('a subcommand has its own help: arguments and options with their descriptions', async () => {
    const r = await kidslearn(['apps', 'create', '--help'], config);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: kidslearn apps create <id> --name <name>\n\nregister an app and create its schema\n/);
    assert.match(r.stdout, /Arguments:\n {2}id +the app id \(a lowercase letter/);
    assert.match(r.stdout, /Options:\n {2}--name <name> +the display name\n/);
    const group = await kidslearn(['apps', '--help'], config);
    assert.match(group.stdout, /^Usage: kidslearn apps <command>\n/);
    assert.match(group.stdout, /\n {2}create <id> +register an app and create its schema\n/);
    const eval_ = await kidslearn(['model', 'eval', '-h'], config);
    assert.match(eval_.stdout, /--json +print one JSON object \{model, baselines\} instead of a table/);
  });
});

describe('cli: exit codes', () => {
  const config = tempConfig('kidslearn-cli-codes-');

  it('2 for an unknown command, naming it and pointing at --help', async () => {
    const r = await kidslearn(['frobnicate'], config);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^kidslearn: unknown command 'frobnicate'\nusage: kidslearn <command>\n\(see kidslearn --help\)\n$/);
    const sub = await kidslearn(['apps', 'lst'], config);
    assert.equal(sub.code, 2);
    assert.match(sub.stderr, /^kidslearn: unknown command 'lst'\n\(Did you mean list\?\)\nusage: kidslearn apps <command>/);
  });

  it('2 for a group without its subcommand, with the group help', async () => {
    const r = await kidslearn(['keys'], config);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^kidslearn: keys: missing command \(one of list, rotate\)\n\nUsage: kidslearn keys <command>/);
  });

  it('2 for an unknown option, a missing option and a bad option value, and nothing is created', async () => {
    const unknown = await kidslearn(['apps', 'create', 'foo', '--name', 'Foo', '--colour', 'red'], config);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^kidslearn: unknown option '--colour'\nusage: kidslearn apps create <id> --name <name>\n\(see kidslearn apps create --help\)\n$/);
    const missing = await kidslearn(['apps', 'create', 'foo'], config);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^kidslearn: required option '--name <name>' not specified\n/);
    const badId = await kidslearn(['apps', 'create', 'Foo', '--name', 'Foo'], config);
    assert.equal(badId.code, 2);
    assert.match(badId.stderr, /value 'Foo' is invalid for argument 'id'\. an app id must match/);
    const badRole = await kidslearn(['token', '--app', 'mathkids', '--role', 'king'], config);
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /'--role <role>' argument 'king' is invalid\. Allowed choices are guardian, child, teacher, admin\./);
    assert.equal(badRole.stdout, '', 'no token');
    const list = await kidslearn(['apps', 'list'], config);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, '(no apps)\n');
  });

  it('2 for an extra argument, naming it: `apps create foo bar` does not create foo', async () => {
    const bare = await kidslearn(['apps', 'create', 'foo', 'bar'], config);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^kidslearn: apps create: unexpected argument "bar" \(it takes <id>\)\n/, 'named before the missing --name');
    const r = await kidslearn(['apps', 'create', 'foo', 'bar', '--name', 'Foo'], config);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^kidslearn: apps create: unexpected argument "bar" \(it takes <id>\)\nusage: kidslearn apps create <id> --name <name>\n/);
    const list = await kidslearn(['apps', 'list'], config);
    assert.equal(list.stdout, '(no apps)\n', 'foo was not created');
    const keys = await kidslearn(['keys', 'list', 'now'], config);
    assert.equal(keys.code, 2);
    assert.match(keys.stderr, /^kidslearn: keys list: unexpected argument "now" \(it takes no arguments\)/);
  });

  it('1 for a failure at run time, with the reason; 0 when it works', async () => {
    const unknownApp = await kidslearn(['apps', 'settings', 'nosuchapp'], config);
    assert.equal(unknownApp.code, 1);
    assert.equal(unknownApp.stdout, '');
    assert.match(unknownApp.stderr, /^kidslearn: Unknown app "nosuchapp"\n$/);
    const created = await kidslearn(['apps', 'create', 'foo', '--name', 'Foo'], config);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'created app foo (Foo)\n');
    const again = await kidslearn(['apps', 'create', 'foo', '--name', 'Foo'], config);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^kidslearn: App "foo" already exists\n$/);
    const settings = await kidslearn(['apps', 'settings', 'foo', '--reveal-answers', 'false'], config);
    assert.equal(settings.code, 0, settings.stderr);
    assert.deepEqual(JSON.parse(settings.stdout), { id: 'foo', settings: { revealAnswers: false } });
    const noFile = await kidslearn(['model', 'eval', '--train', '/nonexistent/a.csv', '--test', '/nonexistent/b.csv'], config);
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /^kidslearn: \/nonexistent\/a\.csv: ENOENT/);
  });
});

describe('cli: migrate', () => {
  it('names the migrations it applied, per scope, then says it is up to date', async () => {
    const config = tempConfig('kidslearn-cli-migrate-');
    const first = await kidslearn(['migrate'], config);
    assert.equal(first.code, 0, first.stderr);
    const n = controlMigrations.length;
    assert.equal(first.stdout, `applied ${n} migration${n === 1 ? '' : 's'}:\n  control: ${controlMigrations.map((m) => `${m.version} ${m.name}`).join('; ')}\n`);
    const second = await kidslearn(['migrate'], config);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'migrations are up to date (nothing to apply)\n');
  });

  it("migrates the schema of an app registered without one, naming the app's migrations", async () => {
    const config = tempConfig('kidslearn-cli-migrate-app-');
    // A registry row whose schema was never made (as after a restore of the control schema alone).
    const c = await createContainer(config, { embedder: testEmbedder(), logger: createLogger({ level: 'silent' }) });
    try {
      await sql`insert into kidslearn.apps (id, name) values ('beta', 'Beta')`.execute(c.database.db);
    } finally {
      await c.close();
    }
    const r = await kidslearn(['migrate'], config);
    assert.equal(r.code, 0, r.stderr);
    const n = tenantMigrations.length;
    assert.equal(r.stdout, `applied ${n} migrations:\n  app:beta: ${tenantMigrations.map((m) => `${m.version} ${m.name}`).join('; ')}\n`);
    const apps = await kidslearn(['apps', 'settings', 'beta'], config);
    assert.equal(apps.code, 0, apps.stderr);
  });

  it('groups what it applied by scope, in the order applied', () => {
    const applied: AppliedMigration[] = [
      { scope: 'control', version: 3, name: 'c three' },
      { scope: 'app:alpha', version: 8, name: 'eight' },
      { scope: 'app:alpha', version: 9, name: 'nine' },
      { scope: 'app:beta', version: 9, name: 'nine' },
    ];
    assert.equal(describeMigrations(applied), 'applied 4 migrations:\n  control: 3 c three\n  app:alpha: 8 eight; 9 nine\n  app:beta: 9 nine');
    assert.equal(describeMigrations(applied.slice(0, 1)), 'applied 1 migration:\n  control: 3 c three');
  });
});

describe('cli: model fit', () => {
  it('refuses an app without answers (exit 1) and saves no model version', async () => {
    const config = tempConfig('kidslearn-cli-fit-');
    assert.equal((await kidslearn(['seed', '--app', 'mathkids'], config)).code, 0);
    const r = await kidslearn(['model', 'fit', '--app', 'mathkids'], config);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'kidslearn: app mathkids has no answers yet: nothing to fit (no model version saved)\n');
    assert.equal(await modelVersions(config, 'mathkids'), 0);
  });

  it('fits an app with answers: a new version, the numbers printed, the progress drawn on a terminal', async () => {
    const config = tempConfig('kidslearn-cli-fit-answers-');
    const c = await createContainer(config, { embedder: testEmbedder(), logger: createLogger({ level: 'silent' }) });
    try {
      await createFixtureApp(c, 'alpha');
      const ann = await c.accounts.register('alpha', { email: 'fit@example.com', password: 'correct horse battery', role: 'guardian' });
      const guardian: Principal = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      let clock = Date.now() - 3600_000;
      for (let k = 0; k < 3; k++) {
        const child = (await c.children.create(guardian, { nickname: `K${k}`, grade: 1 })).id;
        const answers = Array.from({ length: 4 }, (_, i) => ({
          childId: child,
          itemId: 'alpha-only-q1',
          response: i >= 2 ? 5 : 4,
          durationMs: 5000,
          answeredAt: new Date((clock += 1000)),
          clientEventId: `fit-${k}-${i}`,
        }));
        await c.progress.record({ sub: child, app: 'alpha', role: 'child', exp: guardian.exp }, answers);
      }
    } finally {
      await c.close();
    }
    const terminal = fakeTerminal();
    const r = await kidslearn(['model', 'fit', '--app', 'alpha'], config, { progressStream: terminal });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^app alpha: model version 1 from 12 answers; 0 of 1 concepts fitted on their own/);
    assert.match(terminal.text(), /model fit: reading answers \[=+\] 100% 3\/3 children/);
    assert.match(terminal.text(), /model fit: fitting \[=+\] 100% 1\/1/);
    assert.equal(await modelVersions(config, 'alpha'), 1);
  });
});

describe('cli: progress', () => {
  it('draws nothing when the stream is not a terminal', () => {
    const stream = Object.assign(fakeTerminal(), { isTTY: false });
    const p = startProgress('work', 10, { stream });
    p.tick(5);
    p.done();
    assert.equal(p.visible, false);
    assert.equal(stream.text(), '');
  });

  it('draws a bar with label, counts and unit on a terminal; done() twice is harmless', () => {
    const stream = fakeTerminal();
    const p = startProgress('work', 10, { stream, unit: 'items' });
    p.tick(4);
    p.tick();
    p.done();
    p.done();
    p.tick();
    assert.equal(p.visible, true);
    assert.match(stream.text(), /work \[[=-]{40}\] 50% 5\/10 items, ETA /);
  });

  it('`seed` shows its progress on a terminal, and only there', async () => {
    const config = tempConfig('kidslearn-cli-seed-');
    const terminal = fakeTerminal();
    const r = await kidslearn(['seed', '--app', 'wordkids'], config, { progressStream: terminal });
    assert.equal(r.code, 0, r.stderr);
    const items = /^wordkids: \d+ concepts, \d+ lessons, (\d+) practice items\n$/.exec(r.stdout)?.[1];
    assert.ok(items, r.stdout);
    assert.match(terminal.text(), /seed wordkids \[=+\] 100% (\d+)\/\1 rows/, 'every row of the import (concepts, lessons, items) is counted');
    const piped = Object.assign(fakeTerminal(), { isTTY: false });
    await kidslearn(['seed', '--app', 'wordkids'], config, { progressStream: piped });
    assert.equal(piped.text(), '');
  });
});

describe('cli: the project in a directory whose path has a space', () => {
  it('runs as the main module and prints help, and runs commands', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn cli with space-'));
    cpSync(path.join(ROOT, 'src'), path.join(dir, 'src'), { recursive: true });
    cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const env = { ...process.env, KIDSLEARN_DATA_DIR: path.join(dir, 'data dir'), DATABASE_URL: '', REDIS_URL: '', JWT_PRIVATE_KEY: '' };
        const child = spawn(process.execPath, [path.join(dir, 'src/cli/main.ts'), ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, stdout, stderr }));
      });
    const help = await run(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kidslearn <command>\n/);
    const token = await run(['token', '--app', 'mathkids', '--role', 'admin']);
    assert.equal(token.code, 0, token.stderr);
    assert.match(token.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const bad = await run(['apps', 'create', 'foo', 'bar']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unexpected argument "bar"/);
  });
});
