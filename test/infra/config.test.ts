import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ENV_NAMES, ENVIRONMENTS, EnvConfigError, EnvConfigSchema, loadEnvConfig } from '../../infra/lib/config.ts';

test('every environment passes the schema and is chosen by name', () => {
  for (const name of ENV_NAMES) {
    const config = loadEnvConfig(name);
    assert.equal(config.name, name);
    assert.deepEqual(config, EnvConfigSchema.parse(ENVIRONMENTS[name]));
  }
});

test('an unknown or missing environment fails with the allowed names', () => {
  assert.throws(() => loadEnvConfig('qa'), (e: unknown) => e instanceof EnvConfigError && /unknown environment "qa"; expected one of dev, staging, prod/.test(e.message));
  assert.throws(() => loadEnvConfig(undefined), (e: unknown) => e instanceof EnvConfigError && /no environment; expected one of dev, staging, prod/.test(e.message));
  assert.throws(() => loadEnvConfig(['dev']), EnvConfigError);
});

test('context overrides are validated like the file', () => {
  assert.equal(loadEnvConfig('dev', { account: '123456789012' }).account, '123456789012');
  assert.equal(loadEnvConfig('staging', { region: 'eu-central-1' }).region, 'eu-central-1');
  assert.throws(() => loadEnvConfig('dev', { account: '12' }), /Invalid configuration of environment "dev": account a 12-digit AWS account id/);
  assert.throws(() => loadEnvConfig('dev', { alarmEmail: 'not-an-address' }), /alarmEmail/);
});

test('the schema rejects what would be unsafe or inconsistent', () => {
  const prod = ENVIRONMENTS.prod;
  const bad = (patch: object) => EnvConfigSchema.safeParse({ ...prod, ...patch }).success;
  assert.equal(bad({}), true);
  assert.equal(bad({ engine: { ...prod.engine, spot: true } }), false, 'prod on Spot');
  assert.equal(bad({ deletionProtection: false }), false, 'prod without deletion protection');
  assert.equal(bad({ database: { ...prod.database, minCapacityAcu: 8, maxCapacityAcu: 4 } }), false, 'max ACU below min');
  assert.equal(bad({ queues: { ...prod.queues, maxReceiveCount: 3 } }), false, 'maxReceiveCount under 5');
  assert.equal(bad({ logRetentionDays: 10 }), false, 'a retention CloudWatch does not offer');
  assert.equal(bad({ api: { ...prod.api, provisionedConcurrency: prod.api.reservedConcurrency + 1 } }), false, 'provisioned above reserved');
  for (const days of [0, 0.5, 366, undefined]) assert.equal(bad({ api: { ...prod.api, signingKeyRotationDays: days } }), false, `signing key rotated every ${days} days`);
  const lakeApi = (patch: object) => bad({ services: { ...prod.services, lakeApi: { ...prod.services.lakeApi, ...patch } } });
  assert.equal(lakeApi({ minTasks: 3, maxTasks: 2 }), false, 'lake API: max tasks below min');
  assert.equal(lakeApi({ minTasks: 1 }), false, 'prod with one lake API task (no second AZ)');
  assert.equal(lakeApi({ minTasks: 0 }), false, 'no lake API task: reports and exports would fail');
  assert.equal(lakeApi({ cpu: 300 }), false, 'a CPU size Fargate does not offer');
});

test('the alarms block refuses thresholds that would never fire, page on nothing, or page prod too late', () => {
  const prod = ENVIRONMENTS.prod;
  const alarms = (patch: object) => EnvConfigSchema.safeParse({ ...prod, alarms: { ...prod.alarms, ...patch } }).success;
  assert.equal(alarms({}), true);
  assert.equal(alarms({ datapointsToAlarm: prod.alarms.evaluationPeriods + 1 }), false, 'more datapoints to alarm than evaluated');
  assert.equal(alarms({ evaluationPeriods: 0, datapointsToAlarm: 0 }), false, 'no datapoints');
  assert.equal(alarms({ api: { ...prod.alarms.api, serverErrorRatePercent: 0 } }), false, 'a 0 % error rate (pages on every blip)');
  assert.equal(alarms({ api: { ...prod.alarms.api, serverErrorRatePercent: 101 } }), false, 'a rate over 100 % never fires');
  assert.equal(alarms({ api: { ...prod.alarms.api, serverErrorRatePercent: 10 } }), false, 'prod paging only past 5 % of 5xx');
  assert.equal(alarms({ api: { ...prod.alarms.api, minRequests: 0 } }), false, 'no minimum request count (a quiet night pages)');
  assert.equal(alarms({ api: { ...prod.alarms.api, p99LatencyMs: 60_000 } }), false, 'a latency past API Gateway\'s 30 s timeout never fires');
  assert.equal(alarms({ api: { ...prod.alarms.api, functionErrors: 0.5 } }), false, 'a fractional error count');
  assert.equal(alarms({ database: { ...prod.alarms.database, cpuPercent: 120 } }), false, 'CPU over 100 %');
  assert.equal(alarms({ database: { ...prod.alarms.database, atMaxCapacityMinutes: 2 } }), false, 'paging on a 2-minute scaling peak');
  assert.equal(alarms({ redis: { ...prod.alarms.redis, memoryPercent: 0 } }), false, 'Redis memory at 0 %');
  assert.equal(alarms({ tasks: { belowMinimumMinutes: 0 } }), false, 'zero minutes');
  assert.equal(alarms({ tasks: { belowMinimumMinutes: 10 } }), false, 'prod learning of a stopped lake writer after 10 minutes');
  // Outside prod the looser values are allowed.
  const dev = ENVIRONMENTS.dev;
  assert.equal(EnvConfigSchema.safeParse({ ...dev, alarms: { ...dev.alarms, tasks: { belowMinimumMinutes: 15 } } }).success, true);
});

test('environments differ where they should', () => {
  const dev = loadEnvConfig('dev');
  const prod = loadEnvConfig('prod');
  assert.equal(dev.network.natGateways, 1);
  assert.equal(prod.network.natGateways, 2);
  assert.equal(dev.deletionProtection, false);
  assert.equal(prod.deletionProtection, true);
  assert.equal(dev.engine.spot, true);
  assert.equal(prod.engine.spot, false);
  assert.ok(prod.database.maxCapacityAcu > dev.database.maxCapacityAcu);
  assert.ok(prod.api.provisionedConcurrency > 0 && dev.api.provisionedConcurrency === 0);
});

test('the CDK app exits with one line for an unknown --context env', () => {
  const r = spawnSync(process.execPath, ['infra/bin/app.ts'], { env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ env: 'qa' }) }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'Invalid CDK context "env": unknown environment "qa"; expected one of dev, staging, prod (e.g. --context env=dev)');
});
