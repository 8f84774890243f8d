/**
 * Writes test/fixtures/llm-outputs/outputs.json: model outputs for the
 * generated-item checks, correct ones and ones with one injected fault each,
 * for concepts of the three demo curricula. Deterministic (fixed seed), so
 * the committed file is reproducible: `node scripts/build-llm-fixtures.ts`.
 *
 * Correct outputs are items of the demo packs as a model would return them
 * (sometimes in a ```json fence, as chat models do), plus hand-written
 * model-style questions in wordings the curriculum does not use. Faulty ones
 * take a correct item and break one thing: the key, the choices, the words,
 * the numbers, or the JSON itself.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadDemoPack } from '../src/seed/demo-packs.ts';
import { itemConceptId, lessonsInOrder, type ContentPack, type PackItem } from '../src/domain/content-pack.ts';
import { seededRandom } from '../src/domain/seeded-random.ts';
import { solveQuestion } from '../src/domain/item-solver.ts';

interface Candidate {
  type: string;
  prompt: string;
  choices: { id: string; text: string }[];
  answer: string;
  alsoAccept: string[];
}
interface Fixture {
  id: string;
  app: string;
  conceptId: string;
  grade: number;
  /** Prompts of existing items the output is checked against (de-duplication). */
  existing: string[];
  /** What the model answered, verbatim. */
  output: string;
  /** `ok`, or the reason the checks must give. */
  expect: string;
  /** What was injected. */
  fault?: string;
}

