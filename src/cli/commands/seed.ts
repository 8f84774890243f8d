import { Option, type Command } from 'commander';
import { DEMO_APPS, seedDemoApp } from '../../seed/seed-demo-apps.ts';
import { startProgress } from '../progress.ts';
import { withContainer, type CliContext } from '../shared.ts';
import { liveCount } from './content.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('seed')
    .description('import the demo apps’ committed content packs (content/packs/), creating the apps if missing; idempotent: a second run changes nothing')
    .addOption(new Option('--app <id>', 'seed only this demo app (default: all)').choices(DEMO_APPS.map((d) => d.id)))
    .action(async (options: { app?: string }) => {
      const demos = DEMO_APPS.filter((d) => !options.app || d.id === options.app);
      await withContainer(ctx, async (c) => {
        for (const demo of demos) {
          const progress = startProgress(`seed ${demo.id}`, 1, { stream: ctx.io.progressStream, unit: 'rows' });
          try {
            const r = await seedDemoApp(c, demo.id, (done, total) => {
              progress.setTotal(total);
              progress.update(done);
            });
            ctx.print(`${demo.id}: ${liveCount(r, 'concepts')} concepts, ${liveCount(r, 'lessons')} lessons, ${liveCount(r, 'items')} practice items`);
          } finally {
            progress.done();
          }
        }
      });
    });
}
