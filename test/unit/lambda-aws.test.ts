import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Hono } from 'hono';
import { resolveSecrets, SecretError } from '../../src/adapters/aws/secrets.ts';
import type { AppEnv } from '../../src/http/context.ts';
import { observe } from '../../src/http/middleware/observe.ts';
import { createEmfSink } from '../../src/observability/emf.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { lambdaConfig, loadLambdaConfig } from '../../src/runtimes/lambda/aws-config.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kidslearn/db-AbCdEf';
const KEY_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kidslearn/jwt-AbCdEf';
const JWK = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'x', d: 'd', alg: 'EdDSA', kid: 'k' });
const REDIS_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kidslearn/redis-AbCdEf';
const REDIS_TOKEN = 'Tok3n-With_Punct!#$%ButNoAtSlashQuote';
const SECRET = JSON.stringify({ username: 'kidslearn', password: 'p@ss:w/rd?', host: 'cluster.internal', port: 5432, dbname: 'fromsecret', engine: 'postgres' });

/** What `fn` writes to stdout (Powertools writes EMF there), one string per write. */
function captureStdout(fn: () => void): string[] {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return lines.flatMap((l) => l.split('\n')).filter(Boolean);
}

describe('EMF metrics (METRICS_EMF=true on Lambda)', () => {
  it('writes the HTTP request metrics the Node server exposes on /metrics, with route, method and status dimensions, on flush', async () => {
    const metrics = createMetrics(() => ({ total: 0, idle: 0, waiting: 0 }), { defaultMetrics: false, httpSink: createEmfSink() });
    const app = new Hono<AppEnv>();
    app.use('*', observe(createLogger({ level: 'silent' }), metrics));
    app.get('/api/lessons/:lessonId', (c) => c.json({ ok: true }));
    assert.equal((await app.request('/api/lessons/l1')).status, 200);
    assert.equal((await app.request('/api/lessons/l2')).status, 200);
    assert.equal((await app.request('/nowhere')).status, 404);

    const lines = captureStdout(() => metrics.flush());
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } });
    assert.equal(emf.length, 2, lines.join('\n'));
    const lessons = emf.find((e) => e.route === '/api/lessons/:lessonId')!;
    assert.ok(lessons, lines.join('\n'));
    const [directive] = lessons._aws.CloudWatchMetrics;
    assert.equal(directive!.Namespace, 'Kidslearn');
    assert.deepEqual(directive!.Dimensions, [['service', 'route', 'method', 'status']]);
    assert.deepEqual(directive!.Metrics, [
      { Name: 'kidslearn_http_requests_total', Unit: 'Count' },
      { Name: 'kidslearn_http_request_duration_seconds', Unit: 'Seconds' },
    ]);
    assert.equal(lessons.service, 'kidslearn');
    assert.equal(lessons.method, 'GET');
    assert.equal(lessons.status, '200');
    assert.equal(lessons.kidslearn_http_requests_total, 2);
    const durations = lessons.kidslearn_http_request_duration_seconds as number[];
    assert.equal(durations.length, 2);
    for (const d of durations) assert.ok(d > 0 && d < 5, String(d));
    const unmatched = emf.find((e) => e.route === 'unmatched')!;
    assert.equal(unmatched.status, '404');
    assert.equal(unmatched.kidslearn_http_requests_total, 1);

    // The same observations reached the Prometheus registry (/metrics).
    const text = await metrics.registry.metrics();
    assert.match(text, /kidslearn_http_requests_total\{method="GET",route="\/api\/lessons\/:lessonId",status="200"\} 2/);
    // A flush with nothing new writes nothing.
    assert.deepEqual(captureStdout(() => metrics.flush()), []);
  });

  it('without the sink (METRICS_EMF unset) a flush writes nothing', async () => {
    const metrics = createMetrics(() => ({ total: 0, idle: 0, waiting: 0 }), { defaultMetrics: false });
    metrics.httpSeries('GET', '/health', 200).observe(0.01);
    assert.deepEqual(captureStdout(() => metrics.flush()), []);
  });
});

