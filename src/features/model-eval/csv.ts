/**
 * The answer CSV of `model eval`: a header row, then one answer per row.
 * Required columns `student,skill,correct` (correct is 0/1 or true/false),
 * optional `item` and `timestamp`; other columns are ignored. Rows are taken
 * to be in chronological order per student. Fields may be quoted as in
 * RFC 4180 ("a ""b"", c"), including line breaks inside quotes.
 */
import type { LearnerRow } from '../../domain/learner/model.ts';

export interface AnswerCsvRow extends LearnerRow {
  timestamp?: string | undefined;
}

export class CsvError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
    this.line = line;
  }
}

/** Splits one record that contains quotes (RFC 4180). */
function splitQuoted(record: string, line: number): string[] {
  const fields: string[] = [];
  let i = 0;
  const n = record.length;
  for (;;) {
    if (record.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = record.indexOf('"', from);
        if (q < 0) throw new CsvError(line, 'unterminated quoted field');
        value += record.slice(from, q);
        if (record.charCodeAt(q + 1) === 34) {
          value += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return fields;
      if (record.charCodeAt(i) !== 44 /* , */) throw new CsvError(line, 'unexpected character after a closing quote');
      i++;
    } else {
      const comma = record.indexOf(',', i);
      const end = comma < 0 ? n : comma;
      const value = record.slice(i, end);
      if (value.includes('"')) throw new CsvError(line, 'quote inside an unquoted field');
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

function countQuotes(s: string): number {
  let c = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) c++;
  return c;
}

/** Calls `onRecord(fields, line)` for each non-blank record; `line` is where the record starts (1-based). */
function forEachRecord(text: string, onRecord: (fields: string[], line: number) => void): void {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let lineNo = 0;
  const nextLine = (): string | undefined => {
    if (pos >= text.length) return undefined;
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    let line = text.slice(pos, nl);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    pos = nl + 1;
    lineNo++;
    return line;
  };
  for (let line = nextLine(); line !== undefined; line = nextLine()) {
    if (line === '') continue;
    const start = lineNo;
    if (!line.includes('"')) {
      onRecord(line.split(','), start);
      continue;
    }
    let record = line;
    let quotes = countQuotes(line);
    while (quotes % 2 === 1) {
      const more = nextLine();
      if (more === undefined) throw new CsvError(start, 'unterminated quoted field');
      record += `\n${more}`;
      quotes += countQuotes(more);
    }
    onRecord(splitQuoted(record, start), start);
  }
}

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

/** Parses an answer CSV; throws CsvError naming the line of the first bad row. */
export function parseAnswersCsv(text: string): AnswerCsvRow[] {
  const rows: AnswerCsvRow[] = [];
  let columns: { student: number; skill: number; correct: number; item: number; timestamp: number; count: number } | undefined;
  forEachRecord(text, (fields, line) => {
    if (!columns) {
      const names = fields.map((f) => f.trim().toLowerCase());
      const at = (name: string) => names.indexOf(name);
      const missing = ['student', 'skill', 'correct'].filter((c) => at(c) < 0);
      if (missing.length) throw new CsvError(line, `header lacks required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (need student,skill,correct)`);
      columns = { student: at('student'), skill: at('skill'), correct: at('correct'), item: at('item'), timestamp: at('timestamp'), count: names.length };
      return;
    }
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
    rows.push(row);
  });
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
