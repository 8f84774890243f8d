import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { formatFinding, packFormatOf, parsePackText, readPackFile, serializePack } from '../../src/features/content/pack-file.ts';
import type { PackFinding, PackFormat, PackReadResult } from '../../src/features/content/pack-file.ts';
import type { ContentPackInput } from '../../src/domain/content-pack.ts';

/** A small valid pack: two concepts (b needs a), one unit, a lesson on each, items of all three types. */
function basePack(): ContentPackInput {
  return {
    $schema: '../../schemas/content-pack.json',
    format: 'kidslearn.content-pack/v1',
    pack: { id: 'tiny', version: '1.0.0', title: 'Tiny', language: 'en', license: 'CC-BY-4.0', authors: [{ name: 'Test' }] },
    concepts: [
      { id: 'a', subject: 'math', grade: 0, name: 'Concept A', prerequisites: [] },
      { id: 'b', subject: 'math', grade: 0, name: 'Concept B', prerequisites: ['a'] },
    ],
    units: [
      {
        id: 'u1',
        title: 'Unit one',
        lessons: [
          {
            id: 'la',
            subject: 'math',
            grade: 0,
            title: 'Lesson A',
            conceptIds: ['a'],
            blocks: [{ type: 'text', text: 'Line one.\nLine two: with a colon.' }],
            estimatedMinutes: 5,
            items: [
              { id: 'la-q1', type: 'numeric', prompt: 'What is 2 + 2?', answer: { type: 'numeric', value: 4 }, difficulty: -1 },
              {
                id: 'la-q2',
                type: 'multiple_choice',
                prompt: 'Pick three',
                choices: [
                  { id: 'a', text: '2' },
                  { id: 'b', text: '3' },
                ],
                answer: { type: 'multiple_choice', choiceId: 'b' },
                difficulty: 0,
              },
            ],
          },
          {
            id: 'lb',
            subject: 'math',
            grade: 0,
            title: 'Lesson B',
            conceptIds: ['b'],
            media: [{ id: 'pic', kind: 'image', url: 'https://example.org/pic.png', alt: 'A picture' }],
            estimatedMinutes: 5,
            items: [{ id: 'lb-q1', type: 'short_text', prompt: 'Say "yes"', answer: { type: 'short_text', accepted: ['yes', 'no: really'] }, difficulty: 1.5, mediaId: 'pic' }],
          },
        ],
      },
    ],
  };
}

type Mutable = ReturnType<typeof basePack> & Record<string, unknown>;
// The tests reach into the pack by path; `any` keeps them short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function toText(pack: unknown, format: PackFormat): string {
  return format === 'json' ? JSON.stringify(pack, null, 2) : stringify(pack, { lineWidth: 0 });
}

