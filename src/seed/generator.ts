import type { AnswerKey, Concept, ContentBlock, ItemType, NewLessonInput, PracticeItem } from '../domain/curriculum.ts';
import { isCorrect } from '../domain/curriculum.ts';
import { seededRandom } from './pack.ts';
import { formatNumber } from './numbers.ts';

/**
 * Shared machinery for the demo content packs. A pack describes concepts as
 * templates that produce `Problem`s; this module turns problems into checked
 * practice items and assembles lessons, deterministically.
 */

/** Deterministic random helpers layered over `seededRandom`. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T;
  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(xs: readonly T[]): T[];
  /** `n` distinct elements, in random order. */
  sample<T>(xs: readonly T[], n: number): T[];
}

/** Wraps `seededRandom(seed)` in the `Rng` helpers so templates never touch Math.random. */
export function makeRng(seed: number): Rng {
  const next = seededRandom(seed);
  const int = (min: number, max: number) => {
    if (max < min) throw new RangeError(`rng.int: empty range [${min}, ${max}]`);
    return min + Math.floor(next() * (max - min + 1));
  };
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
  return {
    next,
    int,
    pick: <T>(xs: readonly T[]): T => {
      if (xs.length === 0) throw new RangeError('rng.pick: empty array');
      return xs[int(0, xs.length - 1)] as T;
    },
    shuffle,
    sample: <T>(xs: readonly T[], n: number): T[] => {
      if (n > xs.length) throw new RangeError(`rng.sample: ${n} from ${xs.length}`);
      return shuffle(xs).slice(0, n);
    },
  };
}

/** FNV-1a: a stable 32-bit seed from a string key, so each lesson has its own fixed random stream. */
export function hashSeed(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Throws when a generated piece of content fails a check: broken content must never be seeded. */
export function ensure(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`seed content check failed: ${message}`);
}

/** The correct answer of a problem: a number, or a text with every spelling that should be accepted. */
export type ProblemAnswer =
  | { kind: 'number'; value: number }
  | { kind: 'text'; text: string; accepted?: readonly string[] };

/** One generated question, before it is given an id and an item type. */
export interface Problem {
  /** The question as shown to the child. Unique within a lesson. */
  stem: string;
  answer: ProblemAnswer;
  /** Plausible wrong answers; multiple choice needs at least 3 that survive de-duplication. */
  distractors: readonly (string | number)[];
  /** Logit difficulty before the item-type adjustment. */
  difficulty: number;
  /** A worked explanation computed from the same numbers/words (used for example blocks). */
  explanation: string;
  /** Item types this problem may be rendered as; defaults to its native type plus multiple choice. */
  formats?: readonly ItemType[];
  /** Independent re-computation of the answer (usually from the stem text); false aborts the build. */
  check: () => boolean;
}

/** 0 = introductory ranges, 1 = full practice ranges. */
export type Level = 0 | 1;

/** A concept together with the templates and teaching text used to generate its lessons. */
export interface ConceptSpec extends Concept {
  /** The explanation that opens the concept's first lesson. */
  teach: string;
  tip: string;
  make(rng: Rng, level: Level): Problem;
}

/** Number answer helper. */
export function num(value: number): ProblemAnswer {
  return { kind: 'number', value };
}

/** Text answer helper; `text` is the canonical form, `accepted` adds other spellings. */
export function txt(text: string, accepted: readonly string[] = []): ProblemAnswer {
  return { kind: 'text', text, accepted: [text, ...accepted] };
}

/** Clamps to the schema's -3..3 logit range and rounds to 2 decimals so packs stay byte-stable. */
export function logit(x: number): number {
  return Math.round(Math.min(3, Math.max(-3, x)) * 100) / 100;
}

/** Plain concept data (no templates) for the pack. */
export function toConcept(spec: ConceptSpec): Concept {
  return {
    id: spec.id,
    subject: spec.subject,
    grade: spec.grade,
    name: spec.name,
    description: spec.description,
    prerequisites: [...spec.prerequisites],
  };
}

const norm = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();

function answerText(a: ProblemAnswer): string {
  return a.kind === 'number' ? formatNumber(a.value) : a.text;
}

function distractorTexts(p: Problem): string[] {
  const answer = norm(answerText(p.answer));
  const acceptedNorm = new Set(p.answer.kind === 'text' ? (p.answer.accepted ?? []).map(norm) : [answer]);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const d of p.distractors) {
    if (typeof d === 'number' && p.answer.kind === 'number' && Math.abs(d - p.answer.value) < 1e-9) continue;
    const text = typeof d === 'number' ? formatNumber(d) : d;
    const key = norm(text);
    if (key === '' || key === answer || acceptedNorm.has(key) || seen.has(key)) continue;
    seen.add(key);
    out.push(text);
  }
  return out;
}

