import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { buildLambdas, type BuiltLambda } from '../../scripts/build-lambda.ts';
import { loadConfig } from '../../src/config/config.ts';
import { generatePrivateJwk, importSigningKey } from '../../src/features/auth/signing-keys.ts';
import { TokenService } from '../../src/features/auth/tokens.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { createContainer } from '../../src/wiring/container.ts';
import { standInContainer } from '../support/stand-in-container.ts';
import { createFixtureApp, testEmbedder } from '../support/app-fixture.ts';
import { httpApiEvent } from '../support/lambda-events.ts';
import { databaseBackends, POSTGRES_URL } from '../support/servers.ts';

const [, postgres] = await databaseBackends();
const run = promisify(execFile);


function customResourceEvent(requestType: 'Create' | 'Update') {
  return {
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
    ResponseURL: 'https://example.org',
    StackId: 'stack',
    RequestId: 'cfn-1',
    LogicalResourceId: 'Migrations',
    ResourceType: 'Custom::Migrations',
    ResourceProperties: { ServiceToken: 'x', Version: '1' },
    ...(requestType === 'Update' ? { PhysicalResourceId: 'kidslearn-migrations', OldResourceProperties: { ServiceToken: 'x' } } : {}),
  };
}

/** Imports a bundle in a fresh Node process, invokes its handler with each event, and returns the results and every stdout line. */
const RUNNER = `
const [bundle, events] = process.argv.slice(2);
const { handler } = await import(bundle);
const results = [];
for (const event of JSON.parse(events)) results.push(await handler(event, { awsRequestId: 'lambda-invocation-1', functionName: 'kidslearn' }));
// Lambda freezes the process after an invocation; here it ends once the results are out (an idle pool would keep it alive for seconds).
process.stdout.write('\\n' + JSON.stringify({ __results: results }) + '\\n', () => process.exit(0));
`;

