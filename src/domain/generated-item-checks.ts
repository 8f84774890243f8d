import { z } from '@hono/zod-openapi';
import { PracticeItem, isCorrect, type AnswerKey } from './curriculum.ts';
import { numbersIn, readFraction, readNumber, sameFractionAsAny, solveQuestion, syllables } from './item-solver.ts';

/**
 * The checks every generated practice item passes before a child sees it,
 * whichever adapter wrote it (a remote model, or the offline templates):
 *
 * 1. shape: the model's output is JSON of the output schema, and each item,
 *    turned into a practice item, passes the curriculum's item schema;
 * 2. safety: no blocked word or topic, no personal-data request or link,
 *    length and reading level within the grade;
 * 3. grade: the numbers fit the grade (no thousands in kindergarten, no
 *    decimals before grade 4, no negatives);
 * 4. answer: numeric answers recomputed from the question alone
 *    (item-solver.ts); multiple choice has distinct choices, its key among
 *    them and exactly one correct choice; short-text keys normalised;
 * 5. novelty: not the same question as an existing item of the app, or as
 *    another item of the same batch.
 *
 * Each rejection carries a reason code (`RejectionReason`); the generator
 * counts them in its metrics. Pure: the existing items are passed in.
 */

/** Why a generated item (or a whole model output) was rejected. */
export const REJECTION_REASONS = [
  'malformed_output',
  'schema_invalid',
  'unsafe_word',
  'unsafe_topic',
  'too_long',
  'reading_level',
  'off_grade_numbers',
  'key_not_in_choices',
  'duplicate_choices',
  'multiple_correct_choices',
  'no_correct_choice',
  'answer_mismatch',
  'answer_unverifiable',
  'key_not_normalised',
  'duplicate_item',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** The shape of one item in a model's output (also the JSON schema sent to the model, see {@link CANDIDATE_OUTPUT_JSON_SCHEMA}). */
export const GeneratedCandidate = z.strictObject({
  type: z.enum(['multiple_choice', 'numeric', 'short_text']),
  prompt: z.string().min(1).max(2000),
  /** Multiple choice: 2–8 choices with ids a, b, c…; other types: empty. */
  choices: z.array(z.strictObject({ id: z.string(), text: z.string() })).max(8),
  /** The correct answer: a number (numeric), a choice id (multiple choice) or the expected text (short text). */
  answer: z.string().min(1).max(200),
  /** Other spellings a short-text answer may take ("twenty seven" for "twenty-seven"); empty otherwise. */
  alsoAccept: z.array(z.string().max(200)).max(19),
});
export type GeneratedCandidate = z.infer<typeof GeneratedCandidate>;

/** A model's whole answer: `{"items": [...]}`. */
export const GeneratedOutput = z.object({ items: z.array(z.unknown()).max(50) });

/**
 * The JSON Schema of a model's output, for OpenAI's `response_format:
 * json_schema` (strict mode: every property required, no extra ones) and
 * the Converse prompt. Mirrors {@link GeneratedCandidate}.
 */
export const CANDIDATE_OUTPUT_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'prompt', 'choices', 'answer', 'alsoAccept'],
        properties: {
          type: { type: 'string', enum: ['multiple_choice', 'numeric', 'short_text'] },
          prompt: { type: 'string', description: 'The question, as the child reads it' },
          choices: {
            type: 'array',
            description: 'Multiple choice only: 4 choices with ids a, b, c, d; empty for other types',
            items: { type: 'object', additionalProperties: false, required: ['id', 'text'], properties: { id: { type: 'string' }, text: { type: 'string' } } },
          },
          answer: { type: 'string', description: 'numeric: the number; multiple_choice: the id of the one correct choice; short_text: the expected answer' },
          alsoAccept: { type: 'array', items: { type: 'string' }, description: 'short_text only: other correct spellings; empty otherwise' },
        },
      },
    },
  },
} as const;

/** What the checks know about where the item goes. */
export interface CheckContext {
  conceptId: string;
  grade: number;
  /** Existing items of the app (at least those of the concept) and items already accepted in this batch. */
  existing: readonly { prompt: string; choices?: readonly { text: string }[] | undefined }[];
  /** Difficulty given to accepted items (logit -3..3). */
  difficulty: number;
}

