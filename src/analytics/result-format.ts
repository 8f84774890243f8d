import type { LakeColumnInfo, LakeQueryResult } from './lake-query.ts';

/**
 * Printing query results (`kidslearn lake query --format table|csv|json`).
 * Pure functions over the engine's rows: BIGINT/HUGEINT arrive as bigint,
 * TIMESTAMP and DATE as Date.
 */

export const OUTPUT_FORMATS = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** A value for JSON: bigint as a number when it is exactly representable, else as a decimal string; dates as ISO text. */
export function jsonValue(value: unknown, type = ''): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) && BigInt(Number(value)) === value ? Number(value) : value.toString();
  if (value instanceof Date) return dateText(value, type);
  if (Array.isArray(value)) return value.map((v) => jsonValue(v));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonValue(v)]));
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/** A value as text for a table or CSV cell (null → empty). */
export function cellText(value: unknown, type = ''): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return dateText(value, type);
  if (typeof value === 'object') return JSON.stringify(jsonValue(value));
  return String(value);
}

/** DATE as `YYYY-MM-DD`; timestamps as ISO 8601 in UTC. */
function dateText(value: Date, type: string): string {
  const iso = value.toISOString();
  return type === 'DATE' ? iso.slice(0, 10) : iso;
}

/** The rows as an array of objects (JSON text, two-space indented). Duplicate column names get `_1`, `_2` suffixes. */
export function formatJson(result: Pick<LakeQueryResult, 'columns' | 'rows'>): string {
  const names = uniqueNames(result.columns);
  const rows = result.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, jsonValue(row[i], result.columns[i]!.type)])));
  return JSON.stringify(rows, null, 2);
}

/** RFC 4180: a header line, CRLF line ends, fields with `"`, `,`, CR or LF quoted (quotes doubled). */
export function formatCsv(result: Pick<LakeQueryResult, 'columns' | 'rows'>): string {
  const line = (cells: string[]) => cells.map(csvField).join(',');
  return [line(result.columns.map((c) => c.name)), ...result.rows.map((row) => line(row.map((v, i) => cellText(v, result.columns[i]!.type))))].map((l) => `${l}\r\n`).join('');
}

export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/;

/** Aligned columns under a header and a rule; numbers right-aligned, NULL shown as `NULL`; then `(n rows)`. */
export function formatTable(result: Pick<LakeQueryResult, 'columns' | 'rows' | 'truncated'>): string {
  const head = result.columns.map((c) => c.name);
  const body = result.rows.map((row) => row.map((v, i) => (v === null || v === undefined ? 'NULL' : oneLine(cellText(v, result.columns[i]!.type)))));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const right = result.columns.map((c) => NUMERIC.test(c.type));
  const line = (cells: string[]) => cells.map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const count = `(${result.rows.length} row${result.rows.length === 1 ? '' : 's'}${result.truncated ? '; more rows were left out, raise --max-rows or narrow the query' : ''})`;
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), count].join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n');
}

function uniqueNames(columns: readonly LakeColumnInfo[]): string[] {
  const seen = new Map<string, number>();
  return columns.map((c) => {
    const n = seen.get(c.name) ?? 0;
    seen.set(c.name, n + 1);
    return n ? `${c.name}_${n}` : c.name;
  });
}

/** Formats a result in one of {@link OUTPUT_FORMATS}. */
export function formatResult(result: LakeQueryResult, format: OutputFormat): string {
  if (format === 'csv') return formatCsv(result).replace(/\r\n$/, '');
  if (format === 'json') return formatJson(result);
  return formatTable(result);
}
