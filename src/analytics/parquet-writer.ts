import type { DuckDBAppender, DuckDBConnection, DuckDBTimestampValue } from '@duckdb/node-api';
import { loadDuckDB } from './duckdb.ts';
import { LEARNER_KEY_PATTERN } from '../domain/analytics/pseudonym.ts';
import { LAKE_COLUMNS, type LakeRow } from './lake-layout.ts';

/**
 * Turns lake rows into zstd Parquet files with an in-process DuckDB (one
 * in-memory instance per writer). Rows go through DuckDB's appender into a
 * temporary table, then `COPY … TO <file>`: the caller names the file (its
 * own temporary path), DuckDB never picks or overwrites names in a shared
 * folder. Calls run one at a time.
 */
export interface ParquetEncoder {
  /** Writes `rows` (sorted by seq) to `file`; rejects when DuckDB refuses a value. */
  write(rows: readonly LakeRow[], file: string): Promise<void>;
  /** Merges Parquet files with the lake's columns into one (sorted by seq): compaction. */
  /** Merges files into one, by seq, leaving out rows of `excludeLearners` (erased children's keys). */
  merge(inputs: readonly string[], file: string, excludeLearners?: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A DuckDB string literal. */
export const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

const TABLE = 'lake_rows';

/** Opens the encoder: one DuckDB instance, two threads (the writer shares the machine with the API). */
export async function openParquetEncoder(): Promise<ParquetEncoder> {
  const { DuckDBInstance, DuckDBTimestampValue } = await loadDuckDB();
  const micros: Micros = (d) => new DuckDBTimestampValue(BigInt(d.getTime()) * 1000n);
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
    await connection.run(`create temp table ${TABLE} (${LAKE_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`);
  } catch (error) {
    instance.closeSync();
    throw error;
  }
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };
  let closed = false;
  return {
    write: (rows, file) =>
      serial(async () => {
        if (closed) throw new Error('parquet encoder closed');
        await connection.run(`delete from ${TABLE}`);
        const appender = await connection.createAppender(TABLE);
        try {
          for (const row of rows) appendRow(appender, row, micros);
          appender.closeSync();
        } catch (error) {
          try {
            appender.closeSync();
          } catch {
            // already broken: the table is cleared before the next write
          }
          throw error;
        }
        await connection.run(`copy (select * from ${TABLE} order by seq) to ${sqlString(file)} (format parquet, compression zstd)`);
        await connection.run(`delete from ${TABLE}`);
      }),
    merge: (inputs, file, excludeLearners = []) =>
      serial(async () => {
        if (closed) throw new Error('parquet encoder closed');
        const columns = LAKE_COLUMNS.map(([name]) => name).join(', ');
        for (const l of excludeLearners) if (!LEARNER_KEY_PATTERN.test(l)) throw new Error(`not a learner key: ${l}`);
        const where = excludeLearners.length ? ` where learner is null or learner not in (${excludeLearners.map(sqlString).join(', ')})` : '';
        await connection.run(
          `copy (select ${columns} from read_parquet([${inputs.map(sqlString).join(', ')}], hive_partitioning = false)${where} order by seq) to ${sqlString(file)} (format parquet, compression zstd)`,
        );
      }),
    close: () =>
      serial(async () => {
        if (closed) return;
        closed = true;
        connection.closeSync();
        instance.closeSync();
      }),
  };
}

type Micros = (d: Date) => DuckDBTimestampValue;

/** Appends one row in LAKE_COLUMNS order; `micros` makes DuckDB's timestamp values. */
function appendRow(a: DuckDBAppender, r: LakeRow, micros: Micros): void {
  a.appendBigInt(r.seq);
  a.appendVarchar(r.event_id);
  a.appendVarchar(r.type);
  a.appendVarchar(r.source);
  a.appendTimestamp(micros(r.occurred_at));
  a.appendTimestamp(micros(r.received_at));
  nullable(a, r.learner, (v) => a.appendVarchar(v));
  nullable(a, r.session_id, (v) => a.appendVarchar(v));
  nullable(a, r.lesson_id, (v) => a.appendVarchar(v));
  nullable(a, r.concept_id, (v) => a.appendVarchar(v));
  nullable(a, r.item_id, (v) => a.appendVarchar(v));
  nullable(a, r.correct, (v) => a.appendBoolean(v));
  nullable(a, r.duration_ms, (v) => a.appendInteger(v));
  nullable(a, r.mastery, (v) => a.appendDouble(v));
  a.appendVarchar(r.properties);
  a.endRow();
}

function nullable<T>(a: DuckDBAppender, value: T | null, append: (v: T) => void): void {
  if (value === null) a.appendNull();
  else append(value);
}
