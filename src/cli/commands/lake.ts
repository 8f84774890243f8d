import { InvalidArgumentError, type Command } from 'commander';
import { compactPartition, partitionsUnder } from '../../analytics/compaction.ts';
import { listDeadLetters, purgeDeadLetters, redriveDeadLetters, type DeadLetter, type DeadLetterFilter } from '../../analytics/dead-letters.repo.ts';
import { claimedRanges } from '../../analytics/lake-batches.repo.ts';
import { LAKE_EVENTS_PREFIX } from '../../analytics/lake-layout.ts';
import { buildRollups } from '../../analytics/lake-rollups.ts';
import { addDays } from '../../analytics/reports.ts';
import { openParquetEncoder } from '../../analytics/parquet-writer.ts';
import { runDemo } from '../../analytics/demo-runner.ts';
import { startProgress, type Progress } from '../progress.ts';
import { registerLakeQueryCommands } from './lake-query.ts';
import { failure, parseAppId, parsePositiveInt, usageError, withContainer, type CliContext } from '../shared.ts';

/** `--id 3 --id 4`: dead-letter ids, collected. */
function collectIds(value: string, previous: number[] = []): number[] {
  return [...previous, parsePositiveInt(value)];
}

/** `--day 2026-11-20`. */
function parseDay(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) throw new InvalidArgumentError('expected a UTC day as YYYY-MM-DD.');
  return value;
}

