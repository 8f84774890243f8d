import type { Command } from 'commander';
import { createDatabaseIfMissing } from '../../adapters/db/create-database.ts';
import { applyMigrations, type AppliedMigration } from '../../adapters/db/migrations.ts';
import type { Config } from '../../config/config.ts';
import { openDatabase } from '../../wiring/container.ts';
import type { CliContext } from '../shared.ts';

/** What one migration run did, and where every scope stands after it. */
export interface MigrationRun {
  /** The database `DATABASE_URL` names, when this run created it. */
  createdDatabase: string | undefined;
  /** The migrations this run applied (empty: everything was up to date). */
  applied: AppliedMigration[];
  /** The latest applied version of each scope (`control`, `app:<id>`), after the run. */
  versions: Record<string, number>;
}

/**
 * `kidslearn migrate` (and the AWS deploy's Lambda "migrate",
 * runtimes/lambda/migrate.ts): on a server, creates the database when
 * missing; then applies pending migrations to the control schema and every
 * app, under the advisory lock (idempotent: a second run applies nothing).
 */
export async function migrateDatabase(config: Config): Promise<MigrationRun> {
  const created = config.database.kind === 'postgres' ? await createDatabaseIfMissing(config.database.url, config.database.connectTimeoutMs, config.database.auth) : undefined;
  const database = await openDatabase(config);
  try {
    const applied = await applyMigrations(database.db);
    const rows = await database.db
      .selectFrom('kidslearn.schema_migrations')
      .select(['scope', (eb) => eb.fn.max('version').as('version')])
      .groupBy('scope')
      .orderBy('scope')
      .execute();
    return { createdDatabase: created?.created ? created.name : undefined, applied, versions: Object.fromEntries(rows.map((r) => [r.scope, Number(r.version)])) };
  } finally {
    await database.close();
  }
}

/** `applied 3 migrations:` and one line per scope, `  app:mathkids: 8 trusted devices for password sign-in; 9 content packs, ...` (names may hold commas). */
export function describeMigrations(applied: readonly AppliedMigration[]): string {
  if (!applied.length) return 'migrations are up to date (nothing to apply)';
  const byScope = new Map<string, AppliedMigration[]>();
  for (const m of applied) byScope.set(m.scope, [...(byScope.get(m.scope) ?? []), m]);
  const lines = [`applied ${applied.length} migration${applied.length === 1 ? '' : 's'}:`];
  for (const [scope, ms] of byScope) lines.push(`  ${scope}: ${ms.map((m) => `${m.version} ${m.name}`).join('; ')}`);
  return lines.join('\n');
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('migrate')
    .description('create the database if missing (PostgreSQL), then apply pending migrations to the control schema and every app; says which ran')
    .action(async () => {
      const run = await migrateDatabase(ctx.config());
      if (run.createdDatabase) ctx.print(`created database ${run.createdDatabase}`);
      ctx.print(describeMigrations(run.applied));
    });
}
