import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { LAKE_PREFIX, lakeBucketName, type AnalyticsStack } from './analytics-stack.ts';
import type { EnvConfig } from './config.ts';
import { SUBNETS } from './network-stack.ts';
import { bedrockModelArns, lakeEventsNagId, lakeWriteStatements } from './permissions.ts';

/** Props of {@link EngineStack}. */
export interface EngineStackProps extends StackProps {
  config: EnvConfig;
  vpc: ec2.IVpc;
  appSecurityGroup: ec2.ISecurityGroup;
  databaseProxy: rds.IDatabaseProxy;
  databaseName: string;
  /** The user tasks sign in to the proxy as (IAM auth token; `rds-db:connect` granted for it only). */
  databaseUser: string;
  redisUrl: string;
  /** The Redis AUTH token (REDIS_PASSWORD_SECRET_ARN). */
  redisAuthSecret: secretsmanager.ISecret;
  analytics: AnalyticsStack;
  /** Directory with the repo's Dockerfile (default: the repository root). */
  imageDirectory?: string;
}

/** The repository root: the Docker build context of the one image the services run. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Ports of the engine's and the lake writer's /health + /metrics servers (ENGINE_PORT, LAKE_PORT defaults). */
export const ENGINE_PORT = 3001;
export const LAKE_PORT = 3002;

/** The container runs as this unprivileged user (uid:gid of `node` in the Node images), whatever the image says. */
export const CONTAINER_USER = '1000:1000';

/** Queue depths at which the engine adds tasks (step scaling on the jobs queue's visible messages). */
export const BACKLOG_STEPS: appscaling.ScalingInterval[] = [
  { upper: 0, change: -1 },
  { lower: 10, change: +1 },
  { lower: 100, change: +3 },
];

/**
 * The workers on ECS Fargate, from the project's Dockerfile: the adaptive
 * engine (consumes the SQS FIFO jobs queue; its HTTP server on ENGINE_PORT
 * serves only /health and /metrics, used by the container health check —
 * clients reach the engine through the queue, so there is no load balancer)
 * and the lake writer (one task: exports the outbox to S3 as Parquet).
 */
export class EngineStack extends Stack {
  readonly cluster: ecs.Cluster;
  readonly engineService: ecs.FargateService;
  readonly lakeWriterService: ecs.FargateService;

