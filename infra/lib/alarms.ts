/**
 * The operational alarms' shared parts: every alarm notifies the environment's alarm topic
 * (AnalyticsStack.alarmTopic) when it fires and when it clears, and reads its threshold and
 * evaluation periods from the environment's `alarms` configuration (config.ts).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { EnvConfig } from './config.ts';

/** Period of the alarms' datapoints, but for those counted in minutes (ACU at max, running tasks: 1-minute datapoints). */
export const ALARM_PERIOD = Duration.minutes(5);

/** What one alarm watches. */
export interface AlarmSpec {
  /** One line: what is wrong, and the docs/deploy-aws.md runbook entry ("Alarms"). */
  description: string;
  metric: cloudwatch.IMetric;
  threshold: number;
  comparisonOperator: cloudwatch.ComparisonOperator;
  /** Default: the environment's `alarms.evaluationPeriods` / `alarms.datapointsToAlarm` (datapoints of {@link ALARM_PERIOD}). */
  evaluationPeriods?: number;
  datapointsToAlarm?: number;
  /** Default: not breaching (no traffic is not an outage). */
  treatMissingData?: cloudwatch.TreatMissingData;
}

/** An alarm on `spec` whose alarm and OK actions both notify `topic`. */
export function operationalAlarm(scope: Construct, id: string, topic: sns.ITopic, config: EnvConfig, spec: AlarmSpec): cloudwatch.Alarm {
  const evaluationPeriods = spec.evaluationPeriods ?? config.alarms.evaluationPeriods;
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: `kidslearn ${config.name}: ${spec.description} (docs/deploy-aws.md, "Alarms")`,
    metric: spec.metric,
    threshold: spec.threshold,
    comparisonOperator: spec.comparisonOperator,
    evaluationPeriods,
    datapointsToAlarm: spec.datapointsToAlarm ?? (spec.evaluationPeriods === undefined ? config.alarms.datapointsToAlarm : evaluationPeriods),
    treatMissingData: spec.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const action = new cwActions.SnsAction(topic);
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
  return alarm;
}
