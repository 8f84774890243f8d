/**
 * IdentityStack: the Cognito user pool whose tokens the API accepts, set up to
 * match the app's OIDC_* settings (src/config/config.ts, src/features/auth/oidc.ts):
 *
 * - OIDC_ISSUER   = `issuerUrl` (https://cognito-idp.<region>.amazonaws.com/<poolId>)
 * - OIDC_AUDIENCE = the app client id (ID tokens carry it in `aud`, access tokens in `client_id`)
 * - OIDC_ROLE_CLAIM = `cognito:groups`; OIDC_ROLE_MAP's defaults name the groups made here
 *   (guardians=guardian, teachers=teacher, admins=admin)
 * - OIDC_APP_CLAIM = `custom:app`: an immutable attribute the app client can read but not
 *   write, so a user cannot move themselves into another app's tenant. Only an operator
 *   (AdminCreateUser) sets it. Cognito puts custom attributes in ID tokens only, so clients
 *   send the ID token (or OIDC_DEFAULT_APP covers a single-app deployment).
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type { Construct } from 'constructs';
import type { EnvConfig } from './config.ts';

/** Props of {@link IdentityStack}. */
export interface IdentityStackProps extends StackProps {
  config: EnvConfig;
}

/** Cognito group name → app role; the same pairs as OIDC_ROLE_MAP's default. */
export const ROLE_GROUPS = { guardians: 'guardian', teachers: 'teacher', admins: 'admin' } as const;

/** The user pool, its groups and the app client. */
export class IdentityStack extends Stack {
  readonly userPool: cognito.IUserPool;
  readonly userPoolClient: cognito.IUserPoolClient;
  /** OIDC_ISSUER: `https://cognito-idp.<region>.amazonaws.com/<userPoolId>`. */
  readonly issuerUrl: string;

  constructor(scope: Construct, id: string, props: IdentityStackProps) {
    super(scope, id, props);
    const { config } = props;

    const pool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `kidslearn-${config.name}`,
      // Accounts are created by operators/admin flows (they set custom:app); no open sign-up into a tenant.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      customAttributes: {
        // Tenant of the user: set once at creation, never changed, never writable by the client.
        app: new cognito.StringAttribute({ minLen: 2, maxLen: 31, mutable: false }),
      },
      passwordPolicy: { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: config.deletionProtection,
      removalPolicy: config.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    for (const [groupName, role] of Object.entries(ROLE_GROUPS)) {
      pool.addGroup(`${groupName[0]!.toUpperCase()}${groupName.slice(1)}Group`, {
        groupName,
        description: `kidslearn role "${role}" (OIDC_ROLE_MAP)`,
      });
    }

    const client = pool.addClient('AppClient', {
      userPoolClientName: `kidslearn-${config.name}-app`,
      // Mobile and browser apps are public clients: a secret could not be kept.
      generateSecret: false,
      authFlows: { userSrp: true },
      // No hosted UI/OAuth redirect flow yet (needs a Cognito domain); SRP sign-in from the apps.
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      readAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, emailVerified: true }).withCustomAttributes('app'),
      // custom:app is deliberately absent: the client cannot write the tenant.
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true }),
    });

    this.userPool = pool;
    this.userPoolClient = client;
    // The `iss` of Cognito tokens, spelled out rather than the ProviderURL attribute so its form is plain.
    this.issuerUrl = `https://cognito-idp.${this.region}.${this.urlSuffix}/${pool.userPoolId}`;
    // What an operator copies into OIDC_ISSUER / OIDC_AUDIENCE for servers outside this deployment.
    new CfnOutput(this, 'OidcIssuer', { value: this.issuerUrl, description: 'OIDC_ISSUER' });
    new CfnOutput(this, 'OidcAudience', { value: client.userPoolClientId, description: 'OIDC_AUDIENCE (app client id)' });
    new CfnOutput(this, 'UserPoolId', { value: pool.userPoolId });

    Validations.of(pool).acknowledge(
      // Children and guardians sign in on shared family devices; MFA is offered (TOTP), not forced.
      { id: 'AwsSolutions-COG2', reason: 'MFA optional (TOTP) for guardians/teachers; enforcing it is a product decision, documented.' },
      // The Plus plan (threat protection) is billed per monthly active user; enable it when the budget allows.
      { id: 'AwsSolutions-COG8', reason: 'Cognito threat protection costs per monthly active user; not enabled by default (docs/deploy-aws.md).' },
    );
  }
}