/** Item types a problem can be rendered as, in preference order (native type first). */
export function formatsOf(p: Problem): readonly ItemType[] {
  return p.formats ?? [p.answer.kind === 'number' ? 'numeric' : 'short_text', 'multiple_choice'];
}

/** Every third item is multiple choice when the problem allows it; otherwise its native type. */
export function chooseType(p: Problem, position: number): ItemType {
  const formats = formatsOf(p);
  const open = formats.filter((f) => f !== 'multiple_choice');
  if (open.length === 0 || (position % 3 === 2 && formats.includes('multiple_choice'))) return 'multiple_choice';
  return open[0] as ItemType;
}

const TYPE_SHIFT: Record<ItemType, number> = { multiple_choice: -0.3, numeric: 0, short_text: 0.2 };
const CHOICE_IDS = ['a', 'b', 'c', 'd'] as const;

/**
 * Turns a problem into a practice item of the given type and verifies it:
 * the independent check passes, the key accepts the correct response and
 * rejects every wrong one, and multiple-choice distractors are distinct.
 */
export function toItem(p: Problem, id: string, conceptId: string, type: ItemType, rng: Rng): PracticeItem {
  ensure(p.check(), `${id}: independent answer check failed for "${p.stem}"`);
  ensure(formatsOf(p).includes(type), `${id}: ${type} is not allowed for "${p.stem}"`);
  const wrong = distractorTexts(p);
  ensure(wrong.length >= 1, `${id}: no usable distractor for "${p.stem}"`);
  const difficulty = logit(p.difficulty + TYPE_SHIFT[type]);
  const base = { id, conceptId, type, prompt: p.stem, difficulty };
  let item: PracticeItem;
  let correct: string | number;
  let incorrect: (string | number)[];
  if (type === 'multiple_choice') {
    ensure(wrong.length >= 3, `${id}: needs 3 distinct distractors for "${p.stem}", got ${JSON.stringify(wrong)}`);
    const texts = rng.shuffle([answerText(p.answer), ...rng.sample(wrong, 3)]);
    const choices = texts.map((text, i) => ({ id: CHOICE_IDS[i] as string, text }));
    const right = choices.find((c) => c.text === answerText(p.answer));
    ensure(right !== undefined, `${id}: answer missing from choices`);
    ensure(new Set(choices.map((c) => norm(c.text))).size === 4, `${id}: duplicate choice texts`);
    item = { ...base, choices, answer: { type: 'multiple_choice', choiceId: right.id } };
    correct = right.id;
    incorrect = choices.filter((c) => c !== right).map((c) => c.id);
  } else if (type === 'numeric') {
    ensure(p.answer.kind === 'number', `${id}: numeric item needs a number answer`);
    item = { ...base, answer: { type: 'numeric', value: p.answer.value, tolerance: 0 } };
    correct = p.answer.value;
    const value = p.answer.value;
    incorrect = p.distractors.filter((d): d is number => typeof d === 'number' && Math.abs(d - value) > 1e-9);
    ensure(isCorrect(item.answer, String(p.answer.value)), `${id}: typed answer not accepted`);
  } else {
    ensure(p.answer.kind === 'text', `${id}: short text item needs a text answer`);
    const accepted = [...new Set(p.answer.accepted ?? [p.answer.text])];
    ensure(accepted.length <= 20 && accepted.every((a) => a.length > 0 && a.length <= 200), `${id}: bad accepted list`);
    item = { ...base, answer: { type: 'short_text', accepted, caseSensitive: false } };
    correct = p.answer.text;
    incorrect = wrong;
  }
  verifyKey(id, item.answer, correct, incorrect);
  return item;
}

function verifyKey(id: string, key: AnswerKey, correct: string | number, incorrect: readonly (string | number)[]): void {
  ensure(isCorrect(key, correct), `${id}: key rejects the correct response ${JSON.stringify(correct)}`);
  for (const w of incorrect) ensure(!isCorrect(key, w), `${id}: key accepts the wrong response ${JSON.stringify(w)}`);
}

/** How many items of which concept (at which level) a lesson contains, in order. */
export interface Segment {
  spec: ConceptSpec;
  level: Level;
  count: number;
}

/** Everything needed to build one lesson; content is generated from the lesson's own seeded stream. */
export interface LessonPlan {
  id: string;
  subject: string;
  grade: number;
  title: string;
  summary: string;
  conceptIds: string[];
  intro: string;
  examples: { spec: ConceptSpec; level: Level }[];
  tip: string;
  segments: Segment[];
}

