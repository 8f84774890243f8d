/**
 * `kidslearn` (`npm run kidslearn -- <command>`): the entry point. The
 * commands are in program.ts and commands/; this file only runs them when it
 * is the main module.
 */
import { loadConfig } from '../config/config.ts';
import { execCli } from './program.ts';

export { buildProgram, COMMAND_GROUPS, execCli, runCli, type CommandGroup } from './program.ts';
export { CliError, ExitCode, type CliContext, type CliIo } from './shared.ts';
export { startProgress, type Progress } from './progress.ts';

// import.meta.main, not a comparison of import.meta.url with argv[1], which fails
// when the path has characters that URLs escape (a space, for one).
if (import.meta.main) {
  const code = await execCli(process.argv.slice(2), { config: () => loadConfig() });
  // A failure may leave a connection open; success ends when the work is done.
  if (code !== 0) process.exit(code);
}
