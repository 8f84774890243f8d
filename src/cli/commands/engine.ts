import type { Command } from 'commander';
import { startProgress, type Progress } from '../progress.ts';
import { parseAppId, withContainer, type CliContext } from '../shared.ts';

/**
 * `kidslearn engine …`: the adaptive engine's operator commands. Each
 * subcommand is added by its own function below, so the group grows by one
 * call in {@link register}.
 */
export function register(program: Command, ctx: CliContext): void {
  const engine = program.command('engine').description("the adaptive engine: rebuild an app's curriculum vectors");
  registerReindex(engine, ctx);
}

/** `engine reindex --app <id>`: brings the app's curriculum vectors up to date with its content and the configured embedding model. */
function registerReindex(engine: Command, ctx: CliContext): void {
  engine
    .command('reindex')
    .description("embed the app's live concepts, published lessons and their items with the configured embedder: only changed texts, everything after a model change; removes vectors of retired content")
    .requiredOption('--app <id>', 'the app whose curriculum to index', parseAppId)
    .action(async (options: { app: string }) => {
      const appId = options.app;
      ctx.print(
        await withContainer(ctx, async (c) => {
          await c.apps.require(appId);
          let progress: Progress | undefined;
          let result: Awaited<ReturnType<typeof c.curriculumIndex.reindex>>;
          try {
            result = await c.curriculumIndex.reindex(appId, {
              onProgress: (done, total) => {
                progress ??= startProgress('engine reindex', total, { stream: ctx.io.progressStream, unit: 'texts' });
                progress.update(done);
              },
            });
          } finally {
            progress?.done();
          }
          return (
            `app ${appId}: ${result.documents} concepts, lessons and items; ${result.embedded} embedded, ${result.unchanged} unchanged, ${result.removed} removed ` +
            `(model ${result.model}, ${result.dimension} dimensions)`
          );
        }),
      );
    });
}
