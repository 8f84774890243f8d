import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import {
  generatePrivateJwk,
  importSigningKey,
  listSigningKeys,
  loadSigningKey,
  loadVerificationKeys,
  parsePreviousPublicJwks,
  PREVIOUS_KEY_GRACE_MS,
  previousKeysDir,
  rotateSigningKey,
  signingKeyFile,
} from '../../src/features/auth/signing-keys.ts';
import { TokenService } from '../../src/features/auth/tokens.ts';

const run = promisify(execFile);
const tempDataDir = () => mkdtempSync(path.join(tmpdir(), 'kidslearn-rotate-'));
const claims = { sub: 'g1', app: 'mathkids', role: 'guardian' } as const;
const isInvalidToken = (e: Error & { code?: string; kind?: string }) => e.code === 'invalid_token' && e.kind === 'unauthenticated';

/** What the server builds at start: the current key signs, previous keys verify. */
async function serverTokens(dataDir: string): Promise<TokenService> {
  const signing = await loadSigningKey({ dataDir, privateKeyJwk: undefined });
  return new TokenService([signing, ...(await loadVerificationKeys({ dataDir }))], 'kidslearn');
}

describe('signing-key rotation', () => {
  it('keeps tokens signed before a rotation valid and publishes both keys', async () => {
    const dataDir = tempDataDir();
    const before = await serverTokens(dataDir);
    const oldKid = (before.jwks().keys[0] as { kid: string }).kid;
    const oldToken = await before.issue(claims, 900);

    const now = new Date();
    const rotated = await rotateSigningKey({ dataDir, privateKeyJwk: undefined, now });
    assert.notEqual(rotated.kid, oldKid);
    assert.deepEqual(rotated.retired, { kid: oldKid, retireAfter: new Date(now.getTime() + PREVIOUS_KEY_GRACE_MS).toISOString() });
    assert.ok(PREVIOUS_KEY_GRACE_MS > 15 * 60 * 1000, 'longer than the longest access token');

    const after = await serverTokens(dataDir);
    assert.equal((await after.verify(oldToken)).sub, 'g1');
    const newToken = await after.issue(claims, 900);
    assert.equal(decodeProtectedHeader(newToken).kid, rotated.kid);
    const kids = after.jwks().keys.map((k) => (k as { kid: string }).kid);
    assert.deepEqual(kids, [rotated.kid, oldKid]);
    assert.ok(after.jwks().keys.every((k) => !('d' in k)), 'only public keys are published');

    const previousFile = path.join(previousKeysDir(dataDir), `${oldKid}.json`);
    const stored = JSON.parse(readFileSync(previousFile, 'utf8')) as { retireAfter: string; jwk: Record<string, unknown> };
    assert.equal(stored.jwk.d, undefined, 'the old private key is not kept');
    assert.equal(stored.retireAfter, rotated.retired?.retireAfter);

    assert.equal(statSync(signingKeyFile(dataDir)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(path.dirname(signingKeyFile(dataDir))).sort(), ['jwt-signing-key.json', 'previous'], 'no temporary files left behind');

    const listed = await listSigningKeys({ dataDir, privateKeyJwk: undefined });
    assert.deepEqual(listed.current, { kid: rotated.kid, source: 'data dir' });
    assert.deepEqual(listed.previous, [{ kid: oldKid, retireAfter: stored.retireAfter, retired: false }]);
  });

  it('drops a previous key once its retireAfter has passed', async () => {
    const dataDir = tempDataDir();
    const oldKey = await importSigningKey(await generatePrivateJwk());
    const oldToken = await new TokenService([oldKey], 'kidslearn').issue(claims, 900);
    mkdirSync(previousKeysDir(dataDir), { recursive: true });
    writeFileSync(
      path.join(previousKeysDir(dataDir), `${oldKey.kid}.json`),
      JSON.stringify({ retireAfter: new Date(Date.now() - 1000).toISOString(), jwk: oldKey.publicJwk }),
    );

    assert.deepEqual(await loadVerificationKeys({ dataDir }), []);
    const tokens = await serverTokens(dataDir);
    assert.equal(tokens.jwks().keys.length, 1);
    await assert.rejects(tokens.verify(oldToken), isInvalidToken);
    const listed = await listSigningKeys({ dataDir, privateKeyJwk: undefined });
    assert.equal(listed.previous[0]?.retired, true);
  });

  it('refuses to rotate a key configured through JWT_PRIVATE_KEY', async () => {
    const dataDir = tempDataDir();
    const privateKeyJwk = JSON.stringify(await generatePrivateJwk());
    await assert.rejects(rotateSigningKey({ dataDir, privateKeyJwk }), /JWT_PRIVATE_KEY is set/);
    assert.deepEqual(readdirSync(dataDir), [], 'nothing written');
  });

  it('loads previous public keys from JWT_PREVIOUS_PUBLIC_KEYS', async () => {
    const oldKey = await importSigningKey(await generatePrivateJwk());
    const newKey = await importSigningKey(await generatePrivateJwk());
    const oldToken = await new TokenService([oldKey], 'kidslearn').issue(claims, 900);
    const previous = await loadVerificationKeys({ dataDir: tempDataDir(), previousPublicJwks: JSON.stringify([oldKey.publicJwk]) });
    assert.deepEqual(previous.map((k) => k.kid), [oldKey.kid]);
    assert.equal((await new TokenService([newKey, ...previous], 'kidslearn').verify(oldToken)).sub, 'g1');

    assert.throws(() => parsePreviousPublicJwks('not json'), /JSON array of public JWKs/);
    assert.throws(() => parsePreviousPublicJwks('{"kty":"OKP"}'), /JSON array of public JWKs/);
    const privateJwk = await generatePrivateJwk();
    assert.throws(() => parsePreviousPublicJwks(JSON.stringify([privateJwk])), (e: Error) => /public keys only/.test(e.message) && !e.message.includes(privateJwk.d!));
  });

  it('TokenService needs a private key first and lists each kid once', async () => {
    const key = await importSigningKey(await generatePrivateJwk());
    const { privateKey: _p, ...publicOnly } = key;
    assert.throws(() => new TokenService([publicOnly as typeof key], 'kidslearn'), /private signing key/);
    assert.equal(new TokenService([key, publicOnly], 'kidslearn').jwks().keys.length, 1);
  });

  it('`keys rotate` and `keys list` on the command line', async () => {
    const dataDir = tempDataDir();
    const env = { ...process.env, KIDSLEARN_DATA_DIR: dataDir, JWT_PRIVATE_KEY: '', DATABASE_URL: '', REDIS_URL: '' };
    const oldKid = (await loadSigningKey({ dataDir, privateKeyJwk: undefined })).kid;
    const { stdout } = await run(process.execPath, ['src/cli/main.ts', 'keys', 'rotate'], { env });
    const newKid = /^new signing key: (\S+)$/m.exec(stdout)?.[1];
    assert.ok(newKid && newKid !== oldKid, stdout);
    assert.match(stdout, new RegExp(`^retired key: ${oldKid} \\(still verifies until \\d{4}-\\d\\d-\\d\\dT`, 'm'));
    assert.equal(statSync(signingKeyFile(dataDir)).mode & 0o777, 0o600);

    const list = await run(process.execPath, ['src/cli/main.ts', 'keys', 'list'], { env });
    assert.match(list.stdout, new RegExp(`^current\\t${newKid}\\tdata dir$`, 'm'));
    assert.match(list.stdout, new RegExp(`^previous\\t${oldKid}\\tretireAfter \\S+$`, 'm'));

    const refused = await run(process.execPath, ['src/cli/main.ts', 'keys', 'rotate'], {
      env: { ...env, JWT_PRIVATE_KEY: JSON.stringify(await generatePrivateJwk()) },
    }).catch((e: { code: number; stderr: string }) => e);
    assert.ok('code' in refused && refused.code === 1);
    assert.match(refused.stderr, /^kidslearn: JWT_PRIVATE_KEY is set/);
  });
});