  constructor(scope: Construct, id: string, props: EngineStackProps) {
    super(scope, id, props);
    const { config, analytics } = props;
    const lakeBucket = lakeBucketName(this, config.name);
    const logRemoval = config.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      enableFargateCapacityProviders: true,
    });
    // Spot outside prod (config.engine.spot): a reclaimed task's job goes back to the queue.
    const capacityProviderStrategies: ecs.CapacityProviderStrategy[] = [{ capacityProvider: config.engine.spot ? 'FARGATE_SPOT' : 'FARGATE', weight: 1 }];

    // One image for every service; x86-64 because Fargate Spot runs no ARM64 tasks.
    const image = ecs.ContainerImage.fromAsset(props.imageDirectory ?? REPO_ROOT, {
      platform: Platform.LINUX_AMD64,
      // Besides .dockerignore: never hash or stage these into the build context (synth output included).
      exclude: ['node_modules', 'cdk.out', '.git', 'data', 'dist', 'coverage'],
    });
    const common: Record<string, string> = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      SEED_DEMO_APPS: String(config.services.seedDemoApps),
      // IAM auth tokens to RDS Proxy: no database secret in the tasks.
      DATABASE_AUTH: 'iam',
      DATABASE_USER: props.databaseUser,
      DATABASE_IAM_REGION: this.region,
      DATABASE_HOST: props.databaseProxy.endpoint,
      DATABASE_NAME: props.databaseName,
      REDIS_URL: props.redisUrl,
      REDIS_PASSWORD_SECRET_ARN: props.redisAuthSecret.secretArn,
      METRICS_EMF: 'true',
      ENGINE_MODE: 'separate',
      LAKE_MODE: 'separate',
    };

    const service = (name: 'Engine' | 'LakeWriter', o: { command: string[]; port: number; portVar: string; cpu: number; memoryMib: number; environment: Record<string, string>; desiredCount?: number; maxHealthyPercent?: number }) => {
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${name}Task`, {
        cpu: o.cpu,
        memoryLimitMiB: o.memoryMib,
        runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention: config.logRetentionDays as logs.RetentionDays, removalPolicy: logRemoval });
      taskDefinition.addContainer(name, {
        image,
        command: o.command,
        user: CONTAINER_USER,
        environment: { ...common, [o.portVar]: String(o.port), ...o.environment },
        logging: ecs.LogDrivers.awsLogs({ streamPrefix: name.toLowerCase(), logGroup }),
        healthCheck: {
          // Node 24 has fetch; the image needs no curl.
          command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${o.port}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
          interval: Duration.seconds(30),
          timeout: Duration.seconds(5),
          retries: 3,
          startPeriod: Duration.seconds(60),
        },
        // SIGTERM lets the worker finish or release its job before the task stops.
        stopTimeout: Duration.seconds(60),
      });
      props.databaseProxy.grantConnect(taskDefinition.taskRole, props.databaseUser);
      props.redisAuthSecret.grantRead(taskDefinition.taskRole);
      const svc = new ecs.FargateService(this, `${name}Service`, {
        cluster: this.cluster,
        taskDefinition,
        ...(o.desiredCount === undefined ? {} : { desiredCount: o.desiredCount }),
        securityGroups: [props.appSecurityGroup],
        vpcSubnets: { subnetGroupName: SUBNETS.app },
        assignPublicIp: false,
        capacityProviderStrategies,
        circuitBreaker: { enable: true, rollback: true },
        minHealthyPercent: 100,
        maxHealthyPercent: o.maxHealthyPercent ?? 200,
        enableExecuteCommand: false,
      });
      return { svc, taskDefinition };
    };

    // ---- The adaptive engine ------------------------------------------------------------
    const engine = service('Engine', {
      command: ['node', '--liftoff-only', 'src/runtimes/engine.ts'],
      port: ENGINE_PORT,
      portVar: 'ENGINE_PORT',
      cpu: config.engine.cpu,
      memoryMib: config.engine.memoryMib,
      // No desired count: autoscaling owns it (between minTasks and maxTasks), and a deploy does not reset it.
      environment: {
        JOB_QUEUE: 'sqs',
        JOBS_QUEUE_URL: analytics.jobsQueue.queueUrl,
        LLM_PROVIDER: 'bedrock',
        LLM_BEDROCK_MODEL: config.services.llmModelId,
        EMBEDDINGS_PROVIDER: 'bedrock',
        EMBEDDINGS_BEDROCK_MODEL: config.services.embeddingsModelId,
        BEDROCK_REGION: this.region,
      },
    });
    this.engineService = engine.svc;
    // Receive, extend visibility, delete — and send, to put a job back with a delay.
    analytics.jobsQueue.grantConsumeMessages(engine.taskDefinition.taskRole);
    analytics.jobsQueue.grantSendMessages(engine.taskDefinition.taskRole);
    engine.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeConfiguredModelsOnly',
        actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
        resources: bedrockModelArns(this, config.bedrockModelIds),
      }),
    );
    const scaling = this.engineService.autoScaleTaskCount({ minCapacity: config.engine.minTasks, maxCapacity: config.engine.maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, scaleInCooldown: Duration.minutes(5), scaleOutCooldown: Duration.minutes(1) });
    scaling.scaleOnMetric('JobBacklog', {
      metric: analytics.jobsQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      scalingSteps: BACKLOG_STEPS,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      cooldown: Duration.minutes(2),
    });

    // ---- The lake writer: one task ----------------------------------------------------------
    // A second writer during a deployment waits on the writer lock (LAKE_WRITER_LOCK_KEY) until the old one stops.
    const lakeWriter = service('LakeWriter', {
      command: ['node', '--liftoff-only', 'src/runtimes/lake.ts'],
      port: LAKE_PORT,
      portVar: 'LAKE_PORT',
      cpu: config.services.lakeWriter.cpu,
      memoryMib: config.services.lakeWriter.memoryMib,
      desiredCount: 1,
      environment: {
        LAKE_ENABLED: 'true',
        LAKE_S3_BUCKET: lakeBucket,
        // The lake is at the bucket's root: no LAKE_S3_PREFIX (an empty value is not set at all).
        ...(LAKE_PREFIX ? { LAKE_S3_PREFIX: LAKE_PREFIX } : {}),
        LAKE_S3_REGION: this.region,
      },
    });
    this.lakeWriterService = lakeWriter.svc;
    for (const statement of lakeWriteStatements(this, lakeBucket)) lakeWriter.taskDefinition.taskRole.addToPrincipalPolicy(statement);
    Validations.of(lakeWriter.taskDefinition).acknowledge({
      id: lakeEventsNagId(this, lakeBucket),
      reason: 'Read, write and delete on the lake bucket\u2019s events/ prefix only: the writer adds one file per batch and compaction and erasure replace files.',
    });

    this.#acknowledgeNagFindings([engine.taskDefinition, lakeWriter.taskDefinition]);
  }

  /** cdk-nag findings accepted here, each with its reason. */
  #acknowledgeNagFindings(taskDefinitions: ecs.FargateTaskDefinition[]): void {
    for (const td of taskDefinitions) {
      Validations.of(td.obtainExecutionRole()).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        // CDK's execution role: ecr:GetAuthorizationToken has no resource-level permissions (the pulls themselves are scoped to the image's repository).
        reason: 'Execution role: ecr:GetAuthorizationToken supports only Resource "*"; image pulls and log writes are scoped to the repository and log group.',
      });
      Validations.of(td).acknowledge({
        id: 'AwsSolutions-ECS2',
        // Secrets are never in the environment: the process reads the Redis token itself (REDIS_PASSWORD_SECRET_ARN) and signs in to the database with IAM.
        reason: 'Only non-secret settings (ARNs, endpoints, queue URLs, model ids) are environment variables; secrets are read from Secrets Manager by the process.',
      });
    }
  }
}
