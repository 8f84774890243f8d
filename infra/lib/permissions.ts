import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { LAKE_EVENTS_PREFIX } from '../../src/analytics/lake-layout.ts';
import { LAKE_ROLLUPS_PREFIX } from '../../src/analytics/lake-rollups.ts';
import { LAKE_PREFIX } from './analytics-stack.ts';

/**
 * IAM statements shared by the service stacks, scoped as tightly as the code
 * that uses them allows (the lake's `events/` prefix, named Bedrock models).
 */

/** Geography prefixes of Bedrock cross-region inference profile ids (`eu.amazon.nova-lite-v1:0`). */
const INFERENCE_PROFILE = /^(us|eu|apac|us-gov|ca|jp|au|global)\.(.+)$/;

/**
 * ARNs a principal needs to invoke these Bedrock model ids, and no others:
 * a foundation model id is one ARN in the stack's region; an inference
 * profile id is the profile plus its model in the regions it routes to.
 */
export function bedrockModelArns(scope: Construct, modelIds: readonly string[]): string[] {
  const stack = Stack.of(scope);
  return modelIds.flatMap((id) => {
    const profile = INFERENCE_PROFILE.exec(id);
    if (!profile) return [`arn:${stack.partition}:bedrock:${stack.region}::foundation-model/${id}`];
    return [
      `arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:inference-profile/${id}`,
      `arn:${stack.partition}:bedrock:*::foundation-model/${profile[2]}`,
    ];
  });
}

/** `events/`: the only part of the lake bucket the app reads or writes. */
const EVENTS = LAKE_PREFIX + LAKE_EVENTS_PREFIX;

/** `rollups/`: the daily rollups reports read beside the events (src/analytics/lake-rollups.ts). */
const ROLLUPS = LAKE_PREFIX + LAKE_ROLLUPS_PREFIX;

/** The lake's files: `arn:…:s3:::<bucket>/events/*`. */
export function lakeEventsArn(scope: Construct, bucketName: string): string {
  return `arn:${Stack.of(scope).partition}:s3:::${bucketName}/${EVENTS}*`;
}

/** The lake's rollup files: `arn:…:s3:::<bucket>/rollups/*`. */
export function lakeRollupsArn(scope: Construct, bucketName: string): string {
  return `arn:${Stack.of(scope).partition}:s3:::${bucketName}/${ROLLUPS}*`;
}

/**
 * The cdk-nag finding id (AwsSolutions-IAM5) of {@link lakeEventsArn} (or, with
 * `prefix: 'rollups'`, of {@link lakeRollupsArn}): cdk-nag writes unresolved
 * pseudo parameters as `<AWS::AccountId>`.
 */
export function lakeEventsNagId(scope: Construct, bucketName: string, prefix: 'events' | 'rollups' = 'events'): string {
  const stack = Stack.of(scope);
  const text = (v: string, name: string) => (Token.isUnresolved(v) ? `<AWS::${name}>` : v);
  const resolved = bucketName.replace(stack.account, text(stack.account, 'AccountId')).replace(stack.region, text(stack.region, 'Region'));
  return `AwsSolutions-IAM5[Resource::arn:${text(stack.partition, 'Partition')}:s3:::${resolved}/${prefix === 'events' ? EVENTS : ROLLUPS}*]`;
}

/** List and read the lake's files (`events/…`): child export, reports, the lake status. */
export function lakeReadStatements(scope: Construct, bucketName: string): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'ListLakeEvents',
      actions: ['s3:ListBucket'],
      resources: [`arn:${Stack.of(scope).partition}:s3:::${bucketName}`],
      conditions: { StringLike: { 's3:prefix': [EVENTS, `${EVENTS}*`] } },
    }),
    new iam.PolicyStatement({ sid: 'ReadLakeEvents', actions: ['s3:GetObject'], resources: [lakeEventsArn(scope, bucketName)] }),
  ];
}

/**
 * List and read what a lake query reads (LakeQueryEngine): the event files
 * (`events/…`) and the daily rollups (`rollups/…`) reports use where they are
 * up to date; nothing else, and no write. The lake API service (reports, a
 * child's export).
 */
export function lakeQueryStatements(scope: Construct, bucketName: string): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'ListLakeEventsAndRollups',
      actions: ['s3:ListBucket'],
      resources: [`arn:${Stack.of(scope).partition}:s3:::${bucketName}`],
      conditions: { StringLike: { 's3:prefix': [EVENTS, `${EVENTS}*`, ROLLUPS, `${ROLLUPS}*`] } },
    }),
    new iam.PolicyStatement({ sid: 'ReadLakeEventsAndRollups', actions: ['s3:GetObject'], resources: [lakeEventsArn(scope, bucketName), lakeRollupsArn(scope, bucketName)] }),
  ];
}

/**
 * List, read, write and delete the lake's files and rollups: the lake writer (batches, compaction,
 * and erasures, which rewrite or delete the rollup files holding or counting an erased learner
 * before the event files: lake-erasure.ts lists `rollups/` on every erasure).
 */
export function lakeWriteStatements(scope: Construct, bucketName: string): iam.PolicyStatement[] {
  return [
    ...lakeQueryStatements(scope, bucketName),
    new iam.PolicyStatement({ sid: 'WriteLakeEventsAndRollups', actions: ['s3:PutObject', 's3:DeleteObject'], resources: [lakeEventsArn(scope, bucketName), lakeRollupsArn(scope, bucketName)] }),
  ];
}
