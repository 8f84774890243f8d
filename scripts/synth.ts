/**
 * `npm run synth`: synthesises every environment (dev, staging, prod) into
 * cdk.out/<env> in code — no AWS credentials, no network, no CDK CLI — and
 * fails if cdk-nag (or CDK itself) reports an error, printing warnings too.
 * Needs the Lambda bundles (`npm run build:lambda`, which `npm run synth` runs first).
 *
 * Usage: node scripts/synth.ts [--lambda-dir dist/lambda] [--out cdk.out] [env ...]
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { App } from 'aws-cdk-lib';
import { ENV_NAMES, loadEnvConfig } from '../infra/lib/config.ts';
import { addNagChecks, buildEnvironment, cdkJsonContext } from '../infra/lib/environment.ts';

const { values, positionals } = parseArgs({
  options: { 'lambda-dir': { type: 'string', default: 'dist/lambda' }, out: { type: 'string', default: 'cdk.out' } },
  allowPositionals: true,
});
const lambdaDir = path.resolve(values['lambda-dir']);
const names = positionals.length ? positionals : [...ENV_NAMES];
if (!existsSync(path.join(lambdaDir, 'migrate'))) {
  console.error(`synth: no Lambda bundles in ${lambdaDir} (expected ${lambdaDir}/migrate/index.mjs): run \`npm run build:lambda\` first`);
  process.exit(1);
}

let failed = false;
for (const name of names) {
  const config = loadEnvConfig(name);
  const outdir = path.resolve(values.out, name);
  const app = new App({ outdir, context: { ...cdkJsonContext(), env: name, lambdaDir } });
  buildEnvironment(app, config, { lambdaDir });
  addNagChecks(app);
  try {
    // Throws when cdk-nag (a policy-validation plugin) reports an unacknowledged error; CDK prints the report.
    const assembly = app.synth();
    const warnings = assembly.stacks.flatMap((s) => s.messages.filter((m) => m.level === 'warning' || m.level === 'error'));
    for (const m of warnings) console.error(`${m.level} ${m.id}: ${String(m.entry.data)}`);
    console.log(`synth ${name}: ${assembly.stacks.length} stacks → ${path.relative(process.cwd(), outdir)}${warnings.length ? ` (${warnings.length} warnings)` : ''}`);
  } catch (error) {
    console.error(`synth ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
