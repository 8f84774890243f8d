import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

const load = (env: Record<string, string>) => loadConfig(env, { envFile: null });

describe('loadConfig', () => {
  it('uses embedded defaults when nothing is set', () => {
    const c = load({});
    assert.equal(c.port, 3000);
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.deepEqual(c.database, { kind: 'pglite', dataDir: path.resolve('./data/pglite'), sharedBuffersMb: 32 });
    assert.equal(c.cache.kind, 'memory');
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.corsOrigins, []);
    assert.equal(c.seedDemoApps, true);
    // Sign-in failures are held tightly; the per-address limit is flood protection (a school shares one address).
    assert.deepEqual(c.rateLimits, { authPerMinute: 10, authIpPerMinute: 300, authHashIpPerMinute: 60, apiPerMinute: 600 });
  });

  it('selects PostgreSQL and Redis from their URLs, with pool settings', () => {
    const c = load({
      DATABASE_URL: 'postgres://u:p@db:5432/k',
      DATABASE_POOL_SIZE: '20',
      DATABASE_CONNECT_TIMEOUT_MS: '1500',
      DATABASE_STATEMENT_TIMEOUT_MS: '3000',
      REDIS_URL: 'redis://cache:6379',
      CORS_ORIGINS: 'https://a.example, https://b.example',
    });
    assert.deepEqual(c.database, { kind: 'postgres', url: 'postgres://u:p@db:5432/k', auth: { kind: 'password' }, poolSize: 20, connectTimeoutMs: 1500, statementTimeoutMs: 3000 });
    assert.equal(c.cache.kind, 'redis');
    assert.deepEqual(c.corsOrigins, ['https://a.example', 'https://b.example']);
  });

  it('runs the engine inline on the embedded database and separately with a server; separate without a server is refused', () => {
    assert.deepEqual(load({}).engine, { mode: 'inline', port: 3001, concurrency: 2, pollSeconds: 1, queueTimeoutMs: 5000 });
    assert.equal(load({ DATABASE_URL: 'postgres://u@h:5432/db' }).engine.mode, 'separate');
    assert.equal(load({ DATABASE_URL: 'postgres://u@h:5432/db', ENGINE_MODE: 'inline' }).engine.mode, 'inline');
    assert.throws(() => load({ ENGINE_MODE: 'separate' }), /^ConfigError: Invalid ENGINE_MODE="separate": expected inline without DATABASE_URL/);
    assert.throws(() => load({ ENGINE_POLL_SECONDS: '0.1' }), /^ConfigError: Invalid ENGINE_POLL_SECONDS/);
  });

  it('keeps jobs on pg-boss and events in the database unless JOB_QUEUE / EVENT_QUEUE say sqs, with the region from the queue URL', () => {
    const plain = load({});
    assert.deepEqual(plain.jobs, { kind: 'pg-boss' });
    assert.deepEqual(plain.events, { kind: 'database' });
    const c = load({
      JOB_QUEUE: 'sqs',
      JOBS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/kidslearn-jobs.fifo',
      EVENT_QUEUE: 'sqs',
      EVENTS_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/kidslearn-events',
      EVENT_QUEUE_TIMEOUT_MS: '2500',
    });
    assert.deepEqual(c.jobs, { kind: 'sqs', url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/kidslearn-jobs.fifo', region: 'eu-west-1' });
    assert.deepEqual(c.events, { kind: 'sqs', url: 'https://sqs.eu-central-1.amazonaws.com/123456789012/kidslearn-events', region: 'eu-central-1', timeoutMs: 2500 });
    assert.throws(() => load({ JOB_QUEUE: 'sqs' }), /^ConfigError: Invalid JOBS_QUEUE_URL: expected the SQS FIFO queue URL/);
    assert.throws(() => load({ JOB_QUEUE: 'sqs', JOBS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs' }), /expected a FIFO queue/);
    assert.throws(() => load({ EVENT_QUEUE: 'sqs' }), /Invalid EVENTS_QUEUE_URL/);
    assert.throws(() => load({ JOBS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/not a queue' }), /Invalid JOBS_QUEUE_URL/);
    assert.throws(() => load({ JOB_QUEUE: 'kafka' }), /Invalid JOB_QUEUE="kafka": expected one of pg-boss, sqs/);
  });

  it('writes mail to the outbox under the data dir unless SMTP_URL is set', () => {
    assert.deepEqual(load({ KIDSLEARN_DATA_DIR: '/tmp/kl' }).mail, { kind: 'outbox', dir: '/tmp/kl/outbox', from: 'kidslearn <no-reply@localhost>', linkBaseUrl: undefined });
    assert.deepEqual(load({ SMTP_URL: 'smtps://u:p@mail.example:465', MAIL_FROM: 'Kids <hi@example.com>', MAIL_TIMEOUT_MS: '2500', MAIL_LINK_BASE_URL: 'https://app.example' }).mail, {
      kind: 'smtp',
      url: 'smtps://u:p@mail.example:465',
      timeoutMs: 2500,
      from: 'Kids <hi@example.com>',
      linkBaseUrl: 'https://app.example',
    });
  });

  it('MAIL_TRANSPORT picks the mailer: ses (SES_REGION optional, a real sender required), smtp (needs SMTP_URL), outbox (even with SMTP_URL)', () => {
    assert.deepEqual(load({ MAIL_TRANSPORT: 'ses', SES_REGION: 'eu-west-1', MAIL_FROM: 'Kids <no-reply@kids.example.org>', MAIL_TIMEOUT_MS: '3000' }).mail, {
      kind: 'ses',
      region: 'eu-west-1',
      timeoutMs: 3000,
      from: 'Kids <no-reply@kids.example.org>',
      linkBaseUrl: undefined,
    });
    assert.equal((load({ MAIL_TRANSPORT: 'ses', MAIL_FROM: 'no-reply@kids.example.org' }).mail as { region?: string }).region, undefined);
    assert.throws(() => load({ MAIL_TRANSPORT: 'ses' }), /Invalid MAIL_FROM="kidslearn <no-reply@localhost>": expected an address verified in SES/);
    assert.throws(() => load({ MAIL_TRANSPORT: 'ses', MAIL_FROM: 'a@b.example', SES_REGION: 'Ireland' }), /Invalid SES_REGION/);
    assert.throws(() => load({ MAIL_TRANSPORT: 'smtp' }), /Invalid SMTP_URL: expected the SMTP server/);
    assert.equal(load({ MAIL_TRANSPORT: 'outbox', SMTP_URL: 'smtp://mail.example:25' }).mail.kind, 'outbox');
    assert.throws(() => load({ MAIL_TRANSPORT: 'pigeon' }), /Invalid MAIL_TRANSPORT="pigeon": expected one of outbox, smtp, ses/);
  });

  it('never repeats an SMTP_URL (it may hold a password) in its error', () => {
    assert.throws(() => load({ SMTP_URL: 'ftp://user:hunter2@mail.example' }), (e: Error) => !e.message.includes('hunter2'));
  });

  it('embeds locally by default, caching the prepared word vectors under the data dir', () => {
    assert.deepEqual(load({ KIDSLEARN_DATA_DIR: '/tmp/kl' }).embeddings, { provider: 'local', cacheDir: '/tmp/kl/cache/embeddings' });
  });

  it('takes an OpenAI-compatible embeddings server with URL and model (both required), key, dimension and timeout', () => {
    assert.deepEqual(load({ EMBEDDINGS_PROVIDER: 'openai', EMBEDDINGS_URL: 'http://127.0.0.1:11434', EMBEDDINGS_MODEL: 'nomic-embed-text', EMBEDDINGS_API_KEY: 'sk-1', EMBEDDINGS_TIMEOUT_MS: '2500' }).embeddings, {
      provider: 'openai',
      url: 'http://127.0.0.1:11434',
      model: 'nomic-embed-text',
      apiKey: 'sk-1',
      dimensions: undefined,
      timeoutMs: 2500,
    });
    assert.throws(() => load({ EMBEDDINGS_PROVIDER: 'openai', EMBEDDINGS_MODEL: 'm' }), /^ConfigError: Invalid EMBEDDINGS_URL/);
    assert.throws(() => load({ EMBEDDINGS_PROVIDER: 'openai', EMBEDDINGS_URL: 'http://x' }), /^ConfigError: Invalid EMBEDDINGS_MODEL/);
    assert.throws(() => load({ EMBEDDINGS_PROVIDER: 'openai', EMBEDDINGS_URL: 'ftp://secret@x', EMBEDDINGS_MODEL: 'm' }), (e: Error) => e.message.startsWith('Invalid EMBEDDINGS_URL: expected') && !e.message.includes('secret'));
  });

  it('takes Bedrock Titan v2 with its region and one of its three sizes', () => {
    assert.deepEqual(load({ EMBEDDINGS_PROVIDER: 'bedrock', BEDROCK_REGION: 'eu-west-1' }).embeddings, { provider: 'bedrock', region: 'eu-west-1', model: 'amazon.titan-embed-text-v2:0', dimensions: 1024, timeoutMs: 10000 });
    assert.equal(load({ EMBEDDINGS_PROVIDER: 'bedrock', EMBEDDINGS_DIMENSIONS: '256' }).embeddings.provider, 'bedrock');
    assert.throws(() => load({ EMBEDDINGS_PROVIDER: 'bedrock', EMBEDDINGS_DIMENSIONS: '300' }), /expected 256, 512 or 1024/);
    assert.throws(() => load({ EMBEDDINGS_PROVIDER: 'vertex' }), /^ConfigError: Invalid EMBEDDINGS_PROVIDER="vertex": expected one of local, openai, bedrock$/);
  });

  it('generates items offline by default, with a 20 s timeout, 2 retries and a daily token budget per app', () => {
    assert.deepEqual(load({}).llm, { provider: 'offline', timeoutMs: 20000, retries: 2, dailyTokenBudget: 200000 });
  });

  it('takes an OpenAI-compatible chat server with URL and model (both required), key, timeout, retries and budget', () => {
    assert.deepEqual(
      load({ LLM_PROVIDER: 'openai', LLM_URL: 'http://127.0.0.1:11434', LLM_MODEL: 'llama3.1:8b', LLM_API_KEY: 'sk-2', LLM_TIMEOUT_MS: '5000', LLM_RETRIES: '1', LLM_DAILY_TOKEN_BUDGET: '5000' }).llm,
      { provider: 'openai', url: 'http://127.0.0.1:11434', model: 'llama3.1:8b', apiKey: 'sk-2', timeoutMs: 5000, retries: 1, dailyTokenBudget: 5000 },
    );
    assert.throws(() => load({ LLM_PROVIDER: 'openai', LLM_MODEL: 'm' }), /^ConfigError: Invalid LLM_URL/);
    assert.throws(() => load({ LLM_PROVIDER: 'openai', LLM_URL: 'http://x' }), /^ConfigError: Invalid LLM_MODEL/);
    assert.throws(() => load({ LLM_PROVIDER: 'openai', LLM_URL: 'ftp://secret@x', LLM_MODEL: 'm' }), (e: Error) => e.message.startsWith('Invalid LLM_URL: expected') && !e.message.includes('secret'));
  });

  it('takes Bedrock with its region and a Converse model id, and bounds timeout, retries and budget', () => {
    assert.deepEqual(load({ LLM_PROVIDER: 'bedrock', BEDROCK_REGION: 'us-east-1', LLM_BEDROCK_MODEL: 'anthropic.claude-3-haiku-20240307-v1:0' }).llm, {
      provider: 'bedrock',
      region: 'us-east-1',
      model: 'anthropic.claude-3-haiku-20240307-v1:0',
      timeoutMs: 20000,
      retries: 2,
      dailyTokenBudget: 200000,
    });
    assert.equal(load({ LLM_DAILY_TOKEN_BUDGET: '0' }).llm.dailyTokenBudget, 0);
    assert.throws(() => load({ LLM_RETRIES: '6' }), /^ConfigError: Invalid LLM_RETRIES="6"/);
    assert.throws(() => load({ LLM_TIMEOUT_MS: '50' }), /^ConfigError: Invalid LLM_TIMEOUT_MS="50"/);
    assert.throws(() => load({ LLM_DAILY_TOKEN_BUDGET: '-1' }), /^ConfigError: Invalid LLM_DAILY_TOKEN_BUDGET/);
    assert.throws(() => load({ LLM_PROVIDER: 'gemini' }), /^ConfigError: Invalid LLM_PROVIDER="gemini": expected one of offline, openai, bedrock$/);
    assert.throws(() => load({ LLM_API_KEY: '' , LLM_PROVIDER: 'openai', LLM_URL: 'http://x', LLM_MODEL: 'm', LLM_TIMEOUT_MS: 'x' }), (e: Error) => e.message.startsWith('Invalid LLM_TIMEOUT_MS'));
  });

  it('treats empty URLs as unset', () => {
    assert.equal(load({ DATABASE_URL: '', REDIS_URL: ' ' }).database.kind, 'pglite');
  });

  for (const [name, value, expected] of [
    ['PORT', 'abc', /^Invalid PORT="abc": expected an integer$/],
    ['PORT', '70000', /^Invalid PORT="70000": expected a number <= 65535$/],
    ['DATABASE_URL', 'mysql://x', /^Invalid DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\/$/],
    ['REDIS_URL', 'localhost:6379', /^Invalid REDIS_URL: expected a URL starting with redis:\/\//],
    ['LOG_LEVEL', 'loud', /^Invalid LOG_LEVEL="loud": expected one of fatal, error, warn, info, debug, trace, silent$/],
    ['CORS_ORIGINS', 'not a url', /^Invalid CORS_ORIGINS/],
    ['DATABASE_POOL_SIZE', '0', /^Invalid DATABASE_POOL_SIZE="0": expected a number >= 1$/],
    ['SMTP_URL', 'http://user:secret@mail.example', /^Invalid SMTP_URL: expected a URL starting with smtp:\/\/ or smtps:\/\/$/],
    ['MAIL_FROM', 'not an address', /^Invalid MAIL_FROM="not an address": expected an address such as/],
    ['MAIL_FROM', 'x <a@b>, c@d', /^Invalid MAIL_FROM=/],
    ['MAIL_TIMEOUT_MS', '0', /^Invalid MAIL_TIMEOUT_MS="0": expected a number >= 100$/],
    ['RATE_LIMIT_AUTH_IP_PER_MINUTE', '0', /^Invalid RATE_LIMIT_AUTH_IP_PER_MINUTE="0": expected a number >= 1$/],
  ] as const) {
    it(`rejects ${name}=${value} with one line naming it`, () => {
      assert.throws(
        () => load({ [name]: value }),
        (e: Error) => e instanceof ConfigError && expected.test(e.message) && !e.message.includes('\n'),
      );
    });
  }

  it('reads .env, with real environment variables taking precedence', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-env-'));
    const file = path.join(dir, '.env');
    writeFileSync(file, 'PORT=4001\nLOG_LEVEL=debug\n');
    const c = loadConfig({ LOG_LEVEL: 'warn' }, { envFile: file });
    assert.equal(c.port, 4001);
    assert.equal(c.logLevel, 'warn');
  });
});
