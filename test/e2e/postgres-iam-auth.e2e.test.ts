import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import type { RdsSigner } from '../../src/adapters/db/connection.ts';
import { createDatabaseIfMissing } from '../../src/adapters/db/create-database.ts';
import { openPostgresDatabase } from '../../src/adapters/db/postgres.ts';
import { advisoryLock } from '../../src/adapters/db/writer-lock.ts';
import { loadConfig } from '../../src/config/config.ts';
import { AppError } from '../../src/domain/errors.ts';
import { databaseBackends, POSTGRES_URL } from '../support/servers.ts';

/**
 * `DATABASE_AUTH=iam` end to end against the local PostgreSQL server: the
 * pool, a plain client (create-database) and the lock connection get their
 * password from the token function, which a stand-in signer answers with the
 * real password of a test role.
 *
 * The local server trusts 127.0.0.1 and would never ask for a password, so
 * the connections go through a small relay that does what RDS Proxy does:
 * it asks the client for a cleartext password, checks it against the role's
 * SCRAM verifier in pg_authid (PostgreSQL's own record of the password), and
 * only then opens the real connection and relays bytes both ways.
 */

const backend = (await databaseBackends()).find((b) => b.name === 'postgres')!;
const suffix = randomBytes(4).toString('hex');
const ROLE = `kl_iam_test_${suffix}`;
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const NEW_DATABASE = `kl_iam_db_${suffix}`;

/** Whether `password` matches a `SCRAM-SHA-256$<iter>:<salt>$<storedKey>:<serverKey>` verifier. */
function matchesScram(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):/.exec(verifier);
  if (!m) return false;
  const salted = pbkdf2Sync(password, Buffer.from(m[2]!, 'base64'), Number(m[1]), 32, 'sha256');
  const stored = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const expected = Buffer.from(m[3]!, 'base64');
  return expected.length === stored.length && timingSafeEqual(expected, stored);
}

/** Reads exactly `n` bytes (after what is already buffered). */
function reader(socket: net.Socket) {
  let buffered = Buffer.alloc(0);
  let waiting: (() => void) | undefined;
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    waiting?.();
  };
  socket.on('data', onData);
  return {
    async read(n: number): Promise<Buffer> {
      while (buffered.length < n) await new Promise<void>((resolve) => (waiting = resolve));
      const out = buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      return out;
    },
    /** Stops reading; returns what was read ahead. */
    detach(): Buffer {
      socket.off('data', onData);
      return buffered;
    },
  };
}

function errorResponse(code: string, message: string): Buffer {
  const body = Buffer.concat([Buffer.from(`SFATAL\0C${code}\0M${message}\0`), Buffer.from([0])]);
  const head = Buffer.alloc(5);
  head.write('E');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** The relay described above; `passwords` records every password a client sent. */
async function startRelay(upstream: { host: string; port: number }) {
  const passwords: string[] = [];
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    void (async () => {
      const input = reader(client);
      let length = (await input.read(4)).readInt32BE(0);
      let body = await input.read(length - 4);
      if (body.readInt32BE(0) === 80877103) {
        // SSLRequest: no TLS here.
        client.write('N');
        length = (await input.read(4)).readInt32BE(0);
        body = await input.read(length - 4);
      }
      const startup = Buffer.concat([Buffer.from([0, 0, 0, 0]), body]);
      startup.writeInt32BE(length, 0);
      const fields = body.subarray(4).toString('utf8').split('\0');
      const user = fields[fields.indexOf('user') + 1] ?? '';
      // AuthenticationCleartextPassword, as RDS Proxy asks IAM clients for their token.
      client.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
      const type = (await input.read(1)).toString();
      const passwordLength = (await input.read(4)).readInt32BE(0);
      const password = (await input.read(passwordLength - 4)).toString('utf8').replace(/\0$/, '');
      passwords.push(password);
      const { rows } = await admin.query<{ rolpassword: string | null }>('select rolpassword from pg_authid where rolname = $1', [user]);
      if (type !== 'p' || !rows[0]?.rolpassword || !matchesScram(rows[0].rolpassword, password)) {
        client.end(errorResponse('28P01', `password authentication failed for user "${user}"`));
        return;
      }
      const rest = input.detach();
      const real = net.connect(upstream);
      sockets.add(real);
      real.on('error', () => client.destroy());
      client.on('close', () => real.destroy());
      real.on('connect', () => {
        real.write(startup);
        if (rest.length) real.write(rest);
        client.pipe(real);
        real.pipe(client);
      });
    })().catch(() => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    passwords,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await admin.end();
    },
  };
}

