import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { App } from 'aws-cdk-lib';
import { loadEnvConfig } from '../../infra/lib/config.ts';
import { NetworkStack, VPC_CIDR } from '../../infra/lib/network-stack.ts';
import { cdkJsonContext } from '../../infra/lib/environment.ts';

// The network stack alone (it depends on no other); cdk-nag runs over every stack in environments.test.ts.
const dev = { config: loadEnvConfig('dev') };
let t: Template;

before(() => {
  const app = new App({ context: cdkJsonContext() });
  t = Template.fromStack(new NetworkStack(app, 'Kidslearn-Dev-Network', { config: dev.config, env: { region: dev.config.region } }));
});

test('the VPC spans two AZs with public, app (egress) and isolated data subnets', () => {
  t.resourceCountIs('AWS::EC2::VPC', 1);
  t.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: VPC_CIDR });
  const subnets = Object.values(t.findResources('AWS::EC2::Subnet')) as { Properties: { AvailabilityZone: string; Tags: { Key: string; Value: string }[] } }[];
  const byGroup = new Map<string, string[]>();
  for (const s of subnets) {
    const group = s.Properties.Tags.find((tag) => tag.Key === 'aws-cdk:subnet-name')!.Value;
    byGroup.set(group, [...(byGroup.get(group) ?? []), s.Properties.AvailabilityZone]);
  }
  assert.deepEqual([...byGroup.keys()].sort(), ['app', 'data', 'public']);
  for (const [group, zones] of byGroup) assert.deepEqual(zones.sort(), ['eu-west-1a', 'eu-west-1b'], `${group} subnets in two AZs`);
  // Isolated means no route to a NAT or internet gateway.
  const routes = Object.values(t.findResources('AWS::EC2::Route')) as { Properties: { RouteTableId: { Ref: string } } }[];
  const dataTables = Object.keys(t.findResources('AWS::EC2::RouteTable')).filter((id) => id.startsWith('Vpcdata'));
  assert.equal(dataTables.length, 2);
  assert.equal(routes.filter((r) => dataTables.includes(r.Properties.RouteTableId.Ref)).length, 0, 'no default route from the data subnets');
});

test('dev has one NAT gateway', () => {
  t.resourceCountIs('AWS::EC2::NatGateway', 1);
});

test('S3 goes through a gateway endpoint and AWS APIs through interface endpoints in the app subnets', () => {
  t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
    VpcEndpointType: 'Gateway',
    ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('\\.s3$')])] }),
  });
  const interfaces = Object.values(t.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } })) as {
    Properties: { ServiceName: unknown; PrivateDnsEnabled: boolean; SubnetIds: { Ref: string }[] };
  }[];
  const services = interfaces.map((e) => String(e.Properties.ServiceName).replace(`com.amazonaws.${dev.config.region}.`, ''));
  assert.deepEqual(services.sort(), ['bedrock-runtime', 'ecr.api', 'ecr.dkr', 'logs', 'secretsmanager', 'sqs']);
  for (const e of interfaces) {
    assert.equal(e.Properties.PrivateDnsEnabled, true);
    assert.ok(e.Properties.SubnetIds.every((s) => s.Ref.startsWith('Vpcapp')), 'endpoints in the app subnets');
  }
});

test('interface endpoints admit HTTPS from inside the VPC only', () => {
  t.hasResourceProperties('AWS::EC2::SecurityGroup', {
    GroupDescription: Match.stringLikeRegexp('interface endpoints'),
    SecurityGroupIngress: [{ CidrIp: VPC_CIDR, FromPort: 443, ToPort: 443, IpProtocol: 'tcp', Description: Match.anyValue() }],
  });
});

test('rejected flows are logged with the environment retention', () => {
  t.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT', LogDestinationType: 'cloud-watch-logs' });
  t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: dev.config.logRetentionDays });
});

test('the app security group exists and has no ingress of its own', () => {
  t.hasResourceProperties('AWS::EC2::SecurityGroup', {
    GroupDescription: Match.stringLikeRegexp('Lambda functions and Fargate tasks'),
    SecurityGroupIngress: Match.absent(),
  });
  t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
});
