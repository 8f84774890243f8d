import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { loadEnvConfig } from '../../infra/lib/config.ts';
import { DataStack } from '../../infra/lib/data-stack.ts';
import { NetworkStack } from '../../infra/lib/network-stack.ts';
import { logicalIds, placeholderLambdaDir, synthesizeEnvironment, type SynthesizedEnvironment } from '../support/cdk.ts';

let dev: SynthesizedEnvironment;
let t: Template;

before(() => {
  dev = synthesizeEnvironment('dev', { deployId: '20261204T190000Z' });
  t = dev.template(dev.stacks.data);
});
after(() => dev.dispose());

const APP_SG = { 'Fn::ImportValue': Match.stringLikeRegexp('AppSecurityGroup') };
const ref = (id: string) => ({ 'Fn::GetAtt': [id, 'GroupId'] });

function onlyId(type: string, props?: Record<string, unknown>): string {
  const ids = logicalIds(t, type, props);
  assert.equal(ids.length, 1, `exactly one ${type} ${JSON.stringify(props ?? {})}: ${ids.join(', ')}`);
  return ids[0]!;
}

test('Aurora Serverless v2 PostgreSQL 16 (pgvector 0.8), encrypted with a rotating KMS key, in the isolated subnets', () => {
  const key = onlyId('AWS::KMS::Key');
  t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  t.hasResourceProperties('AWS::RDS::DBCluster', {
    Engine: 'aurora-postgresql',
    EngineVersion: Match.stringLikeRegexp('^16\\.(9|1\\d)$'),
    StorageEncrypted: true,
    KmsKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
    DatabaseName: 'kidslearn',
    PerformanceInsightsEnabled: true,
    ServerlessV2ScalingConfiguration: { MinCapacity: dev.config.database.minCapacityAcu, MaxCapacity: dev.config.database.maxCapacityAcu },
  });
  const instances = Object.values(t.findResources('AWS::RDS::DBInstance')) as { Properties: Record<string, unknown> }[];
  assert.equal(instances.length, 1 + dev.config.database.readers);
  for (const i of instances) {
    assert.equal(i.Properties.DBInstanceClass, 'db.serverless');
    assert.equal(i.Properties.PubliclyAccessible, false);
  }
  t.hasResourceProperties('AWS::RDS::DBSubnetGroup', {
    SubnetIds: [{ 'Fn::ImportValue': Match.stringLikeRegexp('Vpcdata') }, { 'Fn::ImportValue': Match.stringLikeRegexp('Vpcdata') }],
  });
  t.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
});

test('dev: no deletion protection and the cluster goes with the stack', () => {
  t.hasResource('AWS::RDS::DBCluster', { Properties: Match.objectLike({ DeletionProtection: false }), DeletionPolicy: 'Delete' });
});