/** One line per dead letter. */
export function formatDeadLetters(letters: readonly DeadLetter[]): string {
  if (!letters.length) return 'no dead letters';
  const rows = letters.map((l) => [String(l.id), l.app, l.eventId, l.type, l.reason, String(l.attempts), l.createdAt.toISOString(), l.redrivenAt ? l.redrivenAt.toISOString() : '-', l.detail ?? '']);
  const head = ['ID', 'APP', 'EVENT', 'TYPE', 'REASON', 'ATTEMPTS', 'CREATED', 'REDRIVEN', 'DETAIL'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/**
 * `kidslearn lake …`: the analytics lake's operator commands (see
 * docs/operations.md, "The lake writer").
 */
export function register(program: Command, ctx: CliContext): void {
  const lake = program.command('lake').description('the analytics lake: flush, status, dead letters, compaction, SQL over its Parquet files, reports, the Athena table');
  registerFlush(lake, ctx);
  registerStatus(lake, ctx);
  registerDeadLetters(lake, ctx);
  registerCompact(lake, ctx);
  registerLakeQueryCommands(lake, ctx);
  registerDemo(lake, ctx);
}

function registerFlush(lake: Command, ctx: CliContext): void {
  lake
    .command('flush')
    .description('write every pending event to the lake now (fails when a running lake writer holds the lock: it flushes on its own)')
    .option('--retry', 'also retry failed batches still waiting for their backoff', false)
    .action(async (options: { retry: boolean }) => {
      const text = await withContainer(ctx, async (c) => {
        const writer = c.lakeWriter();
        try {
          const r = await writer.flushNow({ retryNow: options.retry });
          if (r.locked) throw failure('another lake writer holds the lock (a running `npm run lake` flushes on its own)');
          return `flushed ${r.events} events in ${r.batches} batches (${r.files} files); ${r.failed} failed attempts; ${r.deadLetters} new dead letters`;
        } finally {
          await writer.stop(ctx.config().shutdownTimeoutMs);
        }
      });
      ctx.print(text);
    });
}

function registerStatus(lake: Command, ctx: CliContext): void {
  lake
    .command('status')
    .description("each app's lake: backlog, oldest pending event, last flush, dead letters, files and bytes")
    .option('--app <id>', 'only this app', parseAppId)
    .option('--json', 'print JSON lines instead of a table', false)
    .action(async (options: { app?: string; json: boolean }) => {
      const rows = await withContainer(ctx, async (c) => {
        const apps = options.app ? [(await c.apps.require(options.app)).id] : (await c.apps.list()).map((a) => a.id);
        return Promise.all(apps.map(async (app) => ({ app, ...(await c.lakeStatus.status(app)) })));
      });
      if (options.json) return ctx.print(rows.map((r) => JSON.stringify(r)).join('\n'));
      const head = ['APP', 'BACKLOG', 'OLDEST PENDING', 'LAST FLUSH', 'EVENTS', 'DEAD LETTERS', 'FILES', 'BYTES'];
      const table = rows.map((r) => [r.app, String(r.backlog), r.oldestPendingAt ?? '-', r.lastFlushAt ?? '-', String(r.lastFlushEvents), String(r.deadLetters), String(r.files), String(r.bytes)]);
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
      ctx.print([head, ...table].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n'));
    });
}

function registerDeadLetters(lake: Command, ctx: CliContext): void {
  const dl = lake.command('dead-letters').description('events that could not enter the lake: list, redrive, purge');
  dl.command('list')
    .description('dead letters, oldest first (redriven ones show when)')
    .option('--app <id>', 'only this app', parseAppId)
    .option('--limit <n>', 'at most this many (up to 10000)', parsePositiveInt, 100)
    .option('--json', 'print JSON lines instead of a table', false)
    .action(async (options: { app?: string; limit: number; json: boolean }) => {
      const letters = await withContainer(ctx, (c) => listDeadLetters(c.database.db, { app: options.app, limit: Math.min(options.limit, 10_000) }));
      ctx.print(options.json ? letters.map((l) => JSON.stringify(l)).join('\n') : formatDeadLetters(letters));
    });
  dl.command('redrive')
    .description('put dead letters back as new pending events, each exactly once (a conflict is queued under a derived event id, never over the original)')
    .option('--id <id>', 'this dead letter (repeat for more)', collectIds)
    .option('--app <id>', 'every dead letter of this app', parseAppId)
    .action(async (options: { id?: number[]; app?: string }) => {
      const filter = requireFilter(options);
      const done = await withContainer(ctx, (c) => redriveDeadLetters(c.database.db, filter));
      ctx.print(done.length ? `redriven ${done.length}: ${done.map((d) => `${d.id} → ${d.eventId}`).join(', ')}` : 'nothing to redrive');
    });
  dl.command('purge')
    .description('delete dead letters for good')
    .option('--id <id>', 'this dead letter (repeat for more)', collectIds)
    .option('--app <id>', 'dead letters of this app', parseAppId)
    .option('--older-than <days>', 'only those created more than this many days ago', parsePositiveInt)
    .action(async (options: { id?: number[]; app?: string; olderThan?: number }) => {
      const filter = requireFilter(options);
      const n = await withContainer(ctx, (c) => purgeDeadLetters(c.database.db, { ...filter, olderThanDays: options.olderThan }));
      ctx.print(`purged ${n} dead letters`);
    });
}

/** Redrive and purge act on named letters or an app, never on everything by accident. */
function requireFilter(options: { id?: number[]; app?: string; olderThan?: number }): DeadLetterFilter {
  if (!options.id?.length && !options.app && options.olderThan === undefined) throw usageError('name the dead letters: --id <id> (repeatable), --app <id> or --older-than <days>');
  return { ids: options.id, app: options.app };
}

function registerCompact(lake: Command, ctx: CliContext): void {
  lake
    .command('compact')
    .description(
      "merge each partition's (app, day) files into one .c.parquet (queries return the same rows at every step, and a crash is finished at the writer's next start), then build the reports' daily rollups of the closed days",
    )
    .option('--app <id>', 'only this app', parseAppId)
    .option('--day <YYYY-MM-DD>', 'only compact this UTC day', parseDay)
    .option('--through <YYYY-MM-DD>', 'build rollups of the days up to this one (default: yesterday, UTC)', parseDay)
    .option('--no-rollups', 'compact only')
    .action(async (options: { app?: string; day?: string; through?: string; rollups: boolean }) => {
      const lines = await withContainer(ctx, async (c) => {
        const partitions = (await partitionsUnder(c.lakeStore, options.app ? `${LAKE_EVENTS_PREFIX}app=${options.app}/` : LAKE_EVENTS_PREFIX)).filter((p) => !options.day || p.day === options.day);
        const erasedLearners = (app: string) => async () => (await c.database.db.selectFrom('kidslearn.lake_erasures').select('learner').where('app', '=', app).execute()).map((e) => e.learner);
        const encoder = await openParquetEncoder();
        const out: string[] = [];
        try {
          for (const p of partitions) {
            const r = await compactPartition(c.lakeStore, encoder, { app: p.app, day: p.day, claimed: await claimedRanges(c.database.db), erasedLearners: erasedLearners(p.app) });
            if (r) out.push(`${p.app} ${p.day}: ${r.sources} files → ${r.target} (${r.bytesBefore} → ${r.bytesAfter} bytes)`);
          }
        } finally {
          await encoder.close();
        }
        if (!out.length) out.push(`nothing to compact (${partitions.length} partitions checked)`);
        if (options.rollups) {
          // Closed days only: today's files change with every flush (a rollup of them would be out of date at once).
          const through = options.through ?? addDays(new Date().toISOString().slice(0, 10), -1);
          const apps = options.app ? [options.app] : [...new Set((await partitionsUnder(c.lakeStore)).map((p) => p.app))].sort();
          for (const app of apps) {
            const r = await buildRollups(c.lakeStore, app, { throughDay: through, erasedLearners: erasedLearners(app) });
            out.push(`rollups of ${app} through ${through}: ${r.written} files written, ${r.upToDate} days up to date, ${r.deleted} out-of-date files deleted`);
          }
        }
        return out;
      });
      ctx.print(lines.join('\n'));
    });
}

/**
 * `lake demo --app mathkids --days 30`: simulated activity of a cohort of
 * learners sent through the real API (a demo family, its children, their
 * events, answers and lesson completions), then written to the lake, so a
 * newcomer's dashboard has something to show.
 */
function registerDemo(lake: Command, ctx: CliContext): void {
  lake
    .command('demo')
    .description('fill the lake with realistic simulated activity through the real ingest path (a demo family of children using the app), then flush it')
    .requiredOption('--app <id>', 'the app to use (its published lessons are practised)', parseAppId)
    .option('--days <n>', 'days of activity, ending now', parsePositiveInt, 30)
    .option('--learners <n>', 'children in the cohort', parsePositiveInt, 40)
    .option('--seed <n>', 'the simulation seed (the same seed gives the same activity)', parsePositiveInt, 1)
    .action(async (options: { app: string; days: number; learners: number; seed: number }) => {
      if (options.days > 366) throw usageError('--days must be at most 366');
      if (options.learners > 2000) throw usageError('--learners must be at most 2000');
      const text = await withContainer(ctx, async (c) => {
        let progress: Progress | undefined;
        let result: Awaited<ReturnType<typeof runDemo>>;
        try {
          result = await runDemo(c, {
            ...options,
            onSession: (done, total) => {
              progress ??= startProgress('lake demo', total, { stream: ctx.io.progressStream, unit: 'sessions' });
              progress.update(done);
            },
          });
        } finally {
          progress?.done();
        }
        const writer = c.lakeWriter();
        let flushed: string;
        try {
          const r = await writer.flushNow({ retryNow: false });
          flushed = r.locked ? 'a running lake writer holds the lock: it writes them within LAKE_FLUSH_SECONDS' : `flushed ${r.events} events to the lake in ${r.files} files`;
        } finally {
          await writer.stop(ctx.config().shutdownTimeoutMs);
        }
        return [
          `app ${options.app}: ${result.children} children of ${result.guardianEmail} over ${options.days} days: ${result.sessions} sessions,`,
          `${result.events.sent} device events sent (${result.events.accepted} kept, ${result.events.dropped} dropped by the children's privacy settings), ${result.answers} answers, ${result.completions} lesson completions;`,
          `${flushed}. Open /admin/dashboard and sign in as an admin of ${options.app}.`,
        ].join('\n');
      });
      ctx.print(text);
    });
}
