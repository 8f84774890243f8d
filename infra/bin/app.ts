/**
 * The kidslearn CDK app. `--context env=dev|staging|prod` builds that
 * environment's stacks; `env=all` builds all three (what `npm run synth` checks).
 * Run with Node 24 type stripping: `node infra/bin/app.ts` (cdk.json's "app").
 */
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { ENV_NAMES, EnvConfigError, loadEnvConfig } from '../lib/config.ts';
import { addNagChecks, buildEnvironment } from '../lib/environment.ts';

const app = new App();
const ctx = (key: string): string | undefined => {
  const v: unknown = app.node.tryGetContext(key);
  return typeof v === 'string' && v !== '' ? v : undefined;
};
const requested = ctx('env');
const names = requested === 'all' ? [...ENV_NAMES] : [requested];
const lambdaDir = path.resolve(ctx('lambdaDir') ?? 'dist/lambda');

try {
  for (const name of names) {
    const config = loadEnvConfig(name, { account: ctx('account'), region: ctx('region'), alarmEmail: ctx('alarmEmail') });
    buildEnvironment(app, config, { lambdaDir, deployId: ctx('deployId') });
  }
} catch (error) {
  // A wrong --context value is the operator's mistake: one line, no stack trace.
  if (!(error instanceof EnvConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
addNagChecks(app);
app.synth();