describe('secrets on AWS (DATABASE_SECRET_ARN, JWT_PRIVATE_KEY_SECRET_ARN)', () => {
  const sm = mockClient(SecretsManagerClient);
  const saved = { ...process.env };
  afterEach(() => {
    sm.reset();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  after(() => sm.restore());

  it('reads each secret once per execution environment, across invocations, and builds a TLS DATABASE_URL for the proxy', async () => {
    sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: SECRET });
    sm.on(GetSecretValueCommand, { SecretId: KEY_ARN }).resolves({ SecretString: JWK });
    sm.on(GetSecretValueCommand, { SecretId: REDIS_ARN }).resolves({ SecretString: REDIS_TOKEN });
    Object.assign(process.env, {
      DATABASE_SECRET_ARN: ARN,
      DATABASE_HOST: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
      DATABASE_NAME: 'kidslearn',
      JWT_PRIVATE_KEY_SECRET_ARN: KEY_ARN,
      REDIS_URL: 'rediss://master.kidslearn.abc.euw1.cache.amazonaws.com:6379',
      REDIS_PASSWORD_SECRET_ARN: REDIS_ARN,
    });
    delete process.env.DATABASE_URL;
    delete process.env.JWT_PRIVATE_KEY;
    const first = await lambdaConfig();
    const second = await lambdaConfig();
    assert.equal(second, first);
    assert.equal(sm.commandCalls(GetSecretValueCommand, { SecretId: ARN }).length, 1);
    // The signing key once per stage: AWSCURRENT and AWSPREVIOUS.
    assert.equal(sm.commandCalls(GetSecretValueCommand, { SecretId: KEY_ARN }).length, 2);
    assert.equal(sm.commandCalls(GetSecretValueCommand, { SecretId: REDIS_ARN }).length, 1);
    assert.equal(first.cache.kind, 'redis');
    const redis = new URL(first.cache.kind === 'redis' ? first.cache.url : '');
    assert.equal(redis.protocol, 'rediss:');
    assert.equal(redis.hostname, 'master.kidslearn.abc.euw1.cache.amazonaws.com');
    assert.equal(redis.username, '');
    assert.equal(decodeURIComponent(redis.password), REDIS_TOKEN);
    assert.equal(first.database.kind, 'postgres');
    const url = new URL(first.database.kind === 'postgres' ? first.database.url : '');
    assert.equal(url.hostname, 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com');
    assert.equal(url.port, '5432');
    assert.equal(url.pathname, '/kidslearn');
    assert.equal(decodeURIComponent(url.username), 'kidslearn');
    assert.equal(decodeURIComponent(url.password), 'p@ss:w/rd?');
    assert.equal(url.searchParams.get('sslmode'), 'verify-full');
    assert.equal(first.jwt.privateKeyJwk, JWK);
    assert.equal(first.dataDir, '/tmp/kidslearn');
  });

  it("defaults to the secret's host and dbname", async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    const env = await resolveSecrets({ DATABASE_SECRET_ARN: ARN });
    const url = new URL(env.DATABASE_URL!);
    assert.equal(url.hostname, 'cluster.internal');
    assert.equal(url.pathname, '/fromsecret');
  });

  it('fails with a clear error, never echoing the secret, when the secret is unusable', async () => {
    const cases: [string, () => void, RegExp][] = [
      ['not JSON', () => sm.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2-password' }), /The database secret arn:.* is not JSON/],
      ['no password', () => sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'u', host: 'h' }) }), /missing or has invalid fields: password/],
      ['no host anywhere', () => sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'u', password: 'hunter2-password' }) }), /Invalid DATABASE_HOST: expected the RDS Proxy endpoint/],
      ['binary secret', () => sm.on(GetSecretValueCommand).resolves({}), /has no SecretString/],
      ['access denied', () => sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' })), /Could not read the database secret arn:.*kidslearn\/db-AbCdEf from Secrets Manager \(AccessDeniedException\)/],
    ];
    for (const [name, arrange, message] of cases) {
      sm.reset();
      arrange();
      await assert.rejects(
        () => loadLambdaConfig({ DATABASE_SECRET_ARN: ARN, JWT_PRIVATE_KEY: JWK }),
        (error: Error) => {
          assert.ok(error instanceof SecretError, `${name}: ${String(error)}`);
          assert.match(error.message, message, name);
          assert.doesNotMatch(error.message, /hunter2/, name);
          return true;
        },
      );
    }
  });

  it('rejects a malformed ARN, DATABASE_URL together with the secret, and a Lambda without a shared signing key', async () => {
    await assert.rejects(() => resolveSecrets({ DATABASE_SECRET_ARN: 'arn:nope' }), /Invalid DATABASE_SECRET_ARN: expected a Secrets Manager secret ARN/);
    await assert.rejects(() => resolveSecrets({ DATABASE_SECRET_ARN: ARN, DATABASE_URL: 'postgres://x@h/db' }), /either DATABASE_URL or DATABASE_SECRET_ARN, not both/);
    sm.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    await assert.rejects(() => loadLambdaConfig({ DATABASE_SECRET_ARN: ARN }), /needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_SECRET_ARN/);
    await assert.rejects(() => loadLambdaConfig({ JWT_PRIVATE_KEY: JWK }), /needs DATABASE_URL, DATABASE_SECRET_ARN or DATABASE_AUTH=iam/);
    sm.on(GetSecretValueCommand, { SecretId: KEY_ARN }).resolves({ SecretString: '{"kty":"OKP"}' });
    await assert.rejects(() => resolveSecrets({ JWT_PRIVATE_KEY_SECRET_ARN: KEY_ARN }), /The signing key secret arn:.* is not a private JWK in JSON/);
  });
});

