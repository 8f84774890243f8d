import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SendEmailCommand, SESv2Client, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { SMTPServer } from 'smtp-server';
import type { Mailer } from '../../src/adapters/mail/mailer.ts';
import { createOutboxMailer, listOutbox } from '../../src/adapters/mail/outbox-mailer.ts';
import { createSmtpMailer } from '../../src/adapters/mail/smtp-mailer.ts';
import { createSesMailer } from '../../src/adapters/mail/ses-mailer.ts';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.ts';
import { openPgliteDatabase } from '../../src/adapters/db/pglite.ts';
import { createTestApp } from '../support/app-fixture.ts';
import { sqsError } from '../support/sqs-fake.ts';
import { AppError } from '../../src/domain/errors.ts';

const FROM = 'kidslearn <no-reply@example.com>';

/** What arrived, as the recipient's mailbox would show it. */
interface Received {
  to: string[];
  from: string;
  raw: string;
}

/**
 * An adapter under test and a way to read what it delivered: the outbox
 * directory, a real SMTP server (smtp-server) listening in this process,
 * so the SMTP adapter speaks actual SMTP, not a stream transport, or the
 * SendEmail requests an SES client mocked with aws-sdk-client-mock received.
 */
interface MailerBackend {
  name: string;
  open(): Promise<{ mailer: Mailer; delivered(): Received[]; dispose(): Promise<void> }>;
}

const backends: MailerBackend[] = [
  {
    name: 'file outbox',
    async open() {
      const dir = path.join(mkdtempSync(path.join(tmpdir(), 'kidslearn-outbox-')), 'outbox');
      const mailer = createOutboxMailer({ dir, from: FROM });
      return {
        mailer,
        delivered: () => listOutbox(dir).map((m) => ({ to: [m.to], from: m.from, raw: `Subject: ${m.subject}\n\n${m.text}` })),
        dispose: () => mailer.close(),
      };
    },
  },
  {
    name: 'SMTP (in-test smtp-server)',
    async open() {
      const received: Received[] = [];
      const server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            received.push({
              to: session.envelope.rcptTo.map((r) => r.address),
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              raw: Buffer.concat(chunks).toString('utf8'),
            });
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.server.address() as AddressInfo;
      const mailer = createSmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: FROM, timeoutMs: 2000 });
      return {
        mailer,
        delivered: () => received,
        async dispose() {
          await mailer.close();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
  },
  {
    name: 'Amazon SES (SESv2 client mock)',
    async open() {
      const { client, mock } = mockedSes();
      mock.on(SendEmailCommand).resolves({ MessageId: 'ses-message-1' });
      const mailer = createSesMailer({ client, from: FROM, timeoutMs: 2000 });
      return {
        mailer,
        delivered: () => mock.commandCalls(SendEmailCommand).map((c) => sesReceived(c.args[0].input)),
        dispose: () => mailer.close(),
      };
    },
  },
];

/** An SESv2 client with a mock in front of it. */
function mockedSes() {
  const client = new SESv2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  return { client, mock: mockClient(client) };
}

/** A SendEmail request as the recipient's mailbox would show it. */
function sesReceived(input: SendEmailCommandInput): Received {
  const simple = input.Content!.Simple!;
  return { to: input.Destination!.ToAddresses!, from: input.FromEmailAddress!, raw: `Subject: ${simple.Subject!.Data}\n\n${simple.Body!.Text!.Data}` };
}

/** The mailer port's contract, run on every adapter. */
for (const backend of backends) {
  describe(`mailer contract: ${backend.name}`, () => {
    let opened: Awaited<ReturnType<MailerBackend['open']>>;
    before(async () => {
      opened = await backend.open();
    });
    after(async () => opened.dispose());

    it('delivers one message to the one recipient, from the configured sender, with subject and text', async () => {
      const before = opened.delivered().length;
      await opened.mailer.send({ to: 'parent@example.com', subject: 'Confirm your email address (alpha)', text: 'Your code:\n\n  abc123\n' });
      const delivered = opened.delivered().slice(before);
      assert.equal(delivered.length, 1);
      assert.deepEqual(delivered[0]!.to, ['parent@example.com']);
      assert.match(delivered[0]!.from, /no-reply@example\.com/);
      assert.match(delivered[0]!.raw, /Subject: Confirm your email address \(alpha\)/);
      assert.match(delivered[0]!.raw, /^ {2}abc123\r?$/m);
    });

    it('keeps messages apart and in order', async () => {
      const before = opened.delivered().length;
      await opened.mailer.send({ to: 'a@example.com', subject: 'first', text: 'one' });
      await opened.mailer.send({ to: 'b@example.com', subject: 'second', text: 'two' });
      const delivered = opened.delivered().slice(before);
      assert.deepEqual(
        delivered.map((d) => d.to[0]),
        ['a@example.com', 'b@example.com'],
      );
      assert.match(delivered[0]!.raw, /Subject: first/);
      assert.match(delivered[1]!.raw, /Subject: second/);
    });
  });
}

describe('SMTP mailer under faults', () => {
  let stalled: Server;
  const sockets = new Set<Socket>();
  before(async () => {
    // Accepts connections and never says a word: the greeting never comes.
    stalled = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
  });

  it('a server that never answers costs at most the timeout, then 503 mail_unavailable', async () => {
    const { port } = stalled.address() as AddressInfo;
    const mailer = createSmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: FROM, timeoutMs: 300 });
    const started = performance.now();
    await assert.rejects(mailer.send({ to: 'x@example.com', subject: 's', text: 't' }), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.kind, 'unavailable');
      assert.equal(error.code, 'mail_unavailable');
      return true;
    });
    assert.ok(performance.now() - started < 2000, 'bounded by the timeout, not by nodemailer’s defaults (30 s greeting, 2 min connect)');
    await mailer.close();
  });

  it('a refused connection is 503 mail_unavailable too', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const mailer = createSmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: FROM, timeoutMs: 1000 });
    await assert.rejects(mailer.send({ to: 'x@example.com', subject: 's', text: 't' }), { code: 'mail_unavailable' });
    await mailer.close();
  });
});

