/**
 * DataStack: Aurora Serverless v2 PostgreSQL (pgvector) behind RDS Proxy, its
 * credentials in Secrets Manager, ElastiCache Redis, and the deploy-time
 * migrations (a custom resource that invokes the bundled "migrate" Lambda).
 *
 * Reachability, by security group: our code (NetworkStack.appSecurityGroup) →
 * proxy :5432 → cluster :5432; our code → Redis :6379. Nothing else gets in.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { type CfnElement, CfnOutput, CustomResource, Duration, FileSystem, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ALARM_PERIOD, operationalAlarm } from './alarms.ts';
import type { EnvConfig } from './config.ts';
import { SUBNETS } from './network-stack.ts';

/** Props of {@link DataStack}. */
export interface DataStackProps extends StackProps {
  config: EnvConfig;
  vpc: ec2.IVpc;
  appSecurityGroup: ec2.ISecurityGroup;
  /** Directory holding the Lambda bundles (`<lambdaDir>/migrate/index.mjs`); CDK context `lambdaDir`. */
  lambdaDir: string;
  /**
   * Changes on every `npm run deploy` (CDK context `deployId`) so the migrations
   * run on every deploy, not only when the migrate bundle changes.
   */
  deployId?: string | undefined;
  /** The environment's alarm topic (AnalyticsStack.alarmTopic): the database and cache alarms notify it. */
  alarmTopic: sns.ITopic;
}

/** PostgreSQL port (the cluster and the proxy listen on it). */
export const POSTGRES_PORT = 5432;
/** Redis port. */
export const REDIS_PORT = 6379;

/**
 * The database user our code signs in as, with an IAM auth token through RDS
 * Proxy (the proxy's one secret is this user's): `DATABASE_USER`, and the
 * user `rds-db:connect` is granted for.
 */
export const DATABASE_USER = 'kidslearn_admin';

/** Aurora PostgreSQL 16.9 ships pgvector 0.8.0; our migrations run `create extension vector`. */
const ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_9;