/** A checked item: accepted (ready to store) or rejected with every reason found, the first being the main one. */
export type CheckResult =
  | { ok: true; item: Omit<PracticeItem, 'id'>; checks: string[] }
  | { ok: false; reason: RejectionReason; reasons: RejectionReason[]; detail: string };

/** The checks an accepted item passed, recorded in its provenance. */
export const CHECKS_PASSED = ['schema', 'safety', 'grade', 'answer', 'novelty'] as const;

/**
 * Reads a model's raw text: JSON (a fenced ```json block is unwrapped, as
 * chat models often add one) of the form `{"items": [...]}`. Returns the
 * raw items, or the rejection of the whole output.
 */
export function parseModelOutput(text: string): { ok: true; items: unknown[] } | { ok: false; reason: 'malformed_output'; detail: string } {
  const unfenced = text.trim().replace(/^```(?:json)?\s*\n?([\s\S]*?)\n?```$/i, '$1');
  let json: unknown;
  try {
    json = JSON.parse(unfenced);
  } catch (error) {
    return { ok: false, reason: 'malformed_output', detail: `not JSON: ${error instanceof Error ? error.message : 'unreadable'}` };
  }
  const parsed = GeneratedOutput.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'malformed_output', detail: 'not an object with an "items" array' };
  return { ok: true, items: parsed.data.items };
}

// ---------------------------------------------------------------------------
// Safety
// ---------------------------------------------------------------------------

/** Words never shown to a child: profanity, slurs and crude words. Matched as whole words, any case. */
export const BLOCKED_WORDS: readonly string[] = [
  'damn', 'dammit', 'hell', 'crap', 'shit', 'shitty', 'fuck', 'fucking', 'bitch', 'bastard', 'ass', 'asshole', 'piss', 'pissed', 'dick', 'cock', 'pussy',
  'slut', 'whore', 'retard', 'retarded', 'idiot', 'stupid', 'dumb', 'moron', 'loser', 'ugly', 'fat', 'sexy', 'bloody', 'bugger', 'wanker', 'twat', 'nigger', 'faggot', 'fag', 'spic', 'kike', 'chink',
];

/** Topics outside a children's practice question, as whole words or phrases (stems cover plurals and -ing forms). */
export const BLOCKED_TOPICS: Readonly<Record<string, readonly string[]>> = {
  violence: ['kill', 'kills', 'killed', 'killing', 'murder', 'murdered', 'stab', 'stabbed', 'shoot', 'shot', 'shooting', 'gun', 'guns', 'rifle', 'pistol', 'bullet', 'bullets', 'bomb', 'bombs', 'sword', 'weapon', 'weapons', 'war', 'wars', 'blood', 'bleeding', 'dead', 'death', 'die', 'dies', 'died', 'corpse', 'punch', 'punched', 'beat up', 'torture', 'kidnap', 'hostage', 'terrorist'],
  'self-harm': ['suicide', 'self-harm', 'hurt yourself', 'cut yourself', 'overdose'],
  drugs: ['beer', 'beers', 'wine', 'wines', 'vodka', 'whiskey', 'alcohol', 'drunk', 'cigarette', 'cigarettes', 'smoke', 'smoking', 'vape', 'vaping', 'weed', 'marijuana', 'cocaine', 'heroin', 'drug', 'drugs', 'pills'],
  gambling: ['casino', 'gamble', 'gambling', 'bet', 'bets', 'betting', 'lottery', 'poker'],
  adult: ['sex', 'naked', 'nude', 'kiss', 'kissing', 'boyfriend', 'girlfriend', 'dating', 'porn'],
  fear: ['ghost', 'ghosts', 'zombie', 'zombies', 'demon', 'devil', 'monster attack', 'nightmare', 'horror', 'scary'],
  'personal data': ['your address', 'your phone', 'phone number', 'your password', 'password', 'your last name', 'your full name', 'where do you live', 'your school name', 'email address', 'credit card', 'your birthday'],
  diet: ['diet', 'calories', 'lose weight', 'weigh yourself'],
};

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const wordPattern = (words: readonly string[]) => new RegExp(`(?<![\\p{L}\\p{N}'’-])(?:${words.map(escape).join('|')})(?![\\p{L}\\p{N}'’-])`, 'iu');
const BLOCKED_WORD_PATTERN = wordPattern(BLOCKED_WORDS);
const TOPIC_PATTERNS = Object.entries(BLOCKED_TOPICS).map(([topic, words]) => ({ topic, pattern: wordPattern(words) }));
const LINK_PATTERN = /https?:\/\/|www\.|[\w.+-]+@[\w-]+\.[\w.]+/i;

