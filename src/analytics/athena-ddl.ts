import { LAKE_COLUMNS, LAKE_EVENTS_PREFIX, LAKE_PARTITION_COLUMNS } from './lake-layout.ts';

/**
 * The Glue/Athena table over the lake's S3 layout, generated from the same
 * column list the writer uses, so the two cannot drift. Partitions are found
 * by partition projection (no crawler, no `MSCK REPAIR`): year, month and
 * day are integer ranges written with 4/2/2 digits, as in the object keys.
 *
 * The app is `injected` by default: every query must say `app = '…'`, and a
 * new app needs no change to the table (apps are created at run time with
 * `kidslearn apps create`, so an `enum` list would go stale). Reports are
 * per app anyway (tenancy), so the rule costs nothing and stops accidental
 * scans across every app. Pass `apps` to get an `enum` projection instead
 * (cross-app queries, at the price of altering the table for each new app).
 */

/** Athena's name for each DuckDB type used by the lake. */
export const ATHENA_TYPES: Readonly<Record<string, string>> = {
  BIGINT: 'bigint',
  VARCHAR: 'string',
  TIMESTAMP: 'timestamp',
  BOOLEAN: 'boolean',
  INTEGER: 'int',
  DOUBLE: 'double',
};

export interface AthenaDdlOptions {
  bucket: string;
  /** Key prefix of the lake in the bucket (`LAKE_S3_PREFIX`), e.g. `analytics-lake/`; '' for the bucket's root. */
  prefix?: string;
  database?: string;
  table?: string;
  /** First year the projection covers (default 2025); it runs to 2099. */
  firstYear?: number;
  /** Use an `enum` projection of these apps instead of `injected`. */
  apps?: readonly string[];
}

const NAME = /^[a-z_][a-z0-9_]{0,127}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const LAST_YEAR = 2099;

function athenaType(duckType: string): string {
  const t = ATHENA_TYPES[duckType];
  if (!t) throw new Error(`No Athena type for DuckDB type ${duckType}`);
  return t;
}

/** `analytics-lake` → `analytics-lake/`; '' stays ''. */
export function normalisePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** `s3://<bucket>/<prefix>events/`: the table's LOCATION. */
export function eventsLocation(bucket: string, prefix = ''): string {
  return `s3://${bucket}/${normalisePrefix(prefix)}${LAKE_EVENTS_PREFIX}`;
}

/** The projection's `storage.location.template`: the object key layout with `${app}`, `${year}`, `${month}`, `${day}`. */
export function locationTemplate(bucket: string, prefix = ''): string {
  return `${eventsLocation(bucket, prefix)}${LAKE_PARTITION_COLUMNS.map(([c]) => `${c}=\${${c}}`).join('/')}/`;
}

/** The table's columns, in file order, with their Athena types (the Glue table of the CDK app uses these too). */
export function athenaColumns(): { name: string; type: string }[] {
  return LAKE_COLUMNS.map(([name, type]) => ({ name, type: athenaType(type) }));
}

/** The partition columns (from the object key), with their Athena types. */
export function athenaPartitionColumns(): { name: string; type: string }[] {
  return LAKE_PARTITION_COLUMNS.map(([name, type]) => ({ name, type: athenaType(type) }));
}

/**
 * The table properties: Parquet compression and the partition projection
 * over the object key layout. Shared by {@link athenaDdl} and the Glue table
 * of the CDK app (infra/lib/analytics-stack.ts), where `bucket` is a
 * deploy-time token, so nothing here validates it; {@link athenaDdl} does.
 */
export function athenaTableProperties(options: { bucket: string; prefix: string; firstYear: number; apps: readonly string[] }): Record<string, string> {
  const appProjection: [string, string][] = options.apps.length
    ? [
        ['projection.app.type', 'enum'],
        ['projection.app.values', options.apps.join(',')],
      ]
    : [['projection.app.type', 'injected']];
  return Object.fromEntries([
    ['parquet.compression', 'ZSTD'],
    ['projection.enabled', 'true'],
    ...appProjection,
    ['projection.year.type', 'integer'],
    ['projection.year.range', `${options.firstYear},${LAST_YEAR}`],
    ['projection.year.digits', '4'],
    ['projection.month.type', 'integer'],
    ['projection.month.range', '1,12'],
    ['projection.month.digits', '2'],
    ['projection.day.type', 'integer'],
    ['projection.day.range', '1,31'],
    ['projection.day.digits', '2'],
    ['storage.location.template', locationTemplate(options.bucket, options.prefix)],
  ]);
}

/** The `CREATE EXTERNAL TABLE` statement (Athena DDL) for the lake's events. */
export function athenaDdl(options: AthenaDdlOptions): string {
  const database = options.database ?? 'kidslearn';
  const table = options.table ?? 'events';
  const prefix = normalisePrefix(options.prefix ?? 'analytics-lake/');
  const firstYear = options.firstYear ?? 2025;
  if (!BUCKET.test(options.bucket)) throw new Error(`Invalid bucket ${JSON.stringify(options.bucket)}: expected an S3 bucket name`);
  if (!/^[A-Za-z0-9=._/-]*$/.test(prefix) || prefix.startsWith('/')) throw new Error(`Invalid prefix ${JSON.stringify(prefix)}: expected a key prefix such as analytics-lake/`);
  for (const [what, name] of [['database', database], ['table', table]] as const) {
    if (!NAME.test(name)) throw new Error(`Invalid ${what} ${JSON.stringify(name)}: expected lowercase letters, digits and _`);
  }
  if (!Number.isInteger(firstYear) || firstYear < 2000 || firstYear > LAST_YEAR) throw new Error(`Invalid first year ${firstYear}: expected 2000–${LAST_YEAR}`);
  const apps = options.apps ?? [];
  for (const a of apps) if (!/^[a-z][a-z0-9_]{1,30}$/.test(a)) throw new Error(`Invalid app id ${JSON.stringify(a)}`);

  const columns = athenaColumns().map(({ name, type }) => `  \`${name}\` ${type}`).join(',\n');
  const partitions = athenaPartitionColumns().map(({ name, type }) => `\`${name}\` ${type}`).join(', ');
  const properties = Object.entries(athenaTableProperties({ bucket: options.bucket, prefix, firstYear, apps }));
  return [
    `CREATE EXTERNAL TABLE IF NOT EXISTS \`${database}\`.\`${table}\` (`,
    columns,
    ')',
    `PARTITIONED BY (${partitions})`,
    'STORED AS PARQUET',
    `LOCATION '${eventsLocation(options.bucket, prefix)}'`,
    'TBLPROPERTIES (',
    properties.map(([k, v]) => `  '${k}' = '${v}'`).join(',\n'),
    ');',
  ].join('\n');
}
