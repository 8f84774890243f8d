/**
 * Builds every stack of one environment into a CDK app. bin/app.ts, the synth
 * script and the tests all call this, so they synthesise the same thing.
 */
import { readFileSync } from 'node:fs';
import { type App, type Environment, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import { type EnvConfig, envTitle } from './config.ts';
import { AnalyticsStack } from './analytics-stack.ts';
import { ApiStack } from './api-stack.ts';
import { DATABASE_USER, DataStack } from './data-stack.ts';
import { EngineStack } from './engine-stack.ts';
import { IdentityStack } from './identity-stack.ts';
import { NetworkStack } from './network-stack.ts';

/** Inputs of {@link buildEnvironment} besides the configuration. */
export interface BuildOptions {
  /** Directory of the Lambda bundles (`<lambdaDir>/<name>/index.mjs`). */
  lambdaDir: string;
  /** Changes on every `npm run deploy` so migrations rerun (CDK context `deployId`). */
  deployId?: string | undefined;
  /**
   * Docker build context of the service image: default the CDK context value `imageDirectory`,
   * else the repository root (its Dockerfile). Tests pass a fixture directory.
   */
  imageDirectory?: string | undefined;
}

/** The stacks of one environment, by role. */
export interface EnvironmentStacks {
  network: NetworkStack;
  data: DataStack;
  identity: IdentityStack;
  analytics: AnalyticsStack;
  api: ApiStack;
  engine: EngineStack;
}

/** Stack id of `<part>` in environment `config`: `Kidslearn-Dev-Network`. */
export function stackId(config: EnvConfig, part: string): string {
  return `Kidslearn-${envTitle(config.name)}-${part}`;
}

/** Adds the stacks of environment `config` to `app`. */
export function buildEnvironment(app: App, config: EnvConfig, options: BuildOptions): EnvironmentStacks {
  // Account unresolved unless configured: synth works without credentials; deploy uses the caller's account.
  const env: Environment = { account: config.account ?? process.env.CDK_DEFAULT_ACCOUNT, region: config.region };
  const tags = { project: 'kidslearn', environment: config.name };
  const common = { env, tags, config };

  const network = new NetworkStack(app, stackId(config, 'Network'), { ...common, description: `kidslearn ${config.name}: VPC, endpoints, app security group` });
  // Before the data stack: its alarms notify the analytics stack's topic (the analytics stack depends on nothing).
  const analytics = new AnalyticsStack(app, stackId(config, 'Analytics'), {
    ...common,
    description: `kidslearn ${config.name}: events and jobs queues with dead letters and alarms, S3 lake, Glue table, Athena workgroup`,
  });
  const data = new DataStack(app, stackId(config, 'Data'), {
    ...common,
    description: `kidslearn ${config.name}: Aurora PostgreSQL + RDS Proxy, Redis, migrations`,
    vpc: network.vpc,
    appSecurityGroup: network.appSecurityGroup,
    lambdaDir: options.lambdaDir,
    deployId: options.deployId,
    alarmTopic: analytics.alarmTopic,
  });
  const identity = new IdentityStack(app, stackId(config, 'Identity'), { ...common, description: `kidslearn ${config.name}: Cognito user pool and app client` });

  const platform = {
    vpc: network.vpc,
    appSecurityGroup: network.appSecurityGroup,
    databaseProxy: data.databaseProxy,
    databaseName: data.databaseName,
    databaseUser: DATABASE_USER,
    redisUrl: data.redisUrl,
    redisAuthSecret: data.redisAuthSecret,
    analytics,
  };
  const api = new ApiStack(app, stackId(config, 'Api'), {
    ...common,
    ...platform,
    description: `kidslearn ${config.name}: HTTP API with a Lambda authorizer (kidslearn and Cognito tokens), api, authorizer and events-consumer functions, SES identity`,
    userPool: identity.userPool,
    userPoolClient: identity.userPoolClient,
    lambdaDir: options.lambdaDir,
  });
  const imageContext: unknown = app.node.tryGetContext('imageDirectory');
  const imageDirectory = options.imageDirectory ?? (typeof imageContext === 'string' && imageContext !== '' ? imageContext : undefined);
  const engine = new EngineStack(app, stackId(config, 'Engine'), {
    ...common,
    ...platform,
    api,
    description: `kidslearn ${config.name}: ECS Fargate cluster with the adaptive engine, the lake writer and the lake API (reports and exports through the HTTP API's VPC link)`,
    ...(imageDirectory ? { imageDirectory } : {}),
  });
  // The API and the workers start only once the data stack, migrations included, is deployed.
  api.addStackDependency(data);
  engine.addStackDependency(data);

  return { network, data, identity, analytics, api, engine };
}

/**
 * cdk-nag's AwsSolutions rules on everything in `app`. cdk-nag 3 is a CDK policy-validation
 * plugin (not an Aspect): an unacknowledged error makes `app.synth()` throw and writes
 * `<outdir>/validation-report.json`. Findings are accepted with
 * `Validations.of(construct).acknowledge({ id, reason })` (there is no NagSuppressions in v3).
 */
export function addNagChecks(app: App): void {
  // cdk-nag is CommonJS whose re-exports Node's ESM loader cannot name: take them off the default export.
  Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app, { verbose: true }));
}

/**
 * The feature flags of cdk.json's "context", for apps built in code (the synth
 * script, tests) so they synthesise exactly what the CLI does.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const file = new URL('../../cdk.json', import.meta.url);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> };
  return parsed.context ?? {};
}
