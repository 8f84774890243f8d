import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { generatePrivateJwk, importSigningKey } from '../../src/features/auth/signing-keys.ts';
import { TokenService } from '../../src/features/auth/tokens.ts';
import { createContainer } from '../../src/wiring/container.ts';
import { createFixtureApp, testEmbedder } from '../support/app-fixture.ts';
import { httpApiEvent } from '../support/lambda-events.ts';
import { createThrowawayDatabase, databaseBackends } from '../support/servers.ts';
import { createLogger } from '../../src/observability/logger.ts';

const [, postgres] = await databaseBackends();


describe('Lambda runtime (API Gateway v2 events through the same app)', { skip: postgres!.skip }, () => {
  let drop: () => Promise<void>;
  let token: string;
  before(async () => {
    const db = await createThrowawayDatabase();
    drop = db.drop;
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-lambda-'));
    // Every execution environment signs with the same key: the Lambda config requires one.
    const jwk = await generatePrivateJwk();
    Object.assign(process.env, { DATABASE_URL: db.url, KIDSLEARN_DATA_DIR: dataDir, LOG_LEVEL: 'silent', SEED_DEMO_APPS: 'false', JWT_PRIVATE_KEY: JSON.stringify(jwk) });
    const config = loadConfig(process.env, { envFile: null });
    const setup = await createContainer(config, { embedder: testEmbedder(), logger: createLogger({ level: 'silent' }) });
    await createFixtureApp(setup, 'alpha');
    await setup.close();
    const key = await importSigningKey(jwk);
    token = await new TokenService([key], 'kidslearn').issue({ sub: 'g1', app: 'alpha', role: 'guardian' }, 300);
  });
  after(async () => drop?.());

  it('answers health, lessons and errors like the Node server', async () => {
    const { handler } = await import('../../src/runtimes/lambda/api.ts');
    const context = {} as Parameters<typeof handler>[1];
    const health = await handler(httpApiEvent('GET', '/health', { requestId: 'gw-Req1d=' }) as never, context);
    assert.equal(health.statusCode, 200);
    // No X-Request-Id from the client: API Gateway's request id is the request id (logs, response).
    assert.equal(health.headers?.['x-request-id'], 'gw-Req1d=');
    const list = await handler(httpApiEvent('GET', '/api/lessons', { requestId: 'gw-Req1d=', headers: { authorization: `Bearer ${token}` }, rawQueryString: 'grade=1' }) as never, context);
    assert.equal(list.statusCode, 200);
    const body = JSON.parse(list.body) as { items: { id: string }[] };
    assert.deepEqual(body.items.map((l) => l.id), ['shared-lesson', 'read-1']);
    const denied = await handler(httpApiEvent('GET', '/api/lessons', { requestId: 'gw-Req1d=' }) as never, context);
    assert.equal(denied.statusCode, 401);
    assert.equal((JSON.parse(denied.body) as { error: { code: string } }).error.code, 'missing_token');
  });

  it('migrate (custom resource onEvent): applies nothing on an up-to-date database and reports the versions; Delete is a no-op', async () => {
    const { handler } = await import('../../src/runtimes/lambda/migrate.ts');
    const base = { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:p', ResponseURL: 'https://example.org', StackId: 's', RequestId: 'q', LogicalResourceId: 'Migrations', ResourceType: 'Custom::Migrations', ResourceProperties: { ServiceToken: 'x' } };
    const created = await handler({ ...base, RequestType: 'Create' }, {} as never);
    assert.equal(created.PhysicalResourceId, 'kidslearn-migrations');
    assert.equal(created.Data.Applied, '0');
    const versions = JSON.parse(created.Data.Versions) as Record<string, number>;
    assert.ok(versions.control! > 0 && versions['app:alpha']! > 0, created.Data.Versions);
    assert.equal(created.Data.ControlVersion, String(versions.control));
    assert.equal(created.Data.TenantVersion, String(versions['app:alpha']));
    assert.equal(created.Data.Apps, '1');
    const updated = await handler({ ...base, RequestType: 'Update', PhysicalResourceId: 'kidslearn-migrations', OldResourceProperties: { ServiceToken: 'x' } }, {} as never);
    assert.deepEqual(updated, created);
    const deleted = await handler({ ...base, RequestType: 'Delete', PhysicalResourceId: 'kidslearn-migrations' }, {} as never);
    assert.deepEqual(deleted, { PhysicalResourceId: 'kidslearn-migrations', Data: { Applied: '0', ControlVersion: '', TenantVersion: '', Apps: '', Versions: '' } });
  });
});
