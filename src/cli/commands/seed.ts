import { Option, type Command } from 'commander';
import { DEMO_APPS, seedPack } from '../../seed/seed-demo-apps.ts';
import { startProgress } from '../progress.ts';
import { withContainer, type CliContext } from '../shared.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('seed')
    .description('(re)write the demo curriculum of the demo apps, creating the apps if missing (idempotent: ids are fixed and writes are upserts)')
    .addOption(new Option('--app <id>', 'seed only this demo app (default: all)').choices(DEMO_APPS.map((d) => d.id)))
    .action(async (options: { app?: string }) => {
      const demos = DEMO_APPS.filter((d) => !options.app || d.id === options.app).map((d) => ({ ...d, pack: d.build() }));
      const total = demos.reduce((n, d) => n + d.pack.lessons.reduce((m, l) => m + l.items.length, 0), 0);
      await withContainer(ctx, async (c) => {
        // One pack is written in one transaction, so the bar moves a whole app at a time.
        const progress = startProgress('seed', total, { stream: ctx.io.progressStream, unit: 'items' });
        try {
          for (const demo of demos) {
            if (!(await c.apps.find(demo.id))) await c.apps.create(demo.id, demo.name);
            const n = await seedPack(c, demo.id, demo.pack);
            progress.tick(n.items);
            ctx.print(`${demo.id}: ${n.concepts} concepts, ${n.lessons} lessons, ${n.items} practice items`);
          }
        } finally {
          progress.done();
        }
      });
    });
}