/** Draws problems until one has a stem not yet used in the lesson (so a lesson never repeats a question). */
function freshProblem(spec: ConceptSpec, level: Level, rng: Rng, seen: Set<string>, where: string): Problem {
  for (let attempt = 0; attempt < 200; attempt++) {
    const p = spec.make(rng, level);
    if (!seen.has(p.stem)) {
      seen.add(p.stem);
      return p;
    }
  }
  throw new Error(`seed content check failed: ${where}: template for ${spec.id} ran out of distinct questions`);
}

/**
 * Builds a published lesson from a plan: text, worked examples and a tip,
 * then the practice items (`${lessonId}-q${n}`), each checked by `toItem`.
 * The random stream is seeded from `seedKey` and the lesson id only, so a
 * lesson's content does not depend on the other lessons.
 */
export function buildLesson(plan: LessonPlan, seedKey: string): NewLessonInput {
  const rng = makeRng(hashSeed(`${seedKey}:${plan.id}`));
  const seen = new Set<string>();
  const blocks: ContentBlock[] = [{ type: 'text', text: plan.intro }];
  for (const ex of plan.examples) {
    ensure(plan.conceptIds.includes(ex.spec.id), `${plan.id}: example concept ${ex.spec.id} not in lesson`);
    const p = freshProblem(ex.spec, ex.level, rng, seen, plan.id);
    ensure(p.check(), `${plan.id}: example check failed for "${p.stem}"`);
    blocks.push({ type: 'example', prompt: p.stem, explanation: p.explanation });
  }
  blocks.push({ type: 'tip', text: plan.tip });
  const items: PracticeItem[] = [];
  for (const seg of plan.segments) {
    ensure(plan.conceptIds.includes(seg.spec.id), `${plan.id}: item concept ${seg.spec.id} not in lesson`);
    for (let k = 0; k < seg.count; k++) {
      const p = freshProblem(seg.spec, seg.level, rng, seen, plan.id);
      const position = items.length;
      items.push(toItem(p, `${plan.id}-q${position + 1}`, seg.spec.id, chooseType(p, position), rng));
    }
  }
  return {
    id: plan.id,
    subject: plan.subject,
    grade: plan.grade,
    title: plan.title,
    summary: plan.summary,
    blocks,
    conceptIds: [...plan.conceptIds],
    media: [],
    estimatedMinutes: Math.min(240, 3 + 2 * plan.examples.length + items.length + Math.ceil(plan.grade / 2)),
    published: true,
    items,
  };
}

/** Lower-cases the first letter, for using a concept name inside a sentence (acronyms such as "ABC" are kept). */
export function inSentence(name: string): string {
  const second = name.charAt(1);
  if (second !== second.toLowerCase()) return name;
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * The first lesson of a concept (`<concept>-learn`): its teaching text, two
 * worked examples and items at the introductory level.
 */
export function introPlan(s: ConceptSpec, itemCount: number): LessonPlan {
  return {
    id: `${s.id}-learn`,
    subject: s.subject,
    grade: s.grade,
    title: s.name,
    summary: s.description,
    conceptIds: [s.id],
    intro: s.teach,
    examples: [
      { spec: s, level: 0 },
      { spec: s, level: 0 },
    ],
    tip: s.tip,
    segments: [{ spec: s, level: 0, count: itemCount }],
  };
}

/**
 * The second lesson of a concept (`<concept>-practice`) at the full level,
 * opening with two warm-up items on a prerequisite when there is one (which
 * then also becomes one of the lesson's concepts).
 */
export function practicePlan(s: ConceptSpec, warmUp: ConceptSpec | undefined, itemCount: number): LessonPlan {
  const level: Level = 1;
  const name = inSentence(s.name);
  return {
    id: `${s.id}-practice`,
    subject: s.subject,
    grade: s.grade,
    title: `${s.name}: Practice`,
    summary: warmUp ? `Warm up with ${inSentence(warmUp.name)}, then practice ${name}.` : `More practice with ${name}.`,
    conceptIds: warmUp ? [s.id, warmUp.id] : [s.id],
    intro: warmUp
      ? `Time to practice ${name}. The first two questions are a warm-up on ${inSentence(warmUp.name)}. ${s.description}`
      : `Time to practice ${name}. ${s.description}`,
    examples: [{ spec: s, level }],
    tip: s.tip,
    segments: warmUp
      ? [
          { spec: warmUp, level, count: 2 },
          { spec: s, level, count: itemCount - 2 },
        ]
      : [{ spec: s, level, count: itemCount }],
  };
}

/** "a, b and c" */
export function listText(xs: readonly string[]): string {
  if (xs.length <= 1) return xs.join('');
  return `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}