describe('DATABASE_AUTH=iam against PostgreSQL (token function → password)', { skip: backend.skip }, () => {
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let admin: pg.Client;
  const signed: string[] = [];
  /** Returns the role's real password, as the SDK's signer would return a token. */
  const standIn = async (target: { username: string }): Promise<RdsSigner> => ({
    getAuthToken: async () => {
      signed.push(target.username);
      return PASSWORD;
    },
  });

  before(async () => {
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`create role ${ROLE} login createdb password '${PASSWORD}'`);
    const upstream = new URL(POSTGRES_URL);
    relay = await startRelay({ host: upstream.hostname, port: Number(upstream.port || 5432) });
  });

  after(async () => {
    await relay?.close();
    await admin.query(`drop database if exists ${NEW_DATABASE}`);
    await admin.query(`drop role if exists ${ROLE}`);
    await admin.end();
  });

  const iamConfig = () =>
    loadConfig(
      { DATABASE_AUTH: 'iam', DATABASE_URL: `postgresql://127.0.0.1:${relay.port}/postgres`, DATABASE_USER: ROLE, DATABASE_IAM_REGION: 'eu-west-1', DATABASE_CONNECT_TIMEOUT_MS: '3000' },
      { envFile: null },
    );

  it('connects a pool whose password is the token function, as the configured user', async () => {
    const config = iamConfig();
    assert.equal(config.database.kind, 'postgres');
    if (config.database.kind !== 'postgres' || config.database.auth.kind !== 'iam') return;
    assert.deepEqual(config.database.auth, { kind: 'iam', region: 'eu-west-1' });
    const before = relay.passwords.length;
    const database = await openPostgresDatabase({ ...config.database, auth: { ...config.database.auth, createSigner: standIn } });
    try {
      // Two statements at once: two connections.
      const rows = await Promise.all([1, 2].map(async () => (await sql<{ user: string }>`select current_user as "user", pg_sleep(0.05)`.execute(database.db)).rows[0]?.user));
      assert.deepEqual(rows, [ROLE, ROLE]);
      // Two connections, each sent the token the stand-in signed (once, then cached).
      assert.deepEqual(relay.passwords.slice(before), [PASSWORD, PASSWORD]);
      assert.deepEqual(signed, [ROLE]);
    } finally {
      await database.close();
    }
  });

  it('a plain client (create the database) and the lock connection sign in the same way', async () => {
    const config = iamConfig();
    if (config.database.kind !== 'postgres' || config.database.auth.kind !== 'iam') return assert.fail('postgres with IAM expected');
    const auth = { ...config.database.auth, createSigner: standIn };
    const url = new URL(config.database.url);
    url.pathname = `/${NEW_DATABASE}`;
    const before = relay.passwords.length;
    assert.deepEqual(await createDatabaseIfMissing(url.toString(), 3000, auth), { created: true, name: NEW_DATABASE });
    const { rows } = await admin.query('select pg_get_userbyid(datdba) as owner from pg_database where datname = $1', [NEW_DATABASE]);
    assert.deepEqual(rows, [{ owner: ROLE }]);
    const lock = advisoryLock({ url: config.database.url, auth, key: 424242, timeoutMs: 3000 });
    try {
      assert.equal(await lock.acquire(), true);
    } finally {
      await lock.release();
    }
    assert.deepEqual(relay.passwords.slice(before), [PASSWORD, PASSWORD]);
  });

  it('a token the server does not accept fails the checkout (28P01 from the proxy)', async () => {
    const config = iamConfig();
    if (config.database.kind !== 'postgres' || config.database.auth.kind !== 'iam') return assert.fail('postgres with IAM expected');
    const database = await openPostgresDatabase({
      ...config.database,
      auth: { ...config.database.auth, createSigner: async () => ({ getAuthToken: async () => 'expired-token' }) },
    });
    try {
      await assert.rejects(database.db.selectNoFrom((eb) => eb.val(1).as('one')).execute(), (e: unknown) => e instanceof Error && /password authentication failed/.test(e.message));
      assert.equal(relay.passwords.at(-1), 'expired-token');
    } finally {
      await database.close();
    }
  });

  it('a signer that cannot sign fails the checkout with 503 database_unavailable', async () => {
    const config = iamConfig();
    if (config.database.kind !== 'postgres' || config.database.auth.kind !== 'iam') return assert.fail('postgres with IAM expected');
    const database = await openPostgresDatabase({
      ...config.database,
      auth: { ...config.database.auth, createSigner: async () => ({ getAuthToken: () => Promise.reject(new Error('no credentials')) }) },
    });
    try {
      await assert.rejects(database.db.selectNoFrom((eb) => eb.val(1).as('one')).execute(), (e: unknown) => e instanceof AppError && e.code === 'database_unavailable');
    } finally {
      await database.close();
    }
  });
});
