import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { createHttpApp, servedRoutes } from '../../src/http/app.ts';
import { standInContainer } from '../support/stand-in-container.ts';
import { AUTHORIZER_CACHE_TTL, PROTECTED_METHODS, PROTECTED_ROUTES } from '../../infra/lib/api-stack.ts';
import { loadEnvConfig } from '../../infra/lib/config.ts';
import { buildEnvironment, cdkJsonContext, type EnvironmentStacks } from '../../infra/lib/environment.ts';
import { placeholderImageDir, placeholderLambdaDir } from '../support/cdk.ts';
import { logicalIdOf, nagFindings, resolveCfn } from './support.ts';

/**
 * The API stack of dev and prod, synthesised once with the whole
 * environment (Lambda bundles and image are test fixtures): the Lambda
 * authorizer on every route the app protects — checked against the app's
 * own route table —, CORS, throttling, the functions, least privilege.
 */

const lambdaDir = placeholderLambdaDir();
const imageDirectory = placeholderImageDir();
const app = new App({ context: cdkJsonContext() });
const envs = {
  dev: buildEnvironment(app, loadEnvConfig('dev'), { lambdaDir, imageDirectory }),
  prod: buildEnvironment(app, loadEnvConfig('prod'), { lambdaDir, imageDirectory }),
} satisfies Record<string, EnvironmentStacks>;
app.synth();
const api = { dev: Template.fromStack(envs.dev.api), prod: Template.fromStack(envs.prod.api) };
const everyTemplate = Object.values(envs).flatMap((e) => Object.values(e).map((stack) => Template.fromStack(stack)));

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
const resources = (t: Template, type: string) => Object.values(t.findResources(type)) as Resource[];
const one = (t: Template, type: string, id: string) => t.findResources(type)[logicalIdOf(t, type, id)] as Resource;
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
/** Every statement of the inline policies attached to the role of function `fnId`. */
function roleStatements(t: Template, fnId: string): Statement[] {
  const roleId = (one(t, 'AWS::Lambda::Function', fnId).Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return resources(t, 'AWS::IAM::Policy')
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

// ---- The app's own route table, and what it answers without a token -------------------------
const httpApp = createHttpApp(standInContainer());
const appRoutes = await Promise.all(
  (await servedRoutes(httpApp)).map(async (r) => {
    const path = r.path.replace(/:\w+/g, 'x1');
    // Without a token, the app answers 401 on exactly the routes it protects.
    const { status } = await httpApp.request(path, { method: r.method });
    return { method: r.method, pattern: r.path, path, protected: status === 401 };
  }),
);

// ---- API Gateway's route selection, over the synthesised routes -----------------------------
interface GatewayRoute {
  method: string;
  path: string;
  authorizationType: string;
  authorizerId: unknown;
}
function gatewayRoutes(t: Template): GatewayRoute[] {
  return resources(t, 'AWS::ApiGatewayV2::Route').map((r) => {
    const [method, path] = String(r.Properties.RouteKey).split(' ') as [string, string];
    return { method, path, authorizationType: String(r.Properties.AuthorizationType), authorizerId: r.Properties.AuthorizerId };
  });
}
/** How API Gateway picks a route: an exact match first, then the greedy `{proxy+}` route with the longest literal prefix; no match is 404. */
function selectRoute(routes: GatewayRoute[], method: string, path: string): GatewayRoute | undefined {
  const segments = path.split('/').filter(Boolean);
  const matches = (route: GatewayRoute) => {
    const parts = route.path.split('/').filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part.endsWith('+}')) return segments.length > i;
      if (segments[i] === undefined) return false;
      if (!part.startsWith('{') && part !== segments[i]) return false;
    }
    return segments.length === parts.length;
  };
  const candidates = routes.filter((r) => (r.method === method || r.method === 'ANY') && matches(r));
  const exact = candidates.find((r) => !r.path.includes('+}'));
  if (exact) return exact;
  return candidates.sort((a, b) => b.path.length - a.path.length)[0];
}

// ---- The whole HTTP API: routes of the api stack and of the engine stack (the lake API's) -----
/** The app routes that query the lake with DuckDB: API Gateway must send them to the lake API service, and nothing else. */
const LAKE_QUERY_APP_ROUTES = ['GET /admin/reports/:report', 'GET /api/children/:childId/export'];