const random = seededRandom(20261203);
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
const shuffle = <T>(xs: readonly T[]): T[] => {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

function candidate(item: PackItem): Candidate {
  const a = item.answer;
  if (a.type === 'numeric') return { type: 'numeric', prompt: item.prompt, choices: [], answer: String(a.value), alsoAccept: [] };
  if (a.type === 'multiple_choice') return { type: 'multiple_choice', prompt: item.prompt, choices: item.choices ?? [], answer: a.choiceId, alsoAccept: [] };
  return { type: 'short_text', prompt: item.prompt, choices: [], answer: a.accepted[0]!, alsoAccept: a.accepted.slice(1) };
}

const asOutput = (items: Candidate[], fenced = false) => {
  const json = JSON.stringify({ items }, null, fenced ? 2 : undefined);
  return fenced ? `\`\`\`json\n${json}\n\`\`\`` : json;
};

interface Source {
  app: string;
  conceptId: string;
  grade: number;
  item: PackItem;
}

function sources(app: string, pack: ContentPack): Source[] {
  const grades = new Map(pack.concepts.map((c) => [c.id, c.grade]));
  const out: Source[] = [];
  for (const { lesson } of lessonsInOrder(pack)) {
    for (const item of lesson.items) {
      const conceptId = itemConceptId(lesson, item)!;
      if (item.mediaId !== undefined) continue; // a picture the output cannot carry
      out.push({ app, conceptId, grade: grades.get(conceptId)!, item });
    }
  }
  return out;
}

const math = sources('mathkids', await loadDemoPack('mathkids'));
const words = sources('wordkids', await loadDemoPack('wordkids'));
const shapes = sources('shapekids', await loadDemoPack('shapekids'));
const fixtures: Fixture[] = [];
let n = 0;
const add = (s: Pick<Source, 'app' | 'conceptId' | 'grade'>, items: Candidate[] | string, expect: string, fault?: string, existing: string[] = []) =>
  fixtures.push({ id: `f${String(++n).padStart(3, '0')}`, app: s.app, conceptId: s.conceptId, grade: s.grade, existing, output: typeof items === 'string' ? items : asOutput(items, random() < 0.25), expect, ...(fault ? { fault } : {}) });

/** Distinct picks by concept so fixtures spread over the curriculum. */
function spread(list: Source[], count: number, filter: (s: Source) => boolean = () => true): Source[] {
  const byConcept = new Map<string, Source[]>();
  for (const s of shuffle(list.filter(filter))) byConcept.set(s.conceptId, [...(byConcept.get(s.conceptId) ?? []), s]);
  const out: Source[] = [];
  const used = new Set<string>();
  while (out.length < count) {
    let added = false;
    for (const group of byConcept.values()) {
      const next = group.find((s) => !used.has(s.item.id));
      if (next && out.length < count) {
        used.add(next.item.id);
        out.push(next);
        added = true;
      }
    }
    if (!added) break;
  }
  return out;
}

const solvableNumeric = (s: Source) => s.item.type === 'numeric' && solveQuestion(s.item.prompt)?.kind === 'number';
const solvableChoice = (s: Source) => s.item.type === 'multiple_choice' && solveQuestion(s.item.prompt) !== undefined && (s.item.choices ?? []).every((c) => /^[\d,./ ]+$/.test(c.text));

// --- Correct outputs --------------------------------------------------------
for (const s of spread(math, 60)) add(s, [candidate(s.item)], 'ok');
for (const s of spread(words, 30)) add(s, [candidate(s.item)], 'ok');
for (const s of spread(shapes, 12)) add(s, [candidate(s.item)], 'ok');
// Model-style questions in wordings of their own.
const own: [string, string, number, Candidate][] = [
  ['mathkids', 'add-within-10', 0, { type: 'numeric', prompt: 'Lily has 3 red balloons. She gets 4 more. How many balloons does she have now?', choices: [], answer: '7', alsoAccept: [] }],
  ['mathkids', 'sub-within-10', 0, { type: 'numeric', prompt: 'There are 9 ducks in a pond. 4 swim away. How many ducks are left?', choices: [], answer: '5', alsoAccept: [] }],
  ['mathkids', 'add-within-20', 1, { type: 'multiple_choice', prompt: 'What is 9 + 6?', choices: [{ id: 'a', text: '14' }, { id: 'b', text: '15' }, { id: 'c', text: '16' }, { id: 'd', text: '13' }], answer: 'b', alsoAccept: [] }],
  ['mathkids', 'mult-facts-all', 3, { type: 'numeric', prompt: 'What is 7 × 8?', choices: [], answer: '56', alsoAccept: [] }],
  ['mathkids', 'div-facts', 3, { type: 'numeric', prompt: 'What is 42 ÷ 6?', choices: [], answer: '7', alsoAccept: [] }],
  ['mathkids', 'word-problems-20', 1, { type: 'numeric', prompt: 'Ben has 12 marbles. Ava has 5 marbles. How many more marbles does Ben have than Ava?', choices: [], answer: '7', alsoAccept: [] }],
  ['mathkids', 'area-rectangles', 3, { type: 'numeric', prompt: 'A garden is 6 meters long and 4 meters wide. What is its area in square meters?', choices: [], answer: '24', alsoAccept: [] }],
  ['mathkids', 'rounding', 3, { type: 'numeric', prompt: 'Round 463 to the nearest hundred.', choices: [], answer: '500', alsoAccept: [] }],
  ['mathkids', 'add-fractions-like', 4, { type: 'short_text', prompt: 'What is 2/8 + 3/8?', choices: [], answer: '5/8', alsoAccept: [] }],
  ['mathkids', 'factors-multiples', 4, { type: 'multiple_choice', prompt: 'Which number is a factor of 36?', choices: [{ id: 'a', text: '5' }, { id: 'b', text: '7' }, { id: 'c', text: '9' }, { id: 'd', text: '11' }], answer: 'c', alsoAccept: [] }],
  ['mathkids', 'money-coins', 2, { type: 'numeric', prompt: 'You have 2 quarters and 1 dime. How many cents do you have in all?', choices: [], answer: '60', alsoAccept: [] }],
  ['mathkids', 'place-value-hundreds', 2, { type: 'numeric', prompt: 'What digit is in the tens place of 482?', choices: [], answer: '8', alsoAccept: [] }],
  ['wordkids', 'antonyms', 2, { type: 'short_text', prompt: 'What is the opposite of "hot"?', choices: [], answer: 'cold', alsoAccept: [] }],
  ['wordkids', 'contractions', 2, { type: 'short_text', prompt: 'Write the contraction for "do not".', choices: [], answer: 'don’t', alsoAccept: ["don't"] }],
  ['wordkids', 'plurals', 1, { type: 'short_text', prompt: 'One bus, two ___. What word goes in the blank?', choices: [], answer: 'buses', alsoAccept: [] }],
  ['wordkids', 'alphabetical-order', 1, { type: 'short_text', prompt: 'Which word comes first in ABC order: lemon, apple, kite, frog?', choices: [], answer: 'apple', alsoAccept: [] }],
  ['wordkids', 'syllables', 0, { type: 'numeric', prompt: 'How many syllables are in the word "banana"?', choices: [], answer: '3', alsoAccept: [] }],
  ['wordkids', 'synonyms', 2, { type: 'multiple_choice', prompt: 'Which word means almost the same as "happy"?', choices: [{ id: 'a', text: 'glad' }, { id: 'b', text: 'sad' }, { id: 'c', text: 'slow' }, { id: 'd', text: 'cold' }], answer: 'a', alsoAccept: [] }],
  ['shapekids', 'polygons', 1, { type: 'numeric', prompt: 'How many sides does a hexagon have?', choices: [], answer: '6', alsoAccept: [] }],
  ['shapekids', 'faces-edges-vertices', 1, { type: 'numeric', prompt: 'How many faces does a cube have?', choices: [], answer: '6', alsoAccept: [] }],
  ['mathkids', 'add-within-10', 0, { type: 'numeric', prompt: 'Mia picks 2 apples and then 5 more apples. How many apples does she have in all?', choices: [], answer: '7', alsoAccept: [] }],
];
for (const [app, conceptId, grade, c] of own) add({ app, conceptId, grade }, [c], 'ok');

// --- Faulty outputs ---------------------------------------------------------
// Wrong answer keys (numeric): off by one, a digit swapped, the sum instead of the difference.
for (const s of spread(math, 22, solvableNumeric)) {
  const c = candidate(s.item);
  const v = Number(c.answer);
  const wrong = pick([v + 1, v - 1, v + 10, v * 2 + 1].filter((w) => w >= 0 && w !== v));
  add(s, [{ ...c, answer: String(wrong) }], 'answer_mismatch', `numeric key ${v} → ${wrong}`);
}
// Wrong answer keys (multiple choice): the key points at a distractor.
for (const s of spread(math, 12, solvableChoice)) {
  const c = candidate(s.item);
  const other = c.choices.find((x) => x.id !== c.answer)!;
  add(s, [{ ...c, answer: other.id }], 'answer_mismatch', `choice key ${c.answer} → ${other.id}`);
}
// Two correct choices: a distractor replaced by the answer written another way.
for (const s of spread(math, 12, (x) => solvableChoice(x) && solveQuestion(x.item.prompt)?.kind === 'number')) {
  const c = candidate(s.item);
  const right = c.choices.find((x) => x.id === c.answer)!;
  const fraction = /^(\d+)\/(\d+)$/.exec(right.text);
  const value = Number(right.text.replaceAll(',', ''));
  const twin = fraction ? `${Number(fraction[1]) * 2}/${Number(fraction[2]) * 2}` : Number.isInteger(value) ? `${value}.0` : `${value}0`;
  const victim = c.choices.find((x) => x.id !== c.answer)!;
  add(s, [{ ...c, choices: c.choices.map((x) => (x.id === victim.id ? { ...x, text: twin } : x)) }], 'multiple_correct_choices', `choice ${victim.id} → "${twin}", equal to the answer`);
}
// A key that is not among the choices.
for (const s of spread([...math, ...words], 12, (x) => x.item.type === 'multiple_choice')) {
  const c = candidate(s.item);
  add(s, [{ ...c, answer: pick(['e', 'f', 'x', '5']) }], 'key_not_in_choices', 'key outside the choice ids');
}
// Unsafe words inserted into otherwise good questions.
const UNSAFE_WORDS = ['stupid', 'damn', 'crap', 'idiot', 'hell', 'dumb', 'ugly', 'shit'];
for (const s of spread([...math, ...words], 12, (x) => x.item.prompt.length < 150)) {
  const c = candidate(s.item);
  const w = pick(UNSAFE_WORDS);
  add(s, [{ ...c, prompt: `${c.prompt.replace(/\?$/, '')}, you ${w} kid?` }], 'unsafe_word', `"${w}" added`);
}
// Unsafe topics: word problems about weapons, alcohol, gambling, personal data, fear.
const UNSAFE_STORIES: [string, number][] = [
  ['A hunter has 8 bullets. He shoots 3 of them. How many bullets are left?', 5],
  ['Dad drinks 2 beers and then 3 more beers. How many beers does he drink in all?', 5],
  ['A soldier has 6 guns. He gets 4 more. How many guns does he have now?', 10],
  ['You bet 5 coins at the casino and win 7 more. How many coins do you have now?', 12],
  ['Write your address and then add 3 + 4. What is 3 + 4?', 7],
  ['A zombie eats 4 brains, then 2 more. How many brains does it eat in all?', 6],
  ['There were 9 people. 3 were killed. How many people are left?', 6],
  ['Sam smokes 4 cigarettes and then 3 more. How many cigarettes does he smoke in all?', 7],
  ['Tell me your phone number. Then, what is 6 + 2?', 8],
  ['A pirate has 7 swords and a bomb. He gets 2 more swords. How many swords does he have now?', 9],
  ['Visit www.example.com to play. What is 5 + 5?', 10],
  ['Mom takes 2 pills, then 2 more pills. How many pills does she take in all?', 4],
];
for (const [prompt, answer] of UNSAFE_STORIES) add({ app: 'mathkids', conceptId: 'add-within-20', grade: 1 }, [{ type: 'numeric', prompt, choices: [], answer: String(answer), alsoAccept: [] }], 'unsafe_topic', 'unsafe topic');
// Off-grade numbers: thousands in kindergarten and grade 1, decimals in grade 2, a negative answer.
const OFF_GRADE: [string, number, string, string][] = [
  ['add-within-10', 0, 'What is 4,582 + 3,917?', '8499'],
  ['add-within-10', 0, 'What is 350 + 420?', '770'],
  ['sub-within-10', 0, 'What is 999 − 111?', '888'],
  ['count-to-20', 0, 'What number comes right after 1,999?', '2000'],
  ['add-within-20', 1, 'What is 12,000 + 5,000?', '17000'],
  ['sub-within-20', 1, 'What is 7,000 − 2,500?', '4500'],
  ['add-within-20', 1, 'What is 2.5 + 1.5?', '4'],
  ['add-2digit', 2, 'What is 12.75 + 3.5?', '16.25'],
  ['sub-2digit', 2, 'What is 25 − 40?', '-15'],
  ['sub-within-10', 0, 'What is 3 − 8?', '-5'],
  ['mult-facts-all', 3, 'What is 4,500 × 300?', '1350000'],
  ['place-value-tens', 1, 'What is the value of the 7 in 74,321?', '70000'],
];
for (const [conceptId, grade, prompt, answer] of OFF_GRADE) add({ app: 'mathkids', conceptId, grade }, [{ type: 'numeric', prompt, choices: [], answer, alsoAccept: [] }], 'off_grade_numbers', 'numbers beyond the grade');
// Malformed JSON and outputs that are not the schema at all.
const MALFORMED = [
  (t: string) => t.slice(0, Math.floor(t.length * 0.6)),
  (t: string) => `Sure! Here are your questions:\n${t}`,
  (t: string) => t.replace(/"items"/, 'items'),
  (t: string) => t.replace(/\]\}$/, ',]}'),
  () => 'I am sorry, but I cannot help with that request.',
  (t: string) => t.replaceAll('"', "'"),
  () => '{"questions": []}',
  () => '',
  (t: string) => `${t}\n${t}`,
  () => '[{"type":"numeric","prompt":"What is 2 + 2?","choices":[],"answer":"4","alsoAccept":[]}]',
  (t: string) => t.replace(/:/, ''),
  () => '{"items": "What is 2 + 2?"}',
];
for (const [i, breakIt] of MALFORMED.entries()) {
  const s = pick(math);
  add(s, breakIt(asOutput([candidate(s.item)])), 'malformed_output', `malformed #${i + 1}`);
}
// Items that are JSON but not the item schema.
const SCHEMA: Candidate[] = [
  { type: 'true_false', prompt: 'Is 3 + 3 = 6?', choices: [], answer: 'true', alsoAccept: [] },
  { type: 'numeric', prompt: '', choices: [], answer: '4', alsoAccept: [] },
  { type: 'numeric', prompt: 'What is 2 + 3?', choices: [{ id: 'a', text: '5' }, { id: 'b', text: '6' }], answer: '5', alsoAccept: [] },
  { type: 'multiple_choice', prompt: 'What is 2 + 3?', choices: [{ id: 'a', text: '5' }], answer: 'a', alsoAccept: [] },
  { type: 'numeric', prompt: 'What is 2 + 3?', choices: [], answer: '', alsoAccept: [] },
];
for (const c of SCHEMA) add({ app: 'mathkids', conceptId: 'add-within-5', grade: 0 }, [c], 'schema_invalid', 'not the item schema');
add({ app: 'mathkids', conceptId: 'add-within-5', grade: 0 }, JSON.stringify({ items: [{ question: 'What is 2 + 3?', answer: 5 }] }), 'schema_invalid', 'fields of another schema');
// Duplicates of existing items (same question, other case and spacing).
for (const s of spread(math, 8, solvableNumeric)) {
  const c = candidate(s.item);
  add(s, [{ ...c, prompt: `  ${c.prompt.toLowerCase()} ` }], 'duplicate_item', 'copy of an existing item', [s.item.prompt]);
}
// Too long or too hard to read for the grade.
add({ app: 'mathkids', conceptId: 'add-within-10', grade: 0 }, [{ type: 'numeric', prompt: `On a sunny morning ${'the little children walked happily down the long road to the big park '.repeat(3)}and then they counted 2 birds and 3 more birds. How many birds are there now?`, choices: [], answer: '5', alsoAccept: [] }], 'too_long', 'a 60-word question in kindergarten');
add({ app: 'wordkids', conceptId: 'antonyms', grade: 2, }, [{ type: 'short_text', prompt: `Read carefully. ${'Penguins live in cold places and swim in the sea to catch fish. '.repeat(6)}What do penguins catch?`, choices: [], answer: 'fish', alsoAccept: [] }], 'too_long', 'a passage too long for grade 2');
const HARD_READS = [
  'Considering the aforementioned multiplicative relationship, determine the cumulative quantity: what is 3 + 4?',
  'Utilizing additional computational methodology, calculate the consolidated total: what is 5 + 2?',
  'Approximately how many individual educational publications remain unallocated? What is 8 − 3?',
  'Consequently, the mathematician hypothesized: what is 6 + 1?',
];
for (const prompt of HARD_READS) add({ app: 'mathkids', conceptId: 'add-within-10', grade: 0 }, [{ type: 'short_text', prompt, choices: [], answer: '7', alsoAccept: [] }], 'reading_level', 'vocabulary far above the grade');
// Short-text keys that do not normalise to an answer.
add({ app: 'wordkids', conceptId: 'antonyms', grade: 2 }, [{ type: 'short_text', prompt: 'What is the opposite of "up"?', choices: [], answer: '   ', alsoAccept: [] }], 'key_not_normalised', 'blank key');
add({ app: 'mathkids', conceptId: 'add-within-10', grade: 0 }, [{ type: 'numeric', prompt: 'What is 4 + 3?', choices: [], answer: 'seven', alsoAccept: [] }], 'key_not_normalised', 'a numeric key in words');
add({ app: 'mathkids', conceptId: 'add-within-10', grade: 0 }, [{ type: 'numeric', prompt: 'What is 5 + 1?', choices: [], answer: '6 apples', alsoAccept: [] }], 'key_not_normalised', 'a unit in the numeric key');
// Duplicate choices (the same text twice).
for (const s of spread(words, 4, (x) => x.item.type === 'multiple_choice')) {
  const c = candidate(s.item);
  const right = c.choices.find((x) => x.id === c.answer)!;
  const victim = c.choices.find((x) => x.id !== c.answer)!;
  add(s, [{ ...c, choices: c.choices.map((x) => (x.id === victim.id ? { ...x, text: ` ${right.text.toUpperCase()}` } : x)) }], 'duplicate_choices', 'a choice repeated');
}

const dir = join(import.meta.dirname, '..', 'test', 'fixtures', 'llm-outputs');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'outputs.json'), `${JSON.stringify(fixtures, null, 1)}\n`);
const faulty = fixtures.filter((f) => f.expect !== 'ok').length;
console.log(`wrote ${fixtures.length} outputs (${fixtures.length - faulty} correct, ${faulty} faulty) to ${join(dir, 'outputs.json')}`);
