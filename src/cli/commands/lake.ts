import type { Command } from 'commander';
import type { CliContext } from '../shared.ts';
import { registerLakeQueryCommands } from './lake-query.ts';

/**
 * `kidslearn lake …`: the analytics lake. Each part of the lake adds its
 * subcommands with one call here (query side: lake-query.ts).
 */
export function register(program: Command, ctx: CliContext): void {
  const lake = program.command('lake').description('the analytics lake: SQL over its Parquet files, reports, the Athena table');
  registerLakeQueryCommands(lake, ctx);
}