/** Longest question (words) a child of the grade reads in one practice item: passages are allowed from grade 2. */
export function maxWordsFor(grade: number): number {
  return grade <= 0 ? 30 : grade === 1 ? 40 : 60 + 20 * (grade - 2);
}

/**
 * Flesch–Kincaid grade of a text (numbers and symbols count as one-syllable
 * words). Short questions score low; a question full of long words scores
 * high, which is what the reading-level check looks for.
 */
export function readingGrade(text: string): number {
  const words = text.match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) ?? [];
  if (words.length === 0) return 0;
  const sentences = Math.max(1, (text.match(/[.!?:;]+(?:\s|$)/g) ?? []).length);
  const syl = words.reduce((n, w) => n + (/^\d/.test(w) ? 1 : syllables(w)), 0);
  return 0.39 * (words.length / sentences) + 11.8 * (syl / words.length) - 15.59;
}

/** How far above the grade a question may read (FK is noisy on one-sentence questions). */
export const READING_SLACK = 7;

function safetyProblems(texts: readonly string[], grade: number): { reason: RejectionReason; detail: string }[] {
  const problems: { reason: RejectionReason; detail: string }[] = [];
  const all = texts.join('\n');
  const word = BLOCKED_WORD_PATTERN.exec(all);
  if (word) problems.push({ reason: 'unsafe_word', detail: `blocked word "${word[0]}"` });
  for (const { topic, pattern } of TOPIC_PATTERNS) {
    const hit = pattern.exec(all);
    if (hit) problems.push({ reason: 'unsafe_topic', detail: `blocked topic ${topic} ("${hit[0]}")` });
  }
  if (LINK_PATTERN.test(all)) problems.push({ reason: 'unsafe_topic', detail: 'a link or an email address' });
  const prompt = texts[0] ?? '';
  const words = (prompt.match(/\S+/g) ?? []).length;
  if (words > maxWordsFor(grade) || prompt.length > 600) problems.push({ reason: 'too_long', detail: `${words} words; at most ${maxWordsFor(grade)} in grade ${grade}` });
  const level = readingGrade(prompt);
  if (level > Math.max(grade, 1) + READING_SLACK) problems.push({ reason: 'reading_level', detail: `reads at grade ${level.toFixed(1)}, the item is for grade ${grade}` });
  return problems;
}

// ---------------------------------------------------------------------------
// Grade fit
// ---------------------------------------------------------------------------

/** Largest number a question of the grade works with (counting to 100 in kindergarten, within 1,000 in grade 2…, with room for distractors). */
export function maxNumberFor(grade: number): number {
  return [100, 200, 2000, 20_000, 1_000_000, 1_000_000_000][Math.max(0, Math.min(5, grade))]!;
}

