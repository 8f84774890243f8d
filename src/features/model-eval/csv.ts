/**
 * The answer CSV of `model eval`: a header row, then one answer per row.
 * Required columns `student,skill,correct` (correct is 0/1 or true/false),
 * optional `item` and `timestamp`; other columns are ignored. Rows are taken
 * to be in chronological order per student. Fields may be quoted as in
 * RFC 4180 ("a ""b"", c"), including line breaks (LF or CRLF, kept as they
 * are) inside quotes. Parsing is csv-parse's; this module maps its records
 * and errors to rows and to messages naming the line where the record starts.
 */
import { CsvError as ParseError, parse } from 'csv-parse/sync';
import type { LearnerRow } from '../../domain/learner/model.ts';

export interface AnswerCsvRow extends LearnerRow {
  timestamp?: string | undefined;
}

export class CsvError extends Error {
  readonly line: number;
  constructor(line: number, message: string, options?: { cause?: unknown }) {
    super(`line ${line}: ${message}`, options);
    this.name = 'CsvError';
    this.line = line;
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Line numbers of byte offsets, asked for in increasing order (one pass over
 * the file however many records it has).
 */
class LineCounter {
  readonly #bytes: Buffer;
  #pos = 0;
  #line = 1;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }
  /** The line of the first byte at or after `offset` that is not a line break (where the next record starts). */
  nextRecordLine(offset: number): number {
    const b = this.#bytes;
    let at = offset;
    while (at < b.length && (b[at] === LF || b[at] === CR)) at++;
    at = Math.min(at, b.length);
    for (; this.#pos < at; this.#pos++) if (b[this.#pos] === LF) this.#line++;
    return this.#line;
  }
}

/** csv-parse's error codes, in this module's words. */
const PARSE_ERRORS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'unterminated quoted field',
  CSV_INVALID_CLOSING_QUOTE: 'unexpected character after a closing quote',
  INVALID_OPENING_QUOTE: 'quote inside an unquoted field',
};

function parseCorrect(value: string, line: number): boolean {
  switch (value.trim().toLowerCase()) {
    case '1':
    case 'true':
      return true;
    case '0':
    case 'false':
      return false;
    default:
      throw new CsvError(line, `correct must be 0, 1, true or false (got "${value}")`);
  }
}

interface Columns {
  student: number;
  skill: number;
  correct: number;
  item: number;
  timestamp: number;
  count: number;
}

function headerColumns(fields: readonly string[], line: number): Columns {
  const names = fields.map((f) => f.trim().toLowerCase());
  const at = (name: string) => names.indexOf(name);
  const missing = ['student', 'skill', 'correct'].filter((c) => at(c) < 0);
  if (missing.length) throw new CsvError(line, `header lacks required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (need student,skill,correct)`);
  return { student: at('student'), skill: at('skill'), correct: at('correct'), item: at('item'), timestamp: at('timestamp'), count: names.length };
}

function toRow(fields: readonly string[], columns: Columns, line: number): AnswerCsvRow {
  if (fields.length !== columns.count) throw new CsvError(line, `expected ${columns.count} fields as in the header, got ${fields.length}`);
  const student = fields[columns.student]!.trim();
  const skill = fields[columns.skill]!.trim();
  if (!student) throw new CsvError(line, 'student is empty');
  if (!skill) throw new CsvError(line, 'skill is empty');
  const row: AnswerCsvRow = { student, skill, correct: parseCorrect(fields[columns.correct]!, line) };
  if (columns.item >= 0) {
    const item = fields[columns.item]!.trim();
    if (item) row.item = item;
  }
  if (columns.timestamp >= 0) row.timestamp = fields[columns.timestamp]!.trim();
  return row;
}

/** Parses an answer CSV; throws CsvError naming the line where the first bad record starts. */
export function parseAnswersCsv(text: string): AnswerCsvRow[] {
  const bytes = Buffer.from(text, 'utf8');
  const lines = new LineCounter(bytes);
  const rows: AnswerCsvRow[] = [];
  let columns: Columns | undefined;
  // Where the record being parsed starts: just after the previous one (csv-parse's `bytes`), past blank lines.
  let recordEnd = 0;
  try {
    parse(bytes, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      // Both, even mixed in one file (csv-parse would otherwise keep to the first one it sees).
      record_delimiter: ['\r\n', '\n'],
      on_record: (record, context) => {
        const line = lines.nextRecordLine(recordEnd);
        recordEnd = context.bytes;
        if (!columns) columns = headerColumns(record, line);
        else rows.push(toRow(record, columns, line));
        return null;
      },
    });
  } catch (error) {
    if (error instanceof CsvError) throw error;
    if (error instanceof ParseError) {
      throw new CsvError(lines.nextRecordLine(recordEnd), PARSE_ERRORS[error.code] ?? error.message, { cause: error });
    }
    throw error;
  }
  if (!columns) throw new CsvError(1, 'empty file: expected a header row student,skill,correct');
  return rows;
}

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Writes rows as an answer CSV (with an `item` column when any row has one). */
export function answersToCsv(rows: readonly AnswerCsvRow[]): string {
  const withItem = rows.some((r) => r.item !== undefined);
  const out: string[] = [withItem ? 'student,skill,item,correct' : 'student,skill,correct'];
  for (const r of rows) {
    const c = r.correct ? '1' : '0';
    out.push(withItem ? `${quote(r.student)},${quote(r.skill)},${quote(r.item ?? '')},${c}` : `${quote(r.student)},${quote(r.skill)},${c}`);
  }
  return `${out.join('\n')}\n`;
}
