/**
 * The `kidslearn` command line, built on commander: one root program, one
 * module per command group under `commands/`, each exporting a
 * {@link CommandGroup} that adds its commands to the root. To add a group,
 * write `commands/<name>.ts` exporting `register(program, ctx)` and list it
 * in {@link COMMAND_GROUPS}; help, the overview in `kidslearn --help`, usage
 * errors (exit 2) and the refusal of extra arguments come with it.
 *
 * {@link runCli} runs a command in-process and returns its stdout text (tests
 * use it); {@link execCli} also prints and returns the exit code (main.ts).
 */
import { Command, CommanderError, type Help } from 'commander';
import { ConfigError, type Config } from '../config/config.ts';
import { CliError, defaultIo, ExitCode, messageOf, usageError, type CliContext, type CliIo } from './shared.ts';
import * as apps from './commands/apps.ts';
import * as content from './commands/content.ts';
import * as engine from './commands/engine.ts';
import * as keys from './commands/keys.ts';
import * as lake from './commands/lake.ts';
import * as mail from './commands/mail.ts';
import * as migrate from './commands/migrate.ts';
import * as model from './commands/model.ts';
import * as seed from './commands/seed.ts';
import * as token from './commands/token.ts';
import * as users from './commands/users.ts';

/** Adds one group of commands (e.g. `apps list|create|settings`) to the root program. */
export type CommandGroup = (program: Command, ctx: CliContext) => void;

/** Every command group, in the order `kidslearn --help` lists them. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  migrate.register,
  apps.register,
  seed.register,
  content.register,
  token.register,
  users.register,
  mail.register,
  keys.register,
  model.register,
  engine.register,
  lake.register,
];

/** `apps create` from the command object (the root's name left out). */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** `<id>`, `[file...]`: how a command's arguments are written. */
function argumentTerms(cmd: Command): string[] {
  return cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
}

/** `kidslearn apps create <id> --name <name>`: arguments, then required options, then optional ones in brackets. */
export function synopsis(cmd: Command): string {
  const parts = ['kidslearn', commandPath(cmd)].filter(Boolean);
  if (cmd.commands.length) return [...parts, '<command>'].join(' ');
  parts.push(...argumentTerms(cmd));
  const options = cmd.options.filter((o) => !o.hidden && o.long !== '--help');
  const flag = (o: (typeof options)[number]) => o.flags.replace(/^-\w,\s*/, '');
  for (const o of options) if (o.mandatory) parts.push(flag(o));
  for (const o of options) if (!o.mandatory) parts.push(`[${flag(o)}]`);
  return parts.join(' ');
}

/** Leaf commands under `cmd`, depth first in registration order. */
function leaves(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => (c.commands.length ? leaves(c) : [c]));
}

/** The overview after the root's help: every command with its arguments and options. */
function overview(program: Command): string {
  const lines = ['', 'All commands (run any of them with --help for details):'];
  for (const c of leaves(program)) lines.push(`  ${synopsis(c)}`, `      ${c.description()}`);
  lines.push('', 'Exit codes: 0 done, 1 failed (the message says why), 2 wrong command line (see --help).');
  return `${lines.join('\n')}\n`;
}

interface Output {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** Builds the root program with every command group. Settings made before the groups are added are inherited by every command. */
export function buildProgram(ctx: CliContext, output: Output): Command {
  const program = new Command('kidslearn');
  program
    .description("kidslearn's administration commands: migrate the database, register apps, seed demo content, validate/import/export content packs, mint tokens, manage keys and the learner model.")
    .helpOption('-h, --help', 'show help for the command')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.writeOut(s), writeErr: (s) => output.writeErr(s), outputError: () => {} })
    // Extra arguments are refused in a preAction hook, which can name them.
    .allowExcessArguments(true)
    .showSuggestionAfterError(true)
    .configureHelp({
      sortSubcommands: false,
      // `Usage: kidslearn apps create <id> --name <name>` rather than commander's `[options] <id>`.
      commandUsage: (cmd) => synopsis(cmd),
      subcommandTerm: (cmd) => [cmd.name(), ...argumentTerms(cmd), ...(cmd.commands.length ? ['<command>'] : [])].join(' '),
    } satisfies Partial<Help>)
    .hook('preAction', (_root, action) => {
      const extra = extraArguments(action);
      if (extra) throw extra;
    });
  for (const register of COMMAND_GROUPS) register(program, ctx);
  program.addHelpText('after', () => overview(program));
  return program;
}

