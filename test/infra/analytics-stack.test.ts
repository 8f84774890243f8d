import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { athenaDdl } from '../../src/analytics/athena-ddl.ts';
import { eventObjectKey, LAKE_COLUMNS, LAKE_PARTITION_COLUMNS } from '../../src/analytics/lake-layout.ts';
import { AnalyticsStack } from '../../infra/lib/analytics-stack.ts';
import { loadEnvConfig, type EnvName } from '../../infra/lib/config.ts';
import { cdkJsonContext } from '../../infra/lib/environment.ts';
import { logicalIdOf, nagFindings, resolveCfn } from './support.ts';

/**
 * The analytics stack of every environment, synthesised once: queues with
 * dead letters and alarms, the lake bucket, the Glue table generated from
 * the lake layout, the Athena workgroup, and the cdk-nag rules.
 */

const app = new App({ context: cdkJsonContext() });
const ALARM_EMAIL = 'ops@example.com';
const stacks = Object.fromEntries(
  (['dev', 'staging', 'prod'] as const).map((env) => {
    const config = loadEnvConfig(env, { alarmEmail: env === 'prod' ? ALARM_EMAIL : undefined });
    return [env, new AnalyticsStack(app, `Kidslearn-${env}-Analytics`, { env: { region: 'eu-west-1' }, config })];
  }),
) as Record<EnvName, AnalyticsStack>;
app.synth();
const templates = Object.fromEntries(Object.entries(stacks).map(([env, stack]) => [env, Template.fromStack(stack)])) as Record<EnvName, Template>;
const dev = templates.dev;

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
const resource = (t: Template, type: string, id: string) => t.findResources(type)[logicalIdOf(t, type, id)] as Resource;

describe('analytics stack: queues', () => {
  it('every queue is encrypted at rest (SSE-SQS) and refuses requests without TLS', () => {
    for (const t of Object.values(templates)) {
      const queues = t.findResources('AWS::SQS::Queue');
      assert.equal(Object.keys(queues).length, 4);
      for (const q of Object.values(queues) as Resource[]) assert.equal(q.Properties.SqsManagedSseEnabled, true);
      const denied = new Set<string>();
      for (const p of Object.values(t.findResources('AWS::SQS::QueuePolicy')) as Resource[]) {
        const statements = (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
        const tls = statements.find((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}');
        if (tls) for (const q of p.Properties.Queues as { Ref: string }[]) denied.add(q.Ref);
      }
      assert.deepEqual([...denied].sort(), Object.keys(queues).sort());
    }
  });

  it('the events queue redrives to its DLQ after ≥ 5 receives; the DLQ keeps messages 14 days, longer than the queue', () => {
    for (const [env, t] of Object.entries(templates)) {
      const queue = resource(t, 'AWS::SQS::Queue', 'EventsQueue');
      const dlqId = logicalIdOf(t, 'AWS::SQS::Queue', 'EventsDeadLetterQueue');
      const redrive = queue.Properties.RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: number };
      assert.deepEqual(redrive.deadLetterTargetArn, { 'Fn::GetAtt': [dlqId, 'Arn'] });
      assert.ok(redrive.maxReceiveCount >= 5, env);
      const dlq = t.findResources('AWS::SQS::Queue')[dlqId] as Resource;
      assert.equal(dlq.Properties.MessageRetentionPeriod, loadEnvConfig(env as EnvName).queues.deadLetterRetentionDays * 86400);
      assert.ok((dlq.Properties.MessageRetentionPeriod as number) > (queue.Properties.MessageRetentionPeriod as number));
      assert.ok((queue.Properties.MessageRetentionPeriod as number) <= 14 * 86400);
      // Six times the consumer's 30 s timeout plus its batching window, as AWS advises for Lambda event sources.
      assert.equal(queue.Properties.VisibilityTimeout, 180 + loadEnvConfig(env as EnvName).services.eventsConsumer.maxBatchingWindowSeconds);
    }
  });

  it('the jobs queue is FIFO and redrives to a FIFO DLQ after ≥ 5 receives', () => {
    const queue = resource(dev, 'AWS::SQS::Queue', 'JobsQueue');
    const dlqId = logicalIdOf(dev, 'AWS::SQS::Queue', 'JobsDeadLetterQueue');
    assert.equal(queue.Properties.FifoQueue, true);
    assert.equal(queue.Properties.FifoThroughputLimit, 'perMessageGroupId');
    assert.equal((dev.findResources('AWS::SQS::Queue')[dlqId] as Resource).Properties.FifoQueue, true);
    const redrive = queue.Properties.RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: number };
    assert.deepEqual(redrive.deadLetterTargetArn, { 'Fn::GetAtt': [dlqId, 'Arn'] });
    assert.ok(redrive.maxReceiveCount >= 5);
  });

  it('a message in either DLQ raises an alarm that notifies the encrypted alarm topic', () => {
    const topicId = logicalIdOf(dev, 'AWS::SNS::Topic', 'AlarmTopic');
    const topic = dev.findResources('AWS::SNS::Topic')[topicId] as Resource;
    assert.deepEqual(topic.Properties.KmsMasterKeyId, { 'Fn::GetAtt': [logicalIdOf(dev, 'AWS::KMS::Key', 'AlarmTopicKey'), 'Arn'] });
    const alarms = Object.values(dev.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    for (const dlq of ['EventsDeadLetterQueue', 'JobsDeadLetterQueue']) {
      const name = { 'Fn::GetAtt': [logicalIdOf(dev, 'AWS::SQS::Queue', dlq), 'QueueName'] };
      const alarm = alarms.find((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Properties.Dimensions) === JSON.stringify([{ Name: 'QueueName', Value: name }]));
      assert.ok(alarm, `no alarm on ${dlq}`);
      assert.equal(alarm.Properties.Namespace, 'AWS/SQS');
      assert.equal(alarm.Properties.Threshold, 0);
      assert.equal(alarm.Properties.ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(alarm.Properties.EvaluationPeriods, 1);
      assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topicId }]);
    }
  });

  it('the key lets CloudWatch publish to the topic; the topic refuses publishing without TLS', () => {
    const key = resource(dev, 'AWS::KMS::Key', 'AlarmTopicKey');
    assert.equal(key.Properties.EnableKeyRotation, true);
    const statements = (key.Properties.KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;
    assert.ok(statements.some((s) => JSON.stringify(s.Principal) === '{"Service":"cloudwatch.amazonaws.com"}' && JSON.stringify(s.Action).includes('kms:GenerateDataKey*')));
    const policy = Object.values(dev.findResources('AWS::SNS::TopicPolicy'))[0] as Resource;
    assert.ok(JSON.stringify(policy.Properties.PolicyDocument).includes('"aws:SecureTransport":"false"'));
  });

  it('the alarm email is subscribed only where the environment configures one', () => {
    assert.deepEqual(Object.keys(templates.dev.findResources('AWS::SNS::Subscription')), []);
    const subs = Object.values(templates.prod.findResources('AWS::SNS::Subscription')) as Resource[];
    assert.deepEqual(subs.map((s) => [s.Properties.Protocol, s.Properties.Endpoint]), [['email', ALARM_EMAIL]]);
  });
});

