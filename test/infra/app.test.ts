import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { placeholderImageDir, placeholderLambdaDir } from '../support/cdk.ts';

const node = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });

test('the CDK app (cdk.json "app") builds every environment (all six stacks) with --context env=all, nag-clean', () => {
  const lambdaDir = placeholderLambdaDir();
  const imageDirectory = placeholderImageDir();
  const outdir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cdk-all-'));
  try {
    // What the CDK CLI does: context in CDK_CONTEXT_JSON, output directory in CDK_OUTDIR.
    const r = node(['infra/bin/app.ts'], { CDK_CONTEXT_JSON: JSON.stringify({ env: 'all', lambdaDir, imageDirectory }), CDK_OUTDIR: outdir });
    assert.equal(r.status, 0, r.stderr);
    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string }> };
    const stacks = Object.entries(manifest.artifacts).filter(([, a]) => a.type === 'aws:cloudformation:stack').map(([id]) => id).sort();
    assert.deepEqual(stacks, ['Dev', 'Prod', 'Staging'].flatMap((e) => ['Analytics', 'Api', 'Data', 'Engine', 'Identity', 'Network'].map((p) => `Kidslearn-${e}-${p}`)).sort());
  } finally {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(lambdaDir, { recursive: true, force: true });
    rmSync(imageDirectory, { recursive: true, force: true });
  }
});

test('the CDK app says how to build the missing Lambda bundles', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cdk-none-'));
  try {
    const r = node(['infra/bin/app.ts'], { CDK_CONTEXT_JSON: JSON.stringify({ env: 'dev', lambdaDir: '/nonexistent-kidslearn' }), CDK_OUTDIR: outdir });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /No migrate bundle at \/nonexistent-kidslearn\/migrate\/index\.mjs: run `npm run build:lambda` first/);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test('npm run synth stops before synthesising when the bundles are missing', () => {
  const r = node(['scripts/synth.ts', '--lambda-dir', '/nonexistent-kidslearn', 'dev']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no Lambda bundles in \/nonexistent-kidslearn .*run `npm run build:lambda` first/);
});