test('credentials are generated into Secrets Manager, the cluster uses them, and they rotate on the configured schedule', () => {
  const secret = onlyId('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password' }) });
  t.hasResourceProperties('AWS::SecretsManager::Secret', {
    GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', SecretStringTemplate: JSON.stringify({ username: 'kidslearn_admin' }) }),
  });
  t.hasResourceProperties('AWS::RDS::DBCluster', {
    MasterUserPassword: { 'Fn::Join': ['', Match.arrayWith([{ Ref: secret }])] },
  });
  // Single-user rotation every config.database.passwordRotationDays (nothing of ours holds the password).
  const attachment = onlyId('AWS::SecretsManager::SecretTargetAttachment');
  const rotation = onlyId('AWS::Serverless::Application');
  t.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
  t.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
    SecretId: { Ref: attachment },
    RotationLambdaARN: { 'Fn::GetAtt': [rotation, 'Outputs.RotationLambdaARN'] },
    RotationRules: { ScheduleExpression: `rate(${dev.config.database.passwordRotationDays} days)` },
  });
  // The rotation function runs in the app subnets (Secrets Manager's interface endpoint is there).
  t.hasResourceProperties('AWS::Serverless::Application', {
    Parameters: Match.objectLike({
      vpcSubnetIds: { 'Fn::Join': ['', [{ 'Fn::ImportValue': Match.stringLikeRegexp('Vpcapp') }, ',', { 'Fn::ImportValue': Match.stringLikeRegexp('Vpcapp') }]] },
      endpoint: { 'Fn::Join': ['', ['https://secretsmanager.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] },
    }),
  });
  for (const env of ['staging', 'prod'] as const) assert.ok(loadEnvConfig(env).database.passwordRotationDays <= 30, `${env} rotates at least monthly`);
});

test('the cluster admits 5432 from the proxy and the rotation function only, the proxy from the app security group only', () => {
  const clusterSg = onlyId('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('^Aurora') });
  const proxySg = onlyId('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('^RDS Proxy') });
  const rotationSg = logicalIds(t, 'AWS::EC2::SecurityGroup').find((id) => id.startsWith('ClusterRotationSingleUserSecurityGroup'))!;
  const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')) as { Properties: Record<string, unknown> }[];
  const into = (sg: string) => ingress.filter((r) => JSON.stringify(r.Properties.GroupId) === JSON.stringify(ref(sg))).map((r) => r.Properties);
  const toCluster = into(clusterSg);
  assert.equal(toCluster.length, 2, 'two rules into the cluster');
  assert.deepEqual(new Set(toCluster.map((r) => JSON.stringify(r.SourceSecurityGroupId))), new Set([JSON.stringify(ref(proxySg)), JSON.stringify(ref(rotationSg))]));
  for (const r of toCluster) assert.equal(r.IpProtocol, 'tcp');
  const toProxy = into(proxySg);
  assert.equal(toProxy.length, 1, 'one rule into the proxy');
  assert.match(JSON.stringify(toProxy[0]!.SourceSecurityGroupId), /AppSecurityGroup/);
  assert.equal(toProxy[0]!.FromPort, 5432);
  assert.equal(toProxy[0]!.ToPort, 5432);
  // And no inline CIDR ingress on either group.
  for (const sg of [clusterSg, proxySg]) {
    assert.equal((t.toJSON().Resources[sg].Properties as Record<string, unknown>).SecurityGroupIngress, undefined);
  }
});

test('RDS Proxy requires TLS and IAM auth from clients, reaches the cluster with the secret, and sits in the app subnets', () => {
  t.hasResourceProperties('AWS::RDS::DBProxy', {
    EngineFamily: 'POSTGRESQL',
    RequireTLS: true,
    Auth: [{ AuthScheme: 'SECRETS', IAMAuth: 'REQUIRED', SecretArn: { Ref: onlyId('AWS::SecretsManager::SecretTargetAttachment') } }],
    VpcSubnetIds: [{ 'Fn::ImportValue': Match.stringLikeRegexp('Vpcapp') }, { 'Fn::ImportValue': Match.stringLikeRegexp('Vpcapp') }],
  });
});

test('Redis encrypts in transit and at rest and admits 6379 from the app security group only', () => {
  t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    TransitEncryptionEnabled: true,
    TransitEncryptionMode: 'required',
    AtRestEncryptionEnabled: true,
    NumCacheClusters: 1,
    CacheNodeType: dev.config.redis.nodeType,
  });
  // The AUTH token: a dynamic reference to its generated secret, never a value in the template.
  const token = onlyId('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ PasswordLength: 64 }) });
  t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    AuthToken: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: token }, ':SecretString:::}}']] },
  });
  t.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false } });
  assert.deepEqual(dev.stacks.data.resolve(dev.stacks.data.redisAuthSecret.secretArn), { Ref: token });
  t.hasResourceProperties('AWS::ElastiCache::SubnetGroup', {
    SubnetIds: [{ 'Fn::ImportValue': Match.stringLikeRegexp('Vpcdata') }, { 'Fn::ImportValue': Match.stringLikeRegexp('Vpcdata') }],
  });
  const redisSg = onlyId('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('^ElastiCache') });
  const rules = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: ref(redisSg) } })) as { Properties: Record<string, unknown> }[];
  assert.equal(rules.length, 1);
  assert.deepEqual({ from: rules[0]!.Properties.FromPort, to: rules[0]!.Properties.ToPort }, { from: 6379, to: 6379 });
  assert.match(JSON.stringify(rules[0]!.Properties.SourceSecurityGroupId), /AppSecurityGroup/);
  assert.match(dev.stacks.data.resolve(dev.stacks.data.redisUrl)['Fn::Join'][1][0], /^rediss:\/\//);
});

