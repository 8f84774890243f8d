import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpServiceDiscoveryIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import { LAKE_PREFIX, lakeBucketName, type AnalyticsStack } from './analytics-stack.ts';
import { LAKE_API_ROUTES, type ApiStack } from './api-stack.ts';
import { operationalAlarm } from './alarms.ts';
import type { EnvConfig } from './config.ts';
import { SUBNETS } from './network-stack.ts';
import { bedrockModelArns, lakeEventsNagId, lakeQueryStatements, lakeWriteStatements } from './permissions.ts';

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
  /** The HTTP API, its authorizer and token settings: the lake API service's routes are added to it. */
  api: ApiStack;
  /** Directory with the repo's Dockerfile (default: the repository root). */
  imageDirectory?: string;
}

/** The repository root: the Docker build context of the one image the services run. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Ports of the engine's and the lake writer's /health + /metrics servers (ENGINE_PORT, LAKE_PORT defaults). */
export const ENGINE_PORT = 3001;
export const LAKE_PORT = 3002;
/** Port of the lake API service's HTTP server (the image's PORT, the Node server's default). */
export const LAKE_API_PORT = 3000;

/** The container runs as this unprivileged user (uid:gid of `node` in the Node images), whatever the image says. */
export const CONTAINER_USER = '1000:1000';

/** Queue depths at which the engine adds tasks (step scaling on the jobs queue's visible messages). */
export const BACKLOG_STEPS: appscaling.ScalingInterval[] = [
  { upper: 0, change: -1 },
  { lower: 10, change: +1 },
  { lower: 100, change: +3 },
];

/**
 * The services on ECS Fargate, from the project's Dockerfile: the adaptive
 * engine (consumes the SQS FIFO jobs queue; its HTTP server on ENGINE_PORT
 * serves only /health and /metrics, used by the container health check —
 * clients reach the engine through the queue, so there is no load balancer),
 * the lake writer (one task: exports the outbox to S3 as Parquet), and the
 * lake API: the HTTP app (the image's default command, node-server) for the
 * routes that query the lake with DuckDB ({@link LAKE_API_ROUTES}), which the
 * api function cannot load. API Gateway reaches it through a VPC link and
 * Cloud Map (SRV records: the tasks' IPs and port), with no load balancer.
 */
export class EngineStack extends Stack {
  readonly cluster: ecs.Cluster;
  readonly engineService: ecs.FargateService;
  readonly lakeWriterService: ecs.FargateService;
  readonly lakeApiService: ecs.FargateService;
  /** The VPC link API Gateway reaches the lake API service through, and its security group. */
  readonly vpcLink: apigwv2.VpcLink;
  readonly vpcLinkSecurityGroup: ec2.SecurityGroup;
  /** The lake API service's own security group: admits the VPC link on LAKE_API_PORT, nothing else. */
  readonly lakeApiSecurityGroup: ec2.SecurityGroup;

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

