import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NewLessonInput, isCorrect, topologicalOrder } from '../../src/domain/curriculum.ts';
import type { PracticeItem } from '../../src/domain/curriculum.ts';
import type { CurriculumPack } from '../../src/seed/pack.ts';
import { buildMathkidsPack } from '../../src/seed/mathkids.ts';
import { buildWordkidsPack } from '../../src/seed/wordkids.ts';

const SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const math = buildMathkidsPack();
const words = buildWordkidsPack();

const itemsOf = (pack: CurriculumPack): PracticeItem[] => pack.lessons.flatMap((l) => l.items);

/** The response a child would give to answer an item correctly. */
function correctResponse(item: PracticeItem): string | number {
  switch (item.answer.type) {
    case 'numeric':
      return item.answer.value;
    case 'multiple_choice':
      return item.answer.choiceId;
    case 'short_text':
      return item.answer.accepted[0] ?? '';
  }
}

/** A response that must be marked wrong. */
function wrongResponses(item: PracticeItem): (string | number)[] {
  switch (item.answer.type) {
    case 'numeric':
      return [item.answer.value + 1, item.answer.value - 0.5, ''];
    case 'multiple_choice': {
      const key = item.answer.choiceId;
      return (item.choices ?? []).filter((c) => c.id !== key).map((c) => c.id);
    }
    case 'short_text':
      return [`${item.answer.accepted[0]}x`, ''];
  }
}

/** Evaluates "7 + 5 × (3 − 1)" for the test's own cross-check of arithmetic prompts (digits and operators only). */
function evaluate(expression: string): number {
  const js = expression.replaceAll('×', '*').replaceAll('÷', '/').replaceAll('−', '-').replaceAll(',', '');
  assert.match(js, /^[\d\s.+\-*/()]+$/, `not plain arithmetic: ${expression}`);
  return Number(new Function(`return (${js});`)());
}

/** Test oracle: US spelling of 1–999 ("three hundred forty-five"), written independently of the generator. */
function spell(n: number): string {
  const small = 'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen'.split(' ');
  const tens = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
  const under100 = (x: number) => (x < 20 ? small[x] : `${tens[Math.floor(x / 10)]}${x % 10 ? `-${small[x % 10]}` : ''}`);
  if (n < 100) return under100(n) ?? '';
  return `${small[Math.floor(n / 100)]} hundred${n % 100 ? ` ${under100(n % 100)}` : ''}`;
}

interface Expectations {
  subject: string;
  maxGrade: number;
  concepts: [number, number];
  lessons: [number, number];
  items: [number, number];
  itemsPerLesson: [number, number];
}