describe('IAM database auth and the Redis AUTH token on AWS (DATABASE_AUTH=iam, REDIS_PASSWORD_SECRET_ARN)', () => {
  // Made in before(): a second mock of the same client made at definition time would replace the first describe's.
  let sm: ReturnType<typeof mockClient>;
  before(() => (sm = mockClient(SecretsManagerClient)));
  afterEach(() => sm.reset());
  after(() => sm.restore());
  const iamEnv = {
    DATABASE_AUTH: 'iam',
    DATABASE_HOST: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
    DATABASE_NAME: 'kidslearn',
    DATABASE_USER: 'kidslearn_admin',
    AWS_REGION: 'eu-west-1',
    JWT_PRIVATE_KEY: JWK,
    REDIS_URL: 'rediss://cache.internal:6379',
    REDIS_PASSWORD_SECRET_ARN: REDIS_ARN,
  };

  it('reads no database secret with IAM auth: a TLS URL without a password, for the configured user, and the Redis token into REDIS_URL', async () => {
    sm.on(GetSecretValueCommand, { SecretId: REDIS_ARN }).resolves({ SecretString: REDIS_TOKEN });
    const config = await loadLambdaConfig(iamEnv);
    assert.deepEqual(sm.commandCalls(GetSecretValueCommand).map((c) => (c.args[0].input as { SecretId?: string }).SecretId), [REDIS_ARN]);
    assert.equal(config.database.kind, 'postgres');
    if (config.database.kind !== 'postgres') return;
    assert.deepEqual(config.database.auth, { kind: 'iam', region: 'eu-west-1' });
    const url = new URL(config.database.url);
    assert.equal(url.hostname, 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com');
    assert.equal(url.port, '5432');
    assert.equal(url.pathname, '/kidslearn');
    assert.equal(url.username, 'kidslearn_admin');
    assert.equal(url.password, '');
    assert.equal(url.searchParams.get('sslmode'), 'verify-full');
    assert.equal(config.cache.kind === 'redis' && decodeURIComponent(new URL(config.cache.url).password), REDIS_TOKEN);
    // DATABASE_IAM_REGION wins over AWS_REGION.
    const other = await loadLambdaConfig({ ...iamEnv, DATABASE_IAM_REGION: 'eu-central-1' });
    assert.equal(other.database.kind === 'postgres' && other.database.auth.kind === 'iam' && other.database.auth.region, 'eu-central-1');
  });

  it('rejects IAM auth with the database secret, without a user, without a region, or with a password in DATABASE_URL', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: REDIS_TOKEN });
    await assert.rejects(() => loadLambdaConfig({ ...iamEnv, DATABASE_SECRET_ARN: ARN }), /Invalid DATABASE_SECRET_ARN: expected none with DATABASE_AUTH=iam/);
    await assert.rejects(() => loadLambdaConfig({ ...iamEnv, DATABASE_USER: '' }), /Invalid DATABASE_USER/);
    await assert.rejects(() => loadLambdaConfig({ ...iamEnv, AWS_REGION: '' }), /Invalid DATABASE_IAM_REGION/);
    await assert.rejects(() => loadLambdaConfig({ ...iamEnv, DATABASE_HOST: '', DATABASE_URL: 'postgresql://u:hunter2@h/db' }), (e: Error) => /Invalid DATABASE_URL: expected no password/.test(e.message) && !e.message.includes('hunter2'));
    await assert.rejects(() => loadLambdaConfig({ ...iamEnv, DATABASE_HOST: '' }), /Invalid DATABASE_HOST/);
  });

  it('rejects an unusable Redis token or REDIS_URL without echoing either', async () => {
    const cases: [string, string | undefined, Record<string, string>, RegExp][] = [
      ['too short', 'hunter2', {}, /The Redis AUTH token secret arn:.* does not hold an AUTH token/],
      ['an @', 'hunter2hunter2hunter2@', {}, /does not hold an AUTH token/],
      ['no secret string', undefined, {}, /has no SecretString/],
      ['password in REDIS_URL', REDIS_TOKEN, { REDIS_URL: 'rediss://:hunter2@cache.internal:6379' }, /^Invalid REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL without a password/],
      ['no REDIS_URL', REDIS_TOKEN, { REDIS_URL: '' }, /^Invalid REDIS_URL/],
    ];
    for (const [name, token, env, message] of cases) {
      sm.reset();
      sm.on(GetSecretValueCommand).resolves(token === undefined ? {} : { SecretString: token });
      await assert.rejects(
        () => loadLambdaConfig({ ...iamEnv, ...env }),
        (error: Error) => {
          assert.ok(error instanceof SecretError, `${name}: ${String(error)}`);
          assert.match(error.message, message, name);
          assert.doesNotMatch(error.message, /hunter2/, name);
          return true;
        },
      );
    }
  });

  it('a REDIS_PASSWORD_SECRET_ARN nobody resolved fails the configuration', async () => {
    const { loadConfig } = await import('../../src/config/config.ts');
    assert.throws(() => loadConfig({ REDIS_URL: 'rediss://cache.internal:6379', REDIS_PASSWORD_SECRET_ARN: REDIS_ARN }, { envFile: null }), /Invalid REDIS_PASSWORD_SECRET_ARN: expected it to be resolved/);
  });
});

describe('secrets: timeout', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();
  before(async () => {
    // Accepts connections and never answers.
    server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });

  it('gives up after DATABASE_SECRET_TIMEOUT_MS with a clear error', async () => {
    const client = new SecretsManagerClient({ region: 'eu-west-1', endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    const started = Date.now();
    await assert.rejects(
      () => resolveSecrets({ DATABASE_SECRET_ARN: ARN, DATABASE_SECRET_TIMEOUT_MS: '300' }, { client }),
      /Could not read the database secret .* from Secrets Manager \(no answer within 300 ms\)/,
    );
    assert.ok(Date.now() - started < 3000);
    client.destroy();
  });
});
