import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { type BuiltLambda, buildLambdas } from '../../scripts/build-lambda.ts';

/**
 * `npm run synth` as a user runs it: the real Lambda bundles (built here, into a temporary
 * directory) and the repository's own Dockerfile as the engine image, every environment,
 * cdk-nag on. The other infra tests use placeholder bundles; this one checks that what is
 * deployed is what `npm run build:lambda` builds.
 */
let dir: string;
let built: BuiltLambda[];
let run: ReturnType<typeof spawnSync>;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-synth-'));
  built = await buildLambdas({ outDir: path.join(dir, 'lambda') });
  run = spawnSync(process.execPath, ['scripts/synth.ts', '--lambda-dir', path.join(dir, 'lambda'), '--out', path.join(dir, 'cdk.out')], { encoding: 'utf8', timeout: 180_000 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('npm run synth synthesises dev, staging and prod with the real bundles: nag-clean, no CDK warnings or deprecations', () => {
  assert.equal(run.status, 0, String(run.stderr));
  for (const env of ['dev', 'staging', 'prod']) assert.match(String(run.stdout), new RegExp(`synth ${env}: 6 stacks → `));
  assert.doesNotMatch(String(run.stdout) + String(run.stderr), /warning|deprecated/i);
});

test('every function bundle deployed is byte for byte the one build:lambda made (api, migrate, events-consumer and the rest)', () => {
  for (const env of ['dev', 'prod']) {
    const out = path.join(dir, 'cdk.out', env);
    const staged = readdirSync(out)
      .filter((d) => d.startsWith('asset.') && existsSync(path.join(out, d, 'index.mjs')))
      .map((d) => readFileSync(path.join(out, d, 'index.mjs'), 'utf8'));
    for (const name of ['api', 'migrate', 'events-consumer']) assert.ok(built.some((b) => b.name === name), `${name} is built`);
    for (const b of built) {
      const code = readFileSync(b.file, 'utf8');
      assert.ok(staged.includes(code), `${env}: the ${b.name} bundle is deployed as built`);
    }
  }
});
