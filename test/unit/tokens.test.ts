import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, mock } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { runCli } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/config.ts';
import { generatePrivateJwk, importSigningKey, loadSigningKey } from '../../src/features/auth/signing-keys.ts';
import { parseTtl, TokenService } from '../../src/features/auth/tokens.ts';

describe('signing keys', () => {
  it('generates an Ed25519 key on first start, keeps it private and reuses it', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-keys-'));
    const first = await loadSigningKey({ dataDir, privateKeyJwk: undefined });
    const file = path.join(dataDir, 'keys', 'jwt-signing-key.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = await loadSigningKey({ dataDir, privateKeyJwk: undefined });
    assert.equal(again.kid, first.kid);
    assert.equal(first.alg, 'EdDSA');
    assert.equal(first.publicJwk.d, undefined, 'public JWK has no private part');
    const configured = await loadSigningKey({ dataDir: '/nonexistent', privateKeyJwk: readFileSync(file, 'utf8') });
    assert.equal(configured.kid, first.kid);
  });

  it('refuses a public key or an unsupported algorithm', async () => {
    const jwk = await generatePrivateJwk();
    const { d: _d, ...pub } = jwk;
    await assert.rejects(importSigningKey(pub), /private/);
    await assert.rejects(importSigningKey({ ...jwk, alg: 'HS256' }), /EdDSA/);
  });
});

describe('TokenService', () => {
  it('issues tokens with kid, sub, app, role and exp that verify', async () => {
    const key = await importSigningKey(await generatePrivateJwk());
    const tokens = new TokenService([key], 'kidslearn');
    const token = await tokens.issue({ sub: 'u1', app: 'mathkids', role: 'teacher' }, 600);
    assert.equal(decodeProtectedHeader(token).kid, key.kid);
    const p = await tokens.verify(token);
    assert.deepEqual({ sub: p.sub, app: p.app, role: p.role }, { sub: 'u1', app: 'mathkids', role: 'teacher' });
    assert.ok(Math.abs(p.exp - (Date.now() / 1000 + 600)) < 5);
    assert.deepEqual(await tokens.verify(token), p, 'memoised verification returns the same principal');
  });

  it('verifies tokens of a previous key while signing with the new one', async () => {
    const oldKey = await importSigningKey(await generatePrivateJwk());
    const newKey = await importSigningKey(await generatePrivateJwk());
    const before = await new TokenService([oldKey], 'kidslearn').issue({ sub: 'u', app: 'mathkids', role: 'child' }, 60);
    const rotated = new TokenService([newKey, oldKey], 'kidslearn');
    assert.equal((await rotated.verify(before)).sub, 'u');
    assert.equal(decodeProtectedHeader(await rotated.issue({ sub: 'u', app: 'mathkids', role: 'child' }, 60)).kid, newKey.kid);
    await assert.rejects(new TokenService([newKey], 'kidslearn').verify(before), (e: Error & { code?: string }) => e.code === 'invalid_token');
  });

  it('refuses to issue a token that would live longer than an hour', async () => {
    const key = await importSigningKey(await generatePrivateJwk());
    const tokens = new TokenService([key], 'kidslearn');
    await assert.rejects(tokens.issue({ sub: 'u', app: 'mathkids', role: 'admin' }, 3650 * 86400), RangeError);
    await assert.rejects(tokens.issue({ sub: 'u', app: 'mathkids', role: 'admin' }, 3601), RangeError);
    await assert.rejects(tokens.issue({ sub: 'u', app: 'mathkids', role: 'admin' }, 0), RangeError);
    const hour = decodeJwt(await tokens.issue({ sub: 'u', app: 'mathkids', role: 'admin' }, 3600));
    assert.equal(hour.exp! - hour.iat!, 3600);
  });

  it('the command line refuses `token --ttl 3650d` and mints at most an hour', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cli-token-'));
    const config = loadConfig({ KIDSLEARN_DATA_DIR: dataDir }, { envFile: null });
    await assert.rejects(runCli(['token', '--app', 'mathkids', '--role', 'admin', '--ttl', '3650d'], config), /'--ttl <duration>' argument '3650d' is invalid\. TTL "3650d" is longer than the 3600 s/);
    const token = await runCli(['token', '--app', 'mathkids', '--role', 'admin', '--ttl', '1h'], config);
    const claims = decodeJwt(token);
    assert.equal(claims.exp! - claims.iat!, 3600);
  });

  it('rejects another issuer and expired tokens, even once memoised', async () => {
    const key = await importSigningKey(await generatePrivateJwk());
    const other = await new TokenService([key], 'someone-else').issue({ sub: 'u', app: 'mathkids', role: 'child' }, 60);
    await assert.rejects(new TokenService([key], 'kidslearn').verify(other), (e: Error & { code?: string }) => e.code === 'invalid_token');
    const tokens = new TokenService([key], 'kidslearn');
    // A mocked clock instead of a 2 s sleep: issuing, the memo and jose all read Date.
    mock.timers.enable({ apis: ['Date'], now: Math.floor(Date.now() / 1000) * 1000 }); // on a whole second, so exp is 1 s away
    try {
      const short = await tokens.issue({ sub: 'u', app: 'mathkids', role: 'child' }, 1);
      assert.equal((await tokens.verify(short)).sub, 'u');
      mock.timers.tick(900);
      assert.equal((await tokens.verify(short)).sub, 'u', 'still valid just before exp');
      mock.timers.tick(1200);
      await assert.rejects(tokens.verify(short), (e: Error & { code?: string }) => e.code === 'token_expired');
    } finally {
      mock.timers.reset();
    }
  });

  it('parses TTLs', () => {
    assert.equal(parseTtl('900'), 900);
    assert.equal(parseTtl('15m'), 900);
    assert.equal(parseTtl('1h'), 3600);
    assert.throws(() => parseTtl('61m'), /longer than the 3600 s/);
    assert.throws(() => parseTtl('12h'), /longer than the 3600 s/);
    assert.throws(() => parseTtl('3650d'), /longer than the 3600 s/);
    assert.throws(() => parseTtl('soon'), /TTL/);
    assert.throws(() => parseTtl('0'), /positive/);
  });
});