interface RoutedTo extends GatewayRoute {
  /** `lambda:<function construct>` or `vpc-link:<Cloud Map service>` */
  target: string;
}
/** The routes of `t` with what their integration reaches. */
function routesWithTargets(t: Template): RoutedTo[] {
  const integrations = t.findResources('AWS::ApiGatewayV2::Integration') as Record<string, Resource>;
  return resources(t, 'AWS::ApiGatewayV2::Route').map((r) => {
    const [method, path] = String(r.Properties.RouteKey).split(' ') as [string, string];
    const integrationId = resolveCfn(r.Properties.Target, {}).replace(/^integrations\/<(.*)>$/, '$1');
    const i = integrations[integrationId]!.Properties;
    const target = i.ConnectionType === 'VPC_LINK' ? `vpc-link:${resolveCfn(i.IntegrationUri, {})}` : `${String(i.IntegrationType)}:${resolveCfn(i.IntegrationUri, {})}`;
    return { method, path, authorizationType: String(r.Properties.AuthorizationType), authorizerId: r.Properties.AuthorizerId, target };
  });
}

describe('the HTTP API: which routes the lake API service serves', () => {
  for (const env of ['dev', 'prod'] as const) {
    const apiRoutes = routesWithTargets(api[env]);
    const engineTemplate = Template.fromStack(envs[env].engine);
    const lakeRoutes = routesWithTargets(engineTemplate);
    const all = [...apiRoutes, ...lakeRoutes];
    const cloudMapService = `<${logicalIdOf(engineTemplate, 'AWS::ServiceDiscovery::Service', 'LakeApiServiceCloudmapService')}.Arn>`;

    it(`${env}: exactly the routes that query the lake go through the VPC link to the lake API’s Cloud Map service; every other app route to the api function`, () => {
      for (const r of appRoutes) {
        const route = selectRoute(all, r.method, r.path) as RoutedTo | undefined;
        if (r.pattern === '/metrics') continue;
        assert.ok(route, `${r.method} ${r.pattern} has no gateway route`);
        const key = `${r.method} ${r.pattern}`;
        if (LAKE_QUERY_APP_ROUTES.includes(key)) assert.equal(route.target, `vpc-link:${cloudMapService}`, key);
        else assert.match(route.target, /^AWS_PROXY:.*ApiLive/, `${key} → ${route.method} ${route.path}`);
      }
      for (const key of LAKE_QUERY_APP_ROUTES) assert.ok(appRoutes.some((r) => `${r.method} ${r.pattern}` === key), `the app serves ${key}`);
      // The VPC link routes are the engine stack's two; the api stack has none.
      assert.deepEqual(apiRoutes.filter((r) => r.target.startsWith('vpc-link:')), []);
      assert.deepEqual(lakeRoutes.map((r) => `${r.method} ${r.path}`).sort(), ['GET /admin/reports/{proxy+}', 'GET /api/children/{childId}/export']);
      // Other methods on those paths stay on the function (POST /admin/reports/x → /admin/{proxy+}).
      assert.match((selectRoute(all, 'POST', '/admin/reports/active-learners') as RoutedTo).target, /^AWS_PROXY:/);
    });

    it(`${env}: the lake API routes are behind the same authorizer as every other protected route`, () => {
      const authorizerId = logicalIdOf(api[env], 'AWS::ApiGatewayV2::Authorizer', 'HttpApiTokenAuthorizer');
      for (const r of lakeRoutes) {
        assert.equal(r.authorizationType, 'CUSTOM');
        assert.match(resolveCfn(r.authorizerId, {}), new RegExp(`^import\\(Kidslearn-${env === 'dev' ? 'Dev' : 'Prod'}-Api:ExportsOutputRef${authorizerId}\\w+\\)$`));
      }
      const integration = Object.values(engineTemplate.findResources('AWS::ApiGatewayV2::Integration')) as Resource[];
      assert.equal(integration.length, 1);
      // HTTP_PROXY, any method, no parameter mapping: path, query string and headers (Authorization, X-Request-Id) pass through as sent.
      assert.equal(integration[0]!.Properties.IntegrationType, 'HTTP_PROXY');
      assert.equal(integration[0]!.Properties.IntegrationMethod, 'ANY');
      assert.equal(integration[0]!.Properties.RequestParameters, undefined);
      assert.deepEqual(integration[0]!.Properties.ConnectionId, { Ref: logicalIdOf(engineTemplate, 'AWS::ApiGatewayV2::VpcLink', 'VpcLink') });
      assert.match(resolveCfn(integration[0]!.Properties.ApiId, {}), /ExportsOutputRefHttpApi/);
    });
  }
});

