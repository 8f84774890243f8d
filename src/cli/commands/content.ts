import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { CHANGES } from '../../domain/content-import-plan.ts';
import { AppError } from '../../domain/errors.ts';
import type { ImportResult } from '../../features/content/content.service.ts';
import { formatFinding, readPackFile, serializePack, type PackFinding } from '../../features/content/pack-file.ts';
import { startProgress } from '../progress.ts';
import { failure, parseAppId, withContainer, type CliContext } from '../shared.ts';

/** How many of a kind the app holds after an import (everything but the retired). */
export function liveCount(r: ImportResult, kind: keyof ImportResult['counts']): number {
  const c = r.counts[kind];
  return c.added + c.changed + c.restored + c.unchanged;
}

/** The import report as a small table: one line per kind, one column per change. */
export function formatReport(r: ImportResult): string {
  const head = `${r.dryRun ? 'would import' : r.changed ? 'imported' : 'already up to date:'} pack ${r.pack.id} ${r.pack.version} (${r.pack.title})${r.dryRun ? ' — dry run, nothing written' : ''}`;
  const kinds = ['concepts', 'units', 'lessons', 'items'] as const;
  const width = Math.max(...CHANGES.map((c) => c.length));
  const lines = [head, `  ${''.padEnd(9)}${CHANGES.map((c) => c.padStart(width + 2)).join('')}`];
  for (const k of kinds) lines.push(`  ${k.padEnd(9)}${CHANGES.map((c) => String(r.counts[k][c]).padStart(width + 2)).join('')}`);
  const retired = r.report.items.retired.concat(r.report.lessons.retired);
  if (retired.length && retired.length <= 20) lines.push(`  retired (kept for history, no longer served): ${retired.join(', ')}`);
  for (const w of r.warnings) lines.push(`  warning: ${w.path.join('.')}: ${w.message}`);
  return lines.join('\n');
}

/** Reads and checks a pack file; a pack with errors fails the command, listing every finding. */
async function readChecked(file: string): Promise<{ pack: NonNullable<Awaited<ReturnType<typeof readPackFile>>['pack']>; warnings: PackFinding[] }> {
  const result = await readPackFile(file);
  if (!result.pack) {
    throw failure(`${file}: ${result.errors.length} error(s)\n${[...result.errors, ...result.warnings].map(formatFinding).join('\n')}`);
  }
  return { pack: result.pack, warnings: result.warnings };
}

/** An import refusal (invalid pack, clash with stored content) with every problem on its own line. */
function refusal(error: unknown): unknown {
  if (!(error instanceof AppError) || !Array.isArray(error.details)) return error;
  const lines = (error.details as { path?: string; message?: string }[]).map((d) => `  ${d.path ?? ''}: ${d.message ?? ''}`);
  return failure(`${error.code}: ${error.message.split(';')[0]}\n${lines.join('\n')}`, error);
}

export function register(program: Command, ctx: CliContext): void {
  const content = program.command('content').description('content packs: validate, import, export and list the curriculum as data (see docs/content.md)');

  content
    .command('validate')
    .description('check pack files (JSON or YAML) without a database: every problem as file:line:column path: message; exit 1 on any error')
    .argument('<packs...>', 'pack files (.json, .yaml or .yml)')
    .action(async (files: string[]) => {
      const findings: string[] = [];
      let errors = 0;
      const summaries: string[] = [];
      for (const file of files) {
        const result = await readPackFile(file);
        errors += result.errors.length;
        findings.push(...result.errors.map((f) => `${formatFinding(f)}`), ...result.warnings.map((f) => `${formatFinding(f)} (warning)`));
        if (result.pack) {
          const lessons = result.pack.units.flatMap((u) => u.lessons);
          summaries.push(
            `${file}: ok — pack ${result.pack.pack.id} ${result.pack.pack.version}: ${result.pack.concepts.length} concepts, ${result.pack.units.length} units, ${lessons.length} lessons, ${lessons.reduce((n, l) => n + l.items.length, 0)} items${result.warnings.length ? `, ${result.warnings.length} warning(s)` : ''}`,
          );
        }
      }
      if (errors) throw failure(`${errors} error(s) in ${files.length === 1 ? files[0] : `${files.length} files`}\n${findings.join('\n')}`);
      ctx.print([...findings, ...summaries].join('\n'));
    });

  content
    .command('import')
    .description('import a pack into an app in one transaction: prints what is added, changed, restored, retired and unchanged; caches of every process are invalidated after the commit')
    .requiredOption('--app <id>', 'the app to import into', parseAppId)
    .option('--dry-run', 'check and report without writing anything')
    .argument('<pack>', 'the pack file (.json, .yaml or .yml)')
    .action(async (file: string, options: { app: string; dryRun?: boolean }) => {
      const { pack } = await readChecked(file);
      const result = await withContainer(ctx, async (c) => {
        await c.apps.require(options.app);
        const progress = startProgress(`import ${pack.pack.id}`, 1, { stream: ctx.io.progressStream, unit: 'rows' });
        try {
          return await c.content.importPack(options.app, pack, {
            dryRun: options.dryRun ?? false,
            onProgress: (done, total) => {
              progress.setTotal(total);
              progress.update(done);
            },
          });
        } catch (error) {
          throw refusal(error);
        } finally {
          progress.done();
        }
      });
      ctx.print(formatReport(result));
    });

  content
    .command('export')
    .description('print a pack stored in an app (JSON or YAML); it imports back unchanged')
    .requiredOption('--app <id>', 'the app', parseAppId)
    .option('--pack <id>', 'the pack (needed when the app holds several; see content packs)')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'yaml']).default('json'))
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (options: { app: string; pack?: string; format: 'json' | 'yaml'; output?: string }) => {
      const pack = await withContainer(ctx, async (c) => {
        await c.apps.require(options.app);
        return c.content.exportPack(options.app, options.pack);
      });
      const text = serializePack(pack, options.format);
      if (options.output) {
        await writeFile(options.output, text);
        ctx.print(`wrote pack ${pack.pack.id} ${pack.pack.version} to ${options.output}`);
      } else {
        ctx.print(text.trimEnd());
      }
    });

  content
    .command('packs')
    .description('list the packs stored in an app, in import order (the catalogue’s order), with counts')
    .requiredOption('--app <id>', 'the app', parseAppId)
    .action(async (options: { app: string }) => {
      const packs = await withContainer(ctx, async (c) => {
        await c.apps.require(options.app);
        return c.content.listPacks(options.app);
      });
      ctx.print(packs.map((p) => `${p.id}\t${p.version}\t${p.title}\t${p.concepts} concepts\t${p.lessons} lessons\t${p.items} items`).join('\n') || '(no packs)');
    });
}
