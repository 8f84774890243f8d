import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pgConnectionOptions, RDS_TOKEN_RENEW_AFTER_MS, rdsTokenProvider, type RdsSigner } from '../../src/adapters/db/connection.ts';
import { AppError } from '../../src/domain/errors.ts';

/** A stand-in signer factory: counts signers made and tokens signed; each token is numbered. */
function fakeSigner(o: { sign?: () => Promise<string> } = {}) {
  const calls = { created: 0, signed: 0, targets: [] as unknown[] };
  const createSigner = async (target: unknown): Promise<RdsSigner> => {
    calls.created++;
    calls.targets.push(target);
    return { getAuthToken: o.sign ?? (async () => `token-${++calls.signed}`) };
  };
  return { calls, createSigner };
}

const target = { hostname: 'proxy.example', port: 5432, username: 'kidslearn_admin', region: 'eu-west-1', timeoutMs: 1000 };

describe('rdsTokenProvider', () => {
  it('loads the signer only on the first connection, not when the provider is made', async () => {
    const fake = fakeSigner();
    const password = rdsTokenProvider({ ...target, createSigner: fake.createSigner });
    assert.equal(fake.calls.created, 0);
    assert.equal(await password(), 'token-1');
    assert.equal(fake.calls.created, 1);
    assert.deepEqual(fake.calls.targets, [{ hostname: 'proxy.example', port: 5432, username: 'kidslearn_admin', region: 'eu-west-1' }]);
  });

  it('reuses a fresh token, signs a new one for a new connection once the cached one is near expiry', async () => {
    let clock = 1_000_000;
    const fake = fakeSigner();
    const password = rdsTokenProvider({ ...target, createSigner: fake.createSigner, now: () => clock });
    assert.equal(await password(), 'token-1');
    clock += RDS_TOKEN_RENEW_AFTER_MS - 1;
    assert.equal(await password(), 'token-1');
    clock += 1;
    assert.equal(await password(), 'token-2');
    assert.equal(await password(), 'token-2');
    assert.equal(fake.calls.signed, 2);
    assert.equal(fake.calls.created, 1, 'one signer for the life of the provider');
  });

  it('renews well before the 15-minute lifetime', () => {
    assert.ok(RDS_TOKEN_RENEW_AFTER_MS <= 10 * 60_000);
  });

  it('shares one signing between concurrent connections', async () => {
    const fake = fakeSigner();
    const password = rdsTokenProvider({ ...target, createSigner: fake.createSigner });
    assert.deepEqual(await Promise.all([password(), password(), password()]), ['token-1', 'token-1', 'token-1']);
    assert.equal(fake.calls.signed, 1);
  });

  it('gives up after timeoutMs with 503 database_unavailable, and tries again on the next connection', async () => {
    let hang = true;
    let signed = 0;
    const fake = fakeSigner({ sign: () => (hang ? new Promise<string>(() => {}) : Promise.resolve(`token-${++signed}`)) });
    const password = rdsTokenProvider({ ...target, timeoutMs: 50, createSigner: fake.createSigner });
    await assert.rejects(password(), (e: unknown) => e instanceof AppError && e.code === 'database_unavailable' && /within 50 ms/.test(e.message));
    hang = false;
    assert.equal(await password(), 'token-1');
  });

  it('maps a signing failure to 503 database_unavailable and does not cache it', async () => {
    let fail = true;
    const fake = fakeSigner({ sign: async () => (fail ? Promise.reject(new Error('CredentialsProviderError')) : 'token-ok') });
    const password = rdsTokenProvider({ ...target, createSigner: fake.createSigner });
    await assert.rejects(password(), (e: unknown) => e instanceof AppError && e.code === 'database_unavailable' && (e.cause as Error).message === 'CredentialsProviderError');
    fail = false;
    assert.equal(await password(), 'token-ok');
  });

  it('loads the signer again when loading it failed', async () => {
    let attempts = 0;
    const password = rdsTokenProvider({
      ...target,
      createSigner: async () => {
        if (++attempts === 1) throw new Error('Cannot find package');
        return { getAuthToken: async () => 'token' };
      },
    });
    await assert.rejects(password(), (e: unknown) => e instanceof AppError && e.code === 'database_unavailable');
    assert.equal(await password(), 'token');
    assert.equal(attempts, 2);
  });
});

describe('pgConnectionOptions', () => {
  it('passes the connection string as is with password authentication', () => {
    assert.deepEqual(pgConnectionOptions({ url: 'postgresql://u:p@h:5432/d', connectTimeoutMs: 1000 }), { connectionString: 'postgresql://u:p@h:5432/d' });
    assert.deepEqual(pgConnectionOptions({ url: 'postgresql://u:p@h:5432/d', auth: { kind: 'password' }, connectTimeoutMs: 1000 }), { connectionString: 'postgresql://u:p@h:5432/d' });
  });

  it('with IAM: no connection string (its empty password would win), the parts, TLS verified, and a token function', async () => {
    const fake = fakeSigner();
    const options = pgConnectionOptions({
      url: 'postgresql://kidslearn_admin@proxy.example:5432/kidslearn?sslmode=verify-full',
      auth: { kind: 'iam', region: 'eu-west-1', createSigner: fake.createSigner },
      connectTimeoutMs: 1000,
    });
    assert.equal(options.connectionString, undefined);
    assert.equal(options.host, 'proxy.example');
    assert.equal(Number(options.port), 5432);
    assert.equal(options.user, 'kidslearn_admin');
    assert.equal(options.database, 'kidslearn');
    assert.ok(options.ssl && typeof options.ssl === 'object' && (options.ssl as { rejectUnauthorized?: boolean }).rejectUnauthorized !== false, 'TLS with the certificate verified');
    assert.equal(typeof options.password, 'function');
    assert.equal(await (options.password as () => Promise<string>)(), 'token-1');
    assert.deepEqual(fake.calls.targets, [{ hostname: 'proxy.example', port: 5432, username: 'kidslearn_admin', region: 'eu-west-1' }]);
  });

  it('with IAM: every connection of one server and user shares one token provider (pool, pg-boss, LISTEN, lock)', () => {
    const settings = { url: 'postgresql://app@proxy.example:5432/kidslearn', auth: { kind: 'iam' as const, region: 'eu-west-1' }, connectTimeoutMs: 1000 };
    const a = pgConnectionOptions(settings);
    const b = pgConnectionOptions({ ...settings, url: 'postgresql://app@proxy.example:5432/postgres' });
    assert.equal(a.password, b.password);
    assert.notEqual(pgConnectionOptions({ ...settings, url: 'postgresql://other@proxy.example:5432/kidslearn' }).password, a.password);
  });
});
