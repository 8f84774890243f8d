/**
 * Per-environment configuration of the AWS deployment: one typed record per
 * environment (dev, staging, prod), chosen with the CDK context value `env`
 * (`npm run deploy -- --context env=dev`) and checked once, before any
 * construct is built, so a typo fails the synth with one clear line.
 *
 * Everything that differs between environments lives here and nowhere else:
 * stacks read these fields instead of asking "is this prod?".
 */
import { z } from 'zod';

/** The environments this app deploys. */
export const ENV_NAMES = ['dev', 'staging', 'prod'] as const;

/** One of {@link ENV_NAMES}. */
export type EnvName = (typeof ENV_NAMES)[number];

const positiveInt = z.number().int().positive();
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1');

/** RetentionDays values CloudWatch Logs accepts (aws-cdk-lib's logs.RetentionDays). */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** The schema every environment's record must satisfy (and the source of {@link EnvConfig}). */
export const EnvConfigSchema = z
  .object({
    /** Environment name: part of every stack id (`Kidslearn-Dev-Data`) and resource name. */
    name: z.enum(ENV_NAMES),
    /** AWS account; when absent the stacks are account-agnostic (synth needs no credentials). */
    account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id').optional(),
    region,
    /** Public domain of the API (e.g. api.example.org), if any. */
    domainName: z.string().min(3).optional(),
    /** Browser origins the API's CORS allows. */
    allowedOrigins: z.array(z.url()).min(1),
    /** Removal/deletion protection for stateful resources (database, user pool, KMS keys). */
    deletionProtection: z.boolean(),
    /** CloudWatch Logs retention for every log group of the app. */
    logRetentionDays: z.number().int().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `one of ${LOG_RETENTION_DAYS.join(', ')}`),
    /** Alarm notifications (SNS e-mail subscription), if any. */
    alarmEmail: z.email().optional(),
    network: z.object({
      /** NAT gateways: 1 is cheaper, 2 keeps egress alive when an AZ fails. */
      natGateways: z.number().int().min(1).max(2),
    }),
    database: z.object({
      /** Aurora Serverless v2 capacity range in ACUs (1 ACU ≈ 2 GiB). */
      minCapacityAcu: z.number().min(0.5).max(256),
      maxCapacityAcu: z.number().min(1).max(256),
      /** Serverless v2 readers besides the writer (for failover in another AZ). */
      readers: z.number().int().min(0).max(3),
      backupRetentionDays: z.number().int().min(1).max(35),
      /** Days between automatic rotations of the master password (Secrets Manager single-user rotation; RDS Proxy reads the new one itself). */
      passwordRotationDays: z.number().int().min(1).max(365),
    }),
    redis: z.object({
      /** ElastiCache node type, e.g. cache.t4g.micro. */
      nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/),
      /** Replicas besides the primary; ≥ 1 enables Multi-AZ automatic failover. */
      replicas: z.number().int().min(0).max(5),
    }),
    api: z.object({
      memoryMb: z.number().int().min(128).max(10240),
      /** Reserved concurrency of the api function (caps its share of the account's concurrency). */
      reservedConcurrency: positiveInt,
      /** Provisioned concurrency on the `live` alias (0 = none). */
      provisionedConcurrency: z.number().int().min(0),
      /** HTTP API stage throttling. */
      throttlingRateLimit: positiveInt,
      throttlingBurstLimit: positiveInt,
      /**
       * Days between automatic rotations of the token signing key (Secrets Manager rotation, rotate.mjs).
       * At least 1: a rotated-out key keeps verifying as AWSPREVIOUS until the next rotation, which must
       * come well after the longest access token (1 hour) signed with it has expired.
       */
      signingKeyRotationDays: z.number().int().min(1).max(365),
    }),
    engine: z.object({
      minTasks: z.number().int().min(0),
      maxTasks: positiveInt,
      /** Fargate CPU units (256 = 0.25 vCPU) and memory in MiB. */
      cpu: z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]),
      memoryMib: positiveInt,
      /** Run on Fargate Spot (never in prod). */
      spot: z.boolean(),
    }),
    lake: z.object({
      /** Days before lake objects move to S3 Standard-IA. */
      transitionToInfrequentAccessDays: z.number().int().min(30),
      /** Days before lake objects expire (must be after the transition). */
      expirationDays: positiveInt,
    }),
    queues: z.object({
      /** Message retention of the work queues and (longer) of their dead-letter queues, in days (SQS max 14). */
      retentionDays: z.number().int().min(1).max(14),
      deadLetterRetentionDays: z.number().int().min(1).max(14),
      /** Deliveries before a message goes to the dead-letter queue (≥ 5). */
      maxReceiveCount: z.number().int().min(5),
    }),
    athena: z.object({
      /** Per-query bytes-scanned limit of the workgroup. */
      bytesScannedCutoffPerQuery: z.number().int().min(10_000_000),
    }),
    /** Bedrock model ids the engine (and api) may invoke; IAM grants exactly these. */
    bedrockModelIds: z.array(z.string().min(3)).min(1),
    mail: z.object({
      /** Sender address (the SES identity); MAIL_FROM. */
      sender: z.email(),
    }),
    // ---- Service stacks (analytics, API, engine): fields added by helper A2 ----
    services: z.object({
      /** Days a replaced or deleted lake file's old version is kept (erasure and compaction replace files, so this bounds how long erased events survive). */
      lakeNoncurrentVersionExpirationDays: z.number().int().min(1).max(30),
      /** Days Athena query results are kept. */
      athenaResultsExpirationDays: positiveInt,
      /** The events-consumer function: memory, most concurrent invocations the SQS source starts (spares the database), batch size and window. */
      eventsConsumer: z.object({
        memoryMb: z.number().int().min(128).max(10240),
        maxConcurrency: z.number().int().min(2).max(1000),
        batchSize: z.number().int().min(1).max(10_000),
        maxBatchingWindowSeconds: z.number().int().min(0).max(300),
      }),
      /** The lake writer's Fargate task (one task; DuckDB writes Parquet in memory). */
      lakeWriter: z.object({
        cpu: z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]),
        memoryMib: positiveInt,
      }),
      /**
       * The lake API's Fargate service: the HTTP app (node-server) for the routes that query the lake
       * with DuckDB (reports, a child's export), which the api function cannot load. CPU target scaling
       * between minTasks and maxTasks; prod keeps two tasks (one per AZ).
       */
      lakeApi: z.object({
        cpu: z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]),
        memoryMib: positiveInt,
        minTasks: positiveInt,
        maxTasks: positiveInt,
        /** Average CPU (%) the scaling keeps the service at. */
        cpuTargetPercent: z.number().int().min(10).max(90),
      }),
      /** Bedrock model of practice-item generation (LLM_BEDROCK_MODEL) and of embeddings (EMBEDDINGS_BEDROCK_MODEL); both must be in bedrockModelIds. */
      llmModelId: z.string().min(3),
      embeddingsModelId: z.string().min(3),
      /** Create the demo apps on first start (SEED_DEMO_APPS); never outside dev. */
      seedDemoApps: z.boolean(),
    }),
    // ---- Operational alarms (to the alarm topic; docs/deploy-aws.md, "Alarms") ----
    alarms: z.object({
      /** Datapoints (of 5 minutes) an alarm looks at, and how many of them must breach (M of N). */
      evaluationPeriods: z.number().int().min(1).max(12),
      datapointsToAlarm: z.number().int().min(1).max(12),
      api: z.object({
        /** 5xx responses of the HTTP API stage as a share of its requests (%), over 5 minutes... */
        serverErrorRatePercent: z.number().gt(0).max(100),
        /** ...counted only when the stage served at least this many requests in those 5 minutes (a quiet night does not page). */
        minRequests: positiveInt,
        /** p99 of the stage's Latency (request in to response out, authorizer included), ms. */
        p99LatencyMs: z.number().int().min(100).max(30_000),
        /** Errors in 5 minutes of the api, authorizer or events-consumer function. */
        functionErrors: positiveInt,
        /** Throttled invocations of the api function in 5 minutes (its reserved concurrency is full). */
        throttles: positiveInt,
      }),
      database: z.object({
        /** Aurora cluster CPU (%). */
        cpuPercent: z.number().min(10).max(100),
        /** Minutes the cluster may sit at its configured maximum ACUs before it pages. */
        atMaxCapacityMinutes: z.number().int().min(5).max(120),
        /** FreeableMemory under this (MiB); on Serverless v2 this is what is left at maximum capacity. */
        freeableMemoryMib: z.number().int().min(64).max(65_536),
        /** RDS Proxy client sign-ins refused (ClientConnectionsSetupFailedAuth) in 5 minutes: our IAM tokens are not accepted. */
        proxyAuthFailures: positiveInt,
      }),
      redis: z.object({
        /** EngineCPUUtilization (%) of a node (Redis's one thread). */
        engineCpuPercent: z.number().min(10).max(100),
        /** DatabaseMemoryUsagePercentage of a node (%): at 100 eviction (or refused writes) starts. */
        memoryPercent: z.number().min(10).max(100),
      }),
      tasks: z.object({
        /** Minutes an ECS service may run fewer tasks than its minimum (the lake writer: none) before it pages. */
        belowMinimumMinutes: z.number().int().min(1).max(60),
      }),
    }),
  })
  .superRefine((c, ctx) => {
    if (c.database.maxCapacityAcu < c.database.minCapacityAcu) ctx.addIssue({ code: 'custom', path: ['database', 'maxCapacityAcu'], message: 'must be ≥ minCapacityAcu' });
    if (c.engine.maxTasks < c.engine.minTasks) ctx.addIssue({ code: 'custom', path: ['engine', 'maxTasks'], message: 'must be ≥ minTasks' });
    if (c.services.lakeApi.maxTasks < c.services.lakeApi.minTasks) ctx.addIssue({ code: 'custom', path: ['services', 'lakeApi', 'maxTasks'], message: 'must be ≥ minTasks' });
    if (c.name === 'prod' && c.services.lakeApi.minTasks < 2) ctx.addIssue({ code: 'custom', path: ['services', 'lakeApi', 'minTasks'], message: 'prod keeps at least 2 lake API tasks (one per AZ)' });
    if (c.lake.expirationDays <= c.lake.transitionToInfrequentAccessDays) ctx.addIssue({ code: 'custom', path: ['lake', 'expirationDays'], message: 'must be after transitionToInfrequentAccessDays' });
    if (c.queues.deadLetterRetentionDays < c.queues.retentionDays) ctx.addIssue({ code: 'custom', path: ['queues', 'deadLetterRetentionDays'], message: 'must be ≥ retentionDays' });
    if (c.api.provisionedConcurrency > c.api.reservedConcurrency) ctx.addIssue({ code: 'custom', path: ['api', 'provisionedConcurrency'], message: 'must be ≤ reservedConcurrency' });
    if (c.name === 'prod' && c.engine.spot) ctx.addIssue({ code: 'custom', path: ['engine', 'spot'], message: 'prod must not run on Spot' });
    for (const key of ['llmModelId', 'embeddingsModelId'] as const) {
      if (!c.bedrockModelIds.includes(c.services[key])) ctx.addIssue({ code: 'custom', path: ['services', key], message: 'must be one of bedrockModelIds (IAM grants exactly those)' });
    }
    if (c.name !== 'dev' && c.services.seedDemoApps) ctx.addIssue({ code: 'custom', path: ['services', 'seedDemoApps'], message: 'demo apps only in dev' });
    if (c.name === 'prod' && !c.deletionProtection) ctx.addIssue({ code: 'custom', path: ['deletionProtection'], message: 'prod must keep deletion protection' });
    if (c.alarms.datapointsToAlarm > c.alarms.evaluationPeriods) ctx.addIssue({ code: 'custom', path: ['alarms', 'datapointsToAlarm'], message: 'must be ≤ evaluationPeriods' });
    if (c.name === 'prod' && c.alarms.tasks.belowMinimumMinutes > 5) ctx.addIssue({ code: 'custom', path: ['alarms', 'tasks', 'belowMinimumMinutes'], message: 'prod pages within 5 minutes of a service short of tasks (the lake writer stopped)' });
    if (c.name === 'prod' && c.alarms.api.serverErrorRatePercent > 5) ctx.addIssue({ code: 'custom', path: ['alarms', 'api', 'serverErrorRatePercent'], message: 'prod pages at 5 % of 5xx responses or less' });
  });