    // No command: the image's default (the HTTP app). Extra security groups besides the app's; Cloud Map registration.
    type ServiceOptions = { command?: string[]; port: number; portVar: string; cpu: number; memoryMib: number; environment: Record<string, string>; desiredCount?: number; maxHealthyPercent?: number; securityGroups?: ec2.ISecurityGroup[]; cloudMap?: ecs.CloudMapOptions };
    const service = (name: 'Engine' | 'LakeWriter' | 'LakeApi', o: ServiceOptions) => {
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${name}Task`, {
        cpu: o.cpu,
        memoryLimitMiB: o.memoryMib,
        runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention: config.logRetentionDays as logs.RetentionDays, removalPolicy: logRemoval });
      taskDefinition.addContainer(name, {
        image,
        ...(o.command ? { command: o.command } : {}),
        user: CONTAINER_USER,
        ...(o.cloudMap ? { portMappings: [{ containerPort: o.port, protocol: ecs.Protocol.TCP }] } : {}),
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
        securityGroups: [props.appSecurityGroup, ...(o.securityGroups ?? [])],
        ...(o.cloudMap ? { cloudMapOptions: o.cloudMap } : {}),
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
    Validations.of(lakeWriter.taskDefinition).acknowledge(
      {
        id: lakeEventsNagId(this, lakeBucket),
        reason: 'Read, write and delete on the lake bucket\u2019s events/ prefix: the writer adds one file per batch and compaction and erasure replace files.',
      },
      {
        id: lakeEventsNagId(this, lakeBucket, 'rollups'),
        reason: 'Read, write and delete on the lake bucket\u2019s rollups/ prefix: an erasure rewrites or deletes the rollup files holding or counting the learner.',
      },
    );

    // ---- The lake API: the HTTP app for the routes that query the lake with DuckDB ------------
    // The api function cannot load DuckDB (a native module left out of the Lambda bundles), so API Gateway
    // sends LAKE_API_ROUTES here: the same app (node-server, the image's default command) on Fargate.
    // Reached through a VPC link: its security group may open connections to the service's port only, and
    // the service's own group admits only that (the app group, for the proxy and Redis, admits nothing).
    this.vpcLinkSecurityGroup = new ec2.SecurityGroup(this, 'VpcLinkSecurityGroup', {
      vpc: props.vpc,
      description: 'HTTP API VPC link: to the lake API service port only',
      allowAllOutbound: false,
    });
    this.lakeApiSecurityGroup = new ec2.SecurityGroup(this, 'LakeApiSecurityGroup', {
      vpc: props.vpc,
      description: 'kidslearn lake API tasks: HTTP from the API Gateway VPC link only',
      // Outbound goes through the app security group's rules (proxy, Redis, AWS APIs).
      allowAllOutbound: false,
    });
    this.lakeApiSecurityGroup.connections.allowFrom(this.vpcLinkSecurityGroup, ec2.Port.tcp(LAKE_API_PORT), 'HTTP API VPC link');
    this.vpcLink = new apigwv2.VpcLink(this, 'VpcLink', {
      vpc: props.vpc,
      subnets: { subnetGroupName: SUBNETS.app },
      securityGroups: [this.vpcLinkSecurityGroup],
      vpcLinkName: `kidslearn-${config.name}-lake-api`,
    });
    // A private DNS namespace in the VPC: ECS registers each task's IP and port (SRV), which API Gateway discovers.
    const namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: `kidslearn-${config.name}.internal`,
      vpc: props.vpc,
      description: `kidslearn ${config.name}: services API Gateway reaches through the VPC link`,
    });
    const lakeApiConfig = config.services.lakeApi;
    const lakeApi = service('LakeApi', {
      // No command: the image's CMD, the Node HTTP server (src/runtimes/node-server.ts).
      port: LAKE_API_PORT,
      portVar: 'PORT',
      cpu: lakeApiConfig.cpu,
      memoryMib: lakeApiConfig.memoryMib,
      securityGroups: [this.lakeApiSecurityGroup],
      cloudMap: { name: 'lake-api', cloudMapNamespace: namespace, dnsRecordType: servicediscovery.DnsRecordType.SRV, containerPort: LAKE_API_PORT, dnsTtl: Duration.seconds(10) },
      environment: {
        // What the api function verifies tokens with (the signing key's secret, Cognito's issuer, audience, JWKS).
        ...props.api.tokenVerification,
        // The same queues as the api function, so nothing falls back to pg-boss or the outbox on this path
        // (neither route sends a job or an event: no send permission).
        JOB_QUEUE: 'sqs',
        JOBS_QUEUE_URL: analytics.jobsQueue.queueUrl,
        EVENT_QUEUE: 'sqs',
        EVENTS_QUEUE_URL: analytics.eventsQueue.queueUrl,
        // The curriculum index the Node server refreshes at start compares hashes of the same model the
        // api function and the engine embed with; a different embedder would re-embed every app's content.
        EMBEDDINGS_PROVIDER: 'bedrock',
        EMBEDDINGS_BEDROCK_MODEL: config.services.embeddingsModelId,
        BEDROCK_REGION: this.region,
        // The lake, read-only: reports and a child's export copy the needed files into the data dir for DuckDB.
        LAKE_S3_BUCKET: lakeBucket,
        ...(LAKE_PREFIX ? { LAKE_S3_PREFIX: LAKE_PREFIX } : {}),
        LAKE_S3_REGION: this.region,
      },
    });
    this.lakeApiService = lakeApi.svc;
    props.api.signingKeySecret.grantRead(lakeApi.taskDefinition.taskRole);
    for (const statement of lakeQueryStatements(this, lakeBucket)) lakeApi.taskDefinition.taskRole.addToPrincipalPolicy(statement);
    lakeApi.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'EmbedWithTheConfiguredModel', actions: ['bedrock:InvokeModel'], resources: bedrockModelArns(this, [config.services.embeddingsModelId]) }),
    );
    Validations.of(lakeApi.taskDefinition).acknowledge(
      { id: lakeEventsNagId(this, lakeBucket), reason: 'Read-only on the lake bucket\u2019s events/ prefix: reports and a child\u2019s export read the event files.' },
      { id: lakeEventsNagId(this, lakeBucket, 'rollups'), reason: 'Read-only on the lake bucket\u2019s rollups/ prefix: reports read the daily rollups where they are up to date.' },
    );
    const lakeApiScaling = this.lakeApiService.autoScaleTaskCount({ minCapacity: lakeApiConfig.minTasks, maxCapacity: lakeApiConfig.maxTasks });
    lakeApiScaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: lakeApiConfig.cpuTargetPercent, scaleInCooldown: Duration.minutes(5), scaleOutCooldown: Duration.minutes(1) });

    // The routes, on the HTTP API of the api stack, with its authorizer: the whole request (path, query,
    // Authorization, X-Request-Id) is passed through as it came; the app checks the token again itself.
    const integration = new HttpServiceDiscoveryIntegration('LakeApiIntegration', this.lakeApiService.cloudMapService!, { vpcLink: this.vpcLink });
    for (const route of LAKE_API_ROUTES) {
      new apigwv2.HttpRoute(this, `LakeApiRoute${route.path.replace(/[^A-Za-z]/g, '')}`, {
        httpApi: props.api.api,
        routeKey: apigwv2.HttpRouteKey.with(route.path, route.method),
        integration,
        authorizer: props.api.authorizer,
      });
    }

    // ---- Alarms: a service short of tasks (runbook: docs/deploy-aws.md, "Alarms") ----------------
    // Container Insights' RunningTaskCount (ECS/ContainerInsights, per cluster and service), 1-minute datapoints:
    // below the service's minimum for alarms.tasks.belowMinimumMinutes minutes in a row. No datapoint (no task
    // reporting at all) counts as short. The lake writer's minimum is its one task: with none the lake stops filling.
    for (const [id, svc, minimum, what] of [
      ['EngineTasksAlarm', this.engineService, config.engine.minTasks, 'engine'],
      ['LakeWriterTasksAlarm', this.lakeWriterService, 1, 'lake writer'],
      ['LakeApiTasksAlarm', this.lakeApiService, lakeApiConfig.minTasks, 'lake API'],
    ] as const) {
      if (minimum < 1) continue;
      operationalAlarm(this, id, analytics.alarmTopic, config, {
        description: `the ${what} service has run fewer than ${minimum} task(s) for ${config.alarms.tasks.belowMinimumMinutes} minutes`,
        metric: new cloudwatch.Metric({
          namespace: 'ECS/ContainerInsights',
          metricName: 'RunningTaskCount',
          dimensionsMap: { ClusterName: this.cluster.clusterName, ServiceName: svc.serviceName },
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MINIMUM,
        }),
        threshold: minimum,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: config.alarms.tasks.belowMinimumMinutes,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    }

    this.#acknowledgeNagFindings([engine.taskDefinition, lakeWriter.taskDefinition, lakeApi.taskDefinition]);
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
