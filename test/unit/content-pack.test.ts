import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContentPack, itemContentHash, packProblems, type PackItem } from '../../src/domain/content-pack.ts';
import { planImport, type StoredContent } from '../../src/domain/content-import-plan.ts';
import { testPack } from '../support/content-pack.ts';

const parse = (input: unknown) => ContentPack.parse(input);
const errorsOf = (input: unknown) => packProblems(parse(input)).errors.map((e) => `${e.path.join('.')}: ${e.message}`);

describe('content pack checks (packProblems)', () => {
  it('accepts the test pack with no errors', () => {
    assert.deepEqual(packProblems(parse(testPack())), { errors: [], warnings: [] });
  });

  it('names unknown prerequisites, self-prerequisites and cycles with their paths', () => {
    const pack = testPack();
    pack.concepts[0]!.prerequisites = ['tiny-nowhere'];
    pack.concepts[2]!.prerequisites = ['tiny-reading'];
    assert.deepEqual(errorsOf(pack), [
      'concepts.0.prerequisites.0: unknown prerequisite "tiny-nowhere": no concept of this pack has that id',
      'concepts.2.prerequisites.0: concept "tiny-reading" cannot be its own prerequisite',
    ]);
    const cyclic = testPack();
    cyclic.concepts[0]!.prerequisites = ['tiny-adding'];
    const errors = errorsOf(cyclic);
    assert.ok(errors.some((e) => e.includes('prerequisite cycle: tiny-counting -> tiny-adding -> tiny-counting')), errors.join('\n'));
  });

  it('finds duplicate ids of concepts, units, lessons and items (across lessons)', () => {
    const pack = testPack();
    pack.concepts.push({ ...pack.concepts[0]! });
    pack.units[1]!.id = 'tiny-numbers';
    pack.units[1]!.lessons[0]!.id = 'tiny-count';
    pack.units[1]!.lessons[0]!.items![0]!.id = 'tiny-add-1';
    const errors = errorsOf(pack);
    for (const expected of [
      'concepts.3.id: duplicate concept id "tiny-counting" (first at concepts.0)',
      'units.1.id: duplicate unit id "tiny-numbers" (first at units.0)',
      'units.1.lessons.0.id: duplicate lesson id "tiny-count" (first at units.0.lessons.0)',
      'units.1.lessons.0.items.0.id: duplicate item id "tiny-add-1" (first at units.0.lessons.1.items.0)',
    ]) {
      assert.ok(errors.includes(expected), `${expected}\nnot in\n${errors.join('\n')}`);
    }
  });

  it('refuses keys that do not answer their own item and choices a child cannot tell apart', () => {
    const pack = testPack();
    const items = pack.units[0]!.lessons[0]!.items!;
    items[0]!.answer = { type: 'numeric', value: 1e21 };
    items[1]!.choices = [
      { id: 'a', text: '5' },
      { id: 'b', text: ' 5 ' },
    ];
    pack.units[1]!.lessons[0]!.items![0]!.answer = { type: 'short_text', accepted: ['two'], caseSensitive: true };
    const errors = errorsOf(pack);
    assert.ok(errors.includes('units.0.lessons.0.items.0.answer.value: the key does not accept its own answer typed as "1e+21"; use a plain decimal value'), errors.join('\n'));
    assert.ok(errors.includes('units.0.lessons.0.items.1.choices.1.text: choice " 5 " reads the same as choice 0; a child cannot tell them apart'), errors.join('\n'));
  });

  it('refuses through the schema a choice key not among the choices and text the API would refuse', () => {
    const pack = testPack();
    (pack.units[0]!.lessons[0]!.items![1]!.answer as { choiceId: string }).choiceId = 'z';
    pack.units[0]!.lessons[1]!.title = 'Add\u0000';
    const result = ContentPack.safeParse(pack);
    assert.equal(result.success, false);
    const paths = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.ok(paths.some((p) => p.startsWith('units.0.lessons.0.items.1.answer.choiceId: answer must be one of the choice ids')), paths.join('\n'));
    assert.ok(paths.some((p) => p.startsWith('units.0.lessons.1.title:')), paths.join('\n'));
  });

  it('refuses a teaching order that teaches a lesson before the prerequisites of its concepts', () => {
    const pack = testPack();
    const [count, add] = pack.units[0]!.lessons;
    pack.units[0]!.lessons = [add!, count!];
    assert.deepEqual(errorsOf(pack), [
      'units.0.lessons.0.conceptIds.0: lesson "tiny-add" teaches "tiny-adding" before its prerequisite "tiny-counting" (first taught by lesson "tiny-count" at units.0.lessons.1); move it after that lesson',
    ]);
  });

  it('needs an item concept when its lesson has several, and media ids the lesson lists', () => {
    const pack = testPack();
    delete pack.units[1]!.lessons[1]!.items![0]!.conceptId;
    pack.units[0]!.lessons[0]!.items![0]!.mediaId = 'pears';
    assert.deepEqual(errorsOf(pack), [
      'units.0.lessons.0.items.0.mediaId: no media with id "pears"',
      'units.1.lessons.1.items.0.conceptId: conceptId is required when the lesson has more than one concept',
    ]);
  });
});

