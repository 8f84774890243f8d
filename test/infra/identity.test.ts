import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../../src/config/config.ts';
import { App } from 'aws-cdk-lib';
import { loadEnvConfig } from '../../infra/lib/config.ts';
import { cdkJsonContext } from '../../infra/lib/environment.ts';
import { IdentityStack, ROLE_GROUPS } from '../../infra/lib/identity-stack.ts';

// The identity stack alone (it depends on no other); cdk-nag runs over every stack in environments.test.ts.
let identity: IdentityStack;
let t: Template;

before(() => {
  const config = loadEnvConfig('dev');
  identity = new IdentityStack(new App({ context: cdkJsonContext() }), 'Kidslearn-Dev-Identity', { config, env: { region: config.region } });
  t = Template.fromStack(identity);
});

/** The app's OIDC settings with only issuer and audience given: the defaults the pool must match. */
const oidc = loadConfig({ OIDC_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x', OIDC_AUDIENCE: 'client' }, { envFile: null }).oidc!;

test('groups guardians, teachers and admins exist and are exactly what OIDC_ROLE_MAP maps', () => {
  const groups = (Object.values(t.findResources('AWS::Cognito::UserPoolGroup')) as { Properties: { GroupName: string } }[]).map((g) => g.Properties.GroupName);
  assert.deepEqual(groups.sort(), ['admins', 'guardians', 'teachers']);
  assert.deepEqual(Object.fromEntries(Object.entries(oidc.roleMap).sort()), Object.fromEntries(Object.entries(ROLE_GROUPS).sort()));
  assert.equal(oidc.roleClaim, 'cognito:groups', 'Cognito puts group membership in cognito:groups');
});

test('custom:app is immutable, readable by the app client and not writable by it', () => {
  assert.equal(oidc.appClaim, 'custom:app');
  t.hasResourceProperties('AWS::Cognito::UserPool', {
    Schema: Match.arrayWith([Match.objectLike({ Name: 'app', AttributeDataType: 'String', Mutable: false })]),
    // Users are created by operators, who set the tenant; nobody signs up into an app on their own.
    AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
  });
  const client = (Object.values(t.findResources('AWS::Cognito::UserPoolClient'))[0] as { Properties: { ReadAttributes: string[]; WriteAttributes: string[] } }).Properties;
  assert.ok(client.ReadAttributes.includes(oidc.appClaim));
  assert.ok(client.WriteAttributes.length > 0, 'write attributes listed explicitly (absent would mean all writable)');
  assert.ok(!client.WriteAttributes.includes(oidc.appClaim), 'the client cannot write custom:app');
});

test('the app client is a public SRP client with short-lived tokens, no OAuth redirect flows', () => {
  t.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
  t.hasResourceProperties('AWS::Cognito::UserPoolClient', {
    GenerateSecret: false,
    ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
    AllowedOAuthFlowsUserPoolClient: false,
    PreventUserExistenceErrors: 'ENABLED',
    EnableTokenRevocation: true,
    IdTokenValidity: 60,
    AccessTokenValidity: 60,
  });
});

test('issuerUrl is the pool provider URL (OIDC_ISSUER) and the outputs name it and the audience', () => {
  const issuer = identity.resolve(identity.issuerUrl) as unknown;
  const pool = Object.keys(t.findResources('AWS::Cognito::UserPool'))[0]!;
  assert.deepEqual(issuer, { 'Fn::Join': ['', ['https://cognito-idp.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: pool }]] });
  t.hasOutput('OidcIssuer', { Description: 'OIDC_ISSUER' });
  t.hasOutput('OidcAudience', { Value: { Ref: Object.keys(t.findResources('AWS::Cognito::UserPoolClient'))[0] } });
});

test('strong passwords; dev pool can be deleted', () => {
  t.hasResourceProperties('AWS::Cognito::UserPool', {
    Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true, RequireNumbers: true }) },
    DeletionProtection: 'INACTIVE',
  });
  t.hasResource('AWS::Cognito::UserPool', { DeletionPolicy: 'Delete' });
});
