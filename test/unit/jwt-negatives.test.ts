import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { AppError } from '../../src/domain/errors.ts';
import { generatePrivateJwk, importSigningKey, type SigningKey } from '../../src/features/auth/signing-keys.ts';
import { TOKEN_AUDIENCE, TokenService } from '../../src/features/auth/tokens.ts';

/** Every way a bearer token can be wrong: each is a 401 with a stable code. */
describe('access token negatives', async () => {
  const key = await importSigningKey(await generatePrivateJwk());
  const stranger = await importSigningKey(await generatePrivateJwk());
  const tokens = new TokenService([key], 'kidslearn');
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

  const signed = (claims: Record<string, unknown>, options: { signer?: SigningKey; kid?: string } = {}) => {
    const signer = options.signer ?? key;
    return new SignJWT({ app: 'mathkids', role: 'guardian', ...claims })
      .setProtectedHeader({ alg: signer.alg, kid: options.kid ?? signer.kid })
      .sign(signer.privateKey);
  };
  const valid = { sub: 'u1', iss: 'kidslearn', aud: TOKEN_AUDIENCE, exp: now + 600, iat: now, jti: 'j1' };

  const rejects = async (token: string, code: string) => {
    await assert.rejects(tokens.verify(token), (error: unknown) => {
      assert.ok(error instanceof AppError, String(error));
      assert.equal(error.kind, 'unauthenticated');
      assert.equal(error.code, code);
      return true;
    });
  };

  it('accepts the well-formed token the negatives are made from', async () => {
    assert.equal((await tokens.verify(await signed(valid))).sub, 'u1');
  });

  it('alg: none', async () => {
    await rejects(`${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...valid, jti: 'none' })}.`, 'invalid_token');
  });

  it('an algorithm that is not allowed (HS256 keyed with the public key)', async () => {
    const header = b64({ alg: 'HS256', kid: key.kid });
    const payload = b64({ ...valid, jti: 'hs' });
    const mac = createHmac('sha256', JSON.stringify(key.publicJwk)).update(`${header}.${payload}`).digest('base64url');
    await rejects(`${header}.${payload}.${mac}`, 'invalid_token');
  });

  it('wrong aud', async () => rejects(await signed({ ...valid, aud: 'another-api' }), 'invalid_token'));
  it('no aud', async () => rejects(await signed({ ...valid, aud: undefined }), 'invalid_token'));
  it('wrong iss', async () => rejects(await signed({ ...valid, iss: 'someone-else' }), 'invalid_token'));
  it('expired', async () => rejects(await signed({ ...valid, exp: now - 60 }), 'token_expired'));
  it('not yet valid (nbf in the future)', async () => rejects(await signed({ ...valid, nbf: now + 3600 }), 'invalid_token'));

  it('iat an hour in the future (beyond the 60 s clock skew)', async () => rejects(await signed({ ...valid, iat: now + 3600, jti: 'future' }), 'invalid_token'));
  it('iat two minutes in the future', async () => rejects(await signed({ ...valid, iat: now + 120, jti: 'future2' }), 'invalid_token'));
  it('accepts an iat 30 s in the future (within the clock skew)', async () => {
    assert.equal((await tokens.verify(await signed({ ...valid, iat: now + 30, jti: 'skew' }))).sub, 'u1');
  });
  it('no iat', async () => rejects(await signed({ ...valid, iat: undefined, jti: 'no-iat' }), 'invalid_token'));
  it('a lifetime longer than an hour (exp - iat), although still within its exp', async () => {
    await rejects(await signed({ ...valid, iat: now - 10, exp: now + 3650 * 86400, jti: 'ten-years' }), 'invalid_token');
    await rejects(await signed({ ...valid, iat: now, exp: now + 3601 + 60, jti: 'just-over' }), 'invalid_token');
  });
  it('issued more than an hour ago, although exp says it is still valid', async () => {
    await rejects(await signed({ ...valid, iat: now - 3600 - 120, exp: now + 60, jti: 'old' }), 'token_expired');
  });

  it('tampered payload (role raised to admin, signature kept)', async () => {
    const [header, , signature] = (await signed(valid)).split('.');
    await rejects(`${header}.${b64({ ...valid, role: 'admin', app: 'mathkids' })}.${signature}`, 'invalid_token');
  });

  it('unknown kid, and a known kid on a token signed by another key', async () => {
    await rejects(await signed(valid, { kid: 'no-such-kid' }), 'invalid_token');
    await rejects(await signed(valid, { signer: stranger, kid: key.kid }), 'invalid_token');
    await rejects(await signed(valid, { signer: stranger }), 'invalid_token');
  });

  it('missing app or role, or a role that does not exist', async () => {
    await rejects(await signed({ ...valid, app: undefined }), 'invalid_token');
    await rejects(await signed({ ...valid, role: 'superuser' }), 'invalid_token');
    await rejects(await signed({ ...valid, app: 'Bad App' }), 'invalid_token');
  });

  it('another app’s token verifies, but only for that app (the API refuses it elsewhere)', async () => {
    const principal = await tokens.verify(await signed({ ...valid, app: 'wordkids', jti: 'other' }));
    assert.equal(principal.app, 'wordkids');
  });
});
