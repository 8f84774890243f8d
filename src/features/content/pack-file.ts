import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Document, LineCounter, isMap, isNode, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { z } from '@hono/zod-openapi';
import { ContentPack, packProblems } from '../../domain/content-pack.ts';
import type { ContentPackInput, PackProblem } from '../../domain/content-pack.ts';

/**
 * Content pack files: reading a pack from JSON or YAML, validating it with
 * the `ContentPack` schema and then the whole-pack checks (`packProblems`),
 * and reporting every problem with the file, line, column and path of the
 * value it concerns; writing a pack back as stable, pretty JSON or YAML.
 *
 * YAML goes through the `yaml` package's document API, which keeps the
 * source range of every node, so a path such as
 * `units.0.lessons.2.items.1.answer.choiceId` maps back to a line and a
 * column. JSON is read with `JSON.parse` and again with positions (JSON is
 * YAML 1.2), which also refuses duplicate keys; `fast` skips the second
 * parse for a pack with nothing to report.
 */

export type PackFormat = 'json' | 'yaml';

/** One problem found in a pack file. `line` and `column` are 1-based; `path` is dotted (`units.0.lessons.2`), empty for the whole file. */
export interface PackFinding {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

/** What reading a pack gives: the pack when it has no errors, and every error and warning found. */
export interface PackReadResult {
  pack?: ContentPack;
  errors: PackFinding[];
  warnings: PackFinding[];
}

/** The format a file name implies: `.json`, or `.yaml`/`.yml`; undefined otherwise. */
export function packFormatOf(file: string): PackFormat | undefined {
  const ext = extname(file).toLowerCase();
  return ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
}

/** `packs/shapes.yaml:42:9 units.0.lessons.2.items.1.answer.choiceId: answer must be one of the choice ids` */
export function formatFinding(f: PackFinding): string {
  return `${f.file}:${f.line}:${f.column} ${f.path === '' ? '' : `${f.path}: `}${f.message}`;
}

/** Reads, parses and validates a pack file (`.json`, `.yaml` or `.yml`). An unreadable file is one error, not an exception. */
export async function readPackFile(file: string, options: { fast?: boolean } = {}): Promise<PackReadResult> {
  const format = packFormatOf(file);
  if (format === undefined) return failure(file, 'a content pack file must end in .json, .yaml or .yml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return failure(file, `cannot read the file: ${(error as Error).message}`);
  }
  return parsePackText(text, { file, format, ...options });
}

/**
 * Parses and validates a pack held in a string; `file` only names it in
 * findings. `fast`: a JSON pack that passes every check is not parsed a
 * second time for positions and duplicate keys (for packs the tests already
 * read strictly, such as the committed demo packs on first start).
 */
export function parsePackText(text: string, options: { file: string; format: PackFormat; fast?: boolean }): PackReadResult {
  const { file, format } = options;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (format === 'json') {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      return { errors: [jsonSyntaxFinding(file, text, error as Error)], warnings: [] };
    }
    const checked = check(data);
    if (options.fast && checked.errors.length === 0 && checked.warnings.length === 0) return { pack: checked.pack, errors: [], warnings: [] };
    // Parse again keeping where each value is: to place findings, and because JSON.parse keeps
    // the last of two equal keys without a word (two "prompt"s in one item), which the YAML
    // parser refuses.
    const located = locate(text);
    if (located.doc.errors.length > 0) {
      return { errors: located.doc.errors.map((e) => ({ file, ...located.at(e.pos[0]), path: '', message: yamlMessage(e.message) })), warnings: [] };
    }
    return place(file, checked, located);
  }
  const located = locate(text);
  if (located.doc.errors.length > 0) {
    return {
      errors: located.doc.errors.map((e) => ({ file, ...located.at(e.pos[0]), path: '', message: yamlMessage(e.message) })),
      warnings: [],
    };
  }
  let data: unknown;
  try {
    data = located.doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return failure(file, (error as Error).message);
  }
  const result = place(file, check(data), located);
  const yamlWarnings = located.doc.warnings.map((w) => ({ file, ...located.at(w.pos[0]), path: '', message: yamlMessage(w.message) }));
  return { ...result, warnings: [...yamlWarnings, ...result.warnings] };
}

/**
 * A pack as text: JSON with two-space indentation, or YAML (block style,
 * no line folding). Keys come in the schema's order and defaults are filled
 * in, so a pack always serialises the same and reading it back gives an
 * equal pack. YAML starts with the `yaml-language-server` schema comment when
 * the pack names its `$schema`. Throws (a ZodError) on a pack the schema refuses.
 */
export function serializePack(pack: ContentPack | ContentPackInput, format: PackFormat): string {
  const canonical = ContentPack.parse(pack);
  if (format === 'json') return `${JSON.stringify(canonical, null, 2)}\n`;
  const doc = new Document(canonical, { version: '1.2' });
  if (canonical.$schema !== undefined) doc.commentBefore = ` yaml-language-server: $schema=${canonical.$schema}`;
  return doc.toString({ indent: 2, lineWidth: 0, minContentWidth: 0, indentSeq: true });
}