test('the migrate function: nodejs24.x on arm64, in the VPC with the app security group, pointed at the proxy', () => {
  onlyId('AWS::Lambda::Function', { Handler: 'index.handler' });
  const proxy = onlyId('AWS::RDS::DBProxy');
  t.hasResourceProperties('AWS::Lambda::Function', {
    Handler: 'index.handler',
    Runtime: 'nodejs24.x',
    Architectures: ['arm64'],
    VpcConfig: { SecurityGroupIds: [APP_SG], SubnetIds: Match.anyValue() },
    Environment: {
      Variables: Match.objectLike({
        DATABASE_AUTH: 'iam',
        DATABASE_USER: 'kidslearn_admin',
        DATABASE_HOST: { 'Fn::GetAtt': [proxy, 'Endpoint'] },
        DATABASE_NAME: 'kidslearn',
      }),
    },
  });
  const fn = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Runtime: 'nodejs24.x' } }))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  assert.equal(fn.Properties.Environment.Variables.DATABASE_SECRET_ARN, undefined, 'signs in with IAM: no database secret');
  // rds-db:connect as the one user on this proxy (its resource id, the 7th field of its ARN), and no secret read:
  // only the proxy's own role reads the database secret.
  const policies = t.findResources('AWS::IAM::Policy') as Record<string, { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } }>;
  const statements = Object.entries(policies).flatMap(([id, p]) => p.Properties.PolicyDocument.Statement.map((s) => ({ id, ...s })));
  const connects = statements.filter((s) => JSON.stringify(s.Action).includes('rds-db:connect'));
  assert.deepEqual(connects.map((s) => s.id.replace(/[0-9A-F]{8}$/, '')), ['MigrateServiceRoleDefaultPolicy']);
  assert.deepEqual(connects[0]!.Resource, {
    'Fn::Join': ['', ['arn:aws:rds-db:eu-west-1:', { Ref: 'AWS::AccountId' }, ':dbuser:', { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': [proxy, 'DBProxyArn'] }] }] }, '/kidslearn_admin']],
  });
  const reads = statements.filter((s) => JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue'));
  assert.deepEqual(reads.map((s) => s.id.replace(/[0-9A-F]{8}$/, '')), ['ProxyIAMRoleDefaultPolicy']);
  assert.deepEqual(reads[0]!.Resource, { Ref: onlyId('AWS::SecretsManager::SecretTargetAttachment') });
});

test('migrations run as a custom resource after the proxy is up, and rerun on every deploy', () => {
  const cr = t.findResources('Custom::KidslearnMigrations');
  assert.equal(Object.keys(cr).length, 1);
  const resource = Object.values(cr)[0] as { Properties: Record<string, unknown>; DependsOn: string[] };
  assert.equal(resource.Properties.DeployId, '20261204T190000Z');
  assert.match(String(resource.Properties.BundleHash), /^[0-9a-f]{64}$/);
  assert.ok(resource.DependsOn.includes(onlyId('AWS::RDS::DBProxy')), 'waits for the proxy');
  assert.ok(resource.DependsOn.some((d) => d.startsWith('ProxyProxyTargetGroup')), 'waits for the proxy target (cluster registered)');
  // The provider's own function invokes the migrate function.
  const provider = onlyId('AWS::Lambda::Function', { Handler: 'framework.onEvent' });
  assert.deepEqual((resource.Properties.ServiceToken as Record<string, unknown>), { 'Fn::GetAtt': [provider, 'Arn'] });
});

test('the migrations property changes with the bundle and with the deploy id (so CloudFormation sends Update)', () => {
  // Network + Data only, without cdk-nag: a cheaper second and third synth.
  const props = (lambdaDir: string, deployId?: string) => {
    const app = new App();
    const config = loadEnvConfig('dev');
    const network = new NetworkStack(app, 'N', { config });
    const alarmTopic = new sns.Topic(network, 'Alarms');
    const data = new DataStack(app, 'D', { config, vpc: network.vpc, appSecurityGroup: network.appSecurityGroup, lambdaDir, deployId, alarmTopic });
    const r = Object.values(Template.fromStack(data).findResources('Custom::KidslearnMigrations'))[0] as { Properties: Record<string, unknown> };
    return r.Properties;
  };
  const other = placeholderLambdaDir('v2');
  try {
    const a = (Object.values(t.findResources('Custom::KidslearnMigrations'))[0] as { Properties: Record<string, unknown> }).Properties;
    const b = props(other, String(a.DeployId));
    const c = props(dev.lambdaDir, 'another deploy');
    assert.notEqual(a.BundleHash, b.BundleHash, 'a new migrate bundle reruns migrations');
    assert.equal(a.BundleHash, c.BundleHash);
    assert.notEqual(a.DeployId, c.DeployId, 'a new deploy id reruns migrations');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('every log group of the stack has the environment retention', () => {
  const groups = Object.values(t.findResources('AWS::Logs::LogGroup')) as { Properties: { RetentionInDays?: number } }[];
  assert.ok(groups.length >= 3);
  for (const g of groups) assert.equal(g.Properties.RetentionInDays, dev.config.logRetentionDays);
  // No LogRetention custom resource (its Lambda would need a wildcard policy).
  assert.equal(logicalIds(t, 'Custom::LogRetention').length, 0);
});