describe('the bundled Lambda functions (dist/lambda/*/index.mjs) against PostgreSQL', { skip: postgres!.skip }, () => {
  let dir: string;
  let built: BuiltLambda[];
  let databaseUrl: string;
  let databaseName: string;
  let env: Record<string, string>;
  let token: string;
  let adminToken: string;

  const invoke = async (name: string, events: unknown[], envOf: (env: Record<string, string>) => Record<string, string> = (e) => e) => {
    const runner = path.join(dir, 'runner.mjs');
    writeFileSync(runner, RUNNER);
    const bundle = built.find((b) => b.name === name)!.file;
    const { stdout } = await run(process.execPath, [runner, bundle, JSON.stringify(events)], { env: envOf(env), timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }).catch((error: Error & { stderr?: string }) => {
      throw new Error(`${name} failed: ${error.stderr?.slice(0, 2000) ?? error.message}`);
    });
    const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const results = lines.find((l) => '__results' in l)!.__results as { statusCode: number; body: string; headers: Record<string, string>; isBase64Encoded?: boolean }[];
    return { results, lines: lines.filter((l) => !('__results' in l)) };
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-lambda-bundle-'));
    // Like the nodejs24.x runtime: the AWS SDK can be imported, and nothing else that is not in the bundle
    // (PGlite and DuckDB are not there: a static import of either would fail to load).
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(path.resolve('node_modules', '@aws-sdk'), path.join(dir, 'node_modules', '@aws-sdk'));
    built = await buildLambdas({ outDir: path.join(dir, 'lambda') });
    databaseName = `kidslearn_bundle_${process.pid}_${randomBytes(4).toString('hex')}`;
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${databaseName}`;
    databaseUrl = url.toString();
    const jwk = await generatePrivateJwk();
    const tokens = new TokenService([await importSigningKey(jwk)], 'kidslearn');
    token = await tokens.issue({ sub: 'g1', app: 'alpha', role: 'guardian' }, 300);
    adminToken = await tokens.issue({ sub: 'a1', app: 'alpha', role: 'admin' }, 300);
    env = {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      JWT_PRIVATE_KEY: JSON.stringify(jwk),
      KIDSLEARN_DATA_DIR: path.join(dir, 'data'),
      LOG_LEVEL: 'info',
      METRICS_EMF: 'true',
      DATABASE_POOL_SIZE: '2',
    };
  });

  after(async () => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
    await admin.connect();
    await admin.query(`drop database if exists ${databaseName} with (force)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds one minified ESM file with a source map per entry point, leaving out shared modules, the AWS SDK clients, PGlite and DuckDB', () => {
    assert.deepEqual(built.map((b) => b.name).filter((n) => n === 'api' || n === 'migrate'), ['api', 'migrate']);
    assert.ok(!built.some((b) => b.name === 'aws-config' || b.name === 'invocation'));
    for (const b of built) {
      assert.ok(readFileSync(`${b.file}.map`, 'utf8').includes('"sources"'));
      assert.match(readFileSync(b.file, 'utf8'), /sourceMappingURL=index\.mjs\.map/);
      assert.ok(b.files.includes(b.file) && b.initFiles.includes(b.file) && b.initFiles.every((f) => b.files.includes(f)));
      const all = b.files.map((f) => readFileSync(f, 'utf8')).join('\n');
      // Minified: identifiers of module-level constants are renamed (source: LAMBDA_DEFAULTS in aws-config.ts).
      assert.ok(!all.includes('LAMBDA_DEFAULTS'), `${b.name} is not minified`);
      // Static imports of these would fail at load on Lambda; only lazy import() may name them.
      assert.doesNotMatch(all, /from\s*"@(?:electric-sql|duckdb)\//);
      // AWS SDK clients a request may never need are loaded with their first call, not at init (cold start): only
      // Secrets Manager (read at init) may be imported statically by the code loaded at init.
      for (const f of b.initFiles) {
        assert.doesNotMatch(readFileSync(f, 'utf8'), /from\s*"@aws-sdk\/client-(?:sqs|sesv2|s3|bedrock-runtime)"/, `${b.name} imports an AWS SDK client at init (${path.basename(f)})`);
      }
      assert.ok(!Object.keys(b.packages).some((p) => /^@(aws-sdk\/client-|electric-sql\/|duckdb\/)/.test(p)), Object.keys(b.packages).join(', '));
      // The RDS signer (DATABASE_AUTH=iam) is not in the runtime: bundled by every function that connects to the
      // database, and loaded with the first connection, not at init.
      assert.equal(Boolean(b.packages['@aws-sdk/rds-signer']), b.name !== 'authorizer', `${b.name}: @aws-sdk/rds-signer bundled`);
      for (const f of b.initFiles) assert.ok(!readFileSync(f, 'utf8').includes('"rds-db"'), `${b.name} loads the RDS signer at init (${path.basename(f)})`);
    }
    // The api function's route groups are chunks of their own, not loaded at init (http/route-groups.ts).
    const api = built.find((b) => b.name === 'api')!;
    const lessonsChunk = api.files.find((f) => /lessons\.routes-[\w]+\.mjs$/.test(f));
    assert.ok(lessonsChunk && !api.initFiles.includes(lessonsChunk), 'the lessons routes are a chunk loaded on first use');
    assert.ok(built.find((b) => b.name === 'api')!.packages['@aws-lambda-powertools/tracer'], 'Powertools is bundled (not in the runtime)');
  });

  it('migrate (bundled): creates the database and applies every migration; a second run applies nothing', async () => {
    // As infra deploys it: the database settings only, no token signing key (migrations sign nothing).
    const withoutSigningKey = ({ JWT_PRIVATE_KEY: _key, ...rest }: Record<string, string>) => rest;
    const { results, lines } = await invoke('migrate', [customResourceEvent('Create'), customResourceEvent('Update')], withoutSigningKey);
    const [created, updated] = results as unknown as { PhysicalResourceId: string; Data: Record<string, string> }[];
    assert.equal(created!.PhysicalResourceId, 'kidslearn-migrations');
    assert.ok(Number(created!.Data.Applied) > 0, JSON.stringify(created));
    assert.ok(Number(created!.Data.ControlVersion) > 0);
    assert.equal(updated!.Data.Applied, '0');
    assert.equal(updated!.Data.ControlVersion, created!.Data.ControlVersion);
    assert.ok(lines.some((l) => l.msg === `migrate: applied ${created!.Data.Applied} migrations`), JSON.stringify(lines));
    // The app the next test uses (registered through the source, as an operator would with the CLI).
    const config = loadConfig({ DATABASE_URL: databaseUrl, KIDSLEARN_DATA_DIR: env.KIDSLEARN_DATA_DIR, LOG_LEVEL: 'silent' }, { envFile: null });
    const setup = await createContainer(config, { embedder: testEmbedder(), logger: createLogger({ level: 'silent' }), skipMigrations: true });
    try {
      await createFixtureApp(setup, 'alpha');
    } finally {
      await setup.close();
    }
  });

  it('api (bundled): every route group loads inside the bundle: /openapi.json as the first request is the document the source app serves', async () => {
    const { results } = await invoke('api', [
      httpApiEvent('GET', '/openapi.json', { requestId: 'gw-openapi-1' }),
      httpApiEvent('GET', '/api/concepts', { requestId: 'gw-concepts-1', headers: { authorization: `Bearer ${token}` } }),
    ]);
    const [openapi, concepts] = results;
    assert.equal(openapi!.statusCode, 200, openapi!.body.slice(0, 300));
    const fromSource = await (await createHttpApp(standInContainer()).request('/openapi.json')).json();
    assert.deepEqual(JSON.parse(openapi!.body), fromSource);
    assert.equal(concepts!.statusCode, 200, concepts!.body.slice(0, 300));
  });

  it('api (bundled): the /docs page and its Swagger UI files are served (deployed beside the bundle)', async () => {
    const { results } = await invoke('api', [
      httpApiEvent('GET', '/docs', { requestId: 'gw-docs-1' }),
      httpApiEvent('GET', '/docs/assets/swagger-ui-bundle.js', { requestId: 'gw-docs-2' }),
      httpApiEvent('GET', '/docs/assets/swagger-ui.css', { requestId: 'gw-docs-3' }),
    ]);
    const [page, script, css] = results;
    const text = (r: { body: string; isBase64Encoded?: boolean }) => (r.isBase64Encoded ? Buffer.from(r.body, 'base64').toString('utf8') : r.body);
    assert.equal(page!.statusCode, 200, page!.body.slice(0, 300));
    const version = (JSON.parse(readFileSync('node_modules/swagger-ui-dist/package.json', 'utf8')) as { version: string }).version;
    assert.ok(page!.body.includes(`docs/assets/swagger-ui-bundle.js?v=${version}`), page!.body);
    assert.equal(script!.statusCode, 200, script!.body.slice(0, 300));
    assert.equal(text(script!), readFileSync('node_modules/swagger-ui-dist/swagger-ui-bundle.js', 'utf8'));
    assert.equal(css!.statusCode, 200, css!.body.slice(0, 300));
    assert.equal(text(css!), readFileSync('node_modules/swagger-ui-dist/swagger-ui.css', 'utf8'));
  });

  it('api (bundled): health, a token-protected route, errors; JSON logs with the API Gateway request id; EMF metrics', async () => {
    const { results, lines } = await invoke('api', [
      httpApiEvent('GET', '/health', { requestId: 'gw-health-1' }),
      httpApiEvent('GET', '/api/lessons', { requestId: 'gw-lessons-1', headers: { authorization: `Bearer ${token}` }, rawQueryString: 'grade=1' }),
      httpApiEvent('GET', '/api/lessons', { requestId: 'gw-lessons-2' }),
      httpApiEvent('GET', '/api/no-such-route', { requestId: 'gw-404-1', headers: { authorization: `Bearer ${token}` } }),
      httpApiEvent('GET', '/admin/dashboard', { requestId: 'gw-dash-1' }),
      httpApiEvent('GET', '/admin/dashboard/assets/chart.umd.min.js', { requestId: 'gw-dash-2' }),
      httpApiEvent('GET', '/api/lessons', { requestId: 'gw-invalid-1', headers: { authorization: `Bearer ${token}` }, rawQueryString: 'order=bogus' }),
    ]);
    const [health, lessons, denied, missing, dashboard, chart, invalid] = results;
    assert.equal(health!.statusCode, 200);
    const healthBody = JSON.parse(health!.body) as { status: string; checks?: Record<string, unknown> };
    assert.equal(healthBody.status, 'ok', health!.body);
    assert.equal(health!.headers['x-request-id'], 'gw-health-1');

    assert.equal(lessons!.statusCode, 200, lessons!.body);
    assert.deepEqual((JSON.parse(lessons!.body) as { items: { id: string }[] }).items.map((l) => l.id), ['shared-lesson', 'read-1']);

    assert.equal(denied!.statusCode, 401);
    assert.equal((JSON.parse(denied!.body) as { error: { code: string } }).error.code, 'missing_token');

    assert.equal(missing!.statusCode, 404);
    const error = (JSON.parse(missing!.body) as { error: { code: string; message: string; requestId?: string } }).error;
    assert.equal(error.code, 'route_not_found');
    assert.match(error.message, /No route for GET \/api\/no-such-route/);

    // Zod's messages are still English with its other languages left out of the bundle (build-lambda.ts).
    assert.equal(invalid!.statusCode, 400, invalid!.body);
    const invalidError = (JSON.parse(invalid!.body) as { error: { code: string; message: string } }).error;
    assert.equal(invalidError.code, 'validation_failed');
    assert.equal(invalidError.message, 'Invalid query parameter "order": Invalid option: expected one of "teaching"|"grade"');

    // The dashboard's page and files are deployed beside the bundle (build-lambda.ts RUNTIME_FILES).
    assert.equal(dashboard!.statusCode, 200, dashboard!.body.slice(0, 300));
    assert.match(dashboard!.body, /dashboard\/assets\/chart\.umd\.min\.js\?v=[0-9a-f]{16}/);
    assert.equal(chart!.statusCode, 200);
    const chartBody = chart!.isBase64Encoded ? Buffer.from(chart!.body, 'base64').toString('utf8') : chart!.body;
    assert.equal(chartBody, readFileSync('node_modules/chart.js/dist/chart.umd.min.js', 'utf8'));

    // The same access log line as the Node server, with API Gateway's request id.
    const access = lines.filter((l) => l.msg === 'request');
    assert.deepEqual(
      // (The dashboard's routes are labelled as the Node server labels them; only ids and statuses are checked for them.)
      access.map((l) => (String(l.requestId).startsWith('gw-dash') ? [l.requestId, l.status] : [l.requestId, l.route, l.status, l.service])),
      [
        ['gw-health-1', '/health', 200, 'kidslearn'],
        ['gw-lessons-1', '/api/lessons', 200, 'kidslearn'],
        ['gw-lessons-2', '/api/lessons', 401, 'kidslearn'],
        ['gw-404-1', 'unmatched', 404, 'kidslearn'],
        ['gw-dash-1', 200],
        ['gw-dash-2', 200],
        ['gw-invalid-1', '/api/lessons', 400, 'kidslearn'],
      ],
    );
    // One EMF line per invocation and series.
    const emf = lines.filter((l) => '_aws' in l);
    assert.deepEqual(
      emf.slice(0, 4).map((l) => [l.route, l.method, l.status, l.kidslearn_http_requests_total]),
      [
        ['/health', 'GET', '200', 1],
        ['/api/lessons', 'GET', '200', 1],
        ['/api/lessons', 'GET', '401', 1],
        ['unmatched', 'GET', '404', 1],
      ],
    );
    assert.equal(emf.length, 7, 'one EMF line per invocation');
    assert.equal((emf[0]!._aws as { CloudWatchMetrics: { Namespace: string }[] }).CloudWatchMetrics[0]!.Namespace, 'Kidslearn');
  });

  it('api (bundled): a lake query where DuckDB cannot be loaded is a 503 lake_query_unavailable, not a 500 (on AWS these routes go to the lake API service)', async () => {
    const { results, lines } = await invoke('api', [
      httpApiEvent('GET', '/admin/reports/active-learners', { requestId: 'gw-report-1', headers: { authorization: `Bearer ${adminToken}` }, rawQueryString: 'from=2026-11-02&to=2026-11-03' }),
      httpApiEvent('GET', '/health', { requestId: 'gw-health-2' }),
    ]);
    const [report, health] = results;
    assert.equal(report!.statusCode, 503, report!.body);
    const error = (JSON.parse(report!.body) as { error: { code: string; message: string; requestId: string } }).error;
    assert.equal(error.code, 'lake_query_unavailable');
    assert.match(error.message, /DuckDB/);
    assert.equal(error.requestId, 'gw-report-1');
    // The cause (the module that is not there) is in the log under the request id, and the function still serves.
    const failed = lines.find((l) => l.msg === 'request failed' && l.requestId === 'gw-report-1');
    assert.equal(failed?.code, 'lake_query_unavailable');
    assert.match(JSON.stringify(failed), /@duckdb\/node-api/);
    assert.equal(health!.statusCode, 200);
  });
});

