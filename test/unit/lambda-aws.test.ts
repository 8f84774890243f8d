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
    Object.assign(process.env, { DATABASE_SECRET_ARN: ARN, DATABASE_HOST: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com', DATABASE_NAME: 'kidslearn', JWT_PRIVATE_KEY_SECRET_ARN: KEY_ARN });
    delete process.env.DATABASE_URL;
    delete process.env.JWT_PRIVATE_KEY;
    const first = await lambdaConfig();
    const second = await lambdaConfig();
    assert.equal(second, first);
    assert.equal(sm.commandCalls(GetSecretValueCommand, { SecretId: ARN }).length, 1);
    assert.equal(sm.commandCalls(GetSecretValueCommand, { SecretId: KEY_ARN }).length, 1);
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
    await assert.rejects(() => loadLambdaConfig({ JWT_PRIVATE_KEY: JWK }), /needs DATABASE_URL or DATABASE_SECRET_ARN/);
    sm.on(GetSecretValueCommand, { SecretId: KEY_ARN }).resolves({ SecretString: '{"kty":"OKP"}' });
    await assert.rejects(() => resolveSecrets({ JWT_PRIVATE_KEY_SECRET_ARN: KEY_ARN }), /The signing key secret arn:.* is not a private JWK in JSON/);
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
