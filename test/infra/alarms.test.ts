import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Template } from 'aws-cdk-lib/assertions';
import type { EnvName } from '../../infra/lib/config.ts';
import { synthesizeEnvironment, type SynthesizedEnvironment } from '../support/cdk.ts';
import { logicalIdOf } from './support.ts';

/**
 * The operational alarms of every environment (dev, staging, prod, synthesised with cdk-nag):
 * each exists in the stack that owns its resource, watches the right metric of that resource,
 * takes its threshold and periods from config.alarms, and notifies the analytics stack's alarm
 * topic both when it fires and when it clears.
 */

const ENVS = ['dev', 'staging', 'prod'] as const;
const synthesized = {} as Record<EnvName, SynthesizedEnvironment>;
before(() => {
  for (const env of ENVS) synthesized[env] = synthesizeEnvironment(env);
});
after(() => {
  for (const env of ENVS) synthesized[env]?.dispose();
});

type Alarm = {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Statistic?: string;
  ExtendedStatistic?: string;
  Period?: number;
  Threshold: number;
  ComparisonOperator: string;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  TreatMissingData?: string;
  AlarmActions: unknown[];
  OKActions: unknown[];
  Metrics?: { Id: string; Expression?: string; ReturnData?: boolean; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] }; Stat: string; Period: number } }[];
};
type Part = 'data' | 'api' | 'engine';

function alarm(t: Template, id: string): Alarm {
  return (t.findResources('AWS::CloudWatch::Alarm')[logicalIdOf(t, 'AWS::CloudWatch::Alarm', id)] as { Properties: Alarm }).Properties;
}

/** The export name under which the analytics stack shares its alarm topic's ARN. */
function topicExport(s: SynthesizedEnvironment): string {
  const a = s.template(s.stacks.analytics);
  const topicId = logicalIdOf(a, 'AWS::SNS::Topic', 'AlarmTopic');
  const outputs = Object.values(a.toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>);
  const out = outputs.find((o) => JSON.stringify(o.Value) === JSON.stringify({ Ref: topicId }));
  assert.ok(out?.Export, 'the analytics stack exports the alarm topic');
  return out.Export.Name;
}

/** Every check of one alarm: the topic on both actions, and the environment's periods unless given. */
function check(env: EnvName, part: Part, id: string, expect: { threshold: number; comparison: string; evaluationPeriods?: number; datapoints?: number; missing?: string }): Alarm {
  const s = synthesized[env];
  const a = alarm(s.template(s.stacks[part]), id);
  const topic = { 'Fn::ImportValue': topicExport(s) };
  assert.deepEqual(a.AlarmActions, [topic], `${env} ${id}: alarm action`);
  assert.deepEqual(a.OKActions, [topic], `${env} ${id}: OK action`);
  assert.equal(a.Threshold, expect.threshold, `${env} ${id}: threshold`);
  assert.equal(a.ComparisonOperator, expect.comparison, `${env} ${id}`);
  assert.equal(a.EvaluationPeriods, expect.evaluationPeriods ?? s.config.alarms.evaluationPeriods, `${env} ${id}: evaluation periods`);
  assert.equal(a.DatapointsToAlarm, expect.datapoints ?? expect.evaluationPeriods ?? s.config.alarms.datapointsToAlarm, `${env} ${id}: datapoints`);
  assert.equal(a.TreatMissingData, expect.missing ?? 'notBreaching', `${env} ${id}: missing data`);
  return a;
}

/** The logical id a dimension value refers to (`{ Ref: id }`, or a join starting with one). */
const refOf = (value: unknown): string => {
  const v = value as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
  if (v.Ref) return v.Ref;
  if (v['Fn::Join']) return refOf(v['Fn::Join'][1][0]);
  throw new Error(`not a reference: ${JSON.stringify(value)}`);
};

