import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CsvError, parseAnswersCsv } from '../../features/model-eval/csv.ts';
import { evaluate, formatEvaluation } from '../../features/model-eval/evaluate.ts';
import { startProgress, type Progress } from '../progress.ts';
import { failure, messageOf, parseAppId, withContainer, type CliContext } from '../shared.ts';

export function register(program: Command, ctx: CliContext): void {
  const model = program.command('model').description('the learner model: fit it on an app, or evaluate it on CSV files');

  model
    .command('fit')
    .description("fit the learner model on the app's stored answers and save it as a new version (the API uses it within 30 s, no restart)")
    .requiredOption('--app <id>', 'the app whose answers to fit on', parseAppId)
    .action(async (options: { app: string }) => {
      const appId = options.app;
      ctx.print(
        await withContainer(ctx, async (c) => {
          await c.apps.require(appId);
          // Reading is counted in children; the fit itself is one step, shown once everything is read.
          const stream = ctx.io.progressStream;
          let reading: Progress | undefined;
          let fitting: Progress | undefined;
          let fit: Awaited<ReturnType<typeof c.models.fit>>;
          try {
            fit = await c.models.fit(appId, {
              onProgress: (read, children) => {
                reading ??= startProgress('model fit: reading answers', children, { stream, unit: 'children' });
                reading.setTotal(children);
                reading.update(read);
                if (read >= children) {
                  reading.done();
                  fitting = startProgress('model fit: fitting', 1, { stream });
                }
              },
            });
            fitting?.tick();
          } finally {
            reading?.done();
            fitting?.done();
          }
          return `app ${appId}: model version ${fit.version} from ${fit.answers} answers; ${fit.fittedConcepts} of ${fit.concepts} concepts fitted on their own (the rest use the app-wide fit); the API uses it within 30 s`;
        }),
      );
    });

  model
    .command('eval')
    .description('fit the learner model on one CSV and score it and the baselines on another (columns student,skill,correct[,item,timestamp]; no database needed)')
    .requiredOption('--train <file>', 'answers to fit on')
    .requiredOption('--test <file>', 'answers to score on (other students)')
    .option('--json', 'print one JSON object {model, baselines} instead of a table', false)
    .action(async (options: { train: string; test: string; json: boolean }) => {
      // Pure file work: no database, no services.
      const load = async (file: string) => {
        try {
          return parseAnswersCsv(await readFile(file, 'utf8'));
        } catch (error) {
          throw failure(`${file}: ${error instanceof CsvError ? error.message : messageOf(error)}`, error);
        }
      };
      const [train, test] = [await load(options.train), await load(options.test)];
      let result: ReturnType<typeof evaluate>;
      try {
        result = evaluate(train, test);
      } catch (error) {
        throw failure(messageOf(error), error);
      }
      ctx.print(options.json ? JSON.stringify(result) : formatEvaluation(result));
    });
}
