import type { Command } from 'commander';
import { parseAppId, parseBoolean, withContainer, type CliContext } from '../shared.ts';

export function register(program: Command, ctx: CliContext): void {
  const apps = program.command('apps').description('list, register and configure apps (each app has its own schema)');

  apps
    .command('list')
    .description('list registered apps: id, name and creation time, tab-separated')
    .action(async () => {
      ctx.print(await withContainer(ctx, async (c) => (await c.apps.list()).map((a) => `${a.id}\t${a.name}\t${a.createdAt}`).join('\n') || '(no apps)'));
    });

  apps
    .command('create')
    .description('register an app and create its schema')
    .argument('<id>', 'the app id (a lowercase letter, then 1 to 30 lowercase letters, digits or _); tokens and API paths use it', parseAppId)
    .requiredOption('--name <name>', 'the display name')
    .action(async (id: string, options: { name: string }) => {
      const app = await withContainer(ctx, (c) => c.apps.create(id, options.name));
      ctx.print(`created app ${app.id} (${app.name})`);
    });

  apps
    .command('settings')
    .description("show an app's settings as JSON, or change them")
    .argument('<id>', 'the app id', parseAppId)
    .option('--reveal-answers <true|false>', 'whether answer feedback includes the correct answer', parseBoolean)
    .action(async (id: string, options: { revealAnswers?: boolean }) => {
      const app = await withContainer(ctx, (c) => (options.revealAnswers === undefined ? c.apps.require(id) : c.apps.configure(id, { revealAnswers: options.revealAnswers })));
      ctx.print(JSON.stringify({ id: app.id, settings: app.settings }));
    });
}
