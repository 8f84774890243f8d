import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, Validations, type CfnElement, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import * as ses from 'aws-cdk-lib/aws-ses';
import type { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { EVENTS_CONSUMER_TIMEOUT, LAKE_PREFIX, lakeBucketName, type AnalyticsStack } from './analytics-stack.ts';
import { ALARM_PERIOD, operationalAlarm } from './alarms.ts';
import type { EnvConfig } from './config.ts';
import { SUBNETS } from './network-stack.ts';
import { bedrockModelArns, lakeEventsNagId, lakeReadStatements } from './permissions.ts';

/** Props of {@link ApiStack}: the configuration and what the network, data, identity and analytics stacks provide. */
export interface ApiStackProps extends StackProps {
  config: EnvConfig;
  vpc: ec2.IVpc;
  appSecurityGroup: ec2.ISecurityGroup;
  databaseProxy: rds.IDatabaseProxy;
  databaseName: string;
  /** The user functions sign in to the proxy as (IAM auth token; `rds-db:connect` granted for it only). */
  databaseUser: string;
  redisUrl: string;
  /** The Redis AUTH token (REDIS_PASSWORD_SECRET_ARN). */
  redisAuthSecret: secretsmanager.ISecret;
  userPool: cognito.IUserPool;
  userPoolClient: cognito.IUserPoolClient;
  analytics: AnalyticsStack;
  /** Directory of the Lambda bundles (`<lambdaDir>/<name>/index.mjs`); CDK context `lambdaDir`. */
  lambdaDir: string;
}

/** Methods the app serves under /api and /admin (OPTIONS is left to the API's CORS preflight, which needs no token). */
export const PROTECTED_METHODS = [apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST, apigwv2.HttpMethod.PUT, apigwv2.HttpMethod.PATCH, apigwv2.HttpMethod.DELETE];

/** Routes behind the gateway authorizer: every /api and /admin path but the public ones below. */
export const PROTECTED_ROUTES = ['/api/{proxy+}', '/admin/{proxy+}'] as const;

/**
 * Routes the app serves without a token (src/http/app.ts, docs/access.md),
 * routed explicitly so nothing else reaches the function unauthenticated:
 * sign-in and sign-up (`/auth/*`, POST), the token-signing public keys,
 * health, the app list, the API description and docs, the content-pack
 * schema, and the admin dashboard's page and files (the page signs in
 * itself, then sends the admin's token to /admin/reports).
 * `/metrics` (Prometheus) is deliberately not routed: on Lambda metrics go
 * out as CloudWatch EMF, and the gateway answers 404.
 */
export const PUBLIC_ROUTES: readonly { path: string; methods: apigwv2.HttpMethod[] }[] = [
  { path: '/health', methods: [apigwv2.HttpMethod.GET] },
  { path: '/app', methods: [apigwv2.HttpMethod.GET] },
  { path: '/auth/{proxy+}', methods: [apigwv2.HttpMethod.POST] },
  { path: '/.well-known/{proxy+}', methods: [apigwv2.HttpMethod.GET] },
  { path: '/openapi.json', methods: [apigwv2.HttpMethod.GET] },
  { path: '/docs', methods: [apigwv2.HttpMethod.GET] },
  { path: '/docs/assets/{proxy+}', methods: [apigwv2.HttpMethod.GET] },
  { path: '/schemas/{proxy+}', methods: [apigwv2.HttpMethod.GET] },
  { path: '/admin/dashboard', methods: [apigwv2.HttpMethod.GET] },
  { path: '/admin/dashboard/assets/{proxy+}', methods: [apigwv2.HttpMethod.GET] },
];

/**
 * Routes served not by the api function but by the lake API service (EngineStack): they query the lake
 * with DuckDB, a native module the Lambda bundles leave out (scripts/build-lambda.ts). Behind the same
 * authorizer; more specific than `/api/{proxy+}` and `/admin/{proxy+}`, so API Gateway picks them.
 */
export const LAKE_API_ROUTES: readonly { path: string; method: apigwv2.HttpMethod }[] = [
  // GET /admin/reports/{report}: the admin dashboard's charts (src/features/reports).
  { path: '/admin/reports/{proxy+}', method: apigwv2.HttpMethod.GET },
  // A child's data export: its analyticsEvents section reads the lake (src/analytics/lake-privacy.ts).
  { path: '/api/children/{childId}/export', method: apigwv2.HttpMethod.GET },
];

/** Lambda functions of this stack, by bundle name (`<lambdaDir>/<name>`). */
const BUNDLES = { api: 'api', eventsConsumer: 'events-consumer', authorizer: 'authorizer' } as const;

/** How long API Gateway keeps an authorizer decision per Authorization header value (the app still checks `exp` on every request). */
export const AUTHORIZER_CACHE_TTL = Duration.minutes(5);

/**
 * The request/response side: an HTTP API (a Lambda authorizer accepting
 * kidslearn's own tokens and the Cognito user pool's on /api and /admin,
 * CORS per environment, stage throttling) in front of one Lambda function serving the same Hono app as the Node server,
 * on a `live` alias (provisioned concurrency where configured); the
 * events-consumer function draining the events queue into the outbox; the
 * SES identity mail is sent from.
 */
export class ApiStack extends Stack {
  readonly api: apigwv2.HttpApi;
  readonly apiFunction: lambda.Function;
  readonly apiAlias: lambda.Alias;
  readonly eventsConsumer: lambda.Function;
  /** The Lambda REQUEST authorizer on the token-protected routes (src/runtimes/lambda/authorizer.ts). */
  readonly authorizerFunction: lambda.Function;
  readonly mailIdentity: ses.EmailIdentity;
  /** The private JWK that signs kidslearn's own access tokens (JWT_PRIVATE_KEY_SECRET_ARN), generated at deploy. */
  readonly signingKeySecret: secretsmanager.Secret;
  /** The authorizer of every token-protected route, for routes another stack adds to {@link api} (the lake API's). */
  readonly authorizer: HttpLambdaAuthorizer;
  /**
   * How the app verifies tokens (the signing key's secret, the OIDC issuer, audience and JWKS), exactly as the
   * api function and the authorizer get it: every other process serving the app (the lake API service) uses this.
   */
  readonly tokenVerification: Readonly<Record<'JWT_PRIVATE_KEY_SECRET_ARN' | 'OIDC_ISSUER' | 'OIDC_AUDIENCE' | 'OIDC_JWKS_URL', string>>;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { config, analytics } = props;
    const lakeBucket = lakeBucketName(this, config.name);
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const logRemoval = config.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const bundle = (name: string) => {
      const dir = path.join(props.lambdaDir, name);
      if (!existsSync(path.join(dir, 'index.mjs'))) throw new Error(`No ${name} bundle at ${dir}/index.mjs: run \`npm run build:lambda\` first (or pass --context lambdaDir=<dir>)`);
      return lambda.Code.fromAsset(dir);
    };

    // ---- Mail: the SES identity of the sender, and nothing else may be sent from ----
    this.mailIdentity = new ses.EmailIdentity(this, 'MailIdentity', { identity: ses.Identity.email(config.mail.sender) });
    const identityArn = this.formatArn({ service: 'ses', resource: 'identity', resourceName: config.mail.sender });

    // ---- The token signing key: generated in AWS at first deploy, read once per execution environment ----
    // Every instance of the api function must sign with the same key (on one machine it lives in the data dir).
    this.signingKeySecret = new secretsmanager.Secret(this, 'JwtSigningKey', {
      description: `kidslearn ${config.name}: private JWK signing kidslearn's access tokens (generated by Custom::KidslearnJwtSigningKey)`,
      removalPolicy: config.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const keyLogs = new logs.LogGroup(this, 'JwtSigningKeyGeneratorLogs', { retention: logRetention, removalPolicy: logRemoval });
    const keyGenerator = new lambda.Function(this, 'JwtSigningKeyGenerator', {
      description: `kidslearn ${config.name}: generates the token signing key into its secret (custom resource)`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      code: lambda.Code.fromAsset(fileURLToPath(new URL('./handlers/jwt-signing-key', import.meta.url))),
      handler: 'index.handler',
      memorySize: 256,
      timeout: Duration.seconds(30),
      logGroup: keyLogs,
    });
    keyGenerator.addToRolePolicy(new iam.PolicyStatement({ sid: 'StoreTheKey', actions: ['secretsmanager:PutSecretValue'], resources: [this.signingKeySecret.secretArn] }));
    const keyProviderLogs = new logs.LogGroup(this, 'JwtSigningKeyProviderLogs', { retention: logRetention, removalPolicy: logRemoval });
    const keyProvider = new cr.Provider(this, 'JwtSigningKeyProvider', { onEventHandler: keyGenerator, logGroup: keyProviderLogs });
    const signingKey = new CustomResource(this, 'JwtSigningKeyValue', {
      serviceToken: keyProvider.serviceToken,
      resourceType: 'Custom::KidslearnJwtSigningKey',
      properties: { SecretArn: this.signingKeySecret.secretArn },
    });
    // Rotation (rotate.mjs, the same key code): every config.api.signingKeyRotationDays a new key becomes AWSCURRENT and
    // the old one AWSPREVIOUS. Processes sign with the key they read at start, verify AWSCURRENT and AWSPREVIOUS, and
    // re-read the secret (rate-limited) when a token names a kid they do not know (src/adapters/aws/secrets.ts).
    const rotatorLogs = new logs.LogGroup(this, 'JwtSigningKeyRotatorLogs', { retention: logRetention, removalPolicy: logRemoval });
    const keyRotator = new lambda.Function(this, 'JwtSigningKeyRotator', {
      description: `kidslearn ${config.name}: rotates the token signing key (Secrets Manager rotation function)`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      code: lambda.Code.fromAsset(fileURLToPath(new URL('./handlers/jwt-signing-key', import.meta.url))),
      handler: 'rotate.handler',
      memorySize: 256,
      timeout: Duration.seconds(30),
      logGroup: rotatorLogs,
    });
    // What the rotation contract needs, on this secret only (CDK's RotationSchedule would add GetRandomPassword on *).
    keyRotator.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RotateTheKey',
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
        resources: [this.signingKeySecret.secretArn],
      }),
    );
    keyRotator.addPermission('InvokedBySecretsManager', {
      principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
      sourceArn: this.signingKeySecret.secretArn,
      sourceAccount: this.account,
    });
    const rotation = new secretsmanager.CfnRotationSchedule(this, 'JwtSigningKeyRotation', {
      secretId: this.signingKeySecret.secretArn,
      rotationLambdaArn: keyRotator.functionArn,
      rotationRules: { automaticallyAfterDays: config.api.signingKeyRotationDays },
      // Not at deploy: the first key comes from the custom resource; a rotation racing it gains nothing.
      rotateImmediatelyOnUpdate: false,
    });
    // After the first key, and after the permission that lets Secrets Manager invoke the function.
    rotation.node.addDependency(signingKey, keyRotator.permissionsNode.findChild('InvokedBySecretsManager'), keyRotator);

    // ---- Settings every function of the app shares -----------------------------------
    // The issuer exactly as Cognito writes `iss` (built as CDK's own HttpUserPoolAuthorizer does):
    // the app compares it verbatim, and API Gateway reads `<issuer>/.well-known/openid-configuration`.
    const issuer = `https://cognito-idp.${this.region}.${this.urlSuffix}/${props.userPool.userPoolId}`;
    const jwksUrl = `${issuer}/.well-known/jwks.json`;
    this.tokenVerification = {
      JWT_PRIVATE_KEY_SECRET_ARN: this.signingKeySecret.secretArn,
      OIDC_ISSUER: issuer,
      OIDC_AUDIENCE: props.userPoolClient.userPoolClientId,
      OIDC_JWKS_URL: jwksUrl,
    };
    // No NODE_OPTIONS=--enable-source-maps: Node then reads and parses the bundle's source map
    // (6 MB) at every cold start, ~110 ms of CPU before the first request (docs/performance.md,
    // bench:lambda). Stack traces keep function and class names (the bundles keep names); a
    // position in index.mjs maps back with the index.mjs.map deployed beside it (docs/deploy-aws.md).
    const common: Record<string, string> = {
      // Lambda's file system is read-only but for /tmp.
      KIDSLEARN_DATA_DIR: '/tmp/kidslearn',
      LOG_LEVEL: 'info',
      SEED_DEMO_APPS: String(config.services.seedDemoApps),
      // IAM auth tokens to RDS Proxy (DATABASE_AUTH=iam): no database secret in any function.
      DATABASE_AUTH: 'iam',
      DATABASE_USER: props.databaseUser,
      DATABASE_IAM_REGION: this.region,
      DATABASE_HOST: props.databaseProxy.endpoint,
      DATABASE_NAME: props.databaseName,
      // One request (or one batch) at a time per execution environment: a small pool, so reserved
      // concurrency × pool size stays within what RDS Proxy should hold.
      DATABASE_POOL_SIZE: '2',
      METRICS_EMF: 'true',
      // The engine and the lake writer run on Fargate (EngineStack), never inside a function.
      ENGINE_MODE: 'separate',
      LAKE_MODE: 'separate',
      LAKE_S3_BUCKET: lakeBucket,
      // The lake is at the bucket's root: no LAKE_S3_PREFIX (an empty value is not set at all).
      ...(LAKE_PREFIX ? { LAKE_S3_PREFIX: LAKE_PREFIX } : {}),
      LAKE_S3_REGION: this.region,
    };
    const vpcPlacement = { vpc: props.vpc, vpcSubnets: { subnetGroupName: SUBNETS.app }, securityGroups: [props.appSecurityGroup] };

    // ---- The api function --------------------------------------------------------------
    const apiLogs = new logs.LogGroup(this, 'ApiLogs', { retention: logRetention, removalPolicy: logRemoval });
    this.apiFunction = new lambda.Function(this, 'Api', {
      description: `kidslearn ${config.name}: the HTTP API (Hono app behind API Gateway)`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      code: bundle(BUNDLES.api),
      handler: 'index.handler',
      memorySize: config.api.memoryMb,
      // API Gateway gives up after 30 s; requests take milliseconds.
      timeout: Duration.seconds(15),
      reservedConcurrentExecutions: config.api.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: apiLogs,
      ...vpcPlacement,
      environment: {
        ...common,
        ...this.tokenVerification,
        // The cache and rate limits; the AUTH token is read once per execution environment (aws-config.ts).
        REDIS_URL: props.redisUrl,
        REDIS_PASSWORD_SECRET_ARN: props.redisAuthSecret.secretArn,
        JOB_QUEUE: 'sqs',
        JOBS_QUEUE_URL: analytics.jobsQueue.queueUrl,
        EVENT_QUEUE: 'sqs',
        EVENTS_QUEUE_URL: analytics.eventsQueue.queueUrl,
        MAIL_TRANSPORT: 'ses',
        MAIL_FROM: config.mail.sender,
        SES_REGION: this.region,
        ...(config.domainName ? { MAIL_LINK_BASE_URL: `https://${config.domainName}` } : {}),
        EMBEDDINGS_PROVIDER: 'bedrock',
        EMBEDDINGS_BEDROCK_MODEL: config.services.embeddingsModelId,
        BEDROCK_REGION: this.region,
      },
    });
    this.apiAlias = new lambda.Alias(this, 'ApiLive', {
      aliasName: 'live',
      version: this.apiFunction.currentVersion,
      ...(config.api.provisionedConcurrency > 0 ? { provisionedConcurrentExecutions: config.api.provisionedConcurrency } : {}),
    });

    // Least privilege: connect to the proxy as the one user, the Redis token, send to both queues, SES from the sender only,
    // list and read the lake's events/ (GET /admin/lake/status), embeddings of search queries. The routes that
    // query the lake with DuckDB (reports, a child's export) are the lake API service's (EngineStack), not this function's.
    props.databaseProxy.grantConnect(this.apiFunction, props.databaseUser);
    props.redisAuthSecret.grantRead(this.apiFunction);
    this.signingKeySecret.grantRead(this.apiFunction);
    // The function must not start before its key exists.
    this.apiFunction.node.addDependency(signingKey);
    analytics.jobsQueue.grantSendMessages(this.apiFunction);
    analytics.eventsQueue.grantSendMessages(this.apiFunction);
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SendMailFromTheSenderIdentityOnly',
        actions: ['ses:SendEmail'],
        resources: [identityArn],
        conditions: { StringEquals: { 'ses:FromAddress': config.mail.sender } },
      }),
    );
    for (const statement of lakeReadStatements(this, lakeBucket)) this.apiFunction.addToRolePolicy(statement);
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'EmbedSearchQueries',
        actions: ['bedrock:InvokeModel'],
        resources: bedrockModelArns(this, [config.services.embeddingsModelId]),
      }),
    );

    // ---- The events consumer: events queue → outbox --------------------------------------
    const consumerLogs = new logs.LogGroup(this, 'EventsConsumerLogs', { retention: logRetention, removalPolicy: logRemoval });
    this.eventsConsumer = new lambda.Function(this, 'EventsConsumer', {
      description: `kidslearn ${config.name}: appends queued analytics events to the outbox`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      code: bundle(BUNDLES.eventsConsumer),
      handler: 'index.handler',
      memorySize: config.services.eventsConsumer.memoryMb,
      timeout: EVENTS_CONSUMER_TIMEOUT,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: consumerLogs,
      ...vpcPlacement,
      environment: common,
    });
    // The consumer only appends to the outbox: the database, no cache (so no REDIS_URL and no token).
    props.databaseProxy.grantConnect(this.eventsConsumer, props.databaseUser);
    this.eventsConsumer.addEventSource(
      new SqsEventSource(analytics.eventsQueue, {
        batchSize: config.services.eventsConsumer.batchSize,
        maxBatchingWindow: Duration.seconds(config.services.eventsConsumer.maxBatchingWindowSeconds),
        // Failed records go back to the queue (and, after maxReceiveCount, to the DLQ); the rest of the batch is done.
        reportBatchItemFailures: true,
        // Bounds the database connections the consumer can open, whatever the backlog.
        maxConcurrency: config.services.eventsConsumer.maxConcurrency,
      }),
    );

    // ---- The gateway authorizer: kidslearn's own tokens and Cognito's -------------------------
    // API Gateway's built-in JWT authorizer trusts one issuer; kidslearn accepts two (its own tokens:
    // children's PIN and device sign-ins, kidslearn accounts, CLI admin tokens; and the Cognito pool's).
    // This function verifies both with the app's own code (features/auth/gateway-authorizer.ts): the
    // public half of the signing key, the OIDC provider's JWKS. It needs no database, so it runs
    // outside the VPC (Secrets Manager and Cognito's JWKS over AWS's public endpoints).
    const authorizerLogs = new logs.LogGroup(this, 'AuthorizerLogs', { retention: logRetention, removalPolicy: logRemoval });
    this.authorizerFunction = new lambda.Function(this, 'Authorizer', {
      description: `kidslearn ${config.name}: API Gateway authorizer (kidslearn and Cognito tokens)`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      code: bundle(BUNDLES.authorizer),
      handler: 'index.handler',
      // A signature check and, rarely, a JWKS fetch: little memory. Cold starts read one secret.
      memorySize: 256,
      // The secret read (3 s) and a JWKS fetch (2 s) are each bounded; API Gateway waits at most 10 s.
      timeout: Duration.seconds(10),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: authorizerLogs,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        KIDSLEARN_DATA_DIR: '/tmp/kidslearn',
        LOG_LEVEL: 'info',
        // Exactly what the api function verifies tokens with (asserted in test/infra/api-stack.test.ts).
        ...this.tokenVerification,
      },
    });
    // Only the signing key secret (of which it keeps the public half); nothing else.
    this.signingKeySecret.grantRead(this.authorizerFunction);
    this.authorizerFunction.node.addDependency(signingKey);
    Validations.of(this.authorizerFunction.role!).acknowledge(
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'AWS-managed policy limited to CloudWatch Logs writes.' },
      // X-Ray accepts trace segments only on Resource "*" (it has no resource-level permissions).
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'xray:PutTraceSegments/PutTelemetryRecords support no resource-level permissions.' },
    );

    // ---- HTTP API ---------------------------------------------------------------------------
    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `kidslearn-${config.name}`,
      description: `kidslearn ${config.name}`,
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: config.allowedOrigins,
        allowHeaders: ['Content-Type', 'Authorization', 'X-Request-Id', 'X-App-Id', 'Idempotency-Key'],
        allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST, apigwv2.CorsHttpMethod.PUT, apigwv2.CorsHttpMethod.PATCH, apigwv2.CorsHttpMethod.DELETE, apigwv2.CorsHttpMethod.OPTIONS],
        exposeHeaders: ['X-Request-Id', 'X-Cache', 'Retry-After', 'Location'],
        maxAge: Duration.hours(1),
      },
    });
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: logRetention, removalPolicy: logRemoval });
    const stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.api.throttlingRateLimit, burstLimit: config.api.throttlingBurstLimit },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });

    const integration = new HttpLambdaIntegration('ApiIntegration', this.apiAlias);
    // Simple responses ({ isAuthorized, context }); a request without the header is refused (401) without
    // invoking the function; decisions are cached per header value.
    const authorizer = (this.authorizer = new HttpLambdaAuthorizer('TokenAuthorizer', this.authorizerFunction, {
      authorizerName: 'kidslearn-tokens',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      resultsCacheTtl: AUTHORIZER_CACHE_TTL,
    }));
    for (const routePath of PROTECTED_ROUTES) this.api.addRoutes({ path: routePath, methods: PROTECTED_METHODS, integration, authorizer });
    for (const route of PUBLIC_ROUTES) {
      for (const r of this.api.addRoutes({ path: route.path, methods: route.methods, integration })) {
        Validations.of(r).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `${route.path} is served without a token by design (sign-in, public keys, health, docs, dashboard shell; docs/access.md).`,
        });
      }
    }

    // The environment's own domain (prod: the one links in mails point to): a TLS certificate validated
    // by DNS (the deploy waits until the validation record CloudFormation shows is published), the
    // API's custom domain, and the name to point a CNAME (or alias) at.
    if (config.domainName) {
      const certificate = new acm.Certificate(this, 'ApiCertificate', { domainName: config.domainName, validation: acm.CertificateValidation.fromDns() });
      const domain = new apigwv2.DomainName(this, 'ApiDomain', { domainName: config.domainName, certificate, securityPolicy: apigwv2.SecurityPolicy.TLS_1_2 });
      new apigwv2.ApiMapping(this, 'ApiMapping', { api: this.api, domainName: domain, stage });
      new CfnOutput(this, 'ApiDomainTarget', { value: domain.regionalDomainName, description: `Point ${config.domainName} (CNAME or alias) at this name` });
    }

    this.#addAlarms(config, analytics, stage);

    new CfnOutput(this, 'ApiUrl', { value: stage.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'MailIdentityName', { value: this.mailIdentity.emailIdentityName, description: 'SES identity: confirm the verification mail SES sends to it' });

    this.#acknowledgeNagFindings();
    for (const fn of [keyGenerator, keyRotator]) {
      Validations.of(fn.role!).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'AWS-managed policy limited to CloudWatch Logs writes.',
      });
    }
    const provider = keyProvider.node.findChild('framework-onEvent') as lambda.Function;
    Validations.of(provider.role!).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'Custom-resource Provider framework: AWS-managed policy limited to CloudWatch Logs writes.',
    });
    Validations.of(provider.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(keyGenerator.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason: 'Custom-resource Provider framework: lambda:InvokeFunction on the key generator and its versions only.',
    });
    Validations.of(this.apiFunction).acknowledge({
      id: lakeEventsNagId(this, lakeBucket),
      reason: 'Read-only on the lake bucket\u2019s events/ prefix (the lake\u2019s files, one per batch): the API lists them for the lake status (GET /admin/lake/status).',
    });
  }

  /**
   * The API's alarms (thresholds: config.alarms.api; runbook: docs/deploy-aws.md, "Alarms"): the stage's
   * 5xx rate and p99 latency, the api function's errors and throttles, the authorizer's and the events
   * consumer's errors.
   */
  #addAlarms(config: EnvConfig, analytics: AnalyticsStack, stage: apigwv2.HttpStage): void {
    const t = config.alarms.api;
    const alarm = (id: string, spec: Parameters<typeof operationalAlarm>[4]) => operationalAlarm(this, id, analytics.alarmTopic, config, spec);
    // The share of 5xx responses, counted only in 5 minutes with at least minRequests requests (else 0):
    // two failures out of three requests at night are not an outage.
    alarm('Api5xxRateAlarm', {
      description: `HTTP API: over ${t.serverErrorRatePercent} % of responses are 5xx (with at least ${t.minRequests} requests in 5 minutes)`,
      metric: new cloudwatch.MathExpression({
        label: '5xx rate (%)',
        expression: `IF(requests >= ${t.minRequests}, 100 * FILL(errors, 0) / requests, 0)`,
        usingMetrics: {
          errors: stage.metricServerError({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
          requests: stage.metricCount({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
        },
        period: ALARM_PERIOD,
      }),
      threshold: t.serverErrorRatePercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    alarm('ApiLatencyAlarm', {
      description: `HTTP API: p99 latency above ${t.p99LatencyMs} ms`,
      metric: stage.metricLatency({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.p(99) }),
      threshold: t.p99LatencyMs,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    const errors = (id: string, fn: lambda.Function, what: string) =>
      alarm(id, {
        description: `${what}: over ${t.functionErrors} errors in 5 minutes`,
        metric: fn.metricErrors({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
        threshold: t.functionErrors,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    errors('ApiFunctionErrorsAlarm', this.apiFunction, 'the api function');
    errors('AuthorizerErrorsAlarm', this.authorizerFunction, 'the authorizer function');
    errors('EventsConsumerErrorsAlarm', this.eventsConsumer, 'the events-consumer function');
    alarm('ApiFunctionThrottlesAlarm', {
      description: `the api function: over ${t.throttles} throttled invocations in 5 minutes (reserved concurrency ${config.api.reservedConcurrency} full)`,
      metric: this.apiFunction.metricThrottles({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
      // At least this many: throttles ≥ 1 pages at the first one.
      threshold: t.throttles,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
  }

  /** cdk-nag findings accepted here, each with its reason (cdk-nag 3: `Validations.of(x).acknowledge`). */
  #acknowledgeNagFindings(): void {
    for (const fn of [this.apiFunction, this.eventsConsumer]) {
      Validations.of(fn.role!).acknowledge(
        // AWS-maintained execution policies limited to CloudWatch Logs writes and the ENI actions of a VPC function.
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'AWS-managed policy limited to CloudWatch Logs writes.' },
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]', reason: 'AWS-managed policy limited to the ENI actions a VPC function needs.' },
        // X-Ray accepts trace segments only on Resource "*" (it has no resource-level permissions).
        { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'xray:PutTraceSegments/PutTelemetryRecords support no resource-level permissions.' },
      );
    }
  }
}