/** The checks every curriculum pack must pass, whatever its subject. */
function describePack(name: string, pack: CurriculumPack, build: () => CurriculumPack, want: Expectations): void {
  describe(`${name} pack`, () => {
    const conceptIds = new Set(pack.concepts.map((c) => c.id));
    const items = itemsOf(pack);

    it('has the expected size', () => {
      const [cMin, cMax] = want.concepts;
      const [lMin, lMax] = want.lessons;
      const [iMin, iMax] = want.items;
      assert.ok(pack.concepts.length >= cMin && pack.concepts.length <= cMax, `concepts: ${pack.concepts.length}`);
      assert.ok(pack.lessons.length >= lMin && pack.lessons.length <= lMax, `lessons: ${pack.lessons.length}`);
      assert.ok(items.length >= iMin && items.length <= iMax, `items: ${items.length}`);
      for (const l of pack.lessons) {
        assert.ok(l.items.length >= want.itemsPerLesson[0] && l.items.length <= want.itemsPerLesson[1], `${l.id} has ${l.items.length} items`);
      }
    });

    it('passes the NewLessonInput schema unchanged for every lesson', () => {
      for (const lesson of pack.lessons) {
        const parsed = NewLessonInput.parse(lesson);
        assert.deepEqual(parsed, lesson, `${lesson.id} changed when parsed`);
      }
    });

    it('uses unique, slug-like ids for concepts, lessons and items', () => {
      const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
      for (const [kind, list] of [
        ['concept', ids(pack.concepts)],
        ['lesson', ids(pack.lessons)],
        ['item', ids(items)],
      ] as const) {
        assert.equal(new Set(list).size, list.length, `duplicate ${kind} ids`);
        for (const id of list) assert.match(id, SLUG, `${kind} id ${id}`);
      }
      for (const l of pack.lessons) l.items.forEach((item, i) => assert.equal(item.id, `${l.id}-q${i + 1}`));
    });

    it('has an acyclic prerequisite graph where prerequisites come from the same or earlier grades', () => {
      const order = topologicalOrder(pack.concepts);
      assert.equal(order.length, pack.concepts.length);
      const position = new Map(order.map((id, i) => [id, i]));
      const byId = new Map(pack.concepts.map((c) => [c.id, c]));
      for (const c of pack.concepts) {
        assert.equal(c.subject, want.subject);
        assert.ok(Number.isInteger(c.grade) && c.grade >= 0 && c.grade <= want.maxGrade, `${c.id} grade ${c.grade}`);
        assert.ok(c.name.length > 0 && c.description.length > 0, `${c.id} needs a name and description`);
        for (const p of c.prerequisites) {
          assert.ok((position.get(p) ?? Infinity) < (position.get(c.id) ?? -1), `${p} must come before ${c.id}`);
          assert.ok((byId.get(p)?.grade ?? Infinity) <= c.grade, `${c.id} (grade ${c.grade}) depends on later-grade ${p}`);
        }
        if (c.grade > 0) assert.ok(c.prerequisites.length > 0, `${c.id} above kindergarten has no prerequisite`);
      }
    });

    it('links lessons and items only to existing concepts of the lesson', () => {
      const covered = new Set<string>();
      for (const l of pack.lessons) {
        assert.equal(l.subject, want.subject);
        assert.ok(l.conceptIds.length >= 1 && l.conceptIds.length <= 3, `${l.id} has ${l.conceptIds.length} concepts`);
        for (const id of l.conceptIds) assert.ok(conceptIds.has(id), `${l.id} references unknown concept ${id}`);
        for (const item of l.items) {
          assert.ok(l.conceptIds.includes(item.conceptId), `${item.id} concept ${item.conceptId} not in its lesson`);
          assert.ok(conceptIds.has(item.conceptId), `${item.id} references unknown concept`);
          covered.add(item.conceptId);
        }
      }
      assert.deepEqual([...covered].sort(), [...conceptIds].sort(), 'every concept has practice items');
    });

    it('publishes lessons with a title, summary, ordered text/example/tip blocks and a duration', () => {
      for (const l of pack.lessons) {
        assert.equal(l.published, true);
        assert.ok(l.title.length > 0 && l.summary.length > 0, l.id);
        assert.ok(Number.isInteger(l.estimatedMinutes) && l.estimatedMinutes >= 1 && l.estimatedMinutes <= 240, l.id);
        const types = l.blocks.map((b) => b.type);
        assert.equal(types[0], 'text', `${l.id} starts with text`);
        assert.equal(types.at(-1), 'tip', `${l.id} ends with a tip`);
        assert.ok(types.includes('example'), `${l.id} has a worked example`);
        assert.ok(l.grade >= 0 && l.grade <= want.maxGrade);
      }
    });

    it('accepts the correct response of every item and rejects wrong ones', () => {
      for (const item of items) {
        assert.ok(isCorrect(item.answer, correctResponse(item)), `${item.id} rejects its own answer`);
        if (item.answer.type === 'short_text') {
          for (const a of item.answer.accepted) assert.ok(isCorrect(item.answer, a), `${item.id} rejects accepted "${a}"`);
        }
        if (item.answer.type === 'numeric') assert.ok(isCorrect(item.answer, String(item.answer.value)), `${item.id} rejects typed answer`);
        for (const w of wrongResponses(item)) assert.ok(!isCorrect(item.answer, w), `${item.id} accepts wrong response ${JSON.stringify(w)}`);
      }
    });

    it('gives multiple-choice items four distinct choices with exactly one correct', () => {
      const mc = items.filter((i) => i.type === 'multiple_choice');
      assert.ok(mc.length > 0);
      for (const item of mc) {
        const choices = item.choices ?? [];
        assert.equal(choices.length, 4, item.id);
        const texts = choices.map((c) => c.text.trim().toLowerCase());
        assert.equal(new Set(texts).size, 4, `${item.id} has duplicate choices ${JSON.stringify(texts)}`);
        assert.equal(choices.filter((c) => isCorrect(item.answer, c.id)).length, 1, item.id);
      }
      const positions = new Set(mc.map((i) => (i.answer.type === 'multiple_choice' ? i.answer.choiceId : '')));
      assert.deepEqual([...positions].sort(), ['a', 'b', 'c', 'd'], 'correct answers are shuffled across positions');
    });

    it('uses all three item types and a spread of difficulties', () => {
      const types = new Set(items.map((i) => i.type));
      assert.deepEqual([...types].sort(), ['multiple_choice', 'numeric', 'short_text']);
      for (const i of items) assert.ok(i.difficulty >= -3 && i.difficulty <= 3, i.id);
      const gradeOf = new Map(pack.concepts.map((c) => [c.id, c.grade]));
      const means: number[] = [];
      for (let g = 0; g <= want.maxGrade; g++) {
        const ds = items.filter((i) => gradeOf.get(i.conceptId) === g).map((i) => i.difficulty);
        if (ds.length) means.push(ds.reduce((a, b) => a + b, 0) / ds.length);
      }
      assert.ok(means.length >= 2, 'items span several grades');
      for (let i = 1; i < means.length; i++) assert.ok((means[i] ?? 0) > (means[i - 1] ?? 0), `mean difficulty should rise with grade: ${means.join(', ')}`);
    });

    it('never repeats a prompt within a lesson and has no template leftovers', () => {
      for (const l of pack.lessons) {
        const prompts = l.items.map((i) => i.prompt);
        assert.equal(new Set(prompts).size, prompts.length, `${l.id} repeats a prompt`);
        const texts = [...prompts, ...l.blocks.flatMap((b) => ('text' in b ? [b.text] : 'prompt' in b ? [b.prompt, b.explanation] : [])), l.title, l.summary];
        for (const t of texts) assert.doesNotMatch(t, /undefined|NaN|\[object|Infinity|\$\{/, `${l.id}: ${t}`);
      }
    });

    // How long a build takes is measured by `npm run bench:seed` (docs/performance.md), not asserted here.
    it('is deterministic', () => {
      assert.deepEqual(build(), pack);
    });
  });
}

describePack('mathkids', math, buildMathkidsPack, {
  subject: 'math',
  maxGrade: 5,
  concepts: [40, 200],
  lessons: [120, 120],
  items: [1000, 1200],
  itemsPerLesson: [8, 10],
});

describePack('wordkids', words, buildWordkidsPack, {
  subject: 'reading',
  maxGrade: 3,
  concepts: [12, 18],
  lessons: [25, 35],
  items: [180, 260],
  itemsPerLesson: [6, 8],
});

describe('mathkids content', () => {
  const items = itemsOf(math);
  const conceptIds = math.concepts.map((c) => c.id);

  it('includes the core arithmetic concepts', () => {
    for (const id of ['count-to-10', 'add-within-10', 'add-within-20', 'sub-within-10', 'place-value-tens', 'add-2digit-regroup', 'mult-facts-2-5-10', 'div-facts', 'fractions-unit', 'fraction-equivalence', 'decimals-tenths']) {
      assert.ok(conceptIds.includes(id), id);
    }
  });

  it('answers every "What is <expression>?" item correctly (checked by an independent evaluator)', () => {
    let checked = 0;
    for (const item of items) {
      const m = /^What is ([\d\s.,+−×÷()]+)\?$/.exec(item.prompt);
      if (!m?.[1]) continue;
      const expected = evaluate(m[1]);
      if (item.answer.type === 'numeric') assert.ok(Math.abs(item.answer.value - expected) < 1e-9, `${item.id}: ${item.prompt} → ${item.answer.value}, expected ${expected}`);
      else if (item.answer.type === 'multiple_choice') {
        const key = item.answer.choiceId;
        const text = item.choices?.find((c) => c.id === key)?.text ?? '';
        assert.ok(Math.abs(Number(text.replaceAll(',', '')) - expected) < 1e-9, `${item.id}: choice ${text}, expected ${expected}`);
      }
      checked++;
    }
    assert.ok(checked > 400, `only ${checked} arithmetic items checked`);
  });

  it('has worked examples whose explanation ends with the computed result', () => {
    for (const l of math.lessons) {
      for (const b of l.blocks) {
        if (b.type !== 'example') continue;
        const m = /^What is ([\d\s.,+−×÷()]+)\?$/.exec(b.prompt);
        if (!m?.[1]) continue;
        const value = evaluate(m[1]);
        const shown = [String(value), value.toLocaleString('en-US')];
        assert.ok(shown.some((s) => b.explanation.includes(s)), `${l.id}: "${b.prompt}" explanation lacks ${value}: ${b.explanation}`);
      }
    }
  });

  it('includes number-word and comparison short-text items with sensible accepted answers', () => {
    const inWords = items.filter((i) => /^Write \d+ in words\.$/.test(i.prompt));
    const typed = inWords.filter((i) => i.answer.type === 'short_text');
    assert.ok(typed.length > 0, 'some number-word items are typed answers');
    for (const i of inWords) {
      const n = Number(/\d+/.exec(i.prompt)?.[0]);
      const answers = i.answer.type === 'short_text' ? i.answer.accepted : (i.choices ?? []).filter((c) => isCorrect(i.answer, c.id)).map((c) => c.text);
      assert.equal(answers[0], spell(n), i.id);
      if (i.answer.type === 'short_text') assert.ok(isCorrect(i.answer, spell(n).replaceAll('-', ' ')), `${i.id} also accepts the spelling without hyphens`);
    }
    const symbols = items.filter((i) => i.prompt.startsWith('Which symbol goes in the blank'));
    assert.ok(symbols.length > 0);
    for (const i of symbols) {
      assert.equal(i.answer.type, 'short_text');
      if (i.answer.type === 'short_text') assert.ok(['<', '>', '='].includes(i.answer.accepted[0] ?? ''), i.id);
    }
  });

  it('has six reviews that mix three concepts each', () => {
    const reviews = math.lessons.filter((l) => l.id.startsWith('review-'));
    assert.equal(reviews.length, 6);
    for (const r of reviews) assert.equal(new Set(r.items.map((i) => i.conceptId)).size, 3, r.id);
  });
});

describe('wordkids content', () => {
  const items = itemsOf(words);

  it('covers the reading concepts named in the brief', () => {
    const ids = words.concepts.map((c) => c.id);
    for (const id of ['letter-sounds', 'sight-words', 'rhyming', 'syllables', 'synonyms', 'antonyms', 'plurals', 'compound-words', 'prefixes', 'main-idea']) {
      assert.ok(ids.includes(id), id);
    }
  });

  it('answers every plural item with the right spelling, and offers no second right answer', () => {
    // Written out here, not derived from the generator's rules, so a wrong rule or word list fails.
    const plural: Record<string, string> = {
      cat: 'cats', dog: 'dogs', book: 'books', tree: 'trees', cup: 'cups', bird: 'birds', box: 'boxes', fox: 'foxes', peach: 'peaches', dish: 'dishes',
      brush: 'brushes', lunch: 'lunches', bench: 'benches', wish: 'wishes', glass: 'glasses', dress: 'dresses', baby: 'babies', puppy: 'puppies',
      berry: 'berries', city: 'cities', pony: 'ponies', toy: 'toys', day: 'days', key: 'keys', boy: 'boys',
      child: 'children', mouse: 'mice', foot: 'feet', tooth: 'teeth', man: 'men', woman: 'women', goose: 'geese', ox: 'oxen', sheep: 'sheep',
      deer: 'deer', leaf: 'leaves', wolf: 'wolves', knife: 'knives', half: 'halves', loaf: 'loaves',
    };
    const pluralItems = items.filter((i) => i.conceptId === 'plurals' || i.conceptId === 'irregular-plurals');
    assert.ok(pluralItems.length >= 20, `only ${pluralItems.length} plural items`);
    for (const item of pluralItems) {
      const word = (/^One (\w+), two ___\./.exec(item.prompt) ?? /^Which word means more than one (\w+)\?$/.exec(item.prompt) ?? /^Which is the correct plural of "(\w+)"\?$/.exec(item.prompt))?.[1];
      assert.ok(word, `${item.id}: a plural prompt this test cannot read: ${item.prompt}`);
      const want = plural[word];
      assert.ok(want, `${item.id}: no expected plural of "${word}" in this test`);
      if (item.answer.type === 'short_text') {
        assert.deepEqual(item.answer.accepted, [want], `${item.id}: ${word}`);
      } else {
        assert.equal(item.answer.type, 'multiple_choice', item.id);
        const right = (item.choices ?? []).filter((c) => isCorrect(item.answer, c.id)).map((c) => c.text);
        assert.deepEqual(right, [want], `${item.id}: ${word}`);
        assert.equal((item.choices ?? []).filter((c) => c.text === want).length, 1, `${item.id}: "${want}" is offered once`);
        assert.ok((item.choices ?? []).every((c) => c.text === want || !Object.values(plural).includes(c.text) || c.text === word), `${item.id}: a wrong choice is another word's real plural`);
      }
    }
  });

  it('answers syllable items as the word lists say', () => {
    const syllables = items.filter((i) => i.type === 'numeric' && i.prompt.startsWith('How many syllables'));
    assert.ok(syllables.length > 0);
    for (const item of items) {
      if (item.prompt === 'How many syllables are in the word "elephant"?' && item.answer.type === 'numeric') assert.equal(item.answer.value, 3);
    }
  });

  it('makes each rhyme question have exactly one choice sharing the ending', () => {
    const rhymeItems = items.filter((i) => i.type === 'multiple_choice' && i.prompt.startsWith('Which word rhymes with'));
    assert.ok(rhymeItems.length > 0);
    for (const item of rhymeItems) {
      const word = /"(\w+)"/.exec(item.prompt)?.[1] ?? '';
      const key = item.answer.type === 'multiple_choice' ? item.answer.choiceId : '';
      for (const c of item.choices ?? []) {
        const shares = c.text.slice(-2) === word.slice(-2);
        assert.equal(shares, c.id === key, `${item.id}: ${word} vs ${c.text}`);
      }
    }
  });

  it('accepts both straight and curly apostrophes for contractions', () => {
    const item = items.find((i) => i.prompt.startsWith('Write the contraction for'));
    assert.ok(item && item.answer.type === 'short_text');
    const curly = item.answer.accepted[0] ?? '';
    assert.ok(isCorrect(item.answer, curly.replace('’', "'")));
    assert.ok(isCorrect(item.answer, curly));
  });
});