/** 1-based line and column of the first occurrence of `needle` (after `after`, when given). */
function positionOf(text: string, needle: string, after?: string): { line: number; column: number } {
  const from = after === undefined ? 0 : text.indexOf(after);
  assert.ok(from >= 0, `"${after}" not in the text`);
  const offset = text.indexOf(needle, from);
  assert.ok(offset >= 0, `"${needle}" not in the text`);
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

function only(findings: PackFinding[], path: string): PackFinding {
  const hits = findings.filter((f) => f.path === path);
  assert.equal(hits.length, 1, `expected one finding at ${path}, got ${JSON.stringify(findings)}`);
  return hits[0] as PackFinding;
}

function assertAt(f: PackFinding, where: { line: number; column: number }, message: RegExp): void {
  assert.deepEqual({ line: f.line, column: f.column }, where, formatFinding(f));
  assert.match(f.message, message);
}

/** One kind of problem: how to break the base pack, where the finding must be, and what it says. */
interface Case {
  name: string;
  mutate: (p: Any) => void;
  path: string;
  /** What the finding points at, per format: the text of the value (or key) where the position must be. */
  needle: (format: PackFormat) => { needle: string; after?: string };
  message: RegExp;
  warning?: boolean;
}

const q = (format: PackFormat, key: string) => (format === 'json' ? `"${key}"` : key);

const CASES: Case[] = [
  {
    name: 'a schema error (difficulty out of range)',
    mutate: (p) => (p.units[0].lessons[1].items[0].difficulty = 9),
    path: 'units.0.lessons.1.items.0.difficulty',
    needle: () => ({ needle: '9' }),
    message: /<=3|3/,
  },
  {
    name: 'a missing required field',
    mutate: (p) => delete p.units[0].lessons[0].estimatedMinutes,
    path: 'units.0.lessons.0.estimatedMinutes',
    needle: (f) => ({ needle: f === 'json' ? '{' : 'id: la', after: q(f, 'lessons') }),
    message: /^missing required field "estimatedMinutes" \(number\)$/,
  },
  {
    name: 'an unknown field (reported at the key)',
    mutate: (p) => (p.units[0].lessons[0].items[0].hint = 'psst'),
    path: 'units.0.lessons.0.items.0.hint',
    needle: (f) => ({ needle: q(f, 'hint') }),
    message: /unknown field "hint"/,
  },
  {
    name: 'an unknown prerequisite',
    mutate: (p) => (p.concepts[1].prerequisites = ['zzz']),
    path: 'concepts.1.prerequisites.0',
    needle: (f) => ({ needle: f === 'json' ? '"zzz"' : 'zzz' }),
    message: /unknown prerequisite "zzz"/,
  },
  {
    name: 'a prerequisite cycle',
    mutate: (p) => (p.concepts[0].prerequisites = ['b']),
    path: 'concepts.0.prerequisites',
    needle: (f) => ({ needle: f === 'json' ? '[' : '- b', after: q(f, 'prerequisites') }),
    message: /prerequisite cycle: a -> b -> a/,
  },
  {
    name: 'a duplicate item id',
    mutate: (p) => (p.units[0].lessons[1].items[0].id = 'la-q1'),
    path: 'units.0.lessons.1.items.0.id',
    needle: (f) => ({ needle: f === 'json' ? '"la-q1"' : 'la-q1', after: q(f, 'lb') }),
    message: /duplicate item id "la-q1" \(first at units\.0\.lessons\.0\.items\.0\)/,
  },
  {
    name: 'a numeric key that does not accept its own answer typed',
    mutate: (p) => (p.units[0].lessons[0].items[0].answer.value = 1e-7),
    path: 'units.0.lessons.0.items.0.answer.value',
    needle: () => ({ needle: '1e-7' }),
    message: /does not accept its own answer typed as "1e-7"/,
  },
  {
    name: 'a choice key that is not among the choices',
    mutate: (p) => (p.units[0].lessons[0].items[1].answer.choiceId = 'z'),
    path: 'units.0.lessons.0.items.1.answer.choiceId',
    needle: (f) => ({ needle: f === 'json' ? '"z"' : 'z', after: q(f, 'choiceId') }),
    message: /answer must be one of the choice ids/,
  },
  {
    name: 'text the API would refuse (a NUL character)',
    mutate: (p) => (p.units[0].lessons[0].items[0].prompt = 'What is\u0000 2 + 2?'),
    path: 'units.0.lessons.0.items.0.prompt',
    needle: () => ({ needle: '"What is' }),
    message: /NUL/,
  },
  {
    name: 'text the API would refuse (a control character)',
    mutate: (p) => (p.units[0].lessons[0].blocks[0].text = 'Ring \u0007 the bell'),
    path: 'units.0.lessons.0.blocks.0.text',
    needle: () => ({ needle: '"Ring' }),
    message: /control characters/,
  },
  {
    name: 'a lesson taught before its prerequisites',
    mutate: (p) => p.units[0].lessons.reverse(),
    path: 'units.0.lessons.0.conceptIds.0',
    needle: (f) => ({ needle: f === 'json' ? '"b"' : 'b', after: q(f, 'conceptIds') }),
    message: /lesson "lb" teaches "b" before its prerequisite "a" \(first taught by lesson "la" at units\.0\.lessons\.1\)/,
  },
  {
    name: 'an item on a media id the lesson lacks',
    mutate: (p) => (p.units[0].lessons[1].items[0].mediaId = 'nope'),
    path: 'units.0.lessons.1.items.0.mediaId',
    needle: (f) => ({ needle: f === 'json' ? '"nope"' : 'nope' }),
    message: /no media with id "nope"/,
  },
  {
    name: 'a published lesson without items (a warning)',
    mutate: (p) => (p.units[0].lessons[1].items = []),
    path: 'units.0.lessons.1.items',
    needle: (f) => ({ needle: '[]', after: q(f, 'lb') }),
    message: /without practice items/,
    warning: true,
  },
];

describe('pack files: findings with file, line, column and path', () => {
  for (const format of ['yaml', 'json'] as const) {
    const file = `packs/tiny.${format}`;

    it(`${format}: reads the valid pack without findings`, () => {
      const r = parsePackText(toText(basePack(), format), { file, format });
      assert.deepEqual([r.errors, r.warnings], [[], []]);
      assert.ok(r.pack);
      assert.equal(r.pack.units[0]?.lessons[0]?.published, true, 'defaults applied');
    });

    for (const c of CASES) {
      it(`${format}: ${c.name}`, () => {
        const pack = basePack() as Mutable;
        c.mutate(pack);
        const text = toText(pack, format);
        const r: PackReadResult = parsePackText(text, { file, format });
        const { needle, after } = c.needle(format);
        const finding = only(c.warning ? r.warnings : r.errors, c.path);
        assertAt(finding, positionOf(text, needle, after), c.message);
        assert.equal(finding.file, file);
        if (c.warning) assert.ok(r.pack, 'warnings alone keep the pack');
        else assert.equal(r.pack, undefined, 'no pack when there are errors');
      });
    }
  }

  it('yaml: a syntax error', () => {
    const text = 'format: kidslearn.content-pack/v1\npack:\n  id: [tiny\n  title: x\n';
    const r = parsePackText(text, { file: 'x.yaml', format: 'yaml' });
    assert.ok(r.errors.length >= 1);
    const f = r.errors[0] as PackFinding;
    assert.match(f.message, /^invalid YAML: /);
    assert.ok(f.line >= 3 && f.line <= 5, formatFinding(f));
    assert.equal(f.path, '');
  });

  it('yaml: a duplicate key is an error, not a silent overwrite', () => {
    const text = toText(basePack(), 'yaml').replace('title: Tiny\n', 'title: Tiny\n  title: Other\n');
    const r = parsePackText(text, { file: 'x.yaml', format: 'yaml' });
    assert.equal(r.errors.length, 1);
    assertAt(r.errors[0] as PackFinding, positionOf(text, 'title: Other'), /duplicate|unique/i);
  });

  it('json: a duplicate key is an error too (JSON.parse would keep the last one silently); the fast path skips the check', () => {
    const text = toText(basePack(), 'json').replace('"title": "Tiny",', '"title": "Tiny",\n    "title": "Other",');
    const r = parsePackText(text, { file: 'x.json', format: 'json' });
    assert.equal(r.pack, undefined);
    assert.equal(r.errors.length, 1);
    assertAt(r.errors[0] as PackFinding, positionOf(text, '"title": "Other"'), /duplicate|unique/i);
    assert.equal(parsePackText(text, { file: 'x.json', format: 'json', fast: true }).pack?.pack.title, 'Other');
  });

  it('json: a syntax error (missing comma) at its line and column', () => {
    const text = toText(basePack(), 'json').replace('"title": "Tiny",', '"title": "Tiny"');
    const r = parsePackText(text, { file: 'x.json', format: 'json' });
    assert.equal(r.errors.length, 1);
    const f = r.errors[0] as PackFinding;
    assert.equal(f.line, positionOf(text, '"language"').line, formatFinding(f));
    assert.match(f.message, /^invalid JSON: /);
    assert.doesNotMatch(f.message, /is not valid JSON/, 'the copy of the text is left out');
  });

  it('json: truncated input points at the end', () => {
    const text = toText(basePack(), 'json').slice(0, 200);
    const r = parsePackText(text, { file: 'x.json', format: 'json' });
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]?.line, text.split('\n').length);
  });

  it('an empty file is one error', () => {
    for (const format of ['yaml', 'json'] as const) {
      const r = parsePackText(format === 'json' ? 'null' : '', { file: 'x', format });
      assert.deepEqual(r.errors.map(formatFinding), ['x:1:1 the pack is empty']);
    }
  });

  it('reports every problem, not only the first', () => {
    const pack = basePack() as Any;
    pack.units[0].lessons[0].items[0].difficulty = 9;
    pack.units[0].lessons[1].items[0].type = 'essay';
    pack.concepts[0].grade = -1;
    const r = parsePackText(toText(pack, 'yaml'), { file: 'x.yaml', format: 'yaml' });
    assert.deepEqual(r.errors.map((e) => e.path).sort(), ['concepts.0.grade', 'units.0.lessons.0.items.0.difficulty', 'units.0.lessons.1.items.0.type']);
  });

  it('formats a finding for the CLI', () => {
    assert.equal(
      formatFinding({ file: 'packs/shapes.yaml', line: 42, column: 9, path: 'units.0.lessons.2.items.1.answer.choiceId', message: 'answer must be one of the choice ids' }),
      'packs/shapes.yaml:42:9 units.0.lessons.2.items.1.answer.choiceId: answer must be one of the choice ids',
    );
    assert.equal(formatFinding({ file: 'a.json', line: 1, column: 1, path: '', message: 'invalid JSON: x' }), 'a.json:1:1 invalid JSON: x');
  });

  it('reads files by extension, and reports an unknown extension or a missing file as a finding', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'packs-'));
    for (const ext of ['json', 'yaml', 'yml']) {
      const file = join(dir, `tiny.${ext}`);
      await writeFile(file, toText(basePack(), ext === 'json' ? 'json' : 'yaml'));
      const r = await readPackFile(file);
      assert.deepEqual(r.errors, [], ext);
      assert.ok(r.pack, ext);
    }
    assert.equal(packFormatOf('x.YML'), 'yaml');
    assert.match((await readPackFile(join(dir, 'tiny.txt'))).errors[0]?.message ?? '', /\.json, \.yaml or \.yml/);
    assert.match((await readPackFile(join(dir, 'missing.json'))).errors[0]?.message ?? '', /cannot read/);
  });

  for (const format of ['yaml', 'json'] as const) {
    it(`${format}: parse -> serialize -> parse gives an equal pack, and serializing again the same text`, () => {
      const first = parsePackText(toText(basePack(), format), { file: 'a', format });
      assert.ok(first.pack);
      const text = serializePack(first.pack, format);
      const second = parsePackText(text, { file: 'b', format });
      assert.deepEqual(second.errors, []);
      assert.deepEqual(second.pack, first.pack);
      assert.equal(serializePack(second.pack as NonNullable<typeof second.pack>, format), text);
      // And across formats.
      const other = format === 'json' ? 'yaml' : 'json';
      assert.deepEqual(parsePackText(serializePack(first.pack, other), { file: 'c', format: other }).pack, first.pack);
    });
  }

  it('yaml output names the schema for editors on its first line', () => {
    const text = serializePack(basePack(), 'yaml');
    assert.equal(text.split('\n')[0], '# yaml-language-server: $schema=../../schemas/content-pack.json');
  });
});
