import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createOutboxMailer, outboxDir } from '../../src/adapters/mail/outbox-mailer.ts';
import { runCli, type CliError } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/config.ts';

describe('cli: mail list', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cli-mail-'));
  const config = loadConfig({ KIDSLEARN_DATA_DIR: dataDir }, { envFile: null });

  it('says the outbox is empty before any mail', async () => {
    assert.match(await runCli(['mail', 'list'], config), /^\(no mail in .*outbox\)$/);
  });

  it('shows every message with recipient, subject and text (the code a new user needs), oldest first; --to and --last narrow it', async () => {
    const mailer = createOutboxMailer({ dir: outboxDir(dataDir), from: 'kidslearn <no-reply@localhost>' });
    await mailer.send({ to: 'ann@example.com', subject: 'Confirm your email address (mathkids)', text: 'code:\n\n  AAAA\n' });
    await mailer.send({ to: 'bob@example.com', subject: 'Reset your password (mathkids)', text: 'code:\n\n  BBBB\n' });
    const all = await runCli(['mail', 'list'], config);
    assert.match(all, /^--- \S+ {2}to ann@example\.com\nSubject: Confirm your email address \(mathkids\)\n\ncode:\n\n {2}AAAA\n\n--- \S+ {2}to bob@example\.com\nSubject: Reset your password \(mathkids\)/);
    const ann = await runCli(['mail', 'list', '--to', 'ANN@example.com'], config);
    assert.ok(ann.includes('AAAA') && !ann.includes('BBBB'));
    const last = await runCli(['mail', 'list', '--last', '1'], config);
    assert.ok(last.includes('BBBB') && !last.includes('AAAA'));
    await assert.rejects(runCli(['mail', 'list', '--last', '0'], config), (e: CliError) => e.exitCode === 2 && /'--last <n>' argument '0' is invalid\. expected a whole number of 1 or more\.\nusage: kidslearn mail list/.test(e.message));
  });

  it('refuses when mail goes to an SMTP server instead', async () => {
    const smtp = loadConfig({ KIDSLEARN_DATA_DIR: dataDir, SMTP_URL: 'smtp://127.0.0.1:2525' }, { envFile: null });
    await assert.rejects(runCli(['mail', 'list'], smtp), /SMTP_URL is set/);
  });
});
