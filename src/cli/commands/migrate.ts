import type { Command } from 'commander';
import { createDatabaseIfMissing } from '../../adapters/db/create-database.ts';
import { applyMigrations, type AppliedMigration } from '../../adapters/db/migrations.ts';
import { withContainer, type CliContext } from '../shared.ts';

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
      const config = ctx.config();
      // On a server, the database itself is created first when missing; then this run migrates
      // (rather than the container), so the output says what it did.
      const created = config.database.kind === 'postgres' ? await createDatabaseIfMissing(config.database.url, config.database.connectTimeoutMs) : undefined;
      if (created?.created) ctx.print(`created database ${created.name}`);
      ctx.print(describeMigrations(await withContainer(ctx, (c) => applyMigrations(c.database.db), { skipMigrations: true })));
    });
}
