import pg from 'pg';
import { pgConnectionOptions, type PostgresAuth } from './connection.ts';

/**
 * Creates the database `url` names when the server does not have it yet, so
 * `kidslearn migrate` is the one set-up step on a fresh PostgreSQL server.
 * Connects to the server's `postgres` maintenance database to do so (the
 * role needs CREATEDB there); returns whether it created anything. The name
 * goes into SQL only as a quoted identifier.
 */
export async function createDatabaseIfMissing(url: string, connectTimeoutMs: number, auth?: PostgresAuth): Promise<{ created: boolean; name: string }> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name || name === 'postgres') return { created: false, name: name || 'postgres' };
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ ...pgConnectionOptions({ url: maintenance.toString(), auth, connectTimeoutMs }), connectionTimeoutMillis: connectTimeoutMs });
  // A dropped connection must reject the awaited call below, not crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return { created: false, name };
    try {
      await client.query(`create database ${client.escapeIdentifier(name)}`);
    } catch (error) {
      // Another process created it meanwhile: what we wanted.
      if ((error as { code?: string }).code === '42P04') return { created: false, name };
      throw error;
    }
    return { created: true, name };
  } finally {
    await client.end();
  }
}