describe('file outbox', () => {
  it('writes each message as its own file, readable by the owner only (messages carry sign-in codes)', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'kidslearn-outbox-')), 'outbox');
    const mailer = createOutboxMailer({ dir, from: FROM });
    await mailer.send({ to: 'a@example.com', subject: 's1', text: 't1' });
    await mailer.send({ to: 'b@example.com', subject: 's2', text: 't2' });
    const files = readdirSync(dir);
    assert.equal(files.length, 2);
    for (const f of files) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(
      listOutbox(dir, { to: 'B@Example.com' }).map((m) => m.subject),
      ['s2'],
    );
  });
});

describe('file outbox order', () => {
  it('lists messages in sending order, also those sent within the same millisecond', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'kidslearn-outbox-')), 'outbox');
    const mailer = createOutboxMailer({ dir, from: FROM });
    const subjects = Array.from({ length: 40 }, (_, i) => `message ${i}`);
    for (const subject of subjects) await mailer.send({ to: 'a@example.com', subject, text: 't' });
    assert.deepEqual(listOutbox(dir).map((m) => m.subject), subjects);
  });
});

describe('SES mailer', () => {
  const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 5, capDelayMs: 20 };

  it('sends SESv2 SendEmail with simple UTF-8 content: From = MAIL_FROM, one recipient, the subject and the text', async () => {
    const { client, mock } = mockedSes();
    mock.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
    const mailer = createSesMailer({ client, from: FROM, timeoutMs: 1000 });
    await mailer.send({ to: 'parent@example.com', subject: 'Reset your password (alpha)', text: 'Your code:\n\n  xyz\n' });
    assert.deepEqual(mock.commandCalls(SendEmailCommand).map((c) => c.args[0].input), [
      {
        FromEmailAddress: FROM,
        Destination: { ToAddresses: ['parent@example.com'] },
        Content: { Simple: { Subject: { Data: 'Reset your password (alpha)', Charset: 'UTF-8' }, Body: { Text: { Data: 'Your code:\n\n  xyz\n', Charset: 'UTF-8' } } } },
      },
    ]);
    assert.equal(mailer.kind, 'ses');
  });

  it('throttling (TooManyRequestsException) is retried with backoff; the message is sent once', async () => {
    const { client, mock } = mockedSes();
    mock
      .on(SendEmailCommand)
      .rejectsOnce(sqsError('TooManyRequestsException', 429))
      .rejectsOnce(sqsError('TooManyRequestsException', 429))
      .resolves({ MessageId: 'm-2' });
    const mailer = createSesMailer({ client, from: FROM, timeoutMs: 2000, retry: FAST_RETRY });
    await mailer.send({ to: 'a@example.com', subject: 's', text: 't' });
    assert.equal(mock.commandCalls(SendEmailCommand).length, 3);
  });

  it('a refusal (MessageRejected, an unverified sender) is not retried: 503 mail_unavailable, the text not in the error', async () => {
    const { client, mock } = mockedSes();
    mock.on(SendEmailCommand).rejects(sqsError('MessageRejected', 400));
    const mailer = createSesMailer({ client, from: FROM, timeoutMs: 2000, retry: FAST_RETRY });
    await assert.rejects(mailer.send({ to: 'a@example.com', subject: 's', text: 'secret-code-123' }), (e: unknown) => {
      assert.ok(e instanceof AppError && e.code === 'mail_unavailable');
      assert.match(String((e.cause as Error).message), /MessageRejected/);
      assert.ok(!JSON.stringify({ m: e.message, c: (e.cause as Error).message }).includes('secret-code-123'));
      return true;
    });
    assert.equal(mock.commandCalls(SendEmailCommand).length, 1);
  });

  it('an SES that never answers costs at most the timeout, then 503 mail_unavailable', async () => {
    const { client, mock } = mockedSes();
    mock.on(SendEmailCommand).callsFake(() => new Promise(() => {}));
    const mailer = createSesMailer({ client, from: FROM, timeoutMs: 300, retry: FAST_RETRY });
    const t0 = performance.now();
    await assert.rejects(mailer.send({ to: 'a@example.com', subject: 's', text: 't' }), { code: 'mail_unavailable' });
    assert.ok(performance.now() - t0 < 1000, `${performance.now() - t0} ms`);
  });

  it('MAIL_TRANSPORT=ses: signing up sends the verification mail through SES, with the code and the link', async () => {
    const { client, mock } = mockedSes();
    mock.on(SendEmailCommand).resolves({ MessageId: 'm-3' });
    const database = await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: 10_000 });
    const t = await createTestApp({
      database,
      cache: createMemoryCache({ maxEntries: 100 }),
      env: { MAIL_TRANSPORT: 'ses', MAIL_FROM: FROM, MAIL_LINK_BASE_URL: 'https://app.example.org' },
      sesClient: client,
    });
    try {
      assert.equal(t.container.mailer.kind, 'ses');
      await t.container.apps.create('alpha', 'Alpha');
      const res = await t.request('/auth/register', { method: 'POST', headers: { 'x-app-id': 'alpha' }, body: JSON.stringify({ email: 'New.Parent@Example.com', password: 'correct horse battery', role: 'guardian' }) });
      assert.equal(res.status, 202);
      const [call] = mock.commandCalls(SendEmailCommand);
      const input = call!.args[0].input;
      assert.equal(input.FromEmailAddress, FROM);
      assert.deepEqual(input.Destination, { ToAddresses: ['new.parent@example.com'] });
      assert.equal(input.Content!.Simple!.Subject!.Data, 'Confirm your email address (alpha)');
      const body = input.Content!.Simple!.Body!.Text!.Data!;
      const code = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(body)?.[1];
      assert.ok(code, body);
      assert.ok(body.includes(`https://app.example.org/verify-email?app=alpha&token=${code}`), body);
    } finally {
      await t.container.close();
    }
  });
});
