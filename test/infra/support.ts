import type { App, IResolvable } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';

/**
 * Helpers of the CDK assertion tests: the cdk-nag AwsSolutions findings of a
 * synthesised app, and a resolver that turns CloudFormation intrinsics back
 * into strings so values can be compared with what the code writes.
 */

/** Every unacknowledged AwsSolutions finding in the app (run after `app.synth()`, so aspects have run). */
export function nagFindings(app: App): string[] {
  const report = new cdkNag.AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`));
}

/**
 * A CloudFormation value with `Ref`s and `Fn::GetAtt`s replaced by names
 * (`refs[logicalId]`) and `Fn::Join`s joined: what the value is once deployed.
 */
export function resolveCfn(value: unknown, refs: Record<string, string>): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown> | IResolvable;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('Ref' in o) return refs[o.Ref as string] ?? `<${String(o.Ref)}>`;
    if ('Fn::GetAtt' in o) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      return refs[`${id}.${attr}`] ?? `<${id}.${attr}>`;
    }
    if ('Fn::ImportValue' in o) return `import(${resolveCfn(o['Fn::ImportValue'], refs)})`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => resolveCfn(p, refs)).join(sep);
    }
  }
  throw new Error(`Cannot resolve ${JSON.stringify(value)}`);
}

/** The logical id of the one resource of `type` made by the construct with id `constructId` at the stack's top level. */
export function logicalIdOf(template: { findResources(type: string): Record<string, unknown> }, type: string, constructId: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => new RegExp(`^${constructId}([0-9A-F]{8})?$`).test(id));
  if (ids.length !== 1) throw new Error(`Expected one ${type} from ${constructId}, found ${ids.length}`);
  return ids[0]!;
}