/** The configuration of one environment, as validated by {@link EnvConfigSchema}. */
export type EnvConfig = z.infer<typeof EnvConfigSchema>;

const DEFAULT_REGION = 'eu-west-1';
const BEDROCK_MODELS = ['amazon.nova-lite-v1:0', 'amazon.titan-embed-text-v2:0'];

/** The three environments. Edit here; the schema checks every change. */
export const ENVIRONMENTS: Record<EnvName, z.input<typeof EnvConfigSchema>> = {
  dev: {
    name: 'dev',
    region: DEFAULT_REGION,
    allowedOrigins: ['http://localhost:5173', 'https://dev.kidslearn.example.org'],
    deletionProtection: false,
    logRetentionDays: 14,
    network: { natGateways: 1 },
    database: { minCapacityAcu: 0.5, maxCapacityAcu: 4, readers: 0, backupRetentionDays: 1, passwordRotationDays: 90 },
    redis: { nodeType: 'cache.t4g.micro', replicas: 0 },
    api: { memoryMb: 1024, reservedConcurrency: 20, provisionedConcurrency: 0, throttlingRateLimit: 50, throttlingBurstLimit: 100, signingKeyRotationDays: 90 },
    engine: { minTasks: 1, maxTasks: 2, cpu: 512, memoryMib: 1024, spot: true },
    lake: { transitionToInfrequentAccessDays: 30, expirationDays: 90 },
    queues: { retentionDays: 4, deadLetterRetentionDays: 14, maxReceiveCount: 5 },
    athena: { bytesScannedCutoffPerQuery: 1_000_000_000 },
    bedrockModelIds: BEDROCK_MODELS,
    mail: { sender: 'no-reply@dev.kidslearn.example.org' },
    // Service stacks (A2).
    services: { lakeNoncurrentVersionExpirationDays: 7, athenaResultsExpirationDays: 7, eventsConsumer: { memoryMb: 512, maxConcurrency: 2, batchSize: 100, maxBatchingWindowSeconds: 5 }, lakeWriter: { cpu: 512, memoryMib: 2048 }, lakeApi: { cpu: 512, memoryMib: 1024, minTasks: 1, maxTasks: 2, cpuTargetPercent: 60 }, llmModelId: BEDROCK_MODELS[0]!, embeddingsModelId: BEDROCK_MODELS[1]!, seedDemoApps: true },
    alarms: { evaluationPeriods: 4, datapointsToAlarm: 4, api: { serverErrorRatePercent: 10, minRequests: 20, p99LatencyMs: 5000, functionErrors: 20, throttles: 10 }, database: { cpuPercent: 95, atMaxCapacityMinutes: 30, freeableMemoryMib: 128, proxyAuthFailures: 20 }, redis: { engineCpuPercent: 95, memoryPercent: 90 }, tasks: { belowMinimumMinutes: 15 } },
  },
  staging: {
    name: 'staging',
    region: DEFAULT_REGION,
    allowedOrigins: ['https://staging.kidslearn.example.org'],
    deletionProtection: false,
    logRetentionDays: 30,
    network: { natGateways: 1 },
    database: { minCapacityAcu: 0.5, maxCapacityAcu: 8, readers: 0, backupRetentionDays: 7, passwordRotationDays: 30 },
    redis: { nodeType: 'cache.t4g.small', replicas: 1 },
    api: { memoryMb: 1024, reservedConcurrency: 100, provisionedConcurrency: 0, throttlingRateLimit: 200, throttlingBurstLimit: 400, signingKeyRotationDays: 30 },
    engine: { minTasks: 1, maxTasks: 4, cpu: 1024, memoryMib: 2048, spot: true },
    lake: { transitionToInfrequentAccessDays: 30, expirationDays: 180 },
    queues: { retentionDays: 4, deadLetterRetentionDays: 14, maxReceiveCount: 5 },
    athena: { bytesScannedCutoffPerQuery: 10_000_000_000 },
    bedrockModelIds: BEDROCK_MODELS,
    mail: { sender: 'no-reply@staging.kidslearn.example.org' },
    // Service stacks (A2).
    services: { lakeNoncurrentVersionExpirationDays: 7, athenaResultsExpirationDays: 14, eventsConsumer: { memoryMb: 512, maxConcurrency: 5, batchSize: 100, maxBatchingWindowSeconds: 5 }, lakeWriter: { cpu: 512, memoryMib: 2048 }, lakeApi: { cpu: 512, memoryMib: 1024, minTasks: 1, maxTasks: 2, cpuTargetPercent: 60 }, llmModelId: BEDROCK_MODELS[0]!, embeddingsModelId: BEDROCK_MODELS[1]!, seedDemoApps: false },
    alarms: { evaluationPeriods: 3, datapointsToAlarm: 3, api: { serverErrorRatePercent: 5, minRequests: 20, p99LatencyMs: 3000, functionErrors: 10, throttles: 5 }, database: { cpuPercent: 90, atMaxCapacityMinutes: 30, freeableMemoryMib: 256, proxyAuthFailures: 10 }, redis: { engineCpuPercent: 90, memoryPercent: 85 }, tasks: { belowMinimumMinutes: 10 } },
  },
  prod: {
    name: 'prod',
    region: DEFAULT_REGION,
    domainName: 'api.kidslearn.example.org',
    allowedOrigins: ['https://kidslearn.example.org', 'https://app.kidslearn.example.org'],
    deletionProtection: true,
    logRetentionDays: 365,
    network: { natGateways: 2 },
    database: { minCapacityAcu: 2, maxCapacityAcu: 32, readers: 1, backupRetentionDays: 14, passwordRotationDays: 30 },
    redis: { nodeType: 'cache.r7g.large', replicas: 1 },
    api: { memoryMb: 1769, reservedConcurrency: 600, provisionedConcurrency: 20, throttlingRateLimit: 2000, throttlingBurstLimit: 4000, signingKeyRotationDays: 30 },
    engine: { minTasks: 2, maxTasks: 20, cpu: 1024, memoryMib: 2048, spot: false },
    lake: { transitionToInfrequentAccessDays: 90, expirationDays: 1095 },
    queues: { retentionDays: 4, deadLetterRetentionDays: 14, maxReceiveCount: 5 },
    athena: { bytesScannedCutoffPerQuery: 100_000_000_000 },
    bedrockModelIds: BEDROCK_MODELS,
    mail: { sender: 'no-reply@kidslearn.example.org' },
    // Service stacks (A2).
    services: { lakeNoncurrentVersionExpirationDays: 7, athenaResultsExpirationDays: 30, eventsConsumer: { memoryMb: 1024, maxConcurrency: 20, batchSize: 500, maxBatchingWindowSeconds: 5 }, lakeWriter: { cpu: 1024, memoryMib: 4096 }, lakeApi: { cpu: 1024, memoryMib: 2048, minTasks: 2, maxTasks: 4, cpuTargetPercent: 60 }, llmModelId: BEDROCK_MODELS[0]!, embeddingsModelId: BEDROCK_MODELS[1]!, seedDemoApps: false },
    alarms: { evaluationPeriods: 3, datapointsToAlarm: 2, api: { serverErrorRatePercent: 1, minRequests: 50, p99LatencyMs: 2000, functionErrors: 5, throttles: 1 }, database: { cpuPercent: 80, atMaxCapacityMinutes: 15, freeableMemoryMib: 512, proxyAuthFailures: 5 }, redis: { engineCpuPercent: 80, memoryPercent: 80 }, tasks: { belowMinimumMinutes: 5 } },
  },
};