/** The database, its proxy and secret, Redis, and the migrations that run on deploy. */
export class DataStack extends Stack {
  /**
   * Master credentials (username, password, host, port, dbname), rotated automatically: only RDS Proxy
   * (towards the cluster) and the rotation function read it; our code signs in to the proxy with IAM.
   */
  readonly databaseSecret: secretsmanager.ISecret;
  /** RDS Proxy: every Lambda and Fargate task connects here (TLS required), never to the cluster. */
  readonly databaseProxy: rds.IDatabaseProxy;
  /** The application database's name. */
  readonly databaseName: string;
  /** `rediss://host:port` of the Redis primary (TLS); the password is {@link redisAuthSecret}'s. */
  readonly redisUrl: string;
  /** The Redis AUTH token (the secret's string as is): `REDIS_PASSWORD_SECRET_ARN`. */
  readonly redisAuthSecret: secretsmanager.Secret;
  /** The migrate function (exposed for tests and alarms). */
  readonly migrateFunction: lambda.IFunction;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config, vpc, appSecurityGroup } = props;
    const prod = config.deletionProtection;
    const removal = prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.databaseName = 'kidslearn';

    // ---- Aurora ---------------------------------------------------------------------------
    const key = new kms.Key(this, 'DatabaseKey', {
      description: `kidslearn ${config.name}: Aurora storage encryption`,
      enableKeyRotation: true,
      removalPolicy: removal,
    });
    const clusterSg = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
      vpc,
      description: 'Aurora cluster: 5432 from the RDS Proxy only',
      allowAllOutbound: false,
    });
    const proxySg = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
      vpc,
      description: 'RDS Proxy: 5432 from the app security group only',
      // The proxy reaches the cluster and Secrets Manager (through the VPC endpoint).
      allowAllOutbound: true,
    });

    // The cluster's PostgreSQL log group, made here (with retention) before RDS would create it
    // without one — instead of the LogRetention custom resource CDK adds for `cloudwatchLogsRetention`.
    const clusterIdentifier = `kidslearn-${config.name}`;
    const postgresLogs = new logs.LogGroup(this, 'PostgresLogs', {
      logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: removal,
    });

    const cluster = new rds.DatabaseCluster(this, 'Cluster', {
      clusterIdentifier,
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: ENGINE_VERSION }),
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_USER),
      defaultDatabaseName: this.databaseName,
      vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.data },
      securityGroups: [clusterSg],
      writer: rds.ClusterInstance.serverlessV2('Writer', { publiclyAccessible: false, enablePerformanceInsights: true, performanceInsightEncryptionKey: key }),
      readers: Array.from({ length: config.database.readers }, (_, i) =>
        rds.ClusterInstance.serverlessV2(`Reader${i + 1}`, { publiclyAccessible: false, scaleWithWriter: true, enablePerformanceInsights: true, performanceInsightEncryptionKey: key }),
      ),
      serverlessV2MinCapacity: config.database.minCapacityAcu,
      serverlessV2MaxCapacity: config.database.maxCapacityAcu,
      storageEncrypted: true,
      storageEncryptionKey: key,
      iamAuthentication: true,
      deletionProtection: config.deletionProtection,
      // prod: keep a final snapshot on delete; elsewhere a deleted stack leaves nothing to pay for.
      removalPolicy: prod ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      backup: { retention: Duration.days(config.database.backupRetentionDays) },
      cloudwatchLogsExports: ['postgresql'],
      // Top SQL and waits for 7 days (free tier), with the cluster's key.
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: key,
      parameterGroup: new rds.ParameterGroup(this, 'ClusterParameters', {
        engine: rds.DatabaseClusterEngine.auroraPostgres({ version: ENGINE_VERSION }),
        description: 'kidslearn: TLS only',
        parameters: { 'rds.force_ssl': '1' },
      }),
    });
    cluster.node.addDependency(postgresLogs);
    this.databaseSecret = cluster.secret!;
    // A prod snapshot is only useful with its master password: keep the secret with the snapshot.
    // (cluster.secret is the target attachment; the Secret itself is the cluster's child "Secret".)
    (cluster.node.findChild('Secret') as secretsmanager.Secret).applyRemovalPolicy(removal);
    // Nothing of ours holds the password: the proxy fetches the current one for each new connection to
    // the cluster, and our code signs in to the proxy with IAM tokens. So the password can rotate on a
    // schedule (single user: the rotation function changes it in place). The function runs in the app
    // subnets, reaching Secrets Manager through the VPC's interface endpoint and the cluster on 5432.
    cluster.addRotationSingleUser({
      automaticallyAfter: Duration.days(config.database.passwordRotationDays),
      vpcSubnets: { subnetGroupName: SUBNETS.app },
    });

    const proxy = new rds.DatabaseProxy(this, 'Proxy', {
      proxyTarget: rds.ProxyTarget.fromCluster(cluster),
      secrets: [this.databaseSecret],
      vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.app },
      securityGroups: [proxySg],
      requireTLS: true,
      // Clients sign in with IAM auth tokens (DATABASE_AUTH=iam): no client holds the database password.
      iamAuth: true,
      idleClientTimeout: Duration.minutes(30),
      maxConnectionsPercent: 90,
    });
    this.databaseProxy = proxy;
    // ProxyTarget.fromCluster adds the cluster SG's only ingress (the cluster port, from the proxy SG);
    // the proxy's only ingress is from our code.
    proxySg.addIngressRule(appSecurityGroup, ec2.Port.tcp(POSTGRES_PORT), 'from kidslearn Lambda functions and Fargate tasks');

    // ---- Redis ----------------------------------------------------------------------------
    const redisSg = new ec2.SecurityGroup(this, 'RedisSecurityGroup', {
      vpc,
      description: 'ElastiCache Redis: 6379 from the app security group only',
      allowAllOutbound: false,
    });
    redisSg.addIngressRule(appSecurityGroup, ec2.Port.tcp(REDIS_PORT), 'from kidslearn Lambda functions and Fargate tasks');
    const redisSubnets = new elasticache.CfnSubnetGroup(this, 'RedisSubnets', {
      description: 'kidslearn Redis: isolated data subnets',
      subnetIds: vpc.selectSubnets({ subnetGroupName: SUBNETS.data }).subnetIds,
    });
    const multiAz = config.redis.replicas > 0;
    // AUTH token generated into a secret; CloudFormation hands it to ElastiCache through a dynamic
    // reference (it is never in the template). Characters ElastiCache refuses (@ " /) are left out.
    this.redisAuthSecret = new secretsmanager.Secret(this, 'RedisAuthToken', {
      description: `kidslearn ${config.name}: ElastiCache Redis AUTH token (REDIS_PASSWORD_SECRET_ARN); rotate as docs/deploy-aws.md says`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: removal,
    });
    const redis = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: `kidslearn ${config.name} cache`,
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: config.redis.nodeType,
      numCacheClusters: 1 + config.redis.replicas,
      automaticFailoverEnabled: multiAz,
      multiAzEnabled: multiAz,
      cacheSubnetGroupName: redisSubnets.ref,
      securityGroupIds: [redisSg.securityGroupId],
      port: REDIS_PORT,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      authToken: this.redisAuthSecret.secretValue.unsafeUnwrap(),
      atRestEncryptionEnabled: true,
      autoMinorVersionUpgrade: true,
    });
    this.redisUrl = `rediss://${redis.attrPrimaryEndPointAddress}:${redis.attrPrimaryEndPointPort}`;

    this.#addAlarms(config, props.alarmTopic, cluster, proxy, redis);

    new CfnOutput(this, 'DatabaseProxyEndpoint', { value: proxy.endpoint, description: 'DATABASE_HOST' });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.databaseSecret.secretArn, description: 'DATABASE_SECRET_ARN' });
    new CfnOutput(this, 'RedisUrl', { value: this.redisUrl, description: 'REDIS_URL' });
    new CfnOutput(this, 'RedisAuthTokenSecretArn', { value: this.redisAuthSecret.secretArn, description: 'REDIS_PASSWORD_SECRET_ARN' });

    // ---- Migrations on every deploy -------------------------------------------------------
    const migrateDir = path.join(props.lambdaDir, 'migrate');
    if (!existsSync(path.join(migrateDir, 'index.mjs'))) {
      throw new Error(`No migrate bundle at ${migrateDir}/index.mjs: run \`npm run build:lambda\` first (or pass --context lambdaDir=<dir>)`);
    }
    const migrateName = `kidslearn-${config.name}-migrate`;
    const migrateLogs = new logs.LogGroup(this, 'MigrateLogs', {
      logGroupName: `/aws/lambda/${migrateName}`,
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const migrate = new lambda.Function(this, 'Migrate', {
      functionName: migrateName,
      description: 'kidslearn: runs control and tenant migrations (invoked by CloudFormation on deploy)',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      code: lambda.Code.fromAsset(migrateDir),
      handler: 'index.handler',
      memorySize: 512,
      // A migration on a large tenant can take minutes; the custom resource waits for it.
      timeout: Duration.minutes(14),
      vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.app },
      securityGroups: [appSecurityGroup],
      logGroup: migrateLogs,
      environment: {
        // Like every other client of the proxy: an IAM auth token, no secret (the proxy requires IAM).
        DATABASE_AUTH: 'iam',
        DATABASE_USER: DATABASE_USER,
        DATABASE_IAM_REGION: this.region,
        DATABASE_HOST: proxy.endpoint,
        DATABASE_NAME: this.databaseName,
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    proxy.grantConnect(migrate, DATABASE_USER);
    this.migrateFunction = migrate;

    const providerLogs = new logs.LogGroup(this, 'MigrateProviderLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const provider = new cr.Provider(this, 'MigrateProvider', { onEventHandler: migrate, logGroup: providerLogs });
    const migrations = new CustomResource(this, 'Migrations', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KidslearnMigrations',
      properties: {
        // A new bundle (new migrations) changes this, so CloudFormation sends Update and they run.
        BundleHash: FileSystem.fingerprint(migrateDir),
        // `npm run deploy` passes a fresh deployId: migrations also run when nothing changed.
        DeployId: props.deployId ?? 'none',
      },
    });
    // Migrate only once the database can be reached through the proxy.
    migrations.node.addDependency(proxy, cluster);

    this.#acknowledgeNagFindings(prod, config.redis.replicas);
  }

  /**
   * The database's and the cache's alarms (thresholds: config.alarms; runbook: docs/deploy-aws.md, "Alarms").
   * Serverless v2 grows memory with capacity, so low FreeableMemory (measured against the maximum ACUs)
   * and a cluster pinned at its maximum ACUs are the signs it has run out of room; CPU shows heavy queries.
   */
  #addAlarms(config: EnvConfig, topic: sns.ITopic, cluster: rds.DatabaseCluster, proxy: rds.DatabaseProxy, redis: elasticache.CfnReplicationGroup): void {
    const t = config.alarms;
    const alarm = (id: string, spec: Parameters<typeof operationalAlarm>[4]) => operationalAlarm(this, id, topic, config, spec);
    alarm('DatabaseCpuAlarm', {
      description: `Aurora cluster CPU above ${t.database.cpuPercent} %`,
      metric: cluster.metricCPUUtilization({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.AVERAGE }),
      threshold: t.database.cpuPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    // 1-minute datapoints: the lowest capacity of each minute at the maximum, for atMaxCapacityMinutes minutes in a row.
    alarm('DatabaseCapacityAtMaxAlarm', {
      description: `Aurora at its maximum of ${config.database.maxCapacityAcu} ACUs for ${t.database.atMaxCapacityMinutes} minutes`,
      metric: cluster.metricServerlessDatabaseCapacity({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MINIMUM }),
      threshold: config.database.maxCapacityAcu,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: t.database.atMaxCapacityMinutes,
    });
    alarm('DatabaseFreeableMemoryAlarm', {
      description: `Aurora freeable memory under ${t.database.freeableMemoryMib} MiB`,
      metric: cluster.metricFreeableMemory({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.MINIMUM }),
      threshold: t.database.freeableMemoryMib * 1024 * 1024,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    });
    // DatabaseProxy has no metric helpers: AWS/RDS, dimension set ProxyName (RDS Proxy user guide, "Monitoring RDS Proxy metrics").
    alarm('DatabaseProxyAuthFailuresAlarm', {
      description: `RDS Proxy refused over ${t.database.proxyAuthFailures} client sign-ins in 5 minutes (IAM auth)`,
      metric: new cloudwatch.Metric({ namespace: 'AWS/RDS', metricName: 'ClientConnectionsSetupFailedAuth', dimensionsMap: { ProxyName: proxy.dbProxyName }, period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
      threshold: t.database.proxyAuthFailures,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    // ElastiCache publishes per node (CacheClusterId): the replication group's nodes are <id>-001, -002, …
    // (the primary can move on failover, so every node is watched).
    for (let node = 1; node <= 1 + config.redis.replicas; node++) {
      const nodeId = `${redis.ref}-${String(node).padStart(3, '0')}`;
      const metric = (metricName: string) => new cloudwatch.Metric({ namespace: 'AWS/ElastiCache', metricName, dimensionsMap: { CacheClusterId: nodeId }, period: ALARM_PERIOD, statistic: cloudwatch.Stats.AVERAGE });
      alarm(`RedisEngineCpuAlarm${node}`, {
        description: `Redis node ${node}: engine CPU above ${t.redis.engineCpuPercent} %`,
        metric: metric('EngineCPUUtilization'),
        threshold: t.redis.engineCpuPercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      alarm(`RedisMemoryAlarm${node}`, {
        description: `Redis node ${node}: memory use above ${t.redis.memoryPercent} %`,
        metric: metric('DatabaseMemoryUsagePercentage'),
        threshold: t.redis.memoryPercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }
  }

  /**
   * cdk-nag (AwsSolutions) findings we accept, each with its reason; cdk-nag 3 takes them
   * through CDK's own `Validations.of(scope).acknowledge()` (see docs/deploy-aws.md).
   */
  #acknowledgeNagFindings(prod: boolean, redisReplicas: number): void {
    const stack = Validations.of(this);
    stack.acknowledge(
      // A non-default port is obscurity, not security: access is by security group and TLS.
      { id: 'AwsSolutions-RDS11', reason: 'Default port 5432; reachability is enforced by security groups (proxy only), not by the port.' },
      { id: 'AwsSolutions-AEC5', reason: 'Default port 6379; reachability is enforced by security groups (app SG only), not by the port.' },
    );
    // The Redis token changes through ElastiCache's own two-step update (ROTATE, then SET), which Secrets
    // Manager's rotation functions do not do for a replication group's AUTH token (docs/deploy-aws.md).
    Validations.of(this.redisAuthSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'ElastiCache AUTH token: rotated with ElastiCache AuthTokenUpdateStrategy ROTATE then SET (both tokens valid meanwhile), documented in docs/deploy-aws.md.',
    });
    for (const fn of ['Migrate', 'MigrateProvider/framework-onEvent']) {
      const role = this.node.findChild(fn.split('/')[0]!);
      const target = fn.includes('/') ? role.node.findChild('framework-onEvent') : role;
      Validations.of(target).acknowledge(
        // AWS-maintained execution policies scoped to writing logs and managing VPC ENIs.
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'AWS-managed policy limited to CloudWatch Logs writes.' },
      );
    }
    // The Provider framework may invoke the migrate function and its versions (`<arn>:*`), nothing else.
    const migrateLogicalId = this.getLogicalId(this.migrateFunction.node.defaultChild as CfnElement);
    Validations.of(this.node.findChild('MigrateProvider')).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${migrateLogicalId}.Arn>:*]`,
      reason: 'Custom-resource Provider framework: lambda:InvokeFunction on the migrate function and its versions only.',
    });
    Validations.of(this.migrateFunction).acknowledge(
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]', reason: 'AWS-managed policy limited to the ENI actions a VPC function needs.' },
    );
    if (!prod) {
      // Outside prod the database must go away with the stack (disposable environments).
      stack.acknowledge({ id: 'AwsSolutions-RDS10', reason: 'Deletion protection only in prod (EnvConfig.deletionProtection); dev and staging are disposable.' });
    }
    if (redisReplicas === 0) {
      // A single cache node in dev: losing it costs cold caches, not data.
      stack.acknowledge({ id: 'AwsSolutions-AEC4', reason: 'Single cache node where EnvConfig.redis.replicas is 0 (dev); Multi-AZ elsewhere.' });
    }
  }
}
