import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { BlobStore } from '../../adapters/blobs/blob-store.ts';
import { athenaDdl } from '../../analytics/athena-ddl.ts';
import { LakeQueryEngine } from '../../analytics/lake-query.ts';
import { isValidDay, REPORT_NAMES, resolveReportRange, runReport, type ReportBody, type ReportName } from '../../analytics/reports.ts';
import { formatResult, OUTPUT_FORMATS, type OutputFormat } from '../../analytics/result-format.ts';
import { utcDay } from '../../analytics/lake-layout.ts';
import type { Config } from '../../config/config.ts';
import { openLakeStore } from '../../wiring/container.ts';
import { parseAppId, parsePositiveInt, type CliContext } from '../shared.ts';

/**
 * `kidslearn lake query|report|athena-ddl`: the lake's query side. They
 * open only the lake's blob store (no database: `lake query` works while
 * the embedded server holds the data dir). Added to the `lake` group by
 * {@link registerLakeQueryCommands}, beside the writer's commands.
 */

/** How the commands reach the lake; tests pass their own store. */
export interface LakeQueryCliDeps {
  openStore(config: Config): BlobStore;
}

/** Free-form queries get more time than a report behind an HTTP request. */
const CLI_QUERY_TIMEOUT_MS = 120_000;

function parseFormat(value: string): OutputFormat {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${OUTPUT_FORMATS.join(', ')}.`);
  return value as OutputFormat;
}

function parseDay(value: string): string {
  if (!isValidDay(value)) throw new InvalidArgumentError('expected a calendar day written YYYY-MM-DD.');
  return value;
}

function parseReportName(value: string): ReportName {
  if (!(REPORT_NAMES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${REPORT_NAMES.join(', ')}.`);
  return value as ReportName;
}

function parseName(value: string): string {
  if (!/^[a-z_][a-z0-9_]{0,127}$/.test(value)) throw new InvalidArgumentError('expected lowercase letters, digits and _.');
  return value;
}

async function withEngine<T>(ctx: CliContext, deps: LakeQueryCliDeps, timeoutMs: number, fn: (engine: LakeQueryEngine) => Promise<T>): Promise<T> {
  const config = ctx.config();
  const store = deps.openStore(config);
  const engine = new LakeQueryEngine({ store, cacheDir: path.join(config.dataDir, 'lake-cache'), timeoutMs });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
    await store.close();
  }
}

/** Adds `query`, `report` and `athena-ddl` to the `lake` command group. */
export function registerLakeQueryCommands(lake: Command, ctx: CliContext, deps: LakeQueryCliDeps = { openStore: openLakeStore }): void {
  lake
    .command('query')
    .description(
      'run one SELECT over the lake with DuckDB: view `events` (every column, partition columns app/year/month/day) and typed views ' +
        'answers, lessons_started, lessons_completed, sessions, screen_views, app_errors, hints, items_shown, plans (see docs/analytics.md)',
    )
    .argument('<sql>', 'one SELECT (or EXPLAIN) statement')
    .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')}`, parseFormat, 'table' as OutputFormat)
    .option('--app <id>', 'list only this app’s files (faster on S3; filter in SQL too)', parseAppId)
    .option('--from <day>', 'list only files from this UTC day on (YYYY-MM-DD)', parseDay)
    .option('--to <day>', 'list only files up to this UTC day (YYYY-MM-DD)', parseDay)
    .option('--max-rows <n>', 'print at most this many rows', parsePositiveInt, 10_000)
    .option('--timeout-ms <ms>', 'stop the query after this many milliseconds', parsePositiveInt, CLI_QUERY_TIMEOUT_MS)
    .action(async (sql: string, o: { format: OutputFormat; app?: string; from?: string; to?: string; maxRows: number; timeoutMs: number }) => {
      const result = await withEngine(ctx, deps, o.timeoutMs, (engine) =>
        engine.query(sql, { freeForm: true, maxRows: o.maxRows, scope: { app: o.app, fromDay: o.from, toDay: o.to } }),
      );
      ctx.print(formatResult(result, o.format));
    });

  lake
    .command('report')
    .description(`compute a report from the lake, as GET /admin/reports/{report} does (not cached): ${REPORT_NAMES.join(', ')}`)
    .argument('<name>', `the report (${REPORT_NAMES.join(', ')})`, parseReportName)
    .requiredOption('--app <id>', 'the app', parseAppId)
    .option('--from <day>', 'first UTC day (default: 29 days before --to)', parseDay)
    .option('--to <day>', 'last UTC day (default: today)', parseDay)
    .option('--format <format>', `output: ${OUTPUT_FORMATS.join(', ')} (json: the whole body, as the API answers)`, parseFormat, 'table' as OutputFormat)
    .action(async (name: ReportName, o: { app: string; from?: string; to?: string; format: OutputFormat }) => {
      const config = ctx.config();
      const range = resolveReportRange({ from: o.from, to: o.to }, utcDay(new Date()));
      const body = await withEngine(ctx, deps, CLI_QUERY_TIMEOUT_MS, (engine) =>
        runReport(engine, name, { app: o.app, ...range }, { masteryThreshold: config.masteryThreshold }),
      );
      ctx.print(formatReport(body, o.format));
    });

  lake
    .command('athena-ddl')
    .description('print the Glue/Athena CREATE EXTERNAL TABLE for the lake on S3 (Parquet columns, partitions app/year/month/day by partition projection)')
    .requiredOption('--bucket <bucket>', 'the S3 bucket of the lake')
    .option('--prefix <prefix>', 'the lake’s key prefix in the bucket (LAKE_S3_PREFIX)', 'analytics-lake/')
    .option('--database <name>', 'the Glue database', parseName, 'kidslearn')
    .option('--table <name>', 'the table', parseName, 'events')
    .option('--apps <ids>', 'project app as an enum of these comma-separated apps instead of injected (queries then need no app filter; new apps need an ALTER)')
    .action((o: { bucket: string; prefix: string; database: string; table: string; apps?: string }) => {
      ctx.print(athenaDdl({ bucket: o.bucket, prefix: o.prefix, database: o.database, table: o.table, apps: o.apps?.split(',').map((a) => a.trim()).filter(Boolean) }));
    });
}

/** A report for the terminal: json = the API's body; csv = its rows; table = its rows, then the extras. */
export function formatReport(body: ReportBody, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(body, null, 2);
  const names = body.rows.length ? Object.keys(body.rows[0]!) : [];
  const result = {
    columns: names.map((name) => ({ name, type: typeof body.rows[0]![name] === 'number' ? 'DOUBLE' : 'VARCHAR' })),
    rows: body.rows.map((r) => names.map((n) => r[n])),
    truncated: false,
    files: 0,
  };
  const text = names.length ? formatResult(result, format) : format === 'csv' ? '' : '(0 rows)';
  if (format === 'csv') return text;
  const { report: _r, app: _a, from: _f, to: _t, generatedAt: _g, rows: _rows, ...extras } = body;
  const head = `${body.report} for ${body.app}, ${body.from} to ${body.to}`;
  return [head, text, ...Object.entries(extras).map(([k, v]) => `${k}: ${JSON.stringify(v)}`)].join('\n');
}
