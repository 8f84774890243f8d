import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { eventObjectKey } from '../../src/analytics/lake-layout.ts';
import { rollupKey } from '../../src/analytics/lake-rollups.ts';
import { loadEnvConfig } from '../../infra/lib/config.ts';
import { CONTAINER_USER, ENGINE_PORT, LAKE_API_PORT, LAKE_PORT } from '../../infra/lib/engine-stack.ts';
import { buildEnvironment, cdkJsonContext } from '../../infra/lib/environment.ts';
import { placeholderImageDir, placeholderLambdaDir } from '../support/cdk.ts';
import { logicalIdOf, nagFindings, resolveCfn } from './support.ts';

/**
 * The engine stack of dev and prod, synthesised once with the whole
 * environment (the image and Lambda bundles are test fixtures): the engine
 * and lake-writer services on Fargate, Spot outside prod, health checks,
 * rollback, scaling, and the task roles' least privilege.
 */

const lambdaDir = placeholderLambdaDir();
const imageDirectory = placeholderImageDir();
const app = new App({ context: cdkJsonContext() });
const envs = {
  dev: buildEnvironment(app, loadEnvConfig('dev'), { lambdaDir, imageDirectory }),
  prod: buildEnvironment(app, loadEnvConfig('prod'), { lambdaDir, imageDirectory }),
};
app.synth();
const engine = { dev: Template.fromStack(envs.dev.engine), prod: Template.fromStack(envs.prod.engine) };

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
type Container = { Command?: string[]; PortMappings?: { ContainerPort: number }[]; User: string; Environment: { Name: string; Value: unknown }[]; HealthCheck: { Command: string[]; StartPeriod: number }; LogConfiguration: { LogDriver: string } };
const one = (t: Template, type: string, id: string) => t.findResources(type)[logicalIdOf(t, type, id)] as Resource;
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
type Task = 'EngineTask' | 'LakeWriterTask' | 'LakeApiTask';
const container = (t: Template, task: Task) => (one(t, 'AWS::ECS::TaskDefinition', task).Properties.ContainerDefinitions as Container[])[0]!;
const envOf = (c: Container) => Object.fromEntries(c.Environment.map((e) => [e.Name, e.Value]));
/** The statements of the task role of `task`. */
function taskRoleStatements(t: Template, task: Task): Statement[] {
  const roleId = (one(t, 'AWS::ECS::TaskDefinition', task).Properties.TaskRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return (Object.values(t.findResources('AWS::IAM::Policy')) as Resource[])
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const managedPolicies = (t: Template) => (Object.values(t.findResources('AWS::IAM::Role')) as Resource[]).flatMap((r) => (r.Properties.ManagedPolicyArns as unknown[] | undefined) ?? []);

describe('engine stack: services', () => {
  it('the cluster has Container Insights', () => {
    const cluster = Object.values(engine.dev.findResources('AWS::ECS::Cluster'))[0] as Resource;
    assert.deepEqual(cluster.Properties.ClusterSettings, [{ Name: 'containerInsights', Value: 'enabled' }]);
  });

  it('both services run on Fargate Spot outside prod and on Fargate in prod, in private subnets, rolling back failed deployments', () => {
    for (const [env, t] of Object.entries(engine)) {
      for (const id of ['EngineService', 'LakeWriterService']) {
        const svc = one(t, 'AWS::ECS::Service', id).Properties;
        assert.deepEqual(svc.CapacityProviderStrategy, [{ CapacityProvider: env === 'prod' ? 'FARGATE' : 'FARGATE_SPOT', Weight: 1 }], `${env} ${id}`);
        assert.deepEqual((svc.DeploymentConfiguration as Record<string, unknown>).DeploymentCircuitBreaker, { Enable: true, Rollback: true });
        const network = (svc.NetworkConfiguration as { AwsvpcConfiguration: { AssignPublicIp: string; SecurityGroups: unknown[] } }).AwsvpcConfiguration;
        assert.equal(network.AssignPublicIp, 'DISABLED');
        assert.match(resolveCfn(network.SecurityGroups[0], {}), /AppSecurityGroup/);
        assert.equal(svc.EnableExecuteCommand, false);
      }
    }
    assert.equal(loadEnvConfig('dev').engine.spot, true);
    assert.equal(loadEnvConfig('prod').engine.spot, false);
  });

  it('containers run as a non-root user, log to CloudWatch, and are health-checked on their /health port', () => {
    for (const [task, port, entry] of [
      ['EngineTask', ENGINE_PORT, 'src/runtimes/engine.ts'],
      ['LakeWriterTask', LAKE_PORT, 'src/runtimes/lake.ts'],
    ] as const) {
      const c = container(engine.dev, task);
      assert.equal(c.User, CONTAINER_USER);
      assert.notEqual(c.User.split(':')[0], '0');
      assert.deepEqual(c.Command, ['node', '--liftoff-only', entry]);
      assert.equal(c.LogConfiguration.LogDriver, 'awslogs');
      assert.equal(c.HealthCheck.Command[0], 'CMD');
      assert.match(c.HealthCheck.Command.join(' '), new RegExp(`http://127\\.0\\.0\\.1:${port}/health`));
      assert.equal(envOf(c)[task === 'EngineTask' ? 'ENGINE_PORT' : 'LAKE_PORT'], String(port));
      assert.equal(envOf(c).DATABASE_URL, undefined, 'credentials come from the secret, never the environment');
    }
  });

  it('the engine consumes the jobs queue with Bedrock; the lake writer is one task writing to the lake bucket', () => {
    const e = envOf(container(engine.dev, 'EngineTask'));
    assert.equal(e.JOB_QUEUE, 'sqs');
    assert.match(resolveCfn(e.JOBS_QUEUE_URL, {}), /ExportsOutputRefJobsQueue/);
    assert.equal(e.LLM_PROVIDER, 'bedrock');
    assert.equal(e.LLM_BEDROCK_MODEL, loadEnvConfig('dev').services.llmModelId);
    const l = envOf(container(engine.dev, 'LakeWriterTask'));
    assert.equal(resolveCfn(l.LAKE_S3_BUCKET, {}), 'kidslearn-dev-lake-<AWS::AccountId>-eu-west-1');
    assert.equal(l.LAKE_S3_PREFIX, undefined, 'the lake is at the bucket root (LAKE_PREFIX)');
    assert.equal(l.LAKE_S3_REGION, 'eu-west-1');
    assert.equal(one(engine.prod, 'AWS::ECS::Service', 'LakeWriterService').Properties.DesiredCount, 1);
    // The engine's count is left to autoscaling (a deploy must not reset it).
    assert.equal(one(engine.prod, 'AWS::ECS::Service', 'EngineService').Properties.DesiredCount, undefined);
  });

  it('the lake bucket the writer is given is the one the analytics stack creates', () => {
    const bucket = Object.values(Template.fromStack(envs.dev.analytics).findResources('AWS::S3::Bucket')).find((b) => JSON.stringify(b).includes('-lake-')) as Resource;
    assert.equal(resolveCfn(bucket.Properties.BucketName, {}), resolveCfn(envOf(container(engine.dev, 'LakeWriterTask')).LAKE_S3_BUCKET, {}));
  });
});

describe('engine stack: scaling', () => {
  for (const env of ['dev', 'prod'] as const) {
    it(`${env}: between the configured task counts, on CPU and on the jobs queue's backlog`, () => {
      const t = engine[env];
      const { engine: c } = loadEnvConfig(env);
      const serviceId = logicalIdOf(t, 'AWS::ECS::Service', 'EngineService');
      const [targetId, target] = Object.entries(t.findResources('AWS::ApplicationAutoScaling::ScalableTarget')).find(([, r]) => JSON.stringify(r).includes(serviceId))! as [string, Resource];
      assert.equal(target.Properties.MinCapacity, c.minTasks);
      assert.equal(target.Properties.MaxCapacity, c.maxTasks);
      const policies = (Object.values(t.findResources('AWS::ApplicationAutoScaling::ScalingPolicy')) as Resource[]).filter((p) => JSON.stringify(p.Properties.ScalingTargetId).includes(targetId));
      const cpu = policies.find((p) => p.Properties.PolicyType === 'TargetTrackingScaling')!;
      assert.equal((cpu.Properties.TargetTrackingScalingPolicyConfiguration as { PredefinedMetricSpecification: { PredefinedMetricType: string } }).PredefinedMetricSpecification.PredefinedMetricType, 'ECSServiceAverageCPUUtilization');
      const steps = policies.filter((p) => p.Properties.PolicyType === 'StepScaling');
      assert.equal(steps.length, 2, 'a scale-out and a scale-in step policy');
      const backlog = (Object.values(t.findResources('AWS::CloudWatch::Alarm')) as Resource[]).filter((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' && /scaling alarm/i.test(String(a.Properties.AlarmDescription)));
      assert.equal(backlog.length, 2);
      for (const a of backlog) assert.match(resolveCfn((a.Properties.Dimensions as { Value: unknown }[])[0]!.Value, {}), /JobsQueue\w+QueueName/);
      assert.deepEqual(backlog.map((a) => a.Properties.Threshold).sort((x, y) => Number(x) - Number(y)), [0, 10]);
    });
  }
});

describe('engine stack: least privilege', () => {
  it('Bedrock: invoke exactly the configured models, nothing else, no managed policy', () => {
    for (const env of ['dev', 'prod'] as const) {
      const statements = taskRoleStatements(engine[env], 'EngineTask');
      const bedrock = statements.filter((s) => actions(s).some((a) => a.startsWith('bedrock:')));
      assert.equal(bedrock.length, 1);
      assert.deepEqual(actions(bedrock[0]!).sort(), ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
      assert.deepEqual(bedrock[0]!.Resource, loadEnvConfig(env).bedrockModelIds.map((id) => `arn:aws:bedrock:eu-west-1::foundation-model/${id}`));
      assert.doesNotMatch(JSON.stringify(managedPolicies(engine[env])), /Bedrock/);
    }
    assert.doesNotMatch(JSON.stringify(engine.prod.toJSON()), /AmazonBedrockFullAccess/);
  });

  it('both tasks: rds-db:connect as the one user on the proxy, the Redis token read, no database secret anywhere', () => {
    const t = engine.dev;
    for (const task of ['EngineTask', 'LakeWriterTask'] as const) {
      const statements = taskRoleStatements(t, task);
      const connects = statements.filter((s) => actions(s).includes('rds-db:connect'));
      assert.equal(connects.length, 1, task);
      assert.match(resolveCfn((connects[0]!.Resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1][0], {}), /^arn:aws:rds-db:eu-west-1:$/);
      assert.match(JSON.stringify(connects[0]!.Resource), /:dbuser:.*Fn::Select":\[6,.*DBProxyArn.*\/kidslearn_admin"/);
      const reads = statements.filter((s) => actions(s).includes('secretsmanager:GetSecretValue'));
      assert.equal(reads.length, 1, task);
      assert.match(JSON.stringify(reads[0]!.Resource), /^\{"Fn::ImportValue":"Kidslearn-Dev-Data:ExportsOutputRefRedisAuthToken\w+"\}$/);
    }
    const containers = Object.values(t.findResources('AWS::ECS::TaskDefinition')).flatMap((d) => (d as { Properties: { ContainerDefinitions: { Environment: { Name: string; Value: unknown }[] }[] } }).Properties.ContainerDefinitions);
    assert.equal(containers.length, 3, 'engine, lake writer, lake API');
    for (const c of containers) {
      const env = Object.fromEntries(c.Environment.map((e) => [e.Name, e.Value]));
      assert.equal(env.DATABASE_SECRET_ARN, undefined);
      assert.equal(env.DATABASE_AUTH, 'iam');
      assert.equal(env.DATABASE_USER, 'kidslearn_admin');
      assert.match(JSON.stringify(env.REDIS_PASSWORD_SECRET_ARN), /RedisAuthToken/);
    }
  });

  it('the engine consumes (and re-sends) on the jobs queue only', () => {
    const statements = taskRoleStatements(engine.dev, 'EngineTask');
    const sqs = statements.filter((s) => actions(s).some((a) => a.startsWith('sqs:')));
    assert.equal(sqs.length, 1);
    assert.match(resolveCfn(sqs[0]!.Resource, {}), /JobsQueue\w+Arn/);
    assert.deepEqual(actions(sqs[0]!).sort(), ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:SendMessage']);
    assert.deepEqual(statements.filter((s) => actions(s).some((a) => a.startsWith('s3:'))), [], 'the engine does not touch the lake');
  });

  it('the lake writer reads, writes and deletes only under events/ and rollups/ (erasures reach the rollups), and lists only those prefixes', () => {
    const statements = taskRoleStatements(engine.dev, 'LakeWriterTask');
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    const bucket = 'arn:aws:s3:::kidslearn-dev-lake-<AWS::AccountId>-eu-west-1';
    const objectArns = [`${bucket}/events/*`, `${bucket}/rollups/*`];
    for (const s of s3) {
      if (actions(s).includes('s3:ListBucket')) {
        assert.deepEqual(actions(s), ['s3:ListBucket']);
        assert.equal(resolveCfn(s.Resource, {}), bucket);
        assert.deepEqual(s.Condition, { StringLike: { 's3:prefix': ['events/', 'events/*', 'rollups/', 'rollups/*'] } });
      } else {
        assert.deepEqual((s.Resource as unknown[]).map((r) => resolveCfn(r, {})), objectArns);
      }
    }
    assert.deepEqual([...new Set(s3.flatMap(actions))].sort(), ['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    // Every file the writer produces, and every prefix an erasure lists, is under a granted prefix.
    assert.ok(`${bucket}/${eventObjectKey('math', '2026-03-07', 1, 2)}`.startsWith(objectArns[0]!.slice(0, -1)));
    assert.ok(`${bucket}/${rollupKey('math', '2026-03-07', 'learners', 'f')}`.startsWith(objectArns[1]!.slice(0, -1)));
    assert.deepEqual(statements.filter((s) => actions(s).some((a) => a.startsWith('sqs:') || a.startsWith('bedrock:'))), []);
  });
});

describe('engine stack: cdk-nag', () => {
  it('has no unacknowledged AwsSolutions findings in the whole app', () => {
    assert.deepEqual(nagFindings(app), []);
  });
});

describe('engine stack: the lake API service (reports and exports, which query the lake with DuckDB)', () => {
  const api = { dev: Template.fromStack(envs.dev.api), prod: Template.fromStack(envs.prod.api) };
  const apiFunctionEnv = (t: Template) => {
    const fn = Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => /^Api[0-9A-F]{8}$/.test(id))![1] as Resource;
    return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  };
  const sgId = (t: Template, id: string) => logicalIdOf(t, 'AWS::EC2::SecurityGroup', id);

  it('runs the image’s default command (the Node HTTP server) as a non-root user, health-checked on its port', () => {
    const c = container(engine.dev, 'LakeApiTask');
    assert.equal(c.Command, undefined, 'no command: the Dockerfile’s CMD, src/runtimes/node-server.ts');
    assert.equal(c.User, CONTAINER_USER);
    assert.notEqual(c.User.split(':')[0], '0');
    assert.deepEqual(c.PortMappings?.map((p) => p.ContainerPort), [LAKE_API_PORT]);
    assert.equal(envOf(c).PORT, String(LAKE_API_PORT));
    assert.match(c.HealthCheck.Command.join(' '), new RegExp(`http://127\\.0\\.0\\.1:${LAKE_API_PORT}/health`));
    assert.equal(c.LogConfiguration.LogDriver, 'awslogs');
  });

  it('the environment: engine and lake writer separate, the lake on S3, the database over IAM, and the api function’s token settings', () => {
    for (const env of ['dev', 'prod'] as const) {
      const e = envOf(container(engine[env], 'LakeApiTask'));
      const f = apiFunctionEnv(api[env]);
      assert.equal(e.ENGINE_MODE, 'separate');
      assert.equal(e.LAKE_MODE, 'separate');
      assert.equal(e.LAKE_ENABLED, undefined);
      assert.equal(resolveCfn(e.LAKE_S3_BUCKET, {}), `kidslearn-${env}-lake-<AWS::AccountId>-eu-west-1`);
      assert.equal(resolveCfn(e.LAKE_S3_BUCKET, {}), resolveCfn(f.LAKE_S3_BUCKET, {}));
      assert.equal(e.LAKE_S3_REGION, 'eu-west-1');
      assert.equal(e.DATABASE_AUTH, 'iam');
      assert.equal(e.DATABASE_SECRET_ARN, undefined);
      for (const name of ['DATABASE_USER', 'DATABASE_NAME', 'DATABASE_IAM_REGION', 'EMBEDDINGS_PROVIDER', 'EMBEDDINGS_BEDROCK_MODEL', 'JOB_QUEUE', 'EVENT_QUEUE', 'OIDC_ISSUER', 'OIDC_AUDIENCE', 'OIDC_JWKS_URL', 'REDIS_URL']) {
        assert.equal(resolveCfn(e[name], {}).replace(/^import\((.*)\)$/, '$1'), resolveCfn(f[name], {}).replace(/^import\((.*)\)$/, '$1'), `${env} ${name}`);
      }
      assert.ok(e.OIDC_ISSUER && e.OIDC_AUDIENCE && e.OIDC_JWKS_URL);
      // The api stack's signing key (a Ref there, an import here).
      const secretId = logicalIdOf(api[env], 'AWS::SecretsManager::Secret', 'JwtSigningKey');
      assert.deepEqual(f.JWT_PRIVATE_KEY_SECRET_ARN, { Ref: secretId });
      assert.match(resolveCfn(e.JWT_PRIVATE_KEY_SECRET_ARN, {}), new RegExp(`^import\\(Kidslearn-${env === 'dev' ? 'Dev' : 'Prod'}-Api:ExportsOutputRef${secretId}\\w+\\)$`));
      assert.equal(e.JWT_PRIVATE_KEY, undefined);
      assert.match(resolveCfn(e.DATABASE_HOST, {}), /ProxyCB0DFB71Endpoint/);
    }
  });

  it('on Fargate Spot outside prod, in private subnets, rolling back failed deployments, registered in Cloud Map with SRV records', () => {
    for (const [env, t] of Object.entries(engine)) {
      const svc = one(t, 'AWS::ECS::Service', 'LakeApiService').Properties;
      assert.deepEqual(svc.CapacityProviderStrategy, [{ CapacityProvider: env === 'prod' ? 'FARGATE' : 'FARGATE_SPOT', Weight: 1 }], env);
      assert.deepEqual((svc.DeploymentConfiguration as Record<string, unknown>).DeploymentCircuitBreaker, { Enable: true, Rollback: true });
      const network = (svc.NetworkConfiguration as { AwsvpcConfiguration: { AssignPublicIp: string; SecurityGroups: unknown[] } }).AwsvpcConfiguration;
      assert.equal(network.AssignPublicIp, 'DISABLED');
      assert.equal(network.SecurityGroups.length, 2);
      assert.match(resolveCfn(network.SecurityGroups[0], {}), /AppSecurityGroup/, 'the app group: the proxy and Redis admit it');
      assert.deepEqual(network.SecurityGroups[1], { 'Fn::GetAtt': [sgId(t, 'LakeApiSecurityGroup'), 'GroupId'] });
      const registry = (svc.ServiceRegistries as { ContainerPort: number; RegistryArn: unknown }[])[0]!;
      assert.equal(registry.ContainerPort, LAKE_API_PORT);
      const cloudMap = one(t, 'AWS::ServiceDiscovery::Service', 'LakeApiServiceCloudmapService').Properties;
      assert.deepEqual((cloudMap.DnsConfig as { DnsRecords: unknown[] }).DnsRecords.map((r) => (r as { Type: string }).Type), ['SRV']);
      assert.deepEqual(registry.RegistryArn, { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::ServiceDiscovery::Service', 'LakeApiServiceCloudmapService'), 'Arn'] });
    }
  });

  it('only the VPC link’s security group reaches the service, on its port only; the VPC link reaches nothing else', () => {
    for (const t of Object.values(engine)) {
      const lakeSg = sgId(t, 'LakeApiSecurityGroup');
      const linkSg = sgId(t, 'VpcLinkSecurityGroup');
      const sgs = t.findResources('AWS::EC2::SecurityGroup') as Record<string, Resource>;
      assert.equal(sgs[lakeSg]!.Properties.SecurityGroupIngress, undefined, 'no inline ingress');
      const ingress = (Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]).filter((r) => JSON.stringify(r.Properties.GroupId).includes(lakeSg));
      assert.deepEqual(
        ingress.map((r) => ({ from: r.Properties.SourceSecurityGroupId, ports: [r.Properties.FromPort, r.Properties.ToPort], protocol: r.Properties.IpProtocol })),
        [{ from: { 'Fn::GetAtt': [linkSg, 'GroupId'] }, ports: [LAKE_API_PORT, LAKE_API_PORT], protocol: 'tcp' }],
      );
      const egress = (Object.values(t.findResources('AWS::EC2::SecurityGroupEgress')) as Resource[]).filter((r) => JSON.stringify(r.Properties.GroupId).includes(linkSg));
      assert.deepEqual(
        egress.map((r) => ({ to: r.Properties.DestinationSecurityGroupId, ports: [r.Properties.FromPort, r.Properties.ToPort] })),
        [{ to: { 'Fn::GetAtt': [lakeSg, 'GroupId'] }, ports: [LAKE_API_PORT, LAKE_API_PORT] }],
      );
      // allowAllOutbound: false — CDK's "disallow all" placeholder, no 0.0.0.0/0.
      assert.doesNotMatch(JSON.stringify(sgs[linkSg]!.Properties.SecurityGroupEgress ?? []), /0\.0\.0\.0\/0/);
      const link = Object.values(t.findResources('AWS::ApiGatewayV2::VpcLink')) as Resource[];
      assert.equal(link.length, 1);
      assert.deepEqual(link[0]!.Properties.SecurityGroupIds, [{ 'Fn::GetAtt': [linkSg, 'GroupId'] }]);
    }
    // Nothing anywhere admits traffic into the app security group (the service's other group).
    for (const stack of Object.values(envs.dev)) {
      const t = Template.fromStack(stack);
      for (const r of Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]) assert.doesNotMatch(JSON.stringify(r.Properties.GroupId), /AppSecurityGroup/);
    }
  });

  it('the task role reads the lake’s events/ and rollups/ and writes nothing; connects to the database as the other tasks; no queue', () => {
    const statements = taskRoleStatements(engine.dev, 'LakeApiTask');
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    const bucket = 'arn:aws:s3:::kidslearn-dev-lake-<AWS::AccountId>-eu-west-1';
    assert.deepEqual([...new Set(s3.flatMap(actions))].sort(), ['s3:GetObject', 's3:ListBucket']);
    for (const s of s3) {
      if (actions(s).includes('s3:ListBucket')) {
        assert.equal(resolveCfn(s.Resource, {}), bucket);
        assert.deepEqual(s.Condition, { StringLike: { 's3:prefix': ['events/', 'events/*', 'rollups/', 'rollups/*'] } });
      } else {
        assert.deepEqual((s.Resource as unknown[]).map((r) => resolveCfn(r, {})), [`${bucket}/events/*`, `${bucket}/rollups/*`]);
      }
    }
    const connects = statements.filter((s) => actions(s).includes('rds-db:connect'));
    assert.equal(connects.length, 1);
    assert.equal(JSON.stringify(connects[0]!.Resource), JSON.stringify(taskRoleStatements(engine.dev, 'EngineTask').find((s) => actions(s).includes('rds-db:connect'))!.Resource));
    const reads = statements.filter((s) => actions(s).includes('secretsmanager:GetSecretValue')).flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r) => resolveCfn(r, {})));
    assert.equal(reads.length, 2);
    assert.match(reads.join(' '), /ExportsOutputRefJwtSigningKey/);
    assert.match(reads.join(' '), /ExportsOutputRefRedisAuthToken/);
    // Reads of the signing key cover every stage: AWSPREVIOUS verifies tokens signed before a rotation.
    assert.deepEqual(statements.filter((s) => actions(s).includes('secretsmanager:GetSecretValue')).map((s) => s.Condition), [undefined]);
    assert.deepEqual(statements.filter((s) => actions(s).some((a) => a.startsWith('sqs:'))), []);
    const bedrock = statements.filter((s) => actions(s).some((a) => a.startsWith('bedrock:')));
    assert.deepEqual(bedrock.map((s) => [actions(s), s.Resource]), [[['bedrock:InvokeModel'], `arn:aws:bedrock:eu-west-1::foundation-model/${loadEnvConfig('dev').services.embeddingsModelId}`]]);
  });

  for (const env of ['dev', 'prod'] as const) {
    it(`${env}: scales on CPU between the configured task counts`, () => {
      const t = engine[env];
      const c = loadEnvConfig(env).services.lakeApi;
      const serviceId = logicalIdOf(t, 'AWS::ECS::Service', 'LakeApiService');
      const [targetId, target] = Object.entries(t.findResources('AWS::ApplicationAutoScaling::ScalableTarget')).find(([, r]) => JSON.stringify(r).includes(serviceId))! as [string, Resource];
      assert.equal(target.Properties.MinCapacity, c.minTasks);
      assert.equal(target.Properties.MaxCapacity, c.maxTasks);
      const policies = (Object.values(t.findResources('AWS::ApplicationAutoScaling::ScalingPolicy')) as Resource[]).filter((p) => JSON.stringify(p.Properties.ScalingTargetId).includes(targetId));
      assert.equal(policies.length, 1);
      const cfg = policies[0]!.Properties.TargetTrackingScalingPolicyConfiguration as { PredefinedMetricSpecification: { PredefinedMetricType: string }; TargetValue: number };
      assert.equal(cfg.PredefinedMetricSpecification.PredefinedMetricType, 'ECSServiceAverageCPUUtilization');
      assert.equal(cfg.TargetValue, c.cpuTargetPercent);
    });
  }
  it('prod keeps at least two tasks (one per AZ)', () => assert.ok(loadEnvConfig('prod').services.lakeApi.minTasks >= 2));
});
