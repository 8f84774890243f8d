import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

/**
 * The rules of the repository's Dockerfile and .dockerignore (no Docker
 * engine runs here, so they are read, not built): multi-stage, base images
 * pinned to an exact version and a digest, production dependencies only,
 * a non-root user and a health check in the final stage, no secrets.
 */
interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions in order: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (!full) continue;
    const [keyword, ...rest] = full.split(/\s+/);
    out.push({ keyword: keyword!.toUpperCase(), args: rest.join(' ') });
  }
  return out;
}

/** The stages: each FROM and the instructions up to the next. */
function stages(instructions: Instruction[]): { from: string; name: string | undefined; body: Instruction[] }[] {
  const result: { from: string; name: string | undefined; body: Instruction[] }[] = [];
  for (const i of instructions) {
    if (i.keyword === 'FROM') {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--platform'));
      result.push({ from: parts[0]!, name: parts[1]?.toUpperCase() === 'AS' ? parts[2] : undefined, body: [] });
    } else result.at(-1)?.body.push(i);
  }
  return result;
}

/** Global ARG defaults (before the first FROM), for resolving `${NAME}` in FROM lines. */
function globalArgs(instructions: Instruction[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const i of instructions) {
    if (i.keyword === 'FROM') break;
    if (i.keyword === 'ARG') {
      const [name, value] = i.args.split(/=(.*)/s);
      if (value !== undefined) args.set(name!.trim(), value.trim().replace(/^"(.*)"$/, '$1'));
    }
  }
  return args;
}

/** `node:24.21.0-bookworm-slim@sha256:…` with a pinned version and digest. */
export function pinnedImageProblem(image: string): string | undefined {
  const match = /^(?<name>[a-z0-9./_-]+):(?<tag>[A-Za-z0-9._-]+)@sha256:(?<digest>[a-f0-9]{64})$/.exec(image);
  if (!match) return `${image}: expected name:tag@sha256:<digest>`;
  const tag = match.groups!.tag!;
  if (/latest/i.test(tag)) return `${image}: the tag must not be latest`;
  if (!/^\d+\.\d+\.\d+(?:-[a-z0-9.-]+)?$/.test(tag)) return `${image}: the tag must name an exact version (x.y.z)`;
  return undefined;
}

const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY|JWK/i;

const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
const dockerignore = readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8');

describe('Dockerfile', () => {
  const instructions = parseDockerfile(dockerfile);
  const all = stages(instructions);
  const final = all.at(-1)!;
  const args = globalArgs(instructions);
  const resolve = (image: string) => image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? `<unset ${a ?? b}>`);

  it('is multi-stage, every base image pinned to an exact version and a digest (never latest)', () => {
    assert.ok(all.length >= 2, `stages: ${all.length}`);
    const stageNames = new Set(all.map((s) => s.name).filter(Boolean));
    for (const stage of all) {
      if (stageNames.has(stage.from)) continue; // built on an earlier stage
      const image = resolve(stage.from);
      assert.equal(pinnedImageProblem(image), undefined);
      assert.match(image, /^node:24\.\d+\.\d+-bookworm-slim@/, 'Node 24 on Debian bookworm slim');
    }
  });

  it('installs production dependencies only, with npm ci', () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.ok(
      runs.some((r) => /\bnpm ci\b[^&|;]*--omit=dev/.test(r)),
      runs.join('\n'),
    );
    assert.ok(!runs.some((r) => /\bnpm (?:install|i)\b/.test(r)), 'npm install would ignore the lockfile');
  });

  it('runs as a non-root user, with a health check and a command, in the final stage', () => {
    const users = final.body.filter((i) => i.keyword === 'USER').map((i) => i.args.split(':')[0]!.trim());
    assert.ok(users.length > 0, 'no USER in the final stage');
    const user = users.at(-1)!;
    assert.ok(!['root', '0'].includes(user), `final USER is ${user}`);
    const health = final.body.find((i) => i.keyword === 'HEALTHCHECK');
    assert.ok(health, 'no HEALTHCHECK');
    assert.doesNotMatch(health.args, /^NONE\b/i);
    assert.match(health.args, /CMD\s+\[\s*"node"/, 'the health check runs node (no curl in the slim image)');
    assert.ok(final.body.some((i) => i.keyword === 'CMD'), 'no CMD');
  });

  it('bakes no secret into a layer: no ENV or ARG with a secret-looking name, no secret files copied', () => {
    for (const i of instructions.filter((x) => x.keyword === 'ENV' || x.keyword === 'ARG')) {
      const names = i.keyword === 'ARG' ? [i.args.split('=')[0]!] : [...i.args.matchAll(/(\w+)=/g)].map((m) => m[1]!);
      for (const name of names) assert.doesNotMatch(name, SECRET_NAME, `${i.keyword} ${name}`);
    }
    for (const i of instructions.filter((x) => x.keyword === 'COPY' || x.keyword === 'ADD')) {
      assert.doesNotMatch(i.args, /\.env\b|\.pem\b|id_rsa|signing-key|credentials/, `${i.keyword} ${i.args}`);
    }
  });

  it('the checks themselves catch what they are for', () => {
    assert.match(pinnedImageProblem('node:latest@sha256:' + 'a'.repeat(64))!, /latest/);
    assert.match(pinnedImageProblem('node:24-bookworm-slim@sha256:' + 'a'.repeat(64))!, /exact version/);
    assert.match(pinnedImageProblem('node:24.21.0-bookworm-slim')!, /digest/);
    const parsed = parseDockerfile('FROM a AS b\n# c\nRUN x \\\n  && y\nUSER node\n');
    assert.deepEqual(parsed, [
      { keyword: 'FROM', args: 'a AS b' },
      { keyword: 'RUN', args: 'x && y' },
      { keyword: 'USER', args: 'node' },
    ]);
  });
});

describe('.dockerignore', () => {
  const patterns = new Set(
    dockerignore
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.replace(/^\/|\/$/g, '')),
  );
  it('keeps dependencies, data, build output, git history, test artifacts and env files out of the build context', () => {
    for (const required of ['node_modules', '.git', 'data', 'dist', 'cdk.out', 'test-artifacts', '.env', '.env.*']) {
      assert.ok(patterns.has(required), `.dockerignore lacks ${required}`);
    }
  });
});