describe('api stack: routes and the gateway authorizer', () => {
  const t = api.dev;
  const routes = gatewayRoutes(t);
  const authorizerId = { Ref: logicalIdOf(t, 'AWS::ApiGatewayV2::Authorizer', 'HttpApiTokenAuthorizer') };

  it('the app’s route table is the one of src/http/app.ts (sanity: it has public and protected routes)', () => {
    assert.ok(appRoutes.length > 50);
    assert.ok(appRoutes.some((r) => r.pattern === '/api/events' && r.protected));
    assert.ok(appRoutes.some((r) => r.pattern === '/auth/login' && !r.protected));
  });

  it('every route the app protects is behind the Lambda authorizer at the gateway', () => {
    const protectedRoutes = appRoutes.filter((r) => r.protected);
    assert.ok(protectedRoutes.length > 40);
    for (const r of protectedRoutes) {
      const route = selectRoute(routes, r.method, r.path);
      assert.ok(route, `${r.method} ${r.pattern} has no gateway route`);
      assert.equal(route.authorizationType, 'CUSTOM', `${r.method} ${r.pattern} → ${route.method} ${route.path} is not authorized`);
      assert.deepEqual(route.authorizerId, authorizerId);
    }
    // Every protected route is under /api or /admin, where the authorizer sits.
    assert.deepEqual(protectedRoutes.filter((r) => !/^\/(api|admin)\//.test(r.path)), []);
  });

  it('the routes the app serves without a token are routed without the authorizer (except /metrics, not exposed)', () => {
    const publicRoutes = appRoutes.filter((r) => !r.protected);
    for (const r of publicRoutes) {
      const route = selectRoute(routes, r.method, r.path);
      if (r.pattern === '/metrics') {
        assert.equal(route, undefined, '/metrics must not be reachable through the API');
        continue;
      }
      assert.ok(route, `${r.method} ${r.pattern} has no gateway route`);
      assert.equal(route.authorizationType, 'NONE', `${r.method} ${r.pattern}`);
    }
    assert.ok(publicRoutes.some((r) => r.pattern === '/admin/dashboard'));
  });

  it('no unauthenticated gateway route reaches a route the app protects; nothing else is routed', () => {
    for (const route of routes.filter((r) => r.authorizationType === 'NONE')) {
      const served = appRoutes.filter((r) => selectRoute(routes, r.method, r.path) === route);
      assert.ok(served.length > 0, `${route.method} ${route.path} routes to nothing the app serves`);
      assert.deepEqual(served.filter((r) => r.protected).map((r) => r.pattern), [], `${route.method} ${route.path}`);
    }
    // The authorized routes are exactly /api/{proxy+} and /admin/{proxy+} for the app's methods; no $default catch-all.
    const authorized = routes.filter((r) => r.authorizationType !== 'NONE').map((r) => `${r.method} ${r.path}`).sort();
    assert.deepEqual(authorized, PROTECTED_ROUTES.flatMap((p) => PROTECTED_METHODS.map((m) => `${m} ${p}`)).sort());
    assert.equal(routes.find((r) => r.path === '$default'), undefined);
    assert.equal(selectRoute(routes, 'GET', '/api/not/yet/written')?.authorizationType, 'CUSTOM');
    assert.equal(selectRoute(routes, 'GET', '/admin/dashboardx')?.authorizationType, 'CUSTOM');
    assert.equal(selectRoute(routes, 'GET', '/somewhere-else'), undefined);
  });

  it('the authorizer is the Lambda REQUEST authorizer: payload 2.0, simple responses, the Authorization header, cached 5 minutes', () => {
    const authorizer = one(t, 'AWS::ApiGatewayV2::Authorizer', 'HttpApiTokenAuthorizer').Properties;
    assert.equal(authorizer.AuthorizerType, 'REQUEST');
    assert.equal(authorizer.AuthorizerPayloadFormatVersion, '2.0');
    assert.equal(authorizer.EnableSimpleResponses, true);
    assert.deepEqual(authorizer.IdentitySource, ['$request.header.Authorization']);
    assert.equal(authorizer.AuthorizerResultTtlInSeconds, 300);
    assert.equal(AUTHORIZER_CACHE_TTL.toSeconds(), 300);
    const fnId = logicalIdOf(t, 'AWS::Lambda::Function', 'Authorizer');
    assert.match(JSON.stringify(authorizer.AuthorizerUri), new RegExp(`"${fnId}","Arn"`));
    // API Gateway may invoke it (and nothing else is granted).
    const permissions = resources(t, 'AWS::Lambda::Permission').filter((p) => JSON.stringify(p.Properties.FunctionName).includes(`"${fnId}"`));
    assert.deepEqual(permissions.map((p) => [p.Properties.Action, p.Properties.Principal]), [['lambda:InvokeFunction', 'apigateway.amazonaws.com']]);
  });

  it('the authorizer verifies with exactly the settings the app verifies with: the signing key secret, the Cognito issuer, audience and JWKS', () => {
    const variables = (id: string) => (one(t, 'AWS::Lambda::Function', id).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    const api = variables('Api');
    const authz = variables('Authorizer');
    for (const name of ['JWT_PRIVATE_KEY_SECRET_ARN', 'OIDC_ISSUER', 'OIDC_AUDIENCE', 'OIDC_JWKS_URL', 'JWT_ISSUER', 'JWT_PREVIOUS_PUBLIC_KEYS', 'OIDC_ROLE_CLAIM', 'OIDC_ROLE_MAP', 'OIDC_APP_CLAIM', 'OIDC_DEFAULT_APP']) {
      assert.deepEqual(authz[name], api[name], name);
    }
    const issuer = resolveCfn(authz.OIDC_ISSUER, {});
    assert.match(issuer, /^https:\/\/cognito-idp\.eu-west-1\.<AWS::URLSuffix>\/import\(Kidslearn-Dev-Identity:ExportsOutputRefUserPool\w+\)$/);
    assert.equal(resolveCfn(authz.OIDC_JWKS_URL, {}), `${issuer}/.well-known/jwks.json`);
    assert.match(resolveCfn(authz.OIDC_AUDIENCE, {}), /UserPoolAppClient/);
    assert.deepEqual(authz.JWT_PRIVATE_KEY_SECRET_ARN, { Ref: logicalIdOf(t, 'AWS::SecretsManager::Secret', 'JwtSigningKey') });
    // No database, cache or queue: it decides on the token alone, outside the VPC.
    assert.deepEqual(Object.keys(authz).filter((k) => /^(DATABASE|REDIS|JOB|EVENT|LAKE|MAIL)/.test(k)), []);
    assert.equal(one(t, 'AWS::Lambda::Function', 'Authorizer').Properties.VpcConfig, undefined);
  });
});

describe('api stack: per environment', () => {
  it('CORS allows exactly each environment’s origins', () => {
    for (const env of ['dev', 'prod'] as const) {
      const cors = resources(api[env], 'AWS::ApiGatewayV2::Api')[0]!.Properties.CorsConfiguration as { AllowOrigins: string[] };
      assert.deepEqual(cors.AllowOrigins, loadEnvConfig(env).allowedOrigins);
    }
  });

  it('the stage throttles at each environment’s rate and burst, and logs access', () => {
    for (const env of ['dev', 'prod'] as const) {
      const stage = resources(api[env], 'AWS::ApiGatewayV2::Stage')[0]!.Properties;
      const { api: c } = loadEnvConfig(env);
      assert.deepEqual(stage.DefaultRouteSettings, { ThrottlingBurstLimit: c.throttlingBurstLimit, ThrottlingRateLimit: c.throttlingRateLimit });
      assert.ok(stage.AccessLogSettings);
    }
  });

  it('the environment’s domain (prod) gets a DNS-validated certificate and an API mapping; mail links point to it', () => {
    const domainName = loadEnvConfig('prod').domainName!;
    const domain = resources(api.prod, 'AWS::ApiGatewayV2::DomainName')[0]!.Properties;
    assert.equal(domain.DomainName, domainName);
    const cert = resources(api.prod, 'AWS::CertificateManager::Certificate')[0]!.Properties;
    assert.deepEqual([cert.DomainName, cert.ValidationMethod], [domainName, 'DNS']);
    assert.equal(resources(api.prod, 'AWS::ApiGatewayV2::ApiMapping').length, 1);
    const env = (one(api.prod, 'AWS::Lambda::Function', 'Api').Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.equal(env.MAIL_LINK_BASE_URL, `https://${domainName}`);
    // dev has no domain: no certificate, and mails carry codes without links.
    assert.equal(loadEnvConfig('dev').domainName, undefined);
    assert.equal(resources(api.dev, 'AWS::ApiGatewayV2::DomainName').length, 0);
    assert.equal((one(api.dev, 'AWS::Lambda::Function', 'Api').Properties.Environment as { Variables: Record<string, unknown> }).Variables.MAIL_LINK_BASE_URL, undefined);
  });

  it('prod keeps warm instances on the `live` alias the API invokes; dev has none', () => {
    for (const env of ['dev', 'prod'] as const) {
      const t = api[env];
      const aliasId = logicalIdOf(t, 'AWS::Lambda::Alias', 'ApiLive');
      const alias = t.findResources('AWS::Lambda::Alias')[aliasId] as Resource;
      assert.equal(alias.Properties.Name, 'live');
      const provisioned = (alias.Properties.ProvisionedConcurrencyConfig as { ProvisionedConcurrentExecutions: number } | undefined)?.ProvisionedConcurrentExecutions;
      assert.equal(provisioned, env === 'prod' ? loadEnvConfig('prod').api.provisionedConcurrency : undefined);
      for (const integration of resources(t, 'AWS::ApiGatewayV2::Integration')) assert.deepEqual(integration.Properties.IntegrationUri, { Ref: aliasId });
    }
    assert.ok(loadEnvConfig('prod').api.provisionedConcurrency > 0);
  });
});

describe('api stack: functions', () => {
  it('no function anywhere runs nodejs20.x; ours run nodejs24.x on arm64 with X-Ray and a log group with retention', () => {
    for (const t of everyTemplate) {
      for (const fn of resources(t, 'AWS::Lambda::Function')) assert.notEqual(fn.Properties.Runtime, 'nodejs20.x');
      assert.doesNotMatch(JSON.stringify(t.toJSON()), /nodejs20\.x/);
    }
    for (const env of ['dev', 'prod'] as const) {
      const t = api[env];
      for (const id of ['Api', 'EventsConsumer', 'Authorizer']) {
        const fn = one(t, 'AWS::Lambda::Function', id).Properties;
        assert.equal(fn.Runtime, 'nodejs24.x');
        assert.deepEqual(fn.Architectures, ['arm64']);
        assert.deepEqual(fn.TracingConfig, { Mode: 'Active' });
        const logGroupId = (fn.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        assert.equal((t.findResources('AWS::Logs::LogGroup')[logGroupId] as Resource).Properties.RetentionInDays, loadEnvConfig(env).logRetentionDays);
      }
      const fn = one(t, 'AWS::Lambda::Function', 'Api').Properties;
      assert.equal(fn.MemorySize, loadEnvConfig(env).api.memoryMb);
      assert.equal(fn.ReservedConcurrentExecutions, loadEnvConfig(env).api.reservedConcurrency);
    }
  });

  it('the api function sends jobs and events to SQS, metrics as EMF, mail from the configured sender', () => {
    const env = (one(api.dev, 'AWS::Lambda::Function', 'Api').Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.equal(env.JOB_QUEUE, 'sqs');
    assert.equal(env.EVENT_QUEUE, 'sqs');
    assert.equal(env.METRICS_EMF, 'true');
    assert.match(resolveCfn(env.JOBS_QUEUE_URL, {}), /Kidslearn-Dev-Analytics:ExportsOutputRefJobsQueue/);
    assert.match(resolveCfn(env.EVENTS_QUEUE_URL, {}), /Kidslearn-Dev-Analytics:ExportsOutputRefEventsQueue/);
    assert.equal(env.MAIL_FROM, loadEnvConfig('dev').mail.sender);
    assert.equal(env.DATABASE_SECRET_ARN, undefined, 'IAM auth: no database secret');
    assert.equal(env.DATABASE_AUTH, 'iam');
    assert.equal(env.DATABASE_USER, 'kidslearn_admin');
    assert.equal(env.DATABASE_IAM_REGION, 'eu-west-1');
    assert.match(resolveCfn(env.DATABASE_HOST, {}), /Kidslearn-Dev-Data/);
    assert.equal(env.DATABASE_URL, undefined, 'no credentials in the environment');
    assert.match(resolveCfn(env.REDIS_PASSWORD_SECRET_ARN, {}), /Kidslearn-Dev-Data:ExportsOutputRefRedisAuthToken/);
    assert.doesNotMatch(JSON.stringify(env.REDIS_URL), /@/, 'REDIS_URL carries no password');
    assert.equal(env.DATABASE_POOL_SIZE, '2', 'one request at a time per instance: a small pool per execution environment');
  });

  it('the events consumer drains the events queue in batches and reports partial batch failures', () => {
    for (const env of ['dev', 'prod'] as const) {
      const { eventsConsumer: c } = loadEnvConfig(env).services;
      const mapping = resources(api[env], 'AWS::Lambda::EventSourceMapping')[0]!.Properties;
      assert.deepEqual(mapping.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.equal(mapping.BatchSize, c.batchSize);
      assert.equal(mapping.MaximumBatchingWindowInSeconds, c.maxBatchingWindowSeconds);
      assert.deepEqual(mapping.ScalingConfig, { MaximumConcurrency: c.maxConcurrency });
      assert.match(resolveCfn(mapping.EventSourceArn, {}), /EventsQueue\w+Arn/);
      assert.deepEqual(mapping.FunctionName, { Ref: logicalIdOf(api[env], 'AWS::Lambda::Function', 'EventsConsumer') });
    }
  });
});

describe('api stack: least privilege', () => {
  const statements = roleStatements(api.dev, 'Api');

  it('mail: ses:SendEmail on the sender identity only, from the sender address only', () => {
    const ses = statements.filter((s) => actions(s).some((a) => a.startsWith('ses:')));
    assert.equal(ses.length, 1);
    assert.deepEqual(actions(ses[0]!), ['ses:SendEmail']);
    const sender = loadEnvConfig('dev').mail.sender;
    assert.equal(resolveCfn(ses[0]!.Resource, {}), `arn:aws:ses:eu-west-1:<AWS::AccountId>:identity/${sender}`);
    assert.deepEqual(ses[0]!.Condition, { StringEquals: { 'ses:FromAddress': sender } });
    assert.equal(resources(api.dev, 'AWS::SES::EmailIdentity')[0]!.Properties.EmailIdentity, sender);
  });

  it('lake: read-only, and only under events/', () => {
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    assert.deepEqual(s3.flatMap(actions).sort(), ['s3:GetObject', 's3:ListBucket']);
    const get = s3.find((s) => actions(s).includes('s3:GetObject'))!;
    assert.equal(resolveCfn(get.Resource, {}), 'arn:aws:s3:::kidslearn-dev-lake-<AWS::AccountId>-eu-west-1/events/*');
    const list = s3.find((s) => actions(s).includes('s3:ListBucket'))!;
    assert.deepEqual(list.Condition, { StringLike: { 's3:prefix': ['events/', 'events/*'] } });
  });

  it('queues: send only; Bedrock: the embeddings model only; the database secret: read', () => {
    const sqs = statements.filter((s) => actions(s).some((a) => a.startsWith('sqs:')));
    assert.deepEqual([...new Set(sqs.flatMap(actions))].sort(), ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    const bedrock = statements.filter((s) => actions(s).some((a) => a.startsWith('bedrock:')));
    assert.deepEqual(bedrock.map((s) => [actions(s), s.Resource]), [[['bedrock:InvokeModel'], `arn:aws:bedrock:eu-west-1::foundation-model/${loadEnvConfig('dev').services.embeddingsModelId}`]]);
    assert.deepEqual(statements.filter((s) => actions(s).some((a) => a.endsWith(':*') || a === '*')), []);
  });

  it('the database: rds-db:connect as the one user on the proxy, for the api function and the events consumer only; secrets: only the Redis token and the signing key', () => {
    const t = api.dev;
    const connectResource = {
      'Fn::Join': ['', ['arn:aws:rds-db:eu-west-1:', { Ref: 'AWS::AccountId' }, ':dbuser:', { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::ImportValue': Match.stringLikeRegexp('^Kidslearn-Dev-Data:ExportsOutputFnGetAttProxy\\w+DBProxyArn') }] }] }, '/kidslearn_admin']],
    };
    const connectsOf = (fn: string) => roleStatements(t, fn).filter((s) => actions(s).includes('rds-db:connect'));
    for (const fn of ['Api', 'EventsConsumer']) {
      const connects = connectsOf(fn);
      assert.equal(connects.length, 1, fn);
      assert.deepEqual(actions(connects[0]!), ['rds-db:connect']);
      Template.fromJSON({ Resources: { X: { Type: 'T', Properties: { R: connects[0]!.Resource } } } }).hasResourceProperties('T', { R: connectResource });
    }
    assert.deepEqual(connectsOf('Authorizer'), []);
    // Every rds-db:connect grant of the stack is one of those two.
    const all = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => ((p as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    assert.equal(all.filter((s) => actions(s).includes('rds-db:connect')).length, 2);
    const redisToken = { 'Fn::ImportValue': Match.stringLikeRegexp('^Kidslearn-Dev-Data:ExportsOutputRefRedisAuthToken') };
    const reads = (fn: string) => roleStatements(t, fn).filter((s) => actions(s).includes('secretsmanager:GetSecretValue'));
    Template.fromJSON({ Resources: { X: { Type: 'T', Properties: { R: reads('Api').map((s) => s.Resource) } } } }).hasResourceProperties('T', {
      R: [[redisToken, { Ref: logicalIdOf(t, 'AWS::SecretsManager::Secret', 'JwtSigningKey') }]],
    });
    assert.deepEqual(reads('EventsConsumer'), [], 'the consumer reads no secret');
    const consumerEnv = (one(t, 'AWS::Lambda::Function', 'EventsConsumer').Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(Object.keys(consumerEnv).filter((k) => /SECRET_ARN$|^REDIS_/.test(k)), []);
    assert.equal(consumerEnv.DATABASE_AUTH, 'iam');
  });

  it('the token signing key: generated into its own secret at deploy, read by the api function, before it starts', () => {
    const t = api.dev;
    const secretId = logicalIdOf(t, 'AWS::SecretsManager::Secret', 'JwtSigningKey');
    const env = (one(t, 'AWS::Lambda::Function', 'Api').Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(env.JWT_PRIVATE_KEY_SECRET_ARN, { Ref: secretId });
    assert.equal(env.JWT_PRIVATE_KEY, undefined, 'the key itself is never in the environment');
    assert.ok(statements.some((s) => actions(s).includes('secretsmanager:GetSecretValue') && JSON.stringify(s.Resource).includes(JSON.stringify({ Ref: secretId }))));
    const key = Object.values(t.findResources('Custom::KidslearnJwtSigningKey'))[0] as Resource;
    assert.deepEqual(key.Properties.SecretArn, { Ref: secretId });
    const generator = roleStatements(t, 'JwtSigningKeyGenerator');
    assert.deepEqual(generator.map((s) => [actions(s), s.Resource]), [[['secretsmanager:PutSecretValue'], { Ref: secretId }]]);
    const keyId = Object.keys(t.findResources('Custom::KidslearnJwtSigningKey'))[0]!;
    assert.ok((t.findResources('AWS::Lambda::Function')[logicalIdOf(t, 'AWS::Lambda::Function', 'Api')] as { DependsOn?: string[] }).DependsOn?.includes(keyId));
  });

  it('the authorizer reads the signing key secret and nothing else (no database secret, no queues)', () => {
    const t = api.dev;
    const secretId = logicalIdOf(t, 'AWS::SecretsManager::Secret', 'JwtSigningKey');
    const statements = roleStatements(t, 'Authorizer');
    const granted = statements.filter((s) => !actions(s).every((a) => a.startsWith('xray:')));
    assert.deepEqual(granted.map((s) => [[...actions(s)].sort(), s.Resource]), [[['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], { Ref: secretId }]]);
    const fn = t.findResources('AWS::Lambda::Function')[logicalIdOf(t, 'AWS::Lambda::Function', 'Authorizer')] as Resource & { DependsOn?: string[] };
    assert.ok(fn.Properties.MemorySize as number <= 256);
    assert.ok(fn.DependsOn?.includes(Object.keys(t.findResources('Custom::KidslearnJwtSigningKey'))[0]!), 'starts only once its key exists');
  });

  it('the signing key rotates every config.api.signingKeyRotationDays days, by a function that may touch that secret only', () => {
    for (const env of ['dev', 'prod'] as const) {
      const t = api[env];
      const secretId = logicalIdOf(t, 'AWS::SecretsManager::Secret', 'JwtSigningKey');
      const rotatorId = logicalIdOf(t, 'AWS::Lambda::Function', 'JwtSigningKeyRotator');
      const schedules = Object.values(t.findResources('AWS::SecretsManager::RotationSchedule')) as (Resource & { DependsOn?: string[] })[];
      assert.equal(schedules.length, 1, env);
      const [schedule] = schedules;
      assert.deepEqual(schedule!.Properties, {
        SecretId: { Ref: secretId },
        RotationLambdaARN: { 'Fn::GetAtt': [rotatorId, 'Arn'] },
        RotationRules: { AutomaticallyAfterDays: loadEnvConfig(env).api.signingKeyRotationDays },
        RotateImmediatelyOnUpdate: false,
      });
      assert.ok(schedule!.DependsOn?.includes(Object.keys(t.findResources('Custom::KidslearnJwtSigningKey'))[0]!), 'rotates only keys the custom resource made first');
      assert.equal((one(t, 'AWS::Lambda::Function', 'JwtSigningKeyRotator').Properties as { Handler: string }).Handler, 'rotate.handler');
      const granted = roleStatements(t, 'JwtSigningKeyRotator').filter((s) => !actions(s).every((a) => a.startsWith('xray:')));
      assert.deepEqual(
        granted.map((s) => [[...actions(s)].sort(), s.Resource, s.Condition]),
        [[['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'], { Ref: secretId }, undefined]],
      );
      const invokers = resources(t, 'AWS::Lambda::Permission').filter((p) => JSON.stringify(p.Properties.FunctionName).includes(rotatorId));
      assert.deepEqual(
        invokers.map((p) => [p.Properties.Principal, p.Properties.Action, p.Properties.SourceArn]),
        [['secretsmanager.amazonaws.com', 'lambda:InvokeFunction', { Ref: secretId }]],
      );
    }
    assert.deepEqual([loadEnvConfig('dev').api.signingKeyRotationDays, loadEnvConfig('prod').api.signingKeyRotationDays], [90, 30]);
  });

  it('every reader of the signing key may read AWSPREVIOUS too: GetSecretValue on the secret, no VersionStage condition', () => {
    const t = api.dev;
    const secretId = logicalIdOf(t, 'AWS::SecretsManager::Secret', 'JwtSigningKey');
    for (const fn of ['Api', 'Authorizer']) {
      const reads = roleStatements(t, fn).filter((s) => actions(s).includes('secretsmanager:GetSecretValue') && JSON.stringify(s.Resource).includes(JSON.stringify({ Ref: secretId })));
      assert.equal(reads.length, 1, fn);
      assert.equal(reads[0]!.Condition, undefined, `${fn}: a secretsmanager:VersionStage condition would hide AWSPREVIOUS`);
    }
  });

  it('no managed full-access policy anywhere in the app', () => {
    for (const t of everyTemplate) assert.doesNotMatch(JSON.stringify(t.toJSON()), /FullAccess/);
  });
});

describe('api stack: cdk-nag', () => {
  it('has no unacknowledged AwsSolutions findings in the whole app', () => {
    assert.deepEqual(nagFindings(app), []);
  });
});

