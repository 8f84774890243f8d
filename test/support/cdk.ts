/**
 * Synthesises one environment of the CDK app (infra/) in code, once per test
 * file, with cdk-nag's AwsSolutions checks on — no AWS account, no network.
 *
 * cdk-nag 3 is a policy-validation plugin: an unacknowledged finding makes
 * `app.synth()` throw and leaves `validation-report.json` in the output
 * directory. We keep the findings (`nagFindings`) and still read the
 * templates from disk, so one nag failure does not hide every other assertion.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type EnvName, loadEnvConfig, type EnvConfig } from '../../infra/lib/config.ts';
import { addNagChecks, buildEnvironment, cdkJsonContext, type EnvironmentStacks } from '../../infra/lib/environment.ts';

/** One cdk-nag finding that was not acknowledged. */
export interface NagFinding {
  rule: string;
  severity: string;
  path: string;
}

/** A synthesised environment. */
export interface SynthesizedEnvironment {
  config: EnvConfig;
  stacks: EnvironmentStacks;
  /** The template of one stack of this environment. */
  template(stack: Stack): Template;
  /** AwsSolutions findings not acknowledged (empty when the checks pass). */
  nagFindings: NagFinding[];
  /** Why `app.synth()` failed validation (any plugin), or undefined when it succeeded. */
  synthError: string | undefined;
  /** The directory the Lambda assets were read from. */
  lambdaDir: string;
  /** Deletes the temporary directories. */
  dispose(): void;
}

/**
 * TEST FIXTURE: a Lambda bundle directory with placeholder `migrate/`, `api/`, `events-consumer/` and `authorizer/`
 * `index.mjs` files (the real ones are built by `npm run build:lambda` from src/runtimes/lambda/*.ts).
 * Infra tests only need an asset directory to hash and stage; the code never runs here.
 */
export function placeholderLambdaDir(marker = 'v1'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cdk-lambda-'));
  // One placeholder per bundle the stacks read: migrate (Data), api, events-consumer and authorizer (Api).
  for (const bundle of ['migrate', 'api', 'events-consumer', 'authorizer']) {
    mkdirSync(path.join(dir, bundle));
    writeFileSync(
      path.join(dir, bundle, 'index.mjs'),
      `// TEST FIXTURE (test/support/cdk.ts), not the ${bundle} function: ${marker}\nexport const handler = async () => { throw new Error('test fixture'); };\n`,
    );
  }
  return dir;
}

/**
 * TEST FIXTURE: a Docker build context with a placeholder Dockerfile, so the engine stack's image
 * asset needs neither the repository's Dockerfile nor a copy of the repository. Never built.
 */
export function placeholderImageDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cdk-image-'));
  writeFileSync(path.join(dir, 'Dockerfile'), '# TEST FIXTURE (test/support/cdk.ts), not the kidslearn image\nFROM scratch\n');
  return dir;
}

/** Synthesises environment `name` (all its stacks, with cdk-nag) into a temporary directory. */
export function synthesizeEnvironment(name: EnvName, options: { lambdaDir?: string; deployId?: string } = {}): SynthesizedEnvironment {
  const ownLambdaDir = options.lambdaDir === undefined;
  const lambdaDir = options.lambdaDir ?? placeholderLambdaDir();
  const outdir = mkdtempSync(path.join(tmpdir(), `kidslearn-cdk-${name}-`));
  const config = loadEnvConfig(name);
  const app = new App({ outdir, context: { ...cdkJsonContext(), env: name } });
  const imageDirectory = placeholderImageDir();
  const stacks = buildEnvironment(app, config, { lambdaDir, deployId: options.deployId, imageDirectory });
  addNagChecks(app);
  let synthError: string | undefined;
  try {
    app.synth();
  } catch (error) {
    if (!existsSync(path.join(outdir, 'validation-report.json'))) throw error;
    synthError = error instanceof Error ? error.message : String(error);
  }
  const synthesized = synthError === undefined;
  return {
    config,
    stacks,
    lambdaDir,
    nagFindings: readNagFindings(outdir),
    synthError,
    template(stack) {
      // After a failed validation the templates are on disk even though app.synth() threw.
      return synthesized ? Template.fromStack(stack) : Template.fromJSON(JSON.parse(readFileSync(path.join(outdir, stack.templateFile), 'utf8')) as Record<string, unknown>);
    },
    dispose() {
      rmSync(outdir, { recursive: true, force: true });
      rmSync(imageDirectory, { recursive: true, force: true });
      if (ownLambdaDir) rmSync(lambdaDir, { recursive: true, force: true });
    },
  };
}

interface ValidationReport {
  pluginReports: { pluginName: string; violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

function readNagFindings(outdir: string): NagFinding[] {
  const file = path.join(outdir, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as ValidationReport;
  return report.pluginReports
    .filter((p) => p.pluginName === 'AwsSolutions')
    .flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => ({ rule: v.ruleName, severity: v.severity, path: c.constructPath }))));
}

/** Logical ids of the resources of `type` in `template`. */
export function logicalIds(template: Template, type: string, props?: Record<string, unknown>): string[] {
  return Object.keys(template.findResources(type, props ? { Properties: props } : undefined));
}