// ---------------------------------------------------------------------------

/** A problem about a map key (an unknown field): reported where the key is written. */
interface KeyProblem extends PackProblem {
  atKey?: true;
}

interface Checked {
  pack?: ContentPack;
  errors: PackProblem[];
  warnings: PackProblem[];
}

/** Schema first; the whole-pack checks only on a schema-valid pack. */
function check(data: unknown): Checked {
  if (data === null || data === undefined) return { errors: [{ path: [], message: 'the pack is empty' }], warnings: [] };
  const parsed = ContentPack.safeParse(data);
  if (!parsed.success) return { errors: parsed.error.issues.flatMap((issue) => issueProblems(issue, data)), warnings: [] };
  const { errors, warnings } = packProblems(parsed.data);
  return errors.length === 0 ? { pack: parsed.data, errors, warnings } : { errors, warnings };
}

/** A Zod issue as problems with paths; an unknown key is reported at the key itself, a missing one by name. */
function issueProblems(issue: z.core.$ZodIssue, data: unknown): PackProblem[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'invalid_type' && path.length > 0 && valueAt(data, path) === undefined) {
    return [{ path, message: `missing required field "${String(path.at(-1))}" (${issue.expected})` }];
  }
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key): KeyProblem => ({ path: [...path, key], message: `unknown field "${key}"`, atKey: true }));
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // A discriminated union names the branch; report the closest branch's own issues when there is one.
    const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
    if (best && best.length > 0 && best.length <= 3) return best.flatMap((i) => issueProblems({ ...i, path: [...path, ...i.path] }, data));
  }
  return [{ path, message: issue.message }];
}

/** The value at a path into parsed data, or undefined when there is none. */
function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let value = data;
  for (const segment of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

interface Located {
  doc: Document.Parsed;
  at(offset: number): { line: number; column: number };
  /** Where the value at `path` starts, or its nearest existing ancestor; `atKey` points at the last map key instead. */
  position(path: readonly (string | number)[], atKey?: boolean): { line: number; column: number };
}

function locate(text: string): Located {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2', keepSourceTokens: false });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line, column: col };
  };
  return {
    doc,
    at,
    position(path, atKey = false) {
      let node: unknown = doc.contents;
      let offset = rangeStart(node) ?? 0;
      for (const [i, segment] of path.entries()) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === segment);
          if (!pair) break;
          offset = (atKey && i === path.length - 1 ? rangeStart(pair.key) : rangeStart(pair.value)) ?? rangeStart(pair.key) ?? offset;
          node = pair.value;
        } else if (isSeq(node) && typeof segment === 'number') {
          const item = node.items[segment];
          if (item === undefined) break;
          offset = rangeStart(item) ?? offset;
          node = item;
        } else break;
      }
      return at(offset);
    },
  };
}

function rangeStart(node: unknown): number | undefined {
  return isNode(node) ? (node as YamlNode).range?.[0] : undefined;
}

/** Problems with positions: the same text located once. */
function place(file: string, checked: Checked, located: Located): PackReadResult {
  const find = (p: KeyProblem): PackFinding => ({ file, ...located.position(p.path, p.atKey), path: p.path.join('.'), message: p.message });
  const result: PackReadResult = { errors: checked.errors.map(find), warnings: checked.warnings.map(find) };
  if (checked.pack && checked.errors.length === 0) result.pack = checked.pack;
  return result;
}

function failure(file: string, message: string): PackReadResult {
  return { errors: [{ file, line: 1, column: 1, path: '', message }], warnings: [] };
}

/** V8's JSON.parse message without the copy of the text, with the line and column it names. */
function jsonSyntaxFinding(file: string, text: string, error: Error): PackFinding {
  const message = error.message.replace(/, "[\s\S]*" is not valid JSON$/, '').replace(/ in JSON at position \d+(?: \(line \d+ column \d+\))?$/, '');
  const lineCol = / \(line (\d+) column (\d+)\)/.exec(error.message);
  if (lineCol) return { file, line: Number(lineCol[1]), column: Number(lineCol[2]), path: '', message: `invalid JSON: ${message}` };
  const located = locate(text);
  const offset = /at position (\d+)/.exec(error.message)?.[1];
  const where =
    offset !== undefined
      ? located.at(Number(offset))
      : /end of JSON input/.test(error.message)
        ? located.at(text.length)
        : located.doc.errors[0]
          ? located.at(located.doc.errors[0].pos[0])
          : { line: 1, column: 1 };
  return { file, ...where, path: '', message: `invalid JSON: ${message}` };
}

/** The yaml package's message, first line only (the rest repeats the source). */
function yamlMessage(message: string): string {
  return `invalid YAML: ${message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`;
}