function gradeProblems(texts: readonly string[], grade: number): { reason: RejectionReason; detail: string }[] {
  const all = texts.join(' ');
  const values = numbersIn(all);
  const max = maxNumberFor(grade);
  const big = values.find((v) => v > max);
  if (big !== undefined) return [{ reason: 'off_grade_numbers', detail: `${big} is beyond grade ${grade} (at most ${max})` }];
  if (grade < 4 && values.some((v) => !Number.isInteger(v))) return [{ reason: 'off_grade_numbers', detail: `decimals come in grade 4; this item is for grade ${grade}` }];
  if (/(?:^|[\s(=:,])[-−]\d/.test(all)) return [{ reason: 'off_grade_numbers', detail: 'negative numbers are not taught in grades K–8 practice here' }];
  return [];
}

// ---------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------

/** Normalises a short-text answer the way children type it: trimmed, single spaces, straight apostrophes. */
export function normaliseAnswerText(text: string): string {
  return text.normalize('NFC').trim().replace(/\s+/g, ' ').replace(/[‘’ʼ`]/g, "'").replace(/[“”]/g, '"');
}

/** The number a choice or a typed answer stands for (decimals, "3/4", "2 1/2"), if any. */
function valueOf(text: string): number | undefined {
  const n = readNumber(text);
  if (n !== undefined) return n;
  const f = readFraction(text);
  return f && f.d !== 0 ? f.n / f.d : undefined;
}

const near = (a: number, b: number) => Math.abs(a - b) < 1e-5;
const normChoice = (t: string) => normaliseAnswerText(t).toLowerCase();

/** Builds the answer key from a candidate, or says why it cannot be one. */
function answerKey(c: GeneratedCandidate): { key: AnswerKey } | { reason: RejectionReason; detail: string } {
  if (c.type === 'numeric') {
    const value = readNumber(c.answer);
    if (value === undefined) return { reason: 'key_not_normalised', detail: `numeric answer "${c.answer}" is not a plain number` };
    return { key: { type: 'numeric', value, tolerance: 0 } };
  }
  if (c.type === 'multiple_choice') return { key: { type: 'multiple_choice', choiceId: c.answer.trim() } };
  const accepted = [...new Set([c.answer, ...c.alsoAccept].map(normaliseAnswerText).filter((a) => a.length > 0))];
  // A curly apostrophe typed on a phone is accepted too.
  for (const a of [...accepted]) if (a.includes("'") && accepted.length < 20) accepted.push(a.replaceAll("'", '’'));
  if (accepted.length === 0) return { reason: 'key_not_normalised', detail: 'the answer is empty once normalised' };
  return { key: { type: 'short_text', accepted: [...new Set(accepted)].slice(0, 20), caseSensitive: false } };
}

function answerProblems(c: GeneratedCandidate, key: AnswerKey): { reason: RejectionReason; detail: string }[] {
  const solution = solveQuestion(c.prompt);
  if (solution?.kind === 'number' && solution.value < 0) return [{ reason: 'off_grade_numbers', detail: `the answer would be ${solution.value}: negative numbers are not taught here` }];
  if (c.type === 'multiple_choice') {
    const texts = c.choices.map((x) => normChoice(x.text));
    if (new Set(texts).size !== texts.length || new Set(c.choices.map((x) => x.id)).size !== c.choices.length) return [{ reason: 'duplicate_choices', detail: 'two choices read the same (or share an id)' }];
    const keyed = c.choices.find((x) => key.type === 'multiple_choice' && x.id === key.choiceId);
    if (!keyed) return [{ reason: 'key_not_in_choices', detail: `the key "${c.answer}" is not one of the choice ids` }];
    if (!solution) {
      // Numbers with no solver for the question: which choice is right cannot be told independently.
      if (c.choices.every((x) => valueOf(x.text) !== undefined)) return [{ reason: 'answer_unverifiable', detail: 'numeric choices for a question the solver cannot read' }];
      return [];
    }
    const correct = c.choices.filter((x) => choiceIsCorrect(x.text, solution));
    if (correct.length === 0) return [{ reason: 'no_correct_choice', detail: 'no choice is the computed answer' }];
    if (correct.length > 1) return [{ reason: 'multiple_correct_choices', detail: `choices ${correct.map((x) => x.id).join(', ')} are all correct` }];
    if (correct[0]!.id !== keyed.id) return [{ reason: 'answer_mismatch', detail: `the key is "${keyed.id}" but the correct choice is "${correct[0]!.id}"` }];
    return [];
  }
  if (c.type === 'numeric') {
    if (!solution || solution.kind !== 'number') return [{ reason: 'answer_unverifiable', detail: 'the solver cannot recompute this numeric question' }];
    if (key.type !== 'numeric' || !near(key.value, solution.value)) return [{ reason: 'answer_mismatch', detail: `the key says ${c.answer}, the question gives ${solution.value}` }];
    return [];
  }
  if (key.type !== 'short_text') return [];
  if (!isCorrect(key, c.answer)) return [{ reason: 'key_not_normalised', detail: 'the key does not accept its own answer' }];
  if (!solution) return [];
  const right = key.accepted.every((a) => choiceIsCorrect(a, solution));
  return right ? [] : [{ reason: 'answer_mismatch', detail: `an accepted answer is not what the question gives` }];
}

function choiceIsCorrect(text: string, solution: NonNullable<ReturnType<typeof solveQuestion>>): boolean {
  if (solution.kind === 'text') {
    const t = normChoice(text).replace(/\s*\/\s*/g, '/');
    return solution.accepted.some((a) => a.toLowerCase() === t) || (readFraction(t) !== undefined && sameFractionAsAny(t, solution.accepted));
  }
  const v = valueOf(text);
  if (v === undefined) return false;
  return solution.kind === 'number' ? near(v, solution.value) : solution.test(v);
}

// ---------------------------------------------------------------------------
// Novelty
// ---------------------------------------------------------------------------

/** The form two questions are compared in: case, spacing and punctuation ignored. */
export function questionFingerprint(prompt: string, choices: readonly { text: string }[] = []): string {
  // Operators stay (8 + 5 and 8 − 5 are different questions); spaces around them do not.
  const norm = (t: string) =>
    t
      .normalize('NFKC')
      .toLowerCase()
      .replace(/-/g, '−')
      .replace(/[^\p{L}\p{N}+−×÷*/=<>]+/gu, ' ')
      .replace(/\s*([+−×÷*/=<>])\s*/g, '$1')
      .trim();
  return [norm(prompt), ...choices.map((c) => norm(c.text)).sort()].join('|');
}

// ---------------------------------------------------------------------------
// All checks
// ---------------------------------------------------------------------------

/**
 * Runs every check on one raw item of a model's output. Accepted items come
 * back as practice items without an id (the generator gives one); rejected
 * ones with all the reasons found, the most basic first.
 */
export function checkCandidate(raw: unknown, context: CheckContext): CheckResult {
  const reject = (problems: { reason: RejectionReason; detail: string }[]): CheckResult => ({
    ok: false,
    reason: problems[0]!.reason,
    reasons: [...new Set(problems.map((p) => p.reason))],
    detail: problems.map((p) => p.detail).join('; '),
  });
  const parsed = GeneratedCandidate.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return reject([{ reason: 'schema_invalid', detail: `${issue?.path.join('.') || 'item'}: ${issue?.message ?? 'invalid'}` }]);
  }
  const c = parsed.data;
  const built = answerKey(c);
  if ('reason' in built) return reject([built]);
  const item: Omit<PracticeItem, 'id'> = {
    conceptId: context.conceptId,
    type: c.type,
    prompt: normaliseAnswerText(c.prompt).replace(/ ?\n ?/g, '\n'),
    answer: built.key,
    difficulty: Math.max(-3, Math.min(3, Math.round(context.difficulty * 100) / 100)),
  };
  if (c.type === 'multiple_choice') item.choices = c.choices.map((x) => ({ id: x.id.trim(), text: normaliseAnswerText(x.text) }));
  else if (c.choices.length > 0) return reject([{ reason: 'schema_invalid', detail: `${c.type} items have no choices` }]);
  const schema = PracticeItem.safeParse({ id: 'generated', ...item });
  if (!schema.success) {
    const issue = schema.error.issues[0];
    const keyMissing = issue?.path.join('.') === 'answer.choiceId' && /choice ids/.test(issue.message);
    return reject([{ reason: keyMissing ? 'key_not_in_choices' : 'schema_invalid', detail: `${issue?.path.join('.') || 'item'}: ${issue?.message ?? 'invalid'}` }]);
  }
  const texts = [c.prompt, ...c.choices.map((x) => x.text), c.type === 'multiple_choice' ? '' : c.answer, ...c.alsoAccept];
  const problems = [...safetyProblems(texts, context.grade), ...gradeProblems(texts, context.grade), ...answerProblems(c, built.key)];
  const fingerprint = questionFingerprint(item.prompt, item.choices);
  if (context.existing.some((e) => questionFingerprint(e.prompt, e.choices ?? []) === fingerprint || questionFingerprint(e.prompt) === questionFingerprint(item.prompt))) {
    problems.push({ reason: 'duplicate_item', detail: 'the same question as an existing item' });
  }
  if (problems.length) return reject(problems);
  return { ok: true, item, checks: [...CHECKS_PASSED] };
}

/** A rejection count per reason, all reasons present (zeros included), for reports and metrics. */
export function emptyRejectionCounts(): Record<RejectionReason, number> {
  return Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as Record<RejectionReason, number>;
}