/** Thrown for an unknown environment or a record that fails {@link EnvConfigSchema}. */
export class EnvConfigError extends Error {
  override name = 'EnvConfigError';
}

/** Overrides an operator may pass as CDK context without editing this file. */
export interface EnvOverrides {
  /** `--context account=123456789012` */
  account?: string | undefined;
  /** `--context region=eu-central-1` */
  region?: string | undefined;
  /** `--context alarmEmail=ops@example.org` */
  alarmEmail?: string | undefined;
}

/**
 * The validated configuration of environment `env` (a CDK context value, so
 * `unknown`). Fails with one line naming the allowed values or the bad field.
 */
export function loadEnvConfig(env: unknown, overrides: EnvOverrides = {}): EnvConfig {
  if (typeof env !== 'string' || !(ENV_NAMES as readonly string[]).includes(env)) {
    const got = env === undefined ? 'no environment' : `unknown environment ${JSON.stringify(env)}`;
    throw new EnvConfigError(`Invalid CDK context "env": ${got}; expected one of ${ENV_NAMES.join(', ')} (e.g. --context env=dev)`);
  }
  const base = ENVIRONMENTS[env as EnvName];
  const merged = {
    ...base,
    ...(overrides.account ? { account: overrides.account } : {}),
    ...(overrides.region ? { region: overrides.region } : {}),
    ...(overrides.alarmEmail ? { alarmEmail: overrides.alarmEmail } : {}),
  };
  const parsed = EnvConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EnvConfigError(`Invalid configuration of environment "${env}": ${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  return parsed.data;
}

/** `dev` → `Dev`: the environment's part of stack ids (`Kidslearn-Dev-Network`). */
export function envTitle(name: EnvName): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