describe('analytics stack: lake bucket', () => {
  it('is encrypted, versioned, private, TLS-only and logs access', () => {
    for (const t of Object.values(templates)) {
      const bucket = resource(t, 'AWS::S3::Bucket', 'LakeBucket');
      assert.deepEqual(bucket.Properties.BucketEncryption, { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
      assert.deepEqual(bucket.Properties.VersioningConfiguration, { Status: 'Enabled' });
      assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      assert.ok(bucket.Properties.LoggingConfiguration);
    }
    for (const p of Object.values(dev.findResources('AWS::S3::BucketPolicy')) as Resource[]) {
      assert.ok(JSON.stringify(p.Properties.PolicyDocument).includes('"aws:SecureTransport":"false"'), 'every bucket refuses plain HTTP');
    }
    assert.equal(Object.keys(dev.findResources('AWS::S3::BucketPolicy')).length, Object.keys(dev.findResources('AWS::S3::Bucket')).length);
  });

  it('lifecycle follows each environment: events/ to Standard-IA, expiry, old versions', () => {
    for (const [env, t] of Object.entries(templates) as [EnvName, Template][]) {
      const config = loadEnvConfig(env);
      const rules = (resource(t, 'AWS::S3::Bucket', 'LakeBucket').Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
      const events = rules.find((r) => r.Id === 'events')!;
      assert.equal(events.Prefix, 'events/');
      assert.deepEqual(events.Transitions, [{ StorageClass: 'STANDARD_IA', TransitionInDays: config.lake.transitionToInfrequentAccessDays }]);
      assert.equal(events.ExpirationInDays, config.lake.expirationDays);
      const versions = rules.find((r) => r.Id === 'old-versions-and-uploads')!;
      assert.deepEqual(versions.NoncurrentVersionExpiration, { NoncurrentDays: config.services.lakeNoncurrentVersionExpirationDays });
    }
    assert.notEqual(loadEnvConfig('dev').lake.expirationDays, loadEnvConfig('prod').lake.expirationDays);
  });

  it('prod keeps its buckets on stack deletion; dev does not', () => {
    assert.equal(resource(templates.prod, 'AWS::S3::Bucket', 'LakeBucket').DeletionPolicy, 'Retain');
    assert.equal(resource(templates.dev, 'AWS::S3::Bucket', 'LakeBucket').DeletionPolicy, 'Delete');
  });
});

describe('analytics stack: Glue table and Athena', () => {
  const table = resource(dev, 'AWS::Glue::Table', 'EventsTable');
  const input = table.Properties.TableInput as {
    Name: string;
    PartitionKeys: { Name: string; Type: string }[];
    Parameters: Record<string, unknown>;
    StorageDescriptor: { Columns: { Name: string; Type: string }[]; Location: unknown };
  };
  const refs = { [logicalIdOf(dev, 'AWS::S3::Bucket', 'LakeBucket')]: 'lake-bucket' };
  const ddl = athenaDdl({ bucket: 'lake-bucket', prefix: '' });

  it('has the columns and partition keys of `kidslearn lake athena-ddl` (the writer’s layout), in order', () => {
    const ddlColumns = [...ddl.slice(ddl.indexOf('(\n') + 2, ddl.indexOf('\n)\n')).matchAll(/`(\w+)` (\w+)/g)].map((m) => ({ Name: m[1], Type: m[2] }));
    assert.deepEqual(input.StorageDescriptor.Columns, ddlColumns);
    assert.deepEqual(input.StorageDescriptor.Columns.map((c) => c.Name), LAKE_COLUMNS.map(([n]) => n));
    const partitions = [.../PARTITIONED BY \((.*)\)/.exec(ddl)![1]!.matchAll(/`(\w+)` (\w+)/g)].map((m) => ({ Name: m[1], Type: m[2] }));
    assert.deepEqual(input.PartitionKeys, partitions);
    assert.deepEqual(input.PartitionKeys.map((c) => c.Name), LAKE_PARTITION_COLUMNS.map(([n]) => n));
  });

  it('projects partitions exactly as the DDL does, over the lake bucket’s events/ prefix', () => {
    const ddlProps = Object.fromEntries([...ddl.matchAll(/^ {2}'([^']+)' = '([^']*)'/gm)].map((m) => [m[1], m[2]]));
    const tableProps = Object.fromEntries(Object.entries(input.Parameters).map(([k, v]) => [k, resolveCfn(v, refs)]));
    assert.deepEqual(tableProps, { ...ddlProps, classification: 'parquet', EXTERNAL: 'TRUE' });
    assert.equal(resolveCfn(input.StorageDescriptor.Location, refs), /LOCATION '([^']+)'/.exec(ddl)![1]);
  });

  it('the projected location of a day is where the writer puts that day’s files', () => {
    const template = resolveCfn(input.Parameters['storage.location.template'], refs);
    const location = template.replace('${app}', 'math').replace('${year}', '2026').replace('${month}', '03').replace('${day}', '07');
    const key = eventObjectKey('math', '2026-03-07', 1, 20);
    assert.equal(`s3://lake-bucket/${key}`.startsWith(location), true, `${key} is not under ${location}`);
    assert.equal(input.Parameters['projection.month.digits'], '2');
  });

  it('the Athena workgroup enforces its result location, encryption and the scan limit of each environment', () => {
    for (const [env, t] of Object.entries(templates) as [EnvName, Template][]) {
      const wg = Object.values(t.findResources('AWS::Athena::WorkGroup'))[0] as Resource;
      const conf = wg.Properties.WorkGroupConfiguration as Record<string, unknown> & { ResultConfiguration: Record<string, unknown> };
      assert.equal(conf.EnforceWorkGroupConfiguration, true);
      assert.equal(conf.BytesScannedCutoffPerQuery, loadEnvConfig(env).athena.bytesScannedCutoffPerQuery);
      assert.deepEqual(conf.ResultConfiguration.EncryptionConfiguration, { EncryptionOption: 'SSE_S3' });
      const results = logicalIdOf(t, 'AWS::S3::Bucket', 'AthenaResultsBucket');
      assert.equal(resolveCfn(conf.ResultConfiguration.OutputLocation, { [results]: 'results' }), 's3://results/results/');
    }
  });
});

describe('analytics stack: cdk-nag', () => {
  it('has no unacknowledged AwsSolutions findings', () => {
    assert.deepEqual(nagFindings(app), []);
  });
});