describe('operational alarms', () => {
  it('cdk-nag passes in every environment with the alarms', () => {
    for (const env of ENVS) assert.deepEqual(synthesized[env].nagFindings, [], env);
  });

  it('API: the stage 5xx rate, as metric math with a minimum request count, per environment', () => {
    for (const env of ENVS) {
      const s = synthesized[env];
      const t = s.template(s.stacks.api);
      const c = s.config.alarms.api;
      const a = check(env, 'api', 'Api5xxRateAlarm', { threshold: c.serverErrorRatePercent, comparison: 'GreaterThanThreshold' });
      const expr = a.Metrics!.find((m) => m.Expression)!;
      assert.equal(expr.Expression, `IF(requests >= ${c.minRequests}, 100 * FILL(errors, 0) / requests, 0)`);
      assert.equal(a.Metrics!.filter((m) => m.ReturnData !== false).length, 1);
      const apiId = logicalIdOf(t, 'AWS::ApiGatewayV2::Api', 'HttpApi');
      for (const [id, name] of [['errors', '5xx'], ['requests', 'Count']] as const) {
        const m = a.Metrics!.find((x) => x.Id === id)!.MetricStat!;
        assert.equal(m.Metric.Namespace, 'AWS/ApiGateway');
        assert.equal(m.Metric.MetricName, name);
        assert.equal(m.Stat, 'Sum');
        assert.equal(m.Period, 300);
        const dims = Object.fromEntries(m.Metric.Dimensions.map((d) => [d.Name, d.Value]));
        assert.deepEqual(dims, { ApiId: { Ref: apiId }, Stage: '$default' }, `${env} ${id}`);
      }
    }
  });

  it('API: p99 latency of the stage, api function errors and throttles, authorizer and events-consumer errors', () => {
    for (const env of ENVS) {
      const s = synthesized[env];
      const t = s.template(s.stacks.api);
      const c = s.config.alarms.api;
      const latency = check(env, 'api', 'ApiLatencyAlarm', { threshold: c.p99LatencyMs, comparison: 'GreaterThanThreshold' });
      assert.equal(latency.Namespace, 'AWS/ApiGateway');
      assert.equal(latency.MetricName, 'Latency');
      assert.equal(latency.ExtendedStatistic, 'p99');
      assert.deepEqual(latency.Dimensions, [
        { Name: 'ApiId', Value: { Ref: logicalIdOf(t, 'AWS::ApiGatewayV2::Api', 'HttpApi') } },
        { Name: 'Stage', Value: '$default' },
      ]);
      for (const [id, fn, metric, comparison, threshold] of [
        ['ApiFunctionErrorsAlarm', 'Api', 'Errors', 'GreaterThanThreshold', c.functionErrors],
        ['ApiFunctionThrottlesAlarm', 'Api', 'Throttles', 'GreaterThanOrEqualToThreshold', c.throttles],
        ['AuthorizerErrorsAlarm', 'Authorizer', 'Errors', 'GreaterThanThreshold', c.functionErrors],
        ['EventsConsumerErrorsAlarm', 'EventsConsumer', 'Errors', 'GreaterThanThreshold', c.functionErrors],
      ] as const) {
        const a = check(env, 'api', id, { threshold, comparison });
        assert.equal(a.Namespace, 'AWS/Lambda');
        assert.equal(a.MetricName, metric);
        assert.equal(a.Statistic, 'Sum');
        assert.deepEqual(a.Dimensions, [{ Name: 'FunctionName', Value: { Ref: logicalIdOf(t, 'AWS::Lambda::Function', fn) } }], `${env} ${id}`);
      }
    }
  });

  it('Data: Aurora CPU, capacity at the configured maximum, freeable memory; RDS Proxy auth failures', () => {
    for (const env of ENVS) {
      const s = synthesized[env];
      const t = s.template(s.stacks.data);
      const c = s.config.alarms.database;
      const cluster = { Name: 'DBClusterIdentifier', Value: { Ref: logicalIdOf(t, 'AWS::RDS::DBCluster', 'Cluster') } };
      const cpu = check(env, 'data', 'DatabaseCpuAlarm', { threshold: c.cpuPercent, comparison: 'GreaterThanThreshold' });
      assert.deepEqual([cpu.Namespace, cpu.MetricName, cpu.Dimensions], ['AWS/RDS', 'CPUUtilization', [cluster]]);
      const acu = check(env, 'data', 'DatabaseCapacityAtMaxAlarm', { threshold: s.config.database.maxCapacityAcu, comparison: 'GreaterThanOrEqualToThreshold', evaluationPeriods: c.atMaxCapacityMinutes });
      assert.deepEqual([acu.Namespace, acu.MetricName, acu.Dimensions, acu.Period, acu.Statistic], ['AWS/RDS', 'ServerlessDatabaseCapacity', [cluster], 60, 'Minimum']);
      const memory = check(env, 'data', 'DatabaseFreeableMemoryAlarm', { threshold: c.freeableMemoryMib * 1024 * 1024, comparison: 'LessThanThreshold' });
      assert.deepEqual([memory.Namespace, memory.MetricName, memory.Dimensions], ['AWS/RDS', 'FreeableMemory', [cluster]]);
      const proxy = check(env, 'data', 'DatabaseProxyAuthFailuresAlarm', { threshold: c.proxyAuthFailures, comparison: 'GreaterThanThreshold' });
      assert.deepEqual([proxy.Namespace, proxy.MetricName, proxy.Statistic], ['AWS/RDS', 'ClientConnectionsSetupFailedAuth', 'Sum']);
      assert.deepEqual(proxy.Dimensions, [{ Name: 'ProxyName', Value: { Ref: logicalIdOf(t, 'AWS::RDS::DBProxy', 'Proxy') } }]);
    }
  });

  it('Data: Redis engine CPU and memory on every node of the replication group', () => {
    for (const env of ENVS) {
      const s = synthesized[env];
      const t = s.template(s.stacks.data);
      const c = s.config.alarms.redis;
      const group = logicalIdOf(t, 'AWS::ElastiCache::ReplicationGroup', 'Redis');
      const nodes = 1 + s.config.redis.replicas;
      const alarms = Object.keys(t.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('Redis'));
      assert.equal(alarms.length, 2 * nodes, `${env}: two alarms per node`);
      for (let node = 1; node <= nodes; node++) {
        for (const [id, metric, threshold] of [
          [`RedisEngineCpuAlarm${node}`, 'EngineCPUUtilization', c.engineCpuPercent],
          [`RedisMemoryAlarm${node}`, 'DatabaseMemoryUsagePercentage', c.memoryPercent],
        ] as const) {
          const a = check(env, 'data', id, { threshold, comparison: 'GreaterThanThreshold' });
          assert.deepEqual([a.Namespace, a.MetricName], ['AWS/ElastiCache', metric]);
          assert.deepEqual(a.Dimensions, [{ Name: 'CacheClusterId', Value: { 'Fn::Join': ['', [{ Ref: group }, `-00${node}`]] } }], `${env} ${id}`);
        }
      }
    }
  });

  it('Engine: each service below its minimum running tasks (Container Insights), no datapoint counting as short', () => {
    for (const env of ENVS) {
      const s = synthesized[env];
      const t = s.template(s.stacks.engine);
      const minutes = s.config.alarms.tasks.belowMinimumMinutes;
      const clusterId = logicalIdOf(t, 'AWS::ECS::Cluster', 'Cluster');
      for (const [id, service, minimum] of [
        ['EngineTasksAlarm', 'EngineService', s.config.engine.minTasks],
        ['LakeWriterTasksAlarm', 'LakeWriterService', 1],
        ['LakeApiTasksAlarm', 'LakeApiService', s.config.services.lakeApi.minTasks],
      ] as const) {
        const a = check(env, 'engine', id, { threshold: minimum, comparison: 'LessThanThreshold', evaluationPeriods: minutes, missing: 'breaching' });
        assert.deepEqual([a.Namespace, a.MetricName, a.Period, a.Statistic], ['ECS/ContainerInsights', 'RunningTaskCount', 60, 'Minimum']);
        const dims = Object.fromEntries(a.Dimensions!.map((d) => [d.Name, d.Value]));
        assert.deepEqual(Object.keys(dims).sort(), ['ClusterName', 'ServiceName']);
        assert.equal(refOf(dims.ClusterName), clusterId);
        assert.deepEqual(dims.ServiceName, { 'Fn::GetAtt': [logicalIdOf(t, 'AWS::ECS::Service', service), 'Name'] }, `${env} ${id}`);
      }
    }
  });

  it('15 operational alarms in dev (one Redis node), 17 in staging and prod (two), each notifying the topic (the count docs/deploy-aws.md prices)', () => {
    for (const [env, expected] of [['dev', 15], ['staging', 17], ['prod', 17]] as const) {
      const s = synthesized[env];
      const topic = JSON.stringify([{ 'Fn::ImportValue': topicExport(s) }]);
      const alarms = (['data', 'api', 'engine'] as const).flatMap((part) => Object.values(s.template(s.stacks[part]).findResources('AWS::CloudWatch::Alarm')) as { Properties: Alarm }[]);
      assert.equal(alarms.filter((a) => JSON.stringify(a.Properties.OKActions) === topic && JSON.stringify(a.Properties.AlarmActions) === topic).length, expected, env);
    }
  });

  it('prod pages sooner and at lower thresholds than dev', () => {
    const [dev, prod] = [synthesized.dev.config.alarms, synthesized.prod.config.alarms];
    assert.ok(prod.api.serverErrorRatePercent < dev.api.serverErrorRatePercent);
    assert.ok(prod.tasks.belowMinimumMinutes <= 5 && prod.tasks.belowMinimumMinutes < dev.tasks.belowMinimumMinutes);
    assert.ok(prod.database.atMaxCapacityMinutes < dev.database.atMaxCapacityMinutes);
  });
});