/**
 * The error for words after a command's last argument (`apps create foo bar`),
 * or undefined. `cmd.args` is what commander parsed for the command: its
 * operands, then from the first unknown option on, everything else.
 */
function extraArguments(cmd: Command): CliError | undefined {
  if (cmd.commands.length) return undefined;
  const firstOption = cmd.args.findIndex((a) => a.startsWith('-'));
  const extra = cmd.args.slice(0, firstOption < 0 ? cmd.args.length : firstOption).slice(cmd.registeredArguments.length);
  if (!extra.length) return undefined;
  const takes = cmd.registeredArguments.length ? `it takes ${argumentTerms(cmd).join(' ')}` : 'it takes no arguments';
  return usageError(
    `${commandPath(cmd)}: unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => `"${a}"`).join(' ')} (${takes})\nusage: ${synopsis(cmd)}\n(see kidslearn ${commandPath(cmd)} --help)`,
  );
}

/** The command that `argv` names (as deep as its words go), to point a usage error at its help. */
function commandNamed(program: Command, argv: readonly string[]): Command {
  let cmd = program;
  for (const word of argv) {
    if (word.startsWith('-')) continue;
    const next = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) break;
    cmd = next;
    if (!cmd.commands.length) break;
  }
  return cmd;
}

/** Commander's message for a wrong command line, with what to run for help. */
function usageMessage(program: Command, argv: readonly string[], error: CommanderError): string {
  const cmd = commandNamed(program, argv);
  const message = error.message.replace(/^error: /, '');
  const help = cmd === program ? 'kidslearn --help' : `kidslearn ${commandPath(cmd)} --help`;
  return `${message}\nusage: ${synopsis(cmd)}\n(see ${help})`;
}

/**
 * Runs one command line in-process. Returns what to print on stdout (the
 * command's output, or help); throws CliError with `exitCode` 2 for a wrong
 * command line and lets other errors (CliError 1, AppError, ConfigError, ...)
 * through as run-time failures.
 */
export async function runCli(argv: readonly string[], config: Config | (() => Config), io: Partial<CliIo> = {}): Promise<string> {
  const out: string[] = [];
  const helpOut: string[] = [];
  const errOut: string[] = [];
  let loaded: Config | undefined;
  const ctx: CliContext = {
    config: () => (loaded ??= typeof config === 'function' ? config() : config),
    io: { ...defaultIo, ...io },
    print: (text) => out.push(text),
  };
  const program = buildProgram(ctx, { writeOut: (s) => helpOut.push(s), writeErr: (s) => errOut.push(s) });
  try {
    await program.parseAsync(argv.length ? [...argv] : ['--help'], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // --help, -h, `help [command]`.
    if (error.exitCode === 0) return helpOut.join('').trimEnd();
    // A group without its subcommand (`kidslearn apps`): commander printed the group's help as the error.
    if (error.code === 'commander.help') {
      const group = commandNamed(program, argv);
      throw usageError(`${commandPath(group)}: missing command (one of ${group.commands.map((c) => c.name()).join(', ')})\n\n${errOut.join('').trimEnd()}`);
    }
    // Commander checks required options before the number of arguments; an extra word is the likelier slip.
    throw extraArguments(commandNamed(program, argv)) ?? usageError(usageMessage(program, argv, error));
  }
  return out.join('\n');
}

export interface ExecOptions {
  /** The configuration, or how to load it (on first use: `--help` needs none). */
  config: Config | (() => Config);
  io?: Partial<CliIo>;
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown };
}

/** Runs one command line, prints its output or error, and returns the exit code. */
export async function execCli(argv: readonly string[], options: ExecOptions): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  try {
    const text = await runCli(argv, options.config, options.io);
    if (text) stdout.write(`${text}\n`);
    return ExitCode.ok;
  } catch (error) {
    // Config errors already say which variable is wrong and how to fix it.
    stderr.write(`${error instanceof ConfigError ? '' : 'kidslearn: '}${messageOf(error)}\n`);
    return error instanceof CliError ? error.exitCode : ExitCode.failure;
  }
}