describe('item content hash', () => {
  const item: PackItem = { id: 'x', conceptId: 'c', type: 'numeric', prompt: 'What is 2 + 2?', answer: { type: 'numeric', value: 4, tolerance: 0 }, difficulty: 0 };
  const hash = (i: PackItem) => itemContentHash({ ...i, conceptId: i.conceptId ?? '' });
  it('changes with the question and its key, not with difficulty or key order', () => {
    assert.equal(hash(item), hash({ ...item, difficulty: 2 }));
    assert.equal(hash(item), hash({ ...item, answer: { tolerance: 0, value: 4, type: 'numeric' } }));
    assert.notEqual(hash(item), hash({ ...item, prompt: 'What is 2 + 3?' }));
    assert.notEqual(hash(item), hash({ ...item, answer: { type: 'numeric', value: 5, tolerance: 0 } }));
    assert.notEqual(hash(item), hash({ ...item, conceptId: 'd' }));
  });
});

describe('import plan (planImport)', () => {
  const empty: StoredContent = { packs: [], concepts: [], units: [], lessons: [], items: [] };

  it('adds everything to an empty app, in teaching order, with item hashes', () => {
    const plan = planImport(parse(testPack()), empty);
    assert.deepEqual(plan.conflicts, []);
    assert.deepEqual(plan.report.lessons.added, ['tiny-count', 'tiny-add', 'tiny-read', 'tiny-add-more']);
    assert.deepEqual(plan.lessons.map((l) => [l.id, l.unitId, l.position]), [
      ['tiny-count', 'tiny-numbers', 0],
      ['tiny-add', 'tiny-numbers', 1],
      ['tiny-read', 'tiny-words', 2],
      ['tiny-add-more', 'tiny-words', 3],
    ]);
    assert.equal(plan.lessons[0]!.items[0]!.conceptId, 'tiny-counting');
    assert.ok(plan.packIsNew && plan.packChanged);
  });

  it('lets an unreleased item change under its id but not a released one', () => {
    const pack = parse(testPack());
    const plan = planImport(pack, empty);
    const stored: StoredContent = {
      packs: [{ ...pack.pack, rank: 1 }],
      concepts: pack.concepts.map((c) => ({ ...c, packId: 'tiny', retired: false })),
      units: plan.units,
      lessons: plan.lessons.map(({ items: _i, ...l }) => ({ ...l, retired: false })),
      items: plan.lessons.flatMap((l) => l.items.map((i, position) => ({ ...i, lessonId: l.id, position, released: i.id !== 'tiny-add-1', retired: false }))),
    };
    assert.deepEqual(planImport(pack, stored).report.items.unchanged.length, 6);
    const changed = testPack();
    changed.units[0]!.lessons[1]!.items![0]!.prompt = 'What is 3 + 2?';
    changed.units[0]!.lessons[1]!.items![1]!.prompt = 'What is 4 + 5?';
    changed.units[0]!.lessons[1]!.items![1]!.answer = { type: 'numeric', value: 9 };
    const again = planImport(parse(changed), stored);
    assert.deepEqual(again.report.items.changed, ['tiny-add-1'], 'never released: edited in place');
    assert.deepEqual(again.conflicts.map((c) => c.path.join('.')), ['units.0.lessons.1.items.1.id']);
    assert.match(again.conflicts[0]!.message, /its prompt, answer changed/);
  });
});
