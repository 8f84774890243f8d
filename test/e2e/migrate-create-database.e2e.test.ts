import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { controlMigrations } from '../../src/adapters/db/migrations.ts';
import { runCliProcess } from '../support/cli.ts';
import { databaseBackends, POSTGRES_URL } from '../support/servers.ts';

const [, postgres] = await databaseBackends();
const name = `kidslearn_migrate_${process.pid}_${randomBytes(3).toString('hex')}`;

async function exists(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return ((await client.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

describe('kidslearn migrate on a PostgreSQL server without the database', { skip: postgres!.skip }, () => {
  after(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
    await client.end();
  });

  it('creates the database, then migrates it; a second run creates nothing', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${name}`;
    const env = { ...process.env, DATABASE_URL: url.toString(), KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-migrate-')), LOG_LEVEL: 'warn' };
    assert.equal(await exists(), false);
    const first = await runCliProcess(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout.trim(), new RegExp(`^created database ${name}\\napplied ${controlMigrations.length} migrations?:\\n  control: 1 app registry; 2 [^\\n]+$`), 'it created the database and applied every migration, naming them');
    assert.equal(await exists(), true);
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const control = await client.query("select count(*)::int as n from information_schema.tables where table_schema = 'kidslearn'");
    await client.end();
    assert.ok((control.rows[0] as { n: number }).n > 0, 'the control schema was migrated into the new database');
    const second = await runCliProcess(['migrate'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), 'migrations are up to date (nothing to apply)');
  });
});
