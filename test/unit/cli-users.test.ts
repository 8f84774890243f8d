import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { runCliProcess } from '../support/cli.ts';

const PASSWORD = 'correct horse battery';

const cli = runCliProcess;

describe('cli: users create', () => {
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cli-users-'));
    env = { ...process.env, KIDSLEARN_DATA_DIR: dataDir, PASSWORD_SCRYPT_LOG_N: '12', JWT_PRIVATE_KEY: '', DATABASE_URL: '', REDIS_URL: '' };
    const created = await cli(['apps', 'create', 'demoapp', '--name', 'Demo'], env);
    assert.equal(created.code, 0, created.stderr);
  });

  it('creates an admin from a piped password and prints it as JSON', async () => {
    const result = await cli(['users', 'create', '--app', 'demoapp', '--role', 'admin', '--email', 'Admin@Example.com'], env, `${PASSWORD}\n`);
    assert.equal(result.code, 0, result.stderr);
    const account = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(account).sort(), ['app', 'email', 'id', 'role']);
    assert.equal(account.email, 'admin@example.com');
    assert.equal(account.role, 'admin');
    assert.equal(account.app, 'demoapp');
    assert.match(String(account.id), /^[0-9a-f-]{36}$/);
    assert.ok(!result.stdout.includes(PASSWORD) && !result.stderr.includes(PASSWORD), 'the password is never printed');

    const again = await cli(['users', 'create', '--app', 'demoapp', '--role', 'admin', '--email', 'admin@example.com'], env, PASSWORD);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    assert.ok(!again.stderr.includes(PASSWORD));
  });

  it('refuses a short password, naming the 10-character minimum', async () => {
    const result = await cli(['users', 'create', '--app', 'demoapp', '--role', 'admin', '--email', 'short@example.com'], env, 'short\n');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /password must be at least 10 characters/);
    assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
    assert.equal(result.stdout, '');
  });

  it('only creates admins', async () => {
    const result = await cli(['users', 'create', '--app', 'demoapp', '--role', 'guardian', '--email', 'g@example.com'], env, PASSWORD);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--role must be admin.*sign up through the API/);
  });

  it('refuses an invalid email and an unknown app', async () => {
    const badEmail = await cli(['users', 'create', '--app', 'demoapp', '--role', 'admin', '--email', 'not-an-email'], env, PASSWORD);
    assert.equal(badEmail.code, 1);
    assert.match(badEmail.stderr, /email must be an email address/);
    const unknown = await cli(['users', 'create', '--app', 'nosuchapp', '--role', 'admin', '--email', 'a@example.com'], env, PASSWORD);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown app "nosuchapp"/);
    assert.ok(!unknown.stderr.includes(PASSWORD));
  });

  it('lists the command in the usage text', async () => {
    const result = await cli(['help'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /kidslearn users create --app <id> --role <role> --email <email>\n +create an admin account/);
    assert.match(result.stdout, /keys rotate/);
  });
});
