import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { ENV_NAMES, type EnvName } from '../../infra/lib/config.ts';
import { synthesizeEnvironment, type SynthesizedEnvironment } from '../support/cdk.ts';

// One synth per environment for the whole file (about 2 s each), shared by every test.
const envs = {} as Record<EnvName, SynthesizedEnvironment>;
before(() => {
  for (const name of ENV_NAMES) envs[name] = synthesizeEnvironment(name);
});
after(() => {
  for (const name of ENV_NAMES) envs[name]?.dispose();
});

const templates = (name: EnvName): [string, Template][] => {
  const e = envs[name];
  return Object.values(e.stacks).map((s) => [s.stackName, e.template(s)]);
};

for (const name of ENV_NAMES) {
  test(`${name}: cdk-nag AwsSolutions reports nothing unacknowledged and the synth passes validation`, () => {
    assert.deepEqual(envs[name].nagFindings, []);
    assert.equal(envs[name].synthError, undefined);
  });
}

test('stack ids follow Kidslearn-<Env>-<Part>', () => {
  const parts = ['Network', 'Data', 'Identity', 'Analytics', 'Api', 'Engine'];
  assert.deepEqual(templates('dev').map(([id]) => id), parts.map((p) => `Kidslearn-Dev-${p}`));
  assert.deepEqual(templates('prod').map(([id]) => id), parts.map((p) => `Kidslearn-Prod-${p}`));
});

test('no function anywhere runs nodejs20.x (or older); ours run nodejs24.x on arm64', () => {
  for (const name of ENV_NAMES) {
    for (const [id, t] of templates(name)) {
      for (const [logicalId, fn] of Object.entries(t.findResources('AWS::Lambda::Function')) as [string, { Properties: { Runtime: string; Handler: string; Architectures?: string[] } }][]) {
        const major = Number(/^nodejs(\d+)\.x$/.exec(fn.Properties.Runtime)?.[1]);
        assert.ok(major >= 22, `${id}/${logicalId} runs ${fn.Properties.Runtime}`);
        // Ours are `index.handler` bundles; CDK's own custom-resource providers (logical ids `Custom…`,
        // e.g. the S3 auto-delete handler) use the same handler name but are CDK's to configure.
        if (fn.Properties.Handler === 'index.handler' && !logicalId.startsWith('Custom')) {
          assert.equal(fn.Properties.Runtime, 'nodejs24.x');
          assert.deepEqual(fn.Properties.Architectures, ['arm64']);
        }
      }
    }
  }
});

test('NAT gateways: one outside prod, one per AZ in prod', () => {
  envs.dev.template(envs.dev.stacks.network).resourceCountIs('AWS::EC2::NatGateway', 1);
  envs.staging.template(envs.staging.stacks.network).resourceCountIs('AWS::EC2::NatGateway', 1);
  envs.prod.template(envs.prod.stacks.network).resourceCountIs('AWS::EC2::NatGateway', 2);
});

test('the database: deletion protection and a final snapshot in prod only; capacity from the environment', () => {
  const dev = envs.dev.template(envs.dev.stacks.data);
  const prod = envs.prod.template(envs.prod.stacks.data);
  dev.hasResource('AWS::RDS::DBCluster', {
    Properties: Match.objectLike({ DeletionProtection: false, ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 } }),
    DeletionPolicy: 'Delete',
  });
  prod.hasResource('AWS::RDS::DBCluster', {
    Properties: Match.objectLike({ DeletionProtection: true, ServerlessV2ScalingConfiguration: { MinCapacity: 2, MaxCapacity: 32 }, BackupRetentionPeriod: 14 }),
    DeletionPolicy: 'Snapshot',
    UpdateReplacePolicy: 'Snapshot',
  });
  // prod has a reader in the other AZ for failover; dev is writer-only.
  dev.resourceCountIs('AWS::RDS::DBInstance', 1);
  prod.resourceCountIs('AWS::RDS::DBInstance', 2);
  // The encryption key outlives a deleted prod stack (snapshots need it); dev's goes with it.
  prod.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  dev.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
  // So does the master password the snapshot restores with.
  prod.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
  dev.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
});

test('Redis: a single node in dev, Multi-AZ with failover in prod', () => {
  envs.dev.template(envs.dev.stacks.data).hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    NumCacheClusters: 1,
    MultiAZEnabled: false,
    AutomaticFailoverEnabled: false,
  });
  envs.prod.template(envs.prod.stacks.data).hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    NumCacheClusters: 2,
    MultiAZEnabled: true,
    AutomaticFailoverEnabled: true,
    CacheNodeType: 'cache.r7g.large',
  });
});

test('the user pool is protected and retained in prod only', () => {
  envs.prod.template(envs.prod.stacks.identity).hasResource('AWS::Cognito::UserPool', {
    Properties: Match.objectLike({ DeletionProtection: 'ACTIVE' }),
    DeletionPolicy: 'Retain',
  });
  envs.dev.template(envs.dev.stacks.identity).hasResource('AWS::Cognito::UserPool', {
    Properties: Match.objectLike({ DeletionProtection: 'INACTIVE' }),
    DeletionPolicy: 'Delete',
  });
});

test('log retention follows the environment', () => {
  for (const name of ENV_NAMES) {
    const groups = Object.values(envs[name].template(envs[name].stacks.data).findResources('AWS::Logs::LogGroup')) as { Properties: { RetentionInDays: number } }[];
    assert.ok(groups.length > 0);
    for (const g of groups) assert.equal(g.Properties.RetentionInDays, envs[name].config.logRetentionDays, name);
  }
  assert.notEqual(envs.dev.config.logRetentionDays, envs.prod.config.logRetentionDays);
});
