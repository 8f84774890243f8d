/**
 * NetworkStack: the VPC every other stack runs in, and the one security group
 * all of our Lambda functions and Fargate tasks share (`appSecurityGroup`), so
 * the database proxy and Redis can admit exactly "our code" and nothing else.
 */
import { Stack, type StackProps, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { EnvConfig } from './config.ts';

/** Props of {@link NetworkStack}. */
export interface NetworkStackProps extends StackProps {
  config: EnvConfig;
}

/** Subnet group names (also the names other stacks select by). */
export const SUBNETS = { public: 'public', app: 'app', data: 'data' } as const;

/** The VPC's address range (a literal, so security-group rules can name it). */
export const VPC_CIDR = '10.40.0.0/16';

/** VPC over two AZs: public (NAT, nothing of ours), app (private with egress), data (isolated). */
export class NetworkStack extends Stack {
  /** The VPC: 2 AZs, public + private-with-egress ("app") + isolated ("data") subnets. */
  readonly vpc: ec2.IVpc;
  /** The security group of every Lambda function and Fargate task of ours. */
  readonly appSecurityGroup: ec2.ISecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;

    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      // Explicit zones: no AZ lookup, so synth needs no credentials even with an account set.
      availabilityZones: [`${config.region}a`, `${config.region}b`],
      // One NAT outside prod (cost); one per AZ in prod so losing an AZ keeps egress.
      natGateways: config.network.natGateways,
      subnetConfiguration: [
        { name: SUBNETS.public, subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: SUBNETS.app, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: SUBNETS.data, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // S3 through a free gateway endpoint: lake uploads and ECR layers skip the NAT.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      restrictDefaultSecurityGroup: true,
    });

    // Rejected flows only: enough to debug a security-group mistake, a fraction of ALL's volume.
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    // Interface endpoints for what our code and Fargate call constantly: traffic stays in the
    // VPC and off the NAT (per-GB charge). Placed in the app subnets; one security group admits
    // HTTPS from inside the VPC (our code, and RDS Proxy fetching its secret).
    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc,
      description: 'VPC interface endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    endpointSg.addIngressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), 'HTTPS from the VPC');
    const interfaceEndpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      Sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      BedrockRuntime: ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
    };
    for (const [name, service] of Object.entries(interfaceEndpoints)) {
      vpc.addInterfaceEndpoint(`${name}Endpoint`, {
        service,
        subnets: { subnetGroupName: SUBNETS.app },
        privateDnsEnabled: true,
        securityGroups: [endpointSg],
        open: false,
      });
    }

    this.appSecurityGroup = new ec2.SecurityGroup(this, 'AppSecurityGroup', {
      vpc,
      description: 'kidslearn Lambda functions and Fargate tasks (the only source the database proxy and Redis admit)',
      // Our code calls AWS APIs (some without VPC endpoints: SES, Cognito JWKS) over HTTPS.
      allowAllOutbound: true,
    });
    this.vpc = vpc;
  }
}
