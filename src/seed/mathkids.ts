import type { CurriculumPack } from './pack.ts';
import type { ConceptSpec, LessonPlan, Level, Problem, Rng } from './generator.ts';
import { buildLesson, ensure, inSentence, introPlan, listText, num, practicePlan, toConcept, txt } from './generator.ts';
import {
  MINUS, addStory, alsoCheck, arith, at, columnAddText, columnSubText, compareStory, countBackText, countOf,
  countOnText, extremeOf, mathDifficulty as diff, near, range, subStory, symbolFor, symbolProblem,
} from './math-helpers.ts';
import {
  formatNumber, fractionAccepted, fractionText, fractionsIn, gcd, lcm, numberToWords, numberWordVariants,
  numbersIn, sameValue, simplify, tidy, wordsToNumber,
} from './numbers.ts';
import type { Fraction } from './numbers.ts';

/**
 * "Math Kids" demo curriculum: arithmetic from kindergarten to grade 5.
 * 57 concepts, each with an introduction and a practice lesson, plus one
 * review lesson per grade (120 lessons). Every practice item is generated
 * from a template with a fixed seed and checked before it is emitted.
 */

const SUBJECT = 'math';
const SEED_KEY = 'mathkids-v1';

type Spec = Omit<ConceptSpec, 'subject'>;
const spec = (s: Spec): ConceptSpec => ({ subject: SUBJECT, ...s });

// ---------------------------------------------------------------------------
// Shared math templates
// ---------------------------------------------------------------------------

const SHAPES = [
  { sym: '★', one: 'star', many: 'stars' },
  { sym: '●', one: 'dot', many: 'dots' },
  { sym: '♥', one: 'heart', many: 'hearts' },
] as const;

/** "What number comes right after/before n?" */
function afterBefore(rng: Rng, lo: number, hi: number, grade: number): Problem {
  const after = rng.int(0, 1) === 0;
  const n = rng.int(after ? lo : lo + 1, after ? hi - 1 : hi);
  const answer = after ? n + 1 : n - 1;
  const stem = `What number comes right ${after ? 'after' : 'before'} ${n}?`;
  return {
    stem,
    answer: num(answer),
    distractors: near(answer, hi > 20 ? [-2, 2, 10, -10, after ? 1 : -1] : [-2, 2, after ? 1 : -1]).concat(n),
    difficulty: diff(grade, n / hi, -0.2),
    explanation: after
      ? `Count up: ${n}, ${n + 1}. The number right after ${n} is ${n + 1}.`
      : `Count up: ${n - 1}, ${n}. The number that comes just before ${n} is ${n - 1}.`,
    check: () => {
      const m = at(numbersIn(stem), 0);
      return (stem.includes('after') ? m + 1 : m - 1) === answer;
    },
  };
}

/** "Fill in the missing number: s, s+1, __, s+3." */
function missingInRun(rng: Rng, lo: number, hi: number, grade: number): Problem {
  const s = rng.int(lo, hi - 3);
  const answer = s + 2;
  const stem = `Fill in the missing number: ${s}, ${s + 1}, __, ${s + 3}.`;
  return {
    stem,
    answer: num(answer),
    distractors: near(answer, [-1, 1, 2, 10, -10]),
    difficulty: diff(grade, s / hi),
    explanation: `Each number is 1 more than the one before: ${s}, ${s + 1}, ${answer}, ${s + 3}. The missing number is ${answer}.`,
    check: () => {
      const [x, y, z] = numbersIn(stem);
      return y !== undefined && z !== undefined && x !== undefined && y - x === 1 && y + 1 === answer && z - 1 === answer;
    },
  };
}

const STEP_WORDS: Record<number, string> = { 2: 'twos', 5: 'fives', 10: 'tens' };

/** "Count by fives: 15, 20, 25, __. What number comes next?" */
function skipCount(start: number, step: number, grade: number, size: number): Problem {
  const seq = [start, start + step, start + 2 * step];
  const answer = start + 3 * step;
  const stem = `Count by ${STEP_WORDS[step]}: ${seq.join(', ')}, __. What number comes next?`;
  return {
    stem,
    answer: num(answer),
    distractors: near(answer, [1, -1, step, 2 * step, 10]),
    difficulty: diff(grade, size),
    explanation: `Each number is ${step} more than the one before. ${at(seq, 2)} + ${step} = ${answer}, so ${answer} comes next.`,
    check: () => {
      const [x, y, z] = numbersIn(stem);
      if (x === undefined || y === undefined || z === undefined) return false;
      return y - x === z - y && z + (z - y) === answer;
    },
  };
}

/** a + b (or a − b) as plain arithmetic with a counting explanation. */
function smallAdd(a: number, b: number, grade: number, size: number): Problem {
  const s = a + b;
  return arith(`${a} + ${b}`, s, diff(grade, size), countOnText(a, b), near(s, [-1, 1, 2, -2]).concat(Math.abs(a - b)));
}
function smallSub(a: number, b: number, grade: number, size: number): Problem {
  const r = a - b;
  return arith(`${a} ${MINUS} ${b}`, r, diff(grade, size), countBackText(a, b), near(r, [-1, 1, 2, -2]).concat(a + b));
}

/** Digit of n in a place (0 = ones), read from its decimal string rather than arithmetic. */
function digitFromString(n: number, place: number): number {
  const s = String(n);
  return Number(s.charAt(s.length - 1 - place));
}

const PLACE_NAMES = ['ones', 'tens', 'hundreds', 'thousands'] as const;
const PLACE_ONE = ['one', 'ten', 'hundred', 'thousand'] as const;

/** "What digit is in the tens place of 347?" */
function digitInPlace(rng: Rng, n: number, places: number, grade: number): Problem {
  const place = rng.int(0, places - 1);
  const digit = Math.floor(n / 10 ** place) % 10;
  const name = at(PLACE_NAMES, place);
  const stem = `What digit is in the ${name} place of ${formatNumber(n)}?`;
  const digits = String(n).split('').map(Number);
  const breakdown = listText(digits.map((d, i) => countOf(d, at(PLACE_ONE, digits.length - 1 - i), at(PLACE_NAMES, digits.length - 1 - i))));
  return {
    stem,
    answer: num(digit),
    distractors: [...digits, ...near(digit, [1, -1, 2])],
    difficulty: diff(grade, place / places, -0.3),
    explanation: `${formatNumber(n)} has ${breakdown}. The digit in the ${name} place is ${digit}.`,
    check: () => {
      const p = PLACE_NAMES.indexOf(at(/the (\w+) place/.exec(stem) ?? [], 1) as (typeof PLACE_NAMES)[number]);
      return digitFromString(at(numbersIn(stem), 0), p) === digit;
    },
  };
}

/** "What is the value of the 8 in 382?" — only asked about a digit that appears once and is not 0. */
function digitValue(rng: Rng, n: number, grade: number): Problem | undefined {
  const s = String(n);
  const candidates = range(0, s.length - 1).filter((i) => s[i] !== '0' && s.indexOf(s.charAt(i)) === s.lastIndexOf(s.charAt(i)));
  if (candidates.length === 0) return undefined;
  const i = rng.pick(candidates);
  const d = Number(s.charAt(i));
  const place = s.length - 1 - i;
  const value = d * 10 ** place;
  const stem = `What is the value of the ${d} in ${formatNumber(n)}?`;
  return {
    stem,
    answer: num(value),
    distractors: [d, d * 10, d * 100, d * 1000, n].filter((x) => x !== value),
    difficulty: diff(grade, place / s.length, 0.1),
    explanation: `The ${d} is in the ${at(PLACE_NAMES, place)} place, so it stands for ${countOf(d, at(PLACE_ONE, place), at(PLACE_NAMES, place))}, which is ${formatNumber(value)}.`,
    check: () => {
      const [digit, whole] = numbersIn(stem);
      const str = String(whole);
      const idx = str.indexOf(String(digit));
      return idx >= 0 && Number(str.charAt(idx) + '0'.repeat(str.length - 1 - idx)) === value;
    },
  };
}

/** "What number is 4 hundreds, 2 tens and 7 ones?" */
function composeNumber(n: number, grade: number): Problem {
  const digits = String(n).split('').map(Number);
  const parts = digits.map((d, i) => countOf(d, at(PLACE_ONE, digits.length - 1 - i), at(PLACE_NAMES, digits.length - 1 - i)));
  const stem = `What number is ${listText(parts)}?`;
  const swapped = Number([...digits].reverse().join(''));
  return {
    stem,
    answer: num(n),
    distractors: [swapped, ...near(n, [10, -10, 1, 100, -1])],
    difficulty: diff(grade, 0.5),
    explanation: `${parts.map((p, i) => `${p} = ${formatNumber(at(digits, i) * 10 ** (digits.length - 1 - i))}`).join(', ')}. Put the digits in their places: ${formatNumber(n)}.`,
    check: () => {
      const counts = numbersIn(stem);
      return Number(counts.join('')) === n && counts.length === digits.length;
    },
  };
}

const FRACTION_WORDS: Record<number, readonly string[]> = {
  2: ['one half', 'a half', 'one-half'],
  3: ['one third', 'a third', 'one-third'],
  4: ['one fourth', 'a fourth', 'one-fourth', 'one quarter', 'a quarter'],
  5: ['one fifth', 'a fifth', 'one-fifth'],
  6: ['one sixth', 'a sixth', 'one-sixth'],
  8: ['one eighth', 'an eighth', 'one-eighth'],
  10: ['one tenth', 'a tenth', 'one-tenth'],
};

/** Fraction answer: canonical text plus every equivalent spelling in `fractionAccepted`. */
function fracAnswer(shown: Fraction, extra: readonly string[] = []) {
  return txt(fractionText(shown), [...fractionAccepted(shown), ...extra]);
}

/** Wrong fractions: keeps only candidates whose value differs from the answer, as text. */
function fracDistractors(answer: Fraction, candidates: readonly Fraction[]): string[] {
  return candidates.filter((f) => f.d > 0 && f.n >= 0 && !sameValue(f, answer)).map(fractionText);
}

/** Independent check for a fraction problem: parsed answer equals `expected` and no distractor does. */
function fractionCheck(p: Problem, expected: () => Fraction): Problem {
  return alsoCheck(p, () => {
    const want = expected();
    const got = p.answer.kind === 'text' ? fractionsIn(p.answer.text)[0] : undefined;
    const wrong = p.distractors.flatMap((d) => (typeof d === 'string' ? fractionsIn(d) : []));
    return got !== undefined && sameValue(got, want) && wrong.every((w) => !sameValue(w, want));
  });
}

/** "Which fraction is the greatest: …?" over four fractions with distinct values. */
function greatestFraction(fracs: readonly Fraction[], difficulty: number, explanation: (best: Fraction) => string): Problem {
  const best = fracs.reduce((m, f) => (f.n * m.d > m.n * f.d ? f : m));
  const stem = `Which fraction is the greatest: ${fracs.map(fractionText).join(', ')}?`;
  return {
    stem,
    answer: txt(fractionText(best), [`${best.n} / ${best.d}`]),
    distractors: fracs.filter((f) => f !== best).map(fractionText),
    difficulty,
    explanation: explanation(best),
    check: () => {
      const listed = fractionsIn(stem);
      const beaten = listed.filter((f) => !sameValue(f, best));
      return listed.length === 4 && beaten.length === 3 && beaten.every((f) => f.n * best.d < best.n * f.d);
    },
  };
}

const PIZZAS = ['pizza', 'pie', 'cake', 'sandwich', 'pancake'] as const;

/** Explanation for long division, digit by digit ("bring down"). */
function longDivisionText(n: number, d: number): string {
  const steps: string[] = [];
  let rem = 0;
  let started = false;
  for (const ch of String(n)) {
    const cur = rem * 10 + Number(ch);
    const q = Math.floor(cur / d);
    rem = cur - q * d;
    if (!started && q === 0) continue;
    const left = rem > 0 ? ` with ${rem} left over` : '';
    steps.push(started ? `Bring down the ${ch} to make ${cur}: ${cur} ÷ ${d} = ${q}${left}.` : `Start with ${cur}: ${cur} ÷ ${d} = ${q}${left}.`);
    started = true;
  }
  const quotient = Math.floor(n / d);
  return `${steps.join(' ')} So ${formatNumber(n)} ÷ ${d} = ${formatNumber(quotient)}. Check: ${formatNumber(quotient)} × ${d} = ${formatNumber(n)}.`;
}

/** "1/2 = 5/10 and 1/3 = …": renames only the fractions whose denominator changes. */
function renameText(a: Fraction, a2: Fraction, b: Fraction, b2: Fraction): string {
  const parts = [
    a.d === a2.d ? `${fractionText(a)} already has that denominator` : `${fractionText(a)} = ${fractionText(a2)}`,
    b.d === b2.d ? `${fractionText(b)} already has that denominator` : `${fractionText(b)} = ${fractionText(b2)}`,
  ];
  return `${parts.join(' and ')}.`;
}

/** "2.80" style with two decimals, for lining up decimal points in explanations. */
const two = (hundredths: number) => (hundredths / 100).toFixed(2);
/** Shortest decimal form of a number of hundredths ("2.8", "3.45"). */
const dec = (hundredths: number) => formatNumber(tidy(hundredths / 100));

// ---------------------------------------------------------------------------
// Kindergarten
// ---------------------------------------------------------------------------

const K: ConceptSpec[] = [
  spec({
    id: 'count-to-10',
    grade: 0,
    name: 'Counting to 10',
    description: 'Count objects up to 10 and say which number comes next.',
    prerequisites: [],
    teach: 'When we count, we say one number for each thing we touch: 1, 2, 3 … The last number we say tells us how many there are.',
    tip: 'Touch each object once as you count, and do not skip any.',
    make(rng, level) {
      if (rng.int(0, 1) === 0) {
        const n = level === 0 ? rng.int(1, 6) : rng.int(4, 10);
        const shape = rng.pick(SHAPES);
        const stem = `Count the ${shape.many}: ${Array<string>(n).fill(shape.sym).join(' ')}. How many ${shape.many} are there?`;
        return {
          stem,
          answer: num(n),
          distractors: near(n, [-1, 1, 2, -2, 3]),
          difficulty: diff(0, n / 10, -0.2),
          explanation: `Touch each ${shape.one} once as you count: ${range(1, n).join(', ')}. The last number you say is ${n}, so there ${n === 1 ? 'is 1' : `are ${n}`} ${n === 1 ? shape.one : shape.many}.`,
          check: () => [...stem].filter((c) => c === shape.sym).length === n,
        };
      }
      return afterBefore(rng, level === 0 ? 1 : 3, level === 0 ? 6 : 10, 0);
    },
  }),
  spec({
    id: 'count-to-20',
    grade: 0,
    name: 'Counting to 20',
    description: 'Count forward and backward between 10 and 20.',
    prerequisites: ['count-to-10'],
    teach: 'After 10 come eleven, twelve, thirteen … up to twenty. Each of these numbers is 10 and some more: 14 is 10 and 4 more.',
    tip: 'Numbers from 13 to 19 say their ones first: sixteen sounds like "six-teen", 10 and 6.',
    make(rng, level) {
      return rng.int(0, 1) === 0 ? afterBefore(rng, 10, level === 0 ? 15 : 20, 0) : missingInRun(rng, 10, level === 0 ? 16 : 20, 0);
    },
  }),
  spec({
    id: 'compare-numbers-10',
    grade: 0,
    name: 'Comparing numbers to 10',
    description: 'Find the greatest or smallest of a few numbers up to 10.',
    prerequisites: ['count-to-10'],
    teach: 'A number that comes later when we count is greater. 8 comes after 5, so 8 is greater than 5, and 5 is smaller than 8.',
    tip: 'Say the numbers in counting order; the last one is the greatest and the first one is the smallest.',
    make(rng, level) {
      const values = rng.sample(range(0, 10), 4);
      const want = level === 0 || rng.int(0, 1) === 0 ? 'greatest' : 'smallest';
      return extremeOf(values, want, diff(0, 0.5, want === 'smallest' ? 0.2 : 0));
    },
  }),
  spec({
    id: 'add-within-5',
    grade: 0,
    name: 'Adding within 5',
    description: 'Put two small groups together and find how many in all, up to 5.',
    prerequisites: ['count-to-10'],
    teach: 'Adding means putting groups together. If you have 2 apples and get 1 more, count them all: 1, 2, 3. So 2 + 1 = 3.',
    tip: 'Use your fingers: show the first number on one hand and the second on the other, then count them all.',
    make(rng) {
      const a = rng.int(1, 4);
      const b = rng.int(1, 5 - a);
      if (a >= 2 && b >= 2 && rng.int(0, 2) === 0) return addStory(rng, a, b, diff(0, (a + b) / 5, 0.2));
      return smallAdd(a, b, 0, (a + b) / 5);
    },
  }),
  spec({
    id: 'sub-within-5',
    grade: 0,
    name: 'Subtracting within 5',
    description: 'Take some away from a group of up to 5 and find how many are left.',
    prerequisites: ['add-within-5'],
    teach: 'Subtracting means taking away. If you have 5 grapes and eat 2, count back 2 from 5: 4, 3. So 5 − 2 = 3.',
    tip: 'Count back one number for each thing you take away.',
    make(rng) {
      const a = rng.int(2, 5);
      const b = rng.int(1, a);
      if (b >= 2 && a - b >= 1 && rng.int(0, 2) === 0) return subStory(rng, a, b, diff(0, a / 5, 0.3));
      return smallSub(a, b, 0, a / 5 + 0.1);
    },
  }),
  spec({
    id: 'add-within-10',
    grade: 0,
    name: 'Adding within 10',
    description: 'Add two numbers with a total of up to 10.',
    prerequisites: ['add-within-5'],
    teach: 'To add, start with the bigger number and count on. For 6 + 3, start at 6 and count 3 more: 7, 8, 9. So 6 + 3 = 9.',
    tip: 'Starting with the bigger number means less counting.',
    make(rng, level) {
      const total = level === 0 ? rng.int(4, 8) : rng.int(6, 10);
      const a = rng.int(1, total - 1);
      const b = total - a;
      if (a >= 2 && b >= 2 && rng.int(0, 2) === 0) return addStory(rng, a, b, diff(0, total / 10, 0.4));
      return smallAdd(a, b, 0, total / 10 + 0.2);
    },
  }),
  spec({
    id: 'sub-within-10',
    grade: 0,
    name: 'Subtracting within 10',
    description: 'Subtract from numbers up to 10.',
    prerequisites: ['sub-within-5', 'add-within-10'],
    teach: 'To subtract, count back, or think of an addition fact. For 9 − 3, count back 3 from 9: 8, 7, 6. So 9 − 3 = 6.',
    tip: 'Check a subtraction with addition: if 9 − 3 = 6, then 6 + 3 should be 9.',
    make(rng, level) {
      const a = level === 0 ? rng.int(4, 8) : rng.int(6, 10);
      const b = rng.int(1, a - 1);
      if (b >= 2 && a - b >= 1 && rng.int(0, 2) === 0) return subStory(rng, a, b, diff(0, a / 10, 0.5));
      return smallSub(a, b, 0, a / 10 + 0.3);
    },
  }),
  spec({
    id: 'make-ten',
    grade: 0,
    name: 'Making 10',
    description: 'Find the number that goes with another number to make 10.',
    prerequisites: ['add-within-10'],
    teach: 'Some pairs of numbers make 10: 1 and 9, 2 and 8, 3 and 7, 4 and 6, 5 and 5. Knowing them makes bigger sums easy.',
    tip: 'Show 10 fingers. Fold down the first number; the fingers still up are the number that makes 10.',
    make(rng) {
      const a = rng.int(1, 9);
      const b = 10 - a;
      const stem = rng.int(0, 1) === 0 ? `What number goes with ${a} to make 10?` : `${a} + __ = 10. What number goes in the blank?`;
      return {
        stem,
        answer: num(b),
        distractors: [...near(b, [-1, 1, 2]), a, 10],
        difficulty: diff(0, 0.6, 0.2),
        explanation: `Count on from ${a} to 10: ${range(a + 1, 10).join(', ')}. That is ${b} more, so ${a} + ${b} = 10.`,
        check: () => {
          const [x, total] = numbersIn(stem);
          return x !== undefined && total === 10 && total - x === b;
        },
      };
    },
  }),
];

// ---------------------------------------------------------------------------
// Grade 1
// ---------------------------------------------------------------------------

const G1: ConceptSpec[] = [
  spec({
    id: 'count-to-100',
    grade: 1,
    name: 'Counting to 100',
    description: 'Count on and back and fill in missing numbers up to 100.',
    prerequisites: ['count-to-20'],
    teach: 'Counting to 100 follows a pattern. After 29 comes 30, after 39 comes 40: when the ones reach 9, the next number starts a new ten.',
    tip: 'Use a hundred chart: moving right adds 1, moving down adds 10.',
    make(rng, level) {
      const hi = level === 0 ? 60 : 100;
      return rng.int(0, 1) === 0 ? afterBefore(rng, 20, hi, 1) : missingInRun(rng, 20, hi, 1);
    },
  }),
  spec({
    id: 'skip-count-10s',
    grade: 1,
    name: 'Counting by tens',
    description: 'Count by tens and find 10 more or 10 less than a number.',
    prerequisites: ['count-to-100'],
    teach: 'Counting by tens: 10, 20, 30, 40 … Adding 10 makes the tens digit one bigger and leaves the ones digit the same: 34 + 10 = 44.',
    tip: 'To find 10 more or 10 less, only the tens digit changes.',
    make(rng, level) {
      if (rng.int(0, 1) === 0) {
        const start = level === 0 ? 10 * rng.int(1, 6) : rng.int(1, 60);
        return skipCount(start, 10, 1, start / 60);
      }
      const n = rng.int(11, 89);
      const more = rng.int(0, 1) === 0;
      const answer = more ? n + 10 : n - 10;
      const t = Math.floor(n / 10);
      const stem = `What is 10 ${more ? 'more' : 'less'} than ${n}?`;
      return {
        stem,
        answer: num(answer),
        distractors: [...near(answer, [1, -1, 20, -20]), more ? n + 1 : n - 1, n],
        difficulty: diff(1, n / 90, more ? 0 : 0.2),
        explanation: `10 ${more ? 'more' : 'less'} means one ${more ? 'more' : 'less'} ten: the tens digit goes from ${t} to ${more ? t + 1 : t - 1} and the ones digit stays ${n % 10}. So the answer is ${answer}.`,
        check: () => {
          const [ten, x] = numbersIn(stem);
          return ten === 10 && x !== undefined && (stem.includes('more') ? x + ten : x - ten) === answer;
        },
      };
    },
  }),
  spec({
    id: 'add-within-20',
    grade: 1,
    name: 'Adding within 20',
    description: 'Add two one-digit numbers with a total between 11 and 18 by making a ten.',
    prerequisites: ['add-within-10', 'make-ten'],
    teach: 'To add 8 + 5, make a ten first: 8 needs 2 more to make 10, and 5 is 2 and 3. So 8 + 5 = 10 + 3 = 13.',
    tip: 'Start with the bigger number and ask: how many more to make 10?',
    make(rng, level) {
      const a = rng.int(2, 9);
      const b = rng.int(Math.max(2, 11 - a), level === 0 ? Math.min(9, 14 - a) : 9);
      const sum = a + b;
      if (rng.int(0, 3) === 0) return addStory(rng, a, b, diff(1, sum / 18, 0.3));
      const big = Math.max(a, b);
      const small = Math.min(a, b);
      const need = 10 - big;
      const rest = small - need;
      const explanation = `Make a ten. ${big} + ${need} = 10, and ${small} is ${need} and ${rest}. Then 10 + ${rest} = ${sum}. So ${a} + ${b} = ${sum}.`;
      return arith(`${a} + ${b}`, sum, diff(1, sum / 18), explanation, [...near(sum, [-1, 1, 2, -10]), 10 + small]);
    },
  }),
  spec({
    id: 'sub-within-20',
    grade: 1,
    name: 'Subtracting within 20',
    description: 'Subtract a one-digit number from a teen number by going through 10.',
    prerequisites: ['sub-within-10', 'add-within-20'],
    teach: 'To find 13 − 5, go down to 10 first: 13 − 3 = 10. You still need to take away 2 more: 10 − 2 = 8. So 13 − 5 = 8.',
    tip: 'Check with adding: 8 + 5 should make 13.',
    make(rng, level) {
      const a = rng.int(11, level === 0 ? 14 : 18);
      const b = rng.int(a - 9, 9);
      const r = a - b;
      if (rng.int(0, 3) === 0) return subStory(rng, a, b, diff(1, a / 18, 0.4));
      const first = a - 10;
      const second = b - first;
      const explanation =
        second > 0
          ? `Take away in two steps. First take away ${first} to reach 10: ${a} ${MINUS} ${first} = 10. Then take away the other ${second}: 10 ${MINUS} ${second} = ${r}. So ${a} ${MINUS} ${b} = ${r}.`
          : `Take away ${b} from the ones: ${a} ${MINUS} ${b} = ${r}.`;
      return arith(`${a} ${MINUS} ${b}`, r, diff(1, a / 18, 0.2), explanation, [...near(r, [-1, 1, 2, 10]), a + b]);
    },
  }),
  spec({
    id: 'place-value-tens',
    grade: 1,
    name: 'Tens and ones',
    description: 'Understand two-digit numbers as tens and ones.',
    prerequisites: ['count-to-100'],
    teach: 'A two-digit number is made of tens and ones. In 47, the 4 means 4 tens (40) and the 7 means 7 ones. 47 = 40 + 7.',
    tip: 'The digit on the left is the tens; the digit on the right is the ones.',
    make(rng, level) {
      const n = rng.int(level === 0 ? 11 : 20, 99);
      if (n % 10 !== 0 && rng.int(0, 2) === 0) return composeNumber(n, 1);
      return digitInPlace(rng, n, 2, 1);
    },
  }),
  spec({
    id: 'compare-2digit',
    grade: 1,
    name: 'Comparing two-digit numbers',
    description: 'Compare two-digit numbers using <, > and =.',
    prerequisites: ['place-value-tens', 'compare-numbers-10'],
    teach: 'To compare two-digit numbers, look at the tens first. 52 > 38 because 5 tens is more than 3 tens. If the tens are the same, compare the ones: 46 < 49.',
    tip: 'The open mouth of < or > always faces the bigger number.',
    make(rng, level) {
      if (rng.int(0, 2) === 0) {
        return extremeOf(rng.sample(range(10, 99), 4), rng.int(0, 1) === 0 ? 'greatest' : 'smallest', diff(1, 0.5));
      }
      const a = rng.int(10, 99);
      const roll = rng.int(0, 5);
      const b = roll === 0 ? a : roll <= 2 && level === 1 ? 10 * Math.floor(a / 10) + rng.int(0, 9) : rng.int(10, 99);
      const sym = symbolFor(a - b);
      const [ta, tb] = [Math.floor(a / 10), Math.floor(b / 10)];
      const explanation =
        a === b
          ? `Both numbers are ${a}, so they are equal: ${a} = ${b}.`
          : ta !== tb
            ? `Compare the tens first: ${a} has ${countOf(ta, 'ten', 'tens')} and ${b} has ${countOf(tb, 'ten', 'tens')}. ${ta} ${sym} ${tb}, so ${a} ${sym} ${b}.`
            : `The tens are the same, so compare the ones: ${a % 10} ${sym} ${b % 10}. So ${a} ${sym} ${b}.`;
      const same = ta === tb;
      return symbolProblem(String(a), String(b), sym, diff(1, 0.5, same ? 0.3 : 0), explanation, (stem) => {
        const [x, y] = numbersIn(stem);
        return x !== undefined && y !== undefined && ['<', '=', '>'][Math.sign(x - y) + 1] === sym;
      });
    },
  }),
  spec({
    id: 'add-tens',
    grade: 1,
    name: 'Adding tens',
    description: 'Add multiples of 10, and add a multiple of 10 to a two-digit number.',
    prerequisites: ['place-value-tens', 'skip-count-10s'],
    teach: 'Adding tens is like adding ones: 3 tens + 4 tens = 7 tens, so 30 + 40 = 70. For 23 + 40, add the tens and keep the ones: 63.',
    tip: 'When you add tens, the ones digit does not change.',
    make(rng, level) {
      if (level === 0 || rng.int(0, 2) === 0) {
        const ta = rng.int(1, 8);
        const tb = rng.int(1, 9 - ta);
        const sum = 10 * (ta + tb);
        const explanation = `${countOf(ta, 'ten', 'tens')} + ${countOf(tb, 'ten', 'tens')} = ${ta + tb} tens, and ${ta + tb} tens is ${sum}.`;
        return arith(`${10 * ta} + ${10 * tb}`, sum, diff(1, sum / 90, -0.3), explanation, [...near(sum, [10, -10, 1]), ta + tb]);
      }
      const a = rng.int(11, 79);
      const tb = rng.int(1, Math.floor((99 - a) / 10));
      const b = 10 * tb;
      const sum = a + b;
      const explanation = `Add the tens: ${countOf(Math.floor(a / 10), 'ten', 'tens')} + ${countOf(tb, 'ten', 'tens')} = ${Math.floor(sum / 10)} tens. The ${a % 10} ones stay the same. So ${a} + ${b} = ${sum}.`;
      return arith(`${a} + ${b}`, sum, diff(1, sum / 99), explanation, [...near(sum, [10, -10, 1, -1]), a + tb]);
    },
  }),
  spec({
    id: 'missing-addend',
    grade: 1,
    name: 'Finding the missing number',
    description: 'Find the unknown number in an addition sentence such as 7 + __ = 12.',
    prerequisites: ['add-within-20', 'sub-within-20'],
    teach: 'In 7 + __ = 12, ask: what do I add to 7 to make 12? Count on from 7 to 12, or subtract: 12 − 7 = 5.',
    tip: 'Check by putting your answer in the blank and adding.',
    make(rng, level) {
      const a = rng.int(2, 9);
      const b = rng.int(2, level === 0 ? 6 : 11);
      const s = a + b;
      const stem = rng.int(0, 1) === 0 ? `${a} + __ = ${s}. What number goes in the blank?` : `__ + ${a} = ${s}. What number goes in the blank?`;
      return {
        stem,
        answer: num(b),
        distractors: [...near(b, [-1, 1, 2]), s, a + s],
        difficulty: diff(1, s / 20, 0.3),
        explanation: `Think: what do you add to ${a} to make ${s}? ${s} ${MINUS} ${a} = ${b}. Check: ${a} + ${b} = ${s}.`,
        check: () => {
          const [x, total] = numbersIn(stem);
          return x !== undefined && total !== undefined && x + b === total;
        },
      };
    },
  }),
  spec({
    id: 'word-problems-20',
    grade: 1,
    name: 'Word problems within 20',
    description: 'Solve adding, taking-away and comparing stories with numbers up to 20.',
    prerequisites: ['add-within-20', 'sub-within-20'],
    teach: 'In a story problem, first decide what is happening. Are groups put together (add)? Is something taken away (subtract)? Are two amounts compared (subtract)?',
    tip: 'Words like "more … than" in a question often mean you compare by subtracting.',
    make(rng, level) {
      const hi = level === 0 ? 12 : 20;
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const a = rng.int(2, hi - 2);
        const b = rng.int(2, hi - a);
        return addStory(rng, a, b, diff(1, (a + b) / 20, 0.4));
      }
      const a = rng.int(5, hi);
      const b = rng.int(2, a - 1);
      return kind === 1 ? subStory(rng, a, b, diff(1, a / 20, 0.5)) : compareStory(rng, a, b, diff(1, a / 20, 0.8));
    },
  }),
];

// ---------------------------------------------------------------------------
// Grade 2
// ---------------------------------------------------------------------------

const COINS = [
  { one: 'quarter', many: 'quarters', cents: 25 },
  { one: 'dime', many: 'dimes', cents: 10 },
  { one: 'nickel', many: 'nickels', cents: 5 },
  { one: 'penny', many: 'pennies', cents: 1 },
] as const;
/** Separate coin table for the independent check. */
const COIN_CENTS: Record<string, number> = { quarter: 25, quarters: 25, dime: 10, dimes: 10, nickel: 5, nickels: 5, penny: 1, pennies: 1 };

const GROUPS = [
  { holder: 'plates', thing: 'cookies' },
  { holder: 'boxes', thing: 'crayons' },
  { holder: 'bags', thing: 'apples' },
  { holder: 'vases', thing: 'flowers' },
  { holder: 'nests', thing: 'eggs' },
  { holder: 'tables', thing: 'chairs' },
] as const;

const G2: ConceptSpec[] = [
  spec({
    id: 'skip-count-2-5',
    grade: 2,
    name: 'Counting by twos and fives',
    description: 'Continue counting patterns that go up by 2 or by 5.',
    prerequisites: ['count-to-100'],
    teach: 'Counting by twos: 2, 4, 6, 8, 10 … Counting by fives: 5, 10, 15, 20 … Each number is the same amount more than the one before.',
    tip: 'Counting by fives from a multiple of 5, the ones digit takes turns: 5, 0, 5, 0.',
    make(rng, level) {
      const step = rng.int(0, 1) === 0 ? 2 : 5;
      const start = level === 0 ? step * rng.int(1, step === 2 ? 20 : 12) : rng.int(1, 60);
      return skipCount(start, step, 2, start / 60 + (step === 2 ? 0 : 0.1));
    },
  }),
  spec({
    id: 'even-odd',
    grade: 2,
    name: 'Even and odd numbers',
    description: 'Tell whether a number is even or odd.',
    prerequisites: ['skip-count-2-5'],
    teach: 'An even number can be split into two equal groups or into pairs with none left over: 2, 4, 6, 8, 10 … An odd number always has one left over: 1, 3, 5, 7, 9 …',
    tip: 'Only the ones digit matters: a number is even if it ends in 0, 2, 4, 6 or 8.',
    make(rng, level) {
      const hi = level === 0 ? 40 : 999;
      if (rng.int(0, 1) === 0) {
        const n = rng.int(1, hi);
        const parity = n % 2 === 0 ? 'even' : 'odd';
        const stem = `Is ${n} even or odd?`;
        return {
          stem,
          answer: txt(parity),
          distractors: [parity === 'even' ? 'odd' : 'even'],
          difficulty: diff(2, n / 999, -0.5),
          formats: ['short_text'],
          explanation: `Look at the ones digit: ${n % 10}. ${n % 10} is ${parity}, so ${n} is ${parity}.`,
          check: () => '02468'.includes(String(at(numbersIn(stem), 0)).slice(-1)) === (parity === 'even'),
        };
      }
      const want = rng.int(0, 1) === 0 ? 'even' : 'odd';
      const pool = range(1, hi);
      const answer = rng.pick(pool.filter((x) => (x % 2 === 0) === (want === 'even')));
      const others = rng.sample(pool.filter((x) => (x % 2 === 0) !== (want === 'even')), 3);
      const values = rng.shuffle([answer, ...others]);
      const stem = `Which of these numbers is ${want}: ${values.join(', ')}?`;
      return {
        stem,
        answer: num(answer),
        distractors: others,
        difficulty: diff(2, 0.4, -0.2),
        explanation: `Look at each ones digit. Only ${answer} ends in ${answer % 10}, which is ${want}, so ${answer} is the ${want} number.`,
        check: () => {
          const listed = numbersIn(stem.slice(stem.indexOf(':')));
          const matching = listed.filter((x) => '02468'.includes(String(x).slice(-1)) === (want === 'even'));
          return listed.length === 4 && matching.length === 1 && matching[0] === answer;
        },
      };
    },
  }),
  spec({
    id: 'place-value-hundreds',
    grade: 2,
    name: 'Hundreds, tens and ones',
    description: 'Read three-digit numbers as hundreds, tens and ones.',
    prerequisites: ['place-value-tens'],
    teach: 'In 382 the 3 is in the hundreds place (300), the 8 is in the tens place (80) and the 2 is in the ones place (2). So 382 = 300 + 80 + 2.',
    tip: 'A 0 holds a place: in 407 there are no tens, but the 0 keeps the 4 in the hundreds place.',
    make(rng, level) {
      const n = rng.int(level === 0 ? 100 : 101, level === 0 ? 499 : 999);
      const kind = rng.int(0, 3);
      if (kind === 1) {
        const p = digitValue(rng, n, 2);
        if (p) return p;
      }
      if (kind === 2) return composeNumber(n, 2);
      if (kind === 3 && n % 10 !== 0 && Math.floor(n / 10) % 10 !== 0) {
        const [h, t, o] = [Math.floor(n / 100), Math.floor(n / 10) % 10, n % 10];
        const explanation = `${h * 100} is ${countOf(h, 'hundred', 'hundreds')}, ${t * 10} is ${countOf(t, 'ten', 'tens')} and ${o} is ${countOf(o, 'one', 'ones')}. Together that is ${n}.`;
        return arith(`${h * 100} + ${t * 10} + ${o}`, n, diff(2, 0.3, -0.3), explanation, [h * 100 + o * 10 + t, h + t + o, ...near(n, [10, -10, 100])]);
      }
      return digitInPlace(rng, n, 3, 2);
    },
  }),
  spec({
    id: 'number-words',
    grade: 2,
    name: 'Writing numbers in words',
    description: 'Read and write numbers up to 999 in words.',
    prerequisites: ['place-value-hundreds'],
    teach: 'Numbers from 21 to 99 that are not whole tens use a hyphen: forty-five, sixty-two. For hundreds, say the hundreds first: 306 is "three hundred six".',
    tip: 'Watch the spelling of forty: there is no "u" in it.',
    make(rng, level) {
      const n = level === 0 ? rng.int(13, 99) : rng.int(101, 999);
      const words = numberToWords(n);
      const swapped = Number(String(n).split('').reverse().join(''));
      const explanation =
        n < 100
          ? `${n} is ${countOf(Math.floor(n / 10), 'ten', 'tens')}${n % 10 ? ` and ${countOf(n % 10, 'one', 'ones')}` : ''}, so we write "${words}".`
          : `${n} is ${countOf(Math.floor(n / 100), 'hundred', 'hundreds')}${n % 100 ? ` and ${n % 100} more` : ''}, so we write "${words}".`;
      if (rng.int(0, 1) === 0) {
        const stem = `Write ${n} in words.`;
        const accepted = numberWordVariants(n);
        const wrong = [n + 1, n + 10, swapped, n - 1].filter((x) => x !== n && x > 0).map(numberToWords);
        return {
          stem,
          answer: txt(words, accepted),
          distractors: wrong,
          difficulty: diff(2, n / 999, 0.3),
          explanation,
          check: () => accepted.every((w) => wordsToNumber(w) === at(numbersIn(stem), 0)) && wrong.every((w) => wordsToNumber(w) !== n),
        };
      }
      const stem = `Write the number "${words}" using digits.`;
      return {
        stem,
        answer: num(n),
        distractors: [swapped, ...near(n, [10, -10, 1, -1, 100])],
        difficulty: diff(2, n / 999, 0),
        explanation,
        check: () => wordsToNumber(at(/"(.+)"/.exec(stem) ?? [], 1)) === n,
      };
    },
  }),
  spec({
    id: 'add-2digit',
    grade: 2,
    name: 'Adding two-digit numbers',
    description: 'Add two-digit numbers without regrouping by adding ones and tens.',
    prerequisites: ['add-tens', 'add-within-20'],
    teach: 'To add 23 + 45, add the ones (3 + 5 = 8) and then the tens (2 tens + 4 tens = 6 tens). So 23 + 45 = 68.',
    tip: 'Line the numbers up so ones are under ones and tens are under tens.',
    make(rng, level) {
      const ta = rng.int(1, level === 0 ? 4 : 8);
      const tb = rng.int(1, Math.min(level === 0 ? 4 : 9, 9 - ta));
      const oa = rng.int(0, 9);
      const ob = rng.int(0, 9 - oa);
      const a = 10 * ta + oa;
      const b = 10 * tb + ob;
      const sum = a + b;
      const explanation = `Add the ones: ${oa} + ${ob} = ${oa + ob}. Add the tens: ${countOf(ta, 'ten', 'tens')} + ${countOf(tb, 'ten', 'tens')} = ${countOf(ta + tb, 'ten', 'tens')}. So ${a} + ${b} = ${sum}.`;
      const p = arith(`${a} + ${b}`, sum, diff(2, sum / 99, -0.4), explanation, near(sum, [10, -10, 1, -1, 11]));
      return alsoCheck(p, () => (a % 10) + (b % 10) < 10);
    },
  }),
  spec({
    id: 'add-2digit-regroup',
    grade: 2,
    name: 'Adding two-digit numbers with regrouping',
    description: 'Add two-digit numbers when the ones add up to 10 or more.',
    prerequisites: ['add-2digit'],
    teach: 'For 27 + 35, add the ones: 7 + 5 = 12. Twelve ones is 1 ten and 2 ones, so write 2 and carry the 1 ten. Then add the tens: 2 + 3 + 1 = 6. So 27 + 35 = 62.',
    tip: 'Do not forget the ten you carried when you add the tens.',
    make(rng, level) {
      const oa = rng.int(2, 9);
      const ob = rng.int(10 - oa, 9);
      const ta = rng.int(1, level === 0 ? 4 : 8);
      const tb = rng.int(1, level === 0 ? Math.min(4, 8 - ta) : 9);
      const a = 10 * ta + oa;
      const b = 10 * tb + ob;
      const sum = a + b;
      const os = oa + ob;
      const explanation = `Add the ones: ${oa} + ${ob} = ${os}. That is 1 ten and ${countOf(os - 10, 'one', 'ones')}, so write ${os - 10} and carry 1 ten. Add the tens: ${ta} + ${tb} + 1 = ${ta + tb + 1}. So ${a} + ${b} = ${sum}.`;
      const p = arith(`${a} + ${b}`, sum, diff(2, sum / 150, 0.2), explanation, near(sum, [-10, 10, 1, -1, -9]));
      return alsoCheck(p, () => (a % 10) + (b % 10) >= 10);
    },
  }),
  spec({
    id: 'sub-2digit',
    grade: 2,
    name: 'Subtracting two-digit numbers',
    description: 'Subtract two-digit numbers without regrouping.',
    prerequisites: ['sub-within-20', 'place-value-tens'],
    teach: 'To find 68 − 25, subtract the ones (8 − 5 = 3) and then the tens (6 tens − 2 tens = 4 tens). So 68 − 25 = 43.',
    tip: 'Always take the bottom number away from the top number, ones first.',
    make(rng, level) {
      const ta = rng.int(2, level === 0 ? 6 : 9);
      const tb = rng.int(1, ta);
      const oa = rng.int(1, 9);
      const ob = rng.int(0, oa);
      const a = 10 * ta + oa;
      const b = 10 * tb + ob;
      const r = a - b;
      const explanation = `Subtract the ones: ${oa} ${MINUS} ${ob} = ${oa - ob}. Subtract the tens: ${countOf(ta, 'ten', 'tens')} ${MINUS} ${countOf(tb, 'ten', 'tens')} = ${countOf(ta - tb, 'ten', 'tens')}. So ${a} ${MINUS} ${b} = ${r}.`;
      const p = arith(`${a} ${MINUS} ${b}`, r, diff(2, a / 99, -0.3), explanation, [...near(r, [10, -10, 1, -1]), a + b]);
      return alsoCheck(p, () => a % 10 >= b % 10);
    },
  }),
  spec({
    id: 'sub-2digit-regroup',
    grade: 2,
    name: 'Subtracting two-digit numbers with regrouping',
    description: 'Subtract two-digit numbers when you need to trade a ten for ten ones.',
    prerequisites: ['sub-2digit'],
    teach: 'For 52 − 28 you cannot take 8 ones from 2 ones. Trade 1 ten for 10 ones: 52 becomes 4 tens and 12 ones. Then 12 − 8 = 4 and 4 tens − 2 tens = 2 tens. So 52 − 28 = 24.',
    tip: 'A common mistake is to take the smaller ones digit from the bigger one. Trade a ten instead!',
    make(rng, level) {
      const ta = rng.int(level === 0 ? 3 : 4, level === 0 ? 6 : 9);
      const tb = rng.int(1, ta - 1);
      const oa = rng.int(0, 8);
      const ob = rng.int(oa + 1, 9);
      const a = 10 * ta + oa;
      const b = 10 * tb + ob;
      const r = a - b;
      const mistake = 10 * (ta - tb) + (ob - oa);
      const explanation = `You cannot take ${ob} ones from ${oa} ones, so trade 1 ten for 10 ones: ${a} becomes ${countOf(ta - 1, 'ten', 'tens')} and ${oa + 10} ones. Ones: ${oa + 10} ${MINUS} ${ob} = ${oa + 10 - ob}. Tens: ${ta - 1} ${MINUS} ${tb} = ${ta - 1 - tb}. So ${a} ${MINUS} ${b} = ${r}.`;
      const p = arith(`${a} ${MINUS} ${b}`, r, diff(2, a / 99, 0.4), explanation, [mistake, ...near(r, [10, -10, 1, -1])]);
      return alsoCheck(p, () => a % 10 < b % 10);
    },
  }),
  spec({
    id: 'money-coins',
    grade: 2,
    name: 'Counting coins',
    description: 'Find the value of a group of quarters, dimes, nickels and pennies.',
    prerequisites: ['skip-count-2-5', 'add-2digit'],
    teach: 'A penny is 1 cent, a nickel is 5 cents, a dime is 10 cents and a quarter is 25 cents. Count the coins worth the most first, then count on.',
    tip: 'Count dimes by tens and nickels by fives.',
    make(rng, level) {
      for (;;) {
        const counts = [level === 0 ? 0 : rng.int(0, 3), rng.int(0, 4), rng.int(0, 3), rng.int(0, 9)];
        const used = COINS.map((c, i) => ({ coin: c, n: at(counts, i) })).filter((x) => x.n > 0);
        const total = used.reduce((s, x) => s + x.n * x.coin.cents, 0);
        if (used.length < 2 || total > 99) continue;
        const parts = used.map((x) => countOf(x.n, x.coin.one, x.coin.many));
        const stem = `You have ${listText(parts)}. How many cents do you have in all?`;
        const values = used.map((x) => x.n * x.coin.cents);
        const coins = used.reduce((s, x) => s + x.n, 0);
        return {
          stem,
          answer: num(total),
          distractors: [coins, ...near(total, [1, -1, 5, -5, 10])],
          difficulty: diff(2, total / 99, used.length > 2 ? 0.3 : 0),
          explanation: `${used.map((x, i) => `${parts[i]} ${x.n === 1 ? 'is' : 'are'} ${at(values, i)} ${at(values, i) === 1 ? 'cent' : 'cents'}`).join(', ')}. Add them: ${values.join(' + ')} = ${total} cents.`,
          check: () => [...stem.matchAll(/(\d+) (quarters?|dimes?|nickels?|penny|pennies)/g)].reduce((s, m) => s + Number(m[1]) * (COIN_CENTS[m[2] ?? ''] ?? NaN), 0) === total,
        };
      }
    },
  }),
  spec({
    id: 'repeated-addition',
    grade: 2,
    name: 'Equal groups',
    description: 'Find the total of equal groups by repeated addition.',
    prerequisites: ['skip-count-2-5', 'add-within-20'],
    teach: '3 plates with 4 cookies on each plate is 3 equal groups of 4. Add 4 three times: 4 + 4 + 4 = 12, or skip count: 4, 8, 12.',
    tip: 'Equal groups means every group has the same number.',
    make(rng, level) {
      const g = rng.int(2, level === 0 ? 4 : 5);
      const k = rng.int(2, level === 0 ? 5 : 10);
      const total = g * k;
      const sums = range(1, g).map((i) => i * k);
      const explanation = `There are ${g} groups of ${k}. Skip count by ${k}: ${sums.join(', ')}. So the total is ${total}.`;
      if (rng.int(0, 1) === 0) {
        return arith(Array<string>(g).fill(String(k)).join(' + '), total, diff(2, total / 50, -0.3), explanation, [...near(total, [k, -k, 1]), g + k]);
      }
      const grp = rng.pick(GROUPS);
      const stem = `There are ${g} ${grp.holder} with ${k} ${grp.thing} in each. How many ${grp.thing} are there in all?`;
      return {
        stem,
        answer: num(total),
        distractors: [...near(total, [k, -k, 1]), g + k],
        difficulty: diff(2, total / 50, 0.2),
        explanation,
        check: () => numbersIn(stem).reduce((p, x) => p * x, 1) === total,
      };
    },
  }),
  spec({
    id: 'add-3digit',
    grade: 2,
    name: 'Adding three-digit numbers',
    description: 'Add three-digit numbers in columns, carrying when needed.',
    prerequisites: ['add-2digit-regroup', 'place-value-hundreds'],
    teach: 'Add three-digit numbers one column at a time, starting with the ones. If a column adds up to 10 or more, carry 1 to the next column.',
    tip: 'Estimate first: 346 + 278 is about 350 + 280 = 630, so an answer like 524 must be wrong.',
    make(rng, level) {
      const a = rng.int(100, level === 0 ? 499 : 799);
      const b = rng.int(100, Math.min(level === 0 ? 499 : 899, 999 - a));
      const sum = a + b;
      return arith(`${a} + ${b}`, sum, diff(2, sum / 999, 0.6), columnAddText(a, b), near(sum, [100, -100, 10, -10, 1]));
    },
  }),
];

// ---------------------------------------------------------------------------
// Grade 3
// ---------------------------------------------------------------------------

const G3: ConceptSpec[] = [
  spec({
    id: 'mult-facts-2-5-10',
    grade: 3,
    name: 'Multiplying by 2, 5 and 10',
    description: 'Learn the 2, 5 and 10 times tables by skip counting.',
    prerequisites: ['repeated-addition'],
    teach: '5 × 7 means 7 groups of 5 (or 5 groups of 7). Skip count by 5 seven times: 5, 10, 15, 20, 25, 30, 35. So 5 × 7 = 35.',
    tip: 'Times 10 puts a zero on the end: 10 × 6 = 60. Times 2 is a double: 2 × 8 = 8 + 8.',
    make(rng, level) {
      const f = rng.pick([2, 5, 10]);
      const m = rng.int(level === 0 ? 1 : 3, level === 0 ? 6 : 10);
      const [a, b] = rng.int(0, 1) === 0 ? [f, m] : [m, f];
      const p = f * m;
      const skips = range(1, m).map((i) => i * f).join(', ');
      return arith(`${a} × ${b}`, p, diff(3, p / 100, -0.5), `${a} × ${b} is ${m} groups of ${f}. Skip count by ${f}: ${skips}. So ${a} × ${b} = ${p}.`, [...near(p, [f, -f, 1]), f + m]);
    },
  }),
  spec({
    id: 'mult-facts-all',
    grade: 3,
    name: 'Times tables to 10 × 10',
    description: 'Know all multiplication facts with factors up to 10.',
    prerequisites: ['mult-facts-2-5-10'],
    teach: 'Break a hard fact into easier ones. 7 × 8 is 5 × 8 plus 2 × 8: 40 + 16 = 56.',
    tip: 'Turn it around: 3 × 9 is the same as 9 × 3.',
    make(rng, level) {
      const a = rng.int(level === 0 ? 2 : 3, level === 0 ? 6 : 10);
      const b = rng.int(level === 0 ? 2 : 3, level === 0 ? 6 : 10);
      const p = a * b;
      const big = Math.max(a, b);
      const small = Math.min(a, b);
      const explanation =
        big > 5 && big < 10
          ? `Break ${big} into 5 and ${big - 5}: 5 × ${small} = ${5 * small} and ${big - 5} × ${small} = ${(big - 5) * small}. Then ${5 * small} + ${(big - 5) * small} = ${p}. So ${a} × ${b} = ${p}.`
          : `Skip count by ${big}, ${small} times: ${range(1, small).map((i) => i * big).join(', ')}. So ${a} × ${b} = ${p}.`;
      return arith(`${a} × ${b}`, p, diff(3, p / 100, 0), explanation, [...near(p, [a, -a, b, -b, 1]), a + b]);
    },
  }),
  spec({
    id: 'div-facts',
    grade: 3,
    name: 'Division facts',
    description: 'Divide using related multiplication facts, including sharing equally.',
    prerequisites: ['mult-facts-2-5-10'],
    teach: 'Division shares a number into equal groups. To find 35 ÷ 5, think: 5 times what makes 35? 5 × 7 = 35, so 35 ÷ 5 = 7.',
    tip: 'Every division fact has a multiplication partner.',
    make(rng, level) {
      const d = level === 0 ? rng.pick([2, 5, 10]) : rng.int(2, 10);
      const q = rng.int(2, level === 0 ? 6 : 10);
      const n = d * q;
      const explanation = `Think of a times fact: ${d} × ${q} = ${n}. So ${n} ÷ ${d} = ${q}.`;
      if (rng.int(0, 2) === 0) {
        const thing = rng.pick(['stickers', 'grapes', 'marbles', 'cards', 'beads']);
        const stem = `${n} ${thing} are shared equally among ${d} friends. How many ${thing} does each friend get?`;
        return {
          stem,
          answer: num(q),
          distractors: [...near(q, [1, -1, 2]), n - d, d === q ? d + 2 : d],
          difficulty: diff(3, n / 100, 0.3),
          explanation: `Share ${n} into ${d} equal groups. ${explanation}`,
          check: () => {
            const [x, y] = numbersIn(stem);
            return x !== undefined && y !== undefined && y * q === x;
          },
        };
      }
      return arith(`${n} ÷ ${d}`, q, diff(3, n / 100, 0.1), explanation, [...near(q, [1, -1, 2]), n - d, d === q ? d + 2 : d]);
    },
  }),
  spec({
    id: 'mult-by-tens',
    grade: 3,
    name: 'Multiplying by multiples of 10',
    description: 'Multiply a one-digit number by 20, 30, … 90 using place value.',
    prerequisites: ['mult-facts-all', 'place-value-hundreds'],
    teach: '4 × 30 is 4 groups of 3 tens, which is 12 tens. 12 tens is 120. So 4 × 30 = 120.',
    tip: 'Multiply the non-zero digits, then write one zero for the ten.',
    make(rng, level) {
      const a = rng.int(2, 9);
      const t = rng.int(level === 0 ? 1 : 2, 9);
      const b = 10 * t;
      const p = a * b;
      const explanation = `${a} × ${t} = ${a * t}, so ${a} × ${t} tens = ${a * t} tens, which is ${p}.`;
      const [x, y] = rng.int(0, 1) === 0 ? [a, b] : [b, a];
      return arith(`${x} × ${y}`, p, diff(3, p / 810, 0.3), explanation, [a * t, p * 10, ...near(p, [10, -10, b, -b])]);
    },
  }),
  spec({
    id: 'rounding',
    grade: 3,
    name: 'Rounding to tens and hundreds',
    description: 'Round whole numbers to the nearest 10 or 100.',
    prerequisites: ['place-value-hundreds'],
    teach: 'To round 347 to the nearest ten, find the tens it is between: 340 and 350. Look at the ones digit: 7 is 5 or more, so round up to 350.',
    tip: 'A digit of 5 or more rounds up; 4 or less rounds down.',
    make(rng, level) {
      const toHundred = level === 1 && rng.int(0, 1) === 0;
      const unit = toHundred ? 100 : 10;
      let n = rng.int(level === 0 ? 11 : 101, level === 0 ? 99 : 999);
      if (n % unit === 0) n += 3;
      const answer = Math.round(n / unit) * unit;
      const low = n - (n % unit);
      const look = toHundred ? Math.floor(n / 10) % 10 : n % 10;
      const up = look >= 5;
      const stem = `Round ${n} to the nearest ${toHundred ? 'hundred' : 'ten'}.`;
      return {
        stem,
        answer: num(answer),
        distractors: [up ? low : low + unit, n, ...near(answer, [unit * 2, -unit * 2, 1])].filter((x) => x !== answer),
        difficulty: diff(3, n / 999, toHundred ? 0.2 : -0.3),
        explanation: `${n} is between ${low} and ${low + unit}. Look at the ${toHundred ? 'tens' : 'ones'} digit: ${look}. It is ${up ? '5 or more, so round up' : 'less than 5, so round down'} to ${answer}.`,
        check: () => {
          const x = at(numbersIn(stem), 0);
          const u = stem.endsWith('hundred.') ? 100 : 10;
          const r = x % u;
          return (r * 2 >= u ? x - r + u : x - r) === answer;
        },
      };
    },
  }),
  spec({
    id: 'sub-3digit',
    grade: 3,
    name: 'Subtracting three-digit numbers',
    description: 'Subtract three-digit numbers in columns, regrouping when needed.',
    prerequisites: ['sub-2digit-regroup', 'place-value-hundreds'],
    teach: 'Subtract one column at a time, starting with the ones. If the top digit is smaller, trade 1 from the next column to the left.',
    tip: 'Check by adding: your answer plus the number you took away should give the top number.',
    make(rng, level) {
      const a = rng.int(level === 0 ? 200 : 300, 999);
      const b = rng.int(100, a - 10);
      const r = a - b;
      return arith(`${a} ${MINUS} ${b}`, r, diff(3, a / 999, 0.2), columnSubText(a, b), near(r, [100, -100, 10, -10, 1]));
    },
  }),
  spec({
    id: 'fractions-unit',
    grade: 3,
    name: 'Unit fractions',
    description: 'Understand one part of a whole cut into equal parts, written 1/2, 1/3, 1/4 …',
    prerequisites: ['div-facts'],
    teach: 'When a whole is cut into 4 equal parts, each part is one fourth, written 1/4. The bottom number says how many equal parts; the top number says how many we have.',
    tip: 'The more equal parts a whole is cut into, the smaller each part is: 1/8 is smaller than 1/4.',
    make(rng, level) {
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const d = rng.pick([2, 3, 4, 6, 8]);
        const food = rng.pick(PIZZAS);
        const [[name]] = [[rng.pick(['Mia', 'Leo', 'Ava', 'Sam', 'Zoe', 'Omar'])]];
        const stem = `A ${food} is cut into ${d} equal pieces. ${name} eats 1 piece. What fraction of the ${food} did ${name} eat?`;
        const p: Problem = {
          stem,
          answer: fracAnswer({ n: 1, d }, FRACTION_WORDS[d] ?? []),
          distractors: fracDistractors({ n: 1, d }, [{ n: d, d: 1 }, { n: 1, d: d + 1 }, { n: d - 1, d }, { n: 1, d: d * 2 }]),
          difficulty: diff(3, d / 8, -0.6),
          explanation: `The ${food} has ${d} equal pieces and ${name} ate 1 of them, so ${name} ate 1/${d} of the ${food}.`,
          check: () => true,
        };
        return fractionCheck(p, () => ({ n: 1, d: at(numbersIn(stem), 0) }));
      }
      if (kind === 1) {
        const ds = rng.sample([2, 3, 4, 5, 6, 8, 10], 4);
        const fracs = ds.map((d) => ({ n: 1, d }));
        return greatestFraction(fracs, diff(3, 0.5, 0.2), (best) => `Each fraction is 1 part. The fewer equal parts a whole is cut into, the bigger each part is. ${fractionText(best)} has the fewest parts, so it is the greatest.`);
      }
      const d = rng.pick(level === 0 ? [2, 4, 5, 10] : [2, 3, 4, 5, 6, 8, 10]);
      const k = rng.int(2, 10);
      const n = d * k;
      const explanation = `To find 1/${d} of ${n}, split ${n} into ${d} equal groups: ${n} ÷ ${d} = ${k}.`;
      const stem = `What is 1/${d} of ${n}?`;
      return {
        stem,
        answer: num(k),
        distractors: [...near(k, [1, -1, d]), n - d, n],
        difficulty: diff(3, n / 100, 0.2),
        explanation,
        check: () => {
          const [one, den, whole] = numbersIn(stem);
          return one === 1 && den !== undefined && whole !== undefined && k * den === whole;
        },
      };
    },
  }),
  spec({
    id: 'fractions-compare',
    grade: 3,
    name: 'Comparing fractions',
    description: 'Compare fractions with the same denominator or the same numerator.',
    prerequisites: ['fractions-unit'],
    teach: 'If two fractions have the same bottom number, the pieces are the same size, so more pieces is more: 5/8 > 3/8. If they have the same top number, compare the piece sizes: 2/3 > 2/5 because thirds are bigger than fifths.',
    tip: 'Same denominator: compare the tops. Same numerator: the smaller bottom number wins.',
    make(rng, level) {
      if (rng.int(0, 2) === 0) {
        const d = rng.int(5, 12);
        const ns = rng.sample(range(1, d - 1), 4);
        return greatestFraction(ns.map((n) => ({ n, d })), diff(3, d / 12, 0), (best) => `All the fractions have ${d} equal parts, so the one with the most parts is greatest: ${fractionText(best)}.`);
      }
      const sameDen = level === 0 || rng.int(0, 1) === 0;
      let a: Fraction;
      let b: Fraction;
      let explanation: string;
      if (sameDen) {
        const d = rng.int(3, 12);
        const [x, y] = rng.int(0, 5) === 0 ? [rng.int(1, d - 1), 0] : rng.sample(range(1, d - 1), 2);
        a = { n: x ?? 1, d };
        b = { n: y || a.n, d };
        const sym = symbolFor(a.n - b.n);
        explanation = a.n === b.n ? `They are the same fraction, so ${fractionText(a)} = ${fractionText(b)}.` : `Both fractions have ${d} equal parts. ${a.n} parts ${sym} ${b.n} parts, so ${fractionText(a)} ${sym} ${fractionText(b)}.`;
      } else {
        const n = rng.int(1, 4);
        const [d1, d2] = rng.sample(range(n + 1, 12), 2);
        a = { n, d: d1 ?? 2 };
        b = { n, d: d2 ?? 3 };
        const sym = symbolFor(b.d - a.d);
        explanation = `Both fractions have ${n} ${n === 1 ? 'part' : 'parts'}. A whole cut into ${a.d} parts has ${a.d < b.d ? 'bigger' : 'smaller'} parts than one cut into ${b.d} parts, so ${fractionText(a)} ${sym} ${fractionText(b)}.`;
      }
      const sym = symbolFor(a.n * b.d - b.n * a.d);
      return symbolProblem(fractionText(a), fractionText(b), sym, diff(3, 0.5, sameDen ? -0.2 : 0.4), explanation, (stem) => {
        const [x, y] = fractionsIn(stem);
        return x !== undefined && y !== undefined && ['<', '=', '>'][Math.sign(x.n * y.d - y.n * x.d) + 1] === sym;
      });
    },
  }),
  spec({
    id: 'area-rectangles',
    grade: 3,
    name: 'Area of rectangles',
    description: 'Find the area of a rectangle by multiplying its length and width.',
    prerequisites: ['mult-facts-all'],
    teach: 'Area is how many unit squares cover a shape. A rectangle 6 units long and 4 units wide has 4 rows of 6 squares: 4 × 6 = 24 square units.',
    tip: 'Area is measured in square units; perimeter is measured in plain units.',
    make(rng, level) {
      const l = rng.int(3, level === 0 ? 6 : 10);
      const w = rng.int(2, l);
      const a = l * w;
      const [shape, unit] = rng.pick([['rectangle', 'units'], ['garden', 'meters'], ['rug', 'feet'], ['poster', 'inches']] as const);
      const squareUnit = unit === 'units' ? 'square units' : unit === 'feet' ? 'square feet' : `square ${unit}`;
      const stem = `A ${shape} is ${l} ${unit} long and ${w} ${unit} wide. What is its area in ${squareUnit}?`;
      return {
        stem,
        answer: num(a),
        distractors: [2 * (l + w), l + w, ...near(a, [l, -l, w, -w])],
        difficulty: diff(3, a / 100, 0.2),
        explanation: `Area = length × width = ${l} × ${w} = ${a}, so the area is ${a} ${squareUnit}. You could also count ${w} rows of ${l} squares.`,
        check: () => numbersIn(stem).reduce((p, x) => p * x, 1) === a,
      };
    },
  }),
  spec({
    id: 'perimeter',
    grade: 3,
    name: 'Perimeter',
    description: 'Find the distance around rectangles and squares.',
    prerequisites: ['add-2digit'],
    teach: 'Perimeter is the distance all the way around a shape. For a rectangle 7 cm long and 3 cm wide, add all four sides: 7 + 3 + 7 + 3 = 20 cm.',
    tip: 'A rectangle has two long sides and two short sides, so you can double the length plus the width.',
    make(rng, level) {
      if (rng.int(0, 2) === 0) {
        const s = rng.int(2, level === 0 ? 9 : 25);
        const stem = `A square has sides that are ${s} cm long. What is its perimeter in cm?`;
        return {
          stem,
          answer: num(4 * s),
          distractors: [s * s, 2 * s, ...near(4 * s, [s, -s, 1])],
          difficulty: diff(3, s / 25, -0.2),
          explanation: `A square has 4 equal sides: ${s} + ${s} + ${s} + ${s} = ${4 * s} cm.`,
          check: () => at(numbersIn(stem), 0) * 4 === 4 * s,
        };
      }
      const l = rng.int(3, level === 0 ? 10 : 30);
      const w = rng.int(2, l - 1);
      const p = 2 * (l + w);
      const stem = `A rectangle is ${l} cm long and ${w} cm wide. What is its perimeter in cm?`;
      return {
        stem,
        answer: num(p),
        distractors: [l * w, l + w, ...near(p, [2, -2, l])].filter((x) => x !== p),
        difficulty: diff(3, p / 120, 0),
        explanation: `Perimeter is the distance all the way around: ${l} + ${w} + ${l} + ${w} = ${p} cm.`,
        check: () => {
          const [x, y] = numbersIn(stem);
          return x !== undefined && y !== undefined && x + y + x + y === p;
        },
      };
    },
  }),
];

// ---------------------------------------------------------------------------
// Grade 4
// ---------------------------------------------------------------------------

const G4: ConceptSpec[] = [
  spec({
    id: 'place-value-thousands',
    grade: 4,
    name: 'Thousands place value',
    description: 'Read four-digit numbers as thousands, hundreds, tens and ones.',
    prerequisites: ['place-value-hundreds'],
    teach: 'In 7,482 the 7 is in the thousands place (7,000), the 4 is in the hundreds place (400), the 8 is in the tens place (80) and the 2 is in the ones place. Each place is worth 10 times the place to its right.',
    tip: 'The comma in 7,482 separates the thousands from the hundreds.',
    make(rng, level) {
      const n = rng.int(1000, level === 0 ? 4999 : 9999);
      const kind = rng.int(0, 2);
      if (kind === 1) {
        const p = digitValue(rng, n, 4);
        if (p) return p;
      }
      if (kind === 2) return composeNumber(n, 4);
      return digitInPlace(rng, n, 4, 4);
    },
  }),
  spec({
    id: 'add-sub-4digit',
    grade: 4,
    name: 'Adding and subtracting four-digit numbers',
    description: 'Add and subtract numbers up to 9,999 in columns.',
    prerequisites: ['add-3digit', 'sub-3digit', 'place-value-thousands'],
    teach: 'Bigger numbers work just like smaller ones: line up the places, start with the ones, and carry or trade when a column needs it.',
    tip: 'Round both numbers to the nearest thousand first to estimate, then check your answer is close.',
    make(rng, level) {
      const hi = level === 0 ? 4999 : 9999;
      if (rng.int(0, 1) === 0) {
        const a = rng.int(1000, hi - 1000);
        const b = rng.int(1000, Math.min(hi, 9999) - a);
        const s = a + b;
        return arith(`${formatNumber(a)} + ${formatNumber(b)}`, s, diff(4, s / 9999, -0.2), columnAddText(a, b), near(s, [1000, -1000, 100, -100, 10]));
      }
      const a = rng.int(2000, hi);
      const b = rng.int(1000, a - 100);
      const r = a - b;
      return arith(`${formatNumber(a)} ${MINUS} ${formatNumber(b)}`, r, diff(4, a / 9999, 0), columnSubText(a, b), near(r, [1000, -1000, 100, -100, 10]));
    },
  }),
  spec({
    id: 'mult-multi-digit',
    grade: 4,
    name: 'Multiplying by a one-digit number',
    description: 'Multiply two- and three-digit numbers by a one-digit number using place value.',
    prerequisites: ['mult-by-tens'],
    teach: 'Break the bigger number into its places and multiply each part. 34 × 6 = 30 × 6 + 4 × 6 = 180 + 24 = 204.',
    tip: 'Estimate first: 34 × 6 is a bit more than 30 × 6 = 180.',
    make(rng, level) {
      const whole = level === 0 ? rng.int(12, 99) : rng.int(102, 999);
      const a = whole % 10 === 0 ? whole + rng.int(1, 9) : whole;
      const b = rng.int(3, 9);
      const p = a * b;
      const parts = String(a)
        .split('')
        .map((d, i, all) => Number(d) * 10 ** (all.length - 1 - i))
        .filter((x) => x > 0);
      const products = parts.map((x) => x * b);
      const explanation = `Break ${a} into ${parts.join(' + ')}. ${parts.map((x, i) => `${formatNumber(x)} × ${b} = ${formatNumber(at(products, i))}`).join(', ')}. Add: ${products.map(formatNumber).join(' + ')} = ${formatNumber(p)}.`;
      return arith(`${a} × ${b}`, p, diff(4, p / 9000, 0), explanation, near(p, [10, -10, b, -b, 100]));
    },
  }),
  spec({
    id: 'div-with-remainder',
    grade: 4,
    name: 'Division with remainders',
    description: 'Divide when the groups do not come out even and find the remainder.',
    prerequisites: ['div-facts'],
    teach: 'Sharing 29 counters into groups of 4 makes 7 full groups (4 × 7 = 28) with 1 counter left over. We write 29 ÷ 4 = 7 R 1. The remainder is always smaller than the number you divide by.',
    tip: 'Find the biggest times fact that is not more than the number you are dividing.',
    make(rng, level) {
      const d = rng.int(3, level === 0 ? 6 : 9);
      const q = rng.int(2, level === 0 ? 9 : 12);
      const r = rng.int(1, d - 1);
      const n = d * q + r;
      const explanation = `${d} × ${q} = ${d * q} and ${d} × ${q + 1} = ${d * (q + 1)} is too big. ${n} ${MINUS} ${d * q} = ${r} left over. So ${n} ÷ ${d} = ${q} R ${r}.`;
      if (rng.int(0, 1) === 0) {
        const stem = `What is the remainder when ${n} is divided by ${d}?`;
        return {
          stem,
          answer: num(r),
          distractors: [...near(r, [1, -1, 2]), q, d],
          difficulty: diff(4, n / 120, 0.2),
          explanation,
          check: () => {
            const [x, y] = numbersIn(stem);
            if (x === undefined || y === undefined) return false;
            let left = x;
            while (left >= y) left -= y;
            return left === r;
          },
        };
      }
      const stem = `${n} counters are put into groups of ${d}. How many full groups are there?`;
      return {
        stem,
        answer: num(q),
        distractors: [...near(q, [1, -1, 2]), r, q + r],
        difficulty: diff(4, n / 120, 0),
        explanation,
        check: () => {
          const [x, y] = numbersIn(stem);
          if (x === undefined || y === undefined) return false;
          let groups = 0;
          for (let left = x; left >= y; left -= y) groups++;
          return groups === q;
        },
      };
    },
  }),
  spec({
    id: 'factors-multiples',
    grade: 4,
    name: 'Factors and multiples',
    description: 'Find factors of a number and multiples of a number.',
    prerequisites: ['mult-facts-all', 'div-facts'],
    teach: 'A factor divides a number with nothing left over: 6 is a factor of 24 because 6 × 4 = 24. A multiple is what you get when you multiply: 6, 12, 18, 24 … are multiples of 6.',
    tip: 'Factors come in pairs: 3 × 8 = 24, so 3 and 8 are both factors of 24.',
    make(rng, level) {
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const n = rng.pick([12, 16, 18, 20, 24, 28, 30, 36, 40, 42, 45, 48]);
        const factors = range(3, 12).filter((x) => n % x === 0 && x < n);
        const non = range(3, 12).filter((x) => n % x !== 0);
        const f = rng.pick(factors);
        const wrong = rng.sample(non, 3);
        return {
          stem: `Which number is a factor of ${n}?`,
          answer: num(f),
          distractors: wrong,
          formats: ['multiple_choice'],
          difficulty: diff(4, n / 48, -0.2),
          explanation: `${f} × ${n / f} = ${n}, so ${f} is a factor of ${n}. ${listText(wrong.map(String))} do not divide ${n} evenly.`,
          check: () => n % f === 0 && wrong.every((x) => n % x !== 0),
        };
      }
      if (kind === 1) {
        const n = rng.int(2, level === 0 ? 6 : 9) * rng.int(2, 9);
        const f = rng.int(2, 9);
        const yes = n % f === 0;
        const stem = `Is ${f} a factor of ${n}? Type yes or no.`;
        return {
          stem,
          answer: txt(yes ? 'yes' : 'no'),
          distractors: [yes ? 'no' : 'yes'],
          formats: ['short_text'],
          difficulty: diff(4, n / 81, -0.3),
          explanation: yes ? `${f} × ${n / f} = ${n}, so yes, ${f} is a factor of ${n}.` : `${n} ÷ ${f} is ${Math.floor(n / f)} with ${n % f} left over, so no, ${f} is not a factor of ${n}.`,
          check: () => {
            const [x, y] = numbersIn(stem);
            return x !== undefined && y !== undefined && range(1, y).some((k) => k * x === y) === yes;
          },
        };
      }
      const m = rng.int(3, 9);
      const x = rng.int(20, level === 0 ? 40 : 80);
      const answer = (Math.floor(x / m) + 1) * m;
      const stem = `What is the smallest multiple of ${m} that is greater than ${x}?`;
      return {
        stem,
        answer: num(answer),
        distractors: [...near(answer, [m, -m, 1, -1]), x].filter((v) => v !== answer),
        difficulty: diff(4, x / 80, 0.2),
        explanation: `Count by ${m}s near ${x}: ${answer - m}, ${answer}. ${answer - m} is not greater than ${x}, so the answer is ${answer}.`,
        check: () => {
          const [mm, xx] = numbersIn(stem);
          if (mm === undefined || xx === undefined) return false;
          let k = xx + 1;
          while (k % mm !== 0) k++;
          return k === answer;
        },
      };
    },
  }),
  spec({
    id: 'fraction-equivalence',
    grade: 4,
    name: 'Equivalent fractions',
    description: 'Find fractions that name the same amount and write fractions in simplest form.',
    prerequisites: ['fractions-compare', 'mult-facts-all'],
    teach: 'Multiplying the top and bottom of a fraction by the same number gives an equal fraction: 2/3 = 4/6 = 8/12. Dividing both by the same number simplifies it: 6/8 = 3/4.',
    tip: 'Whatever you do to the bottom, do the same to the top.',
    make(rng, level) {
      const d = rng.int(2, level === 0 ? 5 : 8);
      const n = rng.pick(range(1, d - 1).filter((x) => gcd(x, d) === 1));
      const k = rng.int(2, level === 0 ? 4 : 6);
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const stem = `Fill in the blank: ${n}/${d} = __/${d * k}.`;
        return {
          stem,
          answer: num(n * k),
          distractors: [...near(n * k, [1, -1, k]), n + (d * k - d)].filter((x) => x !== n * k),
          difficulty: diff(4, k / 6, 0),
          explanation: `${d} × ${k} = ${d * k}, so multiply the top by ${k} too: ${n} × ${k} = ${n * k}. So ${n}/${d} = ${n * k}/${d * k}.`,
          check: () => {
            const [x, y, z] = numbersIn(stem);
            return x !== undefined && y !== undefined && z !== undefined && x * z === n * k * y;
          },
        };
      }
      if (kind === 1) {
        const right = { n: n * k, d: d * k };
        const p: Problem = {
          stem: `Which fraction is equal to ${n}/${d}?`,
          answer: txt(fractionText(right)),
          distractors: fracDistractors(right, [{ n: n + k, d: d + k }, { n: n * k, d: d * k + 1 }, { n: n * k + 1, d: d * k }, { n: d, d: n }, { n: n + 1, d: d + 1 }]),
          formats: ['multiple_choice'],
          difficulty: diff(4, k / 6, 0.1),
          explanation: `Multiply the top and the bottom of ${n}/${d} by ${k}: ${n} × ${k} = ${n * k} and ${d} × ${k} = ${d * k}. So ${n}/${d} = ${fractionText(right)}.`,
          check: () => true,
        };
        return fractionCheck(p, () => at(fractionsIn(p.stem), 0));
      }
      const big = { n: n * k, d: d * k };
      const simplest = { n, d };
      const p: Problem = {
        stem: `Write ${fractionText(big)} in simplest form.`,
        answer: txt(fractionText(simplest), [`${n} / ${d}`]),
        distractors: [fractionText({ n: n + 1, d }), fractionText({ n, d: d + 1 }), fractionText({ n: d, d: n }), fractionText(big)],
        difficulty: diff(4, k / 6, 0.3),
        explanation: `${n * k} and ${d * k} can both be divided by ${k}: ${n * k} ÷ ${k} = ${n} and ${d * k} ÷ ${k} = ${d}. ${n} and ${d} share no other factor, so ${fractionText(big)} = ${fractionText(simplest)}.`,
        check: () => {
          const given = at(fractionsIn(p.stem), 0);
          return sameValue(given, simplest) && gcd(simplest.n, simplest.d) === 1;
        },
      };
      return p;
    },
  }),
  spec({
    id: 'add-fractions-like',
    grade: 4,
    name: 'Adding and subtracting like fractions',
    description: 'Add and subtract fractions that have the same denominator.',
    prerequisites: ['fraction-equivalence'],
    teach: 'When the denominators are the same, the pieces are the same size. Add or subtract the tops and keep the bottom: 2/7 + 3/7 = 5/7.',
    tip: 'Never add the denominators: 1/4 + 1/4 is 2/4, not 2/8.',
    make(rng, level) {
      const d = rng.int(3, 12);
      const sub = level === 1 && rng.int(0, 1) === 0;
      const a = rng.int(sub ? 2 : 1, d - (sub ? 1 : 2));
      const b = sub ? rng.int(1, a - 1) : rng.int(1, d - 1 - a);
      const r = sub ? a - b : a + b;
      const result = { n: r, d };
      const s = simplify(result);
      const op = sub ? MINUS : '+';
      const p: Problem = {
        stem: `What is ${a}/${d} ${op} ${b}/${d}?`,
        answer: fracAnswer(result),
        distractors: fracDistractors(result, [{ n: r, d: sub ? 0 : 2 * d }, { n: r + 1, d }, { n: r - 1, d }, { n: sub ? a + b : Math.abs(a - b), d }, { n: r, d: d + 1 }]),
        difficulty: diff(4, d / 12, sub ? 0 : -0.3),
        explanation: `The denominators are the same, so ${sub ? 'subtract' : 'add'} the numerators: ${a} ${op} ${b} = ${r}. Keep the denominator ${d}. So the answer is ${r}/${d}${s.d !== d ? `, which simplifies to ${fractionText(s)}` : ''}.`,
        check: () => true,
      };
      return fractionCheck(p, () => {
        const [x, y] = fractionsIn(p.stem);
        if (x === undefined || y === undefined) return { n: NaN, d: 1 };
        const top = p.stem.includes(MINUS) ? x.n * y.d - y.n * x.d : x.n * y.d + y.n * x.d;
        return { n: top, d: x.d * y.d };
      });
    },
  }),
  spec({
    id: 'decimals-tenths',
    grade: 4,
    name: 'Tenths',
    description: 'Write tenths as decimals, compare them and add them.',
    prerequisites: ['fraction-equivalence', 'place-value-hundreds'],
    teach: 'One tenth is 1/10, written 0.1 as a decimal. 7/10 is 0.7. The first place after the decimal point is the tenths place.',
    tip: 'Ten tenths make a whole: 0.6 + 0.4 = 1.0 = 1.',
    make(rng, level) {
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const n = level === 0 ? rng.int(1, 9) : rng.int(11, 39);
        const v = tidy(n / 10);
        const stem = `Write ${n}/10 as a decimal.`;
        return {
          stem,
          answer: num(v),
          distractors: [n, tidy(n / 100), tidy(v + 1), tidy(v + 0.1)],
          difficulty: diff(4, n / 40, -0.5),
          explanation: n >= 10
            ? `${n}/10 means ${n} tenths. ${n} tenths is ${countOf(Math.floor(n / 10), 'whole', 'wholes')} and ${countOf(n % 10, 'tenth', 'tenths')}, so it is written ${formatNumber(v)}.`
            : `${n}/10 means ${countOf(n, 'tenth', 'tenths')}, so it is written ${formatNumber(v)}.`,
          check: () => Math.abs(at(fractionsIn(stem), 0).n / 10 - v) < 1e-9,
        };
      }
      if (kind === 1) {
        const values = rng.sample(range(1, level === 0 ? 9 : 29), 4).map((x) => tidy(x / 10));
        return extremeOf(values, rng.int(0, 1) === 0 ? 'greatest' : 'smallest', diff(4, 0.3, -0.4), 'decimal');
      }
      const a = rng.int(1, 9);
      const b = rng.int(1, level === 0 ? 9 - a : 9);
      const s = tidy((a + b) / 10);
      const explanation = `${formatNumber(a / 10)} is ${a} tenths and ${formatNumber(b / 10)} is ${b} tenths. ${a} + ${b} = ${a + b} tenths, which is ${formatNumber(s)}.`;
      return arith(`${formatNumber(a / 10)} + ${formatNumber(b / 10)}`, s, diff(4, (a + b) / 18, -0.3), explanation, [a + b, tidy((a + b) / 100), tidy(s + 0.1), tidy(s + 1)]);
    },
  }),
  spec({
    id: 'decimals-hundredths',
    grade: 4,
    name: 'Hundredths',
    description: 'Write hundredths as decimals and fractions and compare decimals.',
    prerequisites: ['decimals-tenths'],
    teach: 'One hundredth is 1/100, written 0.01. The second place after the decimal point is the hundredths place: 0.23 is 2 tenths and 3 hundredths, or 23/100.',
    tip: 'To compare decimals, write them with the same number of places: 0.5 = 0.50, which is more than 0.45.',
    make(rng, level) {
      const kind = rng.int(0, 2);
      if (kind === 0) {
        const n = rng.pick(range(1, 99).filter((x) => x % 10 !== 0));
        const v = tidy(n / 100);
        const stem = `Write ${n}/100 as a decimal.`;
        return {
          stem,
          answer: num(v),
          distractors: [tidy(n / 10), n, tidy(v + 0.1), tidy(v + 1)],
          difficulty: diff(4, n / 100, -0.2),
          explanation: `${n}/100 means ${n} hundredths, so the hundredths place must end in ${n % 10}: ${formatNumber(v)}.`,
          check: () => Math.abs(at(fractionsIn(stem), 0).n / at(fractionsIn(stem), 0).d - v) < 1e-9,
        };
      }
      if (kind === 1) {
        const ints = rng.sample(range(1, 99), 3);
        const tenth = 10 * rng.int(1, 9);
        const set = [...new Set([...ints, tenth])];
        if (set.length < 4) set.push(at(range(1, 99).filter((x) => !set.includes(x)), 0));
        const values = rng.shuffle(set.slice(0, 4)).map((x) => tidy(x / 100));
        return extremeOf(values, rng.int(0, 1) === 0 ? 'greatest' : 'smallest', diff(4, 0.5, level === 0 ? 0 : 0.2), 'decimal');
      }
      const n = rng.pick(range(1, 99).filter((x) => x % 10 !== 0));
      const shown = formatNumber(tidy(n / 100));
      const stem = `Write ${shown} as a fraction with denominator 100.`;
      const p: Problem = {
        stem,
        answer: txt(`${n}/100`, [`${n} / 100`]),
        distractors: [`${n}/10`, `${n + 1}/100`, `${n}/1000`, `${n * 10}/100`],
        difficulty: diff(4, n / 100, 0),
        explanation: `${shown} has ${Math.floor(n / 10)} tenths and ${n % 10} hundredths, which is ${n} hundredths: ${n}/100.`,
        check: () => true,
      };
      return fractionCheck(p, () => ({ n: Math.round(at(numbersIn(stem), 0) * 100), d: 100 }));
    },
  }),
  spec({
    id: 'fraction-of-number',
    grade: 4,
    name: 'Fraction of a number',
    description: 'Find a fraction of a whole number, such as 3/4 of 20.',
    prerequisites: ['fractions-unit', 'mult-facts-all'],
    teach: 'To find 3/4 of 20, first find 1/4 of 20 by dividing: 20 ÷ 4 = 5. Then take 3 of those parts: 3 × 5 = 15.',
    tip: 'Divide by the bottom number, then multiply by the top number.',
    make(rng, level) {
      const d = rng.int(3, level === 0 ? 5 : 10);
      const n = rng.pick(range(2, d - 1).filter((m) => gcd(m, d) === 1));
      const k = rng.int(2, level === 0 ? 6 : 12);
      const x = d * k;
      const answer = n * k;
      const stem = `What is ${n}/${d} of ${x}?`;
      return {
        stem,
        answer: num(answer),
        distractors: [k, x - answer, ...near(answer, [k, -k, 1])].filter((v) => v !== answer),
        difficulty: diff(4, x / 120, 0.1),
        explanation: `First find 1/${d} of ${x}: ${x} ÷ ${d} = ${k}. Then take ${n} of those parts: ${n} × ${k} = ${answer}.`,
        check: () => {
          const [top, bottom, whole] = numbersIn(stem);
          return top !== undefined && bottom !== undefined && whole !== undefined && answer * bottom === top * whole;
        },
      };
    },
  }),
];

// ---------------------------------------------------------------------------
// Grade 5
// ---------------------------------------------------------------------------

const G5: ConceptSpec[] = [
  spec({
    id: 'add-decimals',
    grade: 5,
    name: 'Adding decimals',
    description: 'Add decimals to hundredths by lining up the decimal points.',
    prerequisites: ['decimals-hundredths', 'add-sub-4digit'],
    teach: 'Line up the decimal points so tenths are under tenths and hundredths under hundredths. Write 2.8 as 2.80 if it helps, then add like whole numbers.',
    tip: 'Estimate with whole numbers first: 3.45 + 2.8 is about 3 + 3 = 6.',
    make(rng, level) {
      const a = rng.int(101, level === 0 ? 499 : 999);
      const b = rng.int(11, level === 0 ? 499 : 999);
      const bb = rng.int(0, 2) === 0 ? b - (b % 10) || 10 : b;
      const s = tidy((a + bb) / 100);
      const explanation = `Line up the decimal points: ${two(a)} + ${two(bb)} = ${two(a + bb)}. So ${dec(a)} + ${dec(bb)} = ${formatNumber(s)}.`;
      const misaligned = bb % 10 === 0 ? tidy((a + bb / 10) / 100) : tidy(s + 0.1);
      return arith(`${dec(a)} + ${dec(bb)}`, s, diff(5, s / 20, -0.3), explanation, [misaligned, ...near(s, [1, -1, 0.01, 0.1, -0.1], 0)]);
    },
  }),
  spec({
    id: 'sub-decimals',
    grade: 5,
    name: 'Subtracting decimals',
    description: 'Subtract decimals to hundredths by lining up the decimal points.',
    prerequisites: ['add-decimals'],
    teach: 'Line up the decimal points and write zeros so both numbers have the same places: 5.2 − 1.75 becomes 5.20 − 1.75. Then subtract like whole numbers: 3.45.',
    tip: 'Check by adding your answer to the number you subtracted.',
    make(rng, level) {
      const a = rng.int(200, level === 0 ? 599 : 999);
      const raw = rng.int(11, a - 11);
      const b = rng.int(0, 2) === 0 ? raw - (raw % 10) || 10 : raw;
      const r = tidy((a - b) / 100);
      const explanation = `Line up the decimal points: ${two(a)} ${MINUS} ${two(b)} = ${two(a - b)}. So ${dec(a)} ${MINUS} ${dec(b)} = ${formatNumber(r)}.`;
      return arith(`${dec(a)} ${MINUS} ${dec(b)}`, r, diff(5, a / 1000, 0), explanation, near(r, [1, -1, 0.1, -0.1, 0.01, -0.01], 0));
    },
  }),
  spec({
    id: 'mult-2digit',
    grade: 5,
    name: 'Multiplying two-digit numbers',
    description: 'Multiply two two-digit numbers using partial products.',
    prerequisites: ['mult-multi-digit'],
    teach: 'To find 23 × 14, split 14 into 10 + 4. 23 × 10 = 230 and 23 × 4 = 92. Add the parts: 230 + 92 = 322.',
    tip: 'Multiplying by the tens digit gives a number ending in 0.',
    make(rng, level) {
      const a = rng.int(12, level === 0 ? 49 : 99);
      const bt = rng.int(1, level === 0 ? 2 : 9);
      const bo = rng.int(1, 9);
      const b = 10 * bt + bo;
      const p = a * b;
      const explanation = `Split ${b} into ${10 * bt} + ${bo}. ${a} × ${10 * bt} = ${formatNumber(a * 10 * bt)} and ${a} × ${bo} = ${formatNumber(a * bo)}. Add: ${formatNumber(a * 10 * bt)} + ${formatNumber(a * bo)} = ${formatNumber(p)}.`;
      return arith(`${a} × ${b}`, p, diff(5, p / 9801, 0), explanation, [a * bt + a * bo, ...near(p, [a, -a, 10, -10, 100])]);
    },
  }),
  spec({
    id: 'long-division',
    grade: 5,
    name: 'Long division',
    description: 'Divide three- and four-digit numbers by a one-digit number, one digit at a time.',
    prerequisites: ['div-with-remainder', 'mult-multi-digit'],
    teach: 'Long division works from the left. Divide, multiply, subtract, then bring down the next digit. Repeat until every digit has been brought down.',
    tip: 'Check by multiplying your answer by the number you divided by.',
    make(rng, level) {
      const d = rng.int(2, 9);
      const q = level === 0 ? rng.int(12, Math.floor(999 / d)) : rng.int(Math.ceil(1000 / d), Math.min(999, Math.floor(9999 / d)));
      const n = d * q;
      return arith(`${formatNumber(n)} ÷ ${d}`, q, diff(5, n / 9999, 0.2), longDivisionText(n, d), near(q, [1, -1, 10, -10, 100]));
    },
  }),
  spec({
    id: 'add-fractions-unlike',
    grade: 5,
    name: 'Adding and subtracting unlike fractions',
    description: 'Add and subtract fractions with different denominators using a common denominator.',
    prerequisites: ['add-fractions-like', 'factors-multiples'],
    teach: 'To add 1/4 + 1/3, rename both fractions with a common denominator. 12 is a multiple of 4 and of 3: 1/4 = 3/12 and 1/3 = 4/12. Then 3/12 + 4/12 = 7/12.',
    tip: 'The least common multiple of the two denominators makes the smallest common denominator.',
    make(rng, level) {
      for (;;) {
        const [d1, d2] = rng.sample([2, 3, 4, 5, 6, 8, 10, 12], 2);
        if (d1 === undefined || d2 === undefined) continue;
        const L = lcm(d1, d2);
        if (L > 24) continue;
        const a = rng.pick(range(1, d1 - 1).filter((m) => gcd(m, d1) === 1));
        const b = rng.pick(range(1, d2 - 1).filter((m) => gcd(m, d2) === 1));
        const A = (a * L) / d1;
        const B = (b * L) / d2;
        const sub = level === 1 && rng.int(0, 1) === 0;
        if (sub && A <= B) continue;
        if (!sub && level === 0 && A + B >= L) continue;
        const raw = { n: sub ? A - B : A + B, d: L };
        const s = simplify(raw);
        const op = sub ? MINUS : '+';
        const p: Problem = {
          stem: `What is ${a}/${d1} ${op} ${b}/${d2}?`,
          answer: txt(fractionText(s), fractionAccepted(raw)),
          distractors: fracDistractors(s, [{ n: sub ? a - b : a + b, d: sub ? Math.abs(d1 - d2) : d1 + d2 }, { n: raw.n + 1, d: L }, { n: raw.n, d: d1 * d2 + 1 }, { n: s.n + 1, d: s.d }, { n: raw.n - 1, d: L }]),
          difficulty: diff(5, L / 24, sub ? 0.3 : 0.1),
          explanation: `The denominators are different, so use a common denominator, ${L}. ${renameText({ n: a, d: d1 }, { n: A, d: L }, { n: b, d: d2 }, { n: B, d: L })} Then ${A}/${L} ${op} ${B}/${L} = ${raw.n}/${L}${s.d !== L ? ` = ${fractionText(s)}` : ''}.`,
          check: () => true,
        };
        return fractionCheck(p, () => {
          const [x, y] = fractionsIn(p.stem);
          if (x === undefined || y === undefined) return { n: NaN, d: 1 };
          return { n: p.stem.includes(MINUS) ? x.n * y.d - y.n * x.d : x.n * y.d + y.n * x.d, d: x.d * y.d };
        });
      }
    },
  }),
  spec({
    id: 'order-of-operations',
    grade: 5,
    name: 'Order of operations',
    description: 'Evaluate expressions with parentheses, multiplication, division, addition and subtraction in the right order.',
    prerequisites: ['mult-facts-all', 'add-3digit'],
    teach: 'Work inside parentheses first. Then multiply and divide from left to right. Then add and subtract from left to right. So 3 + 4 × 5 = 3 + 20 = 23, but (3 + 4) × 5 = 7 × 5 = 35.',
    tip: 'Circle the multiplication or the parentheses before you start.',
    make(rng, level) {
      const kind = rng.int(0, level === 0 ? 2 : 4);
      const a = rng.int(2, 12);
      const b = rng.int(2, 9);
      const c = rng.int(2, 9);
      if (kind === 0) {
        const v = a + b * c;
        return arith(`${a} + ${b} × ${c}`, v, diff(5, v / 100, -0.2), `Multiply first: ${b} × ${c} = ${b * c}. Then add: ${a} + ${b * c} = ${v}.`, [(a + b) * c, ...near(v, [1, -1, c])]);
      }
      if (kind === 1) {
        const v = (a + b) * c;
        return arith(`(${a} + ${b}) × ${c}`, v, diff(5, v / 200, -0.2), `Do the parentheses first: ${a} + ${b} = ${a + b}. Then multiply: ${a + b} × ${c} = ${v}.`, [a + b * c, ...near(v, [c, -c, 1])]);
      }
      if (kind === 2) {
        const big = Math.max(a, b + 1) + 2;
        const cc = rng.int(1, big * b - 1);
        const v = big * b - cc;
        const wrong = b > cc ? big * (b - cc) : v + 10;
        return arith(`${big} × ${b} ${MINUS} ${cc}`, v, diff(5, v / 150, 0), `Multiply first: ${big} × ${b} = ${big * b}. Then subtract: ${big * b} ${MINUS} ${cc} = ${v}.`, [wrong, ...near(v, [1, -1, b])]);
      }
      if (kind === 3) {
        const k = rng.int(2, 9);
        const bb = c * k;
        const aa = k + rng.int(1, 40);
        const v = aa - k;
        const wrong = (aa - bb) / c;
        return arith(`${aa} ${MINUS} ${bb} ÷ ${c}`, v, diff(5, aa / 50, 0.3), `Divide first: ${bb} ÷ ${c} = ${k}. Then subtract: ${aa} ${MINUS} ${k} = ${v}.`, [...(Number.isInteger(wrong) && wrong > 0 ? [wrong] : []), ...near(v, [1, -1, k, -k])]);
      }
      const hi = b + rng.int(1, 8);
      const v = a * (hi - b);
      return arith(`${a} × (${hi} ${MINUS} ${b})`, v, diff(5, v / 100, 0.2), `Do the parentheses first: ${hi} ${MINUS} ${b} = ${hi - b}. Then multiply: ${a} × ${hi - b} = ${v}.`, [a * hi - b, ...near(v, [a, -a, 1])]);
    },
  }),
  spec({
    id: 'powers-of-ten',
    grade: 5,
    name: 'Multiplying and dividing by 10, 100 and 1,000',
    description: 'Multiply and divide whole numbers and decimals by powers of ten.',
    prerequisites: ['decimals-hundredths', 'mult-by-tens'],
    teach: 'Multiplying by 10 moves every digit one place to the left: 3.7 × 10 = 37. Dividing by 10 moves every digit one place to the right: 45 ÷ 10 = 4.5. For 100 it is two places, and for 1,000 three places.',
    tip: 'Multiplying makes the number bigger and dividing makes it smaller; check your answer makes sense.',
    make(rng, level) {
      const k = rng.int(1, level === 0 ? 2 : 3);
      const power = 10 ** k;
      const places = k === 1 ? 'one place' : k === 2 ? 'two places' : 'three places';
      if (rng.int(0, 1) === 0) {
        const hundredths = rng.pick(range(1, 999).filter((x) => x % 100 !== 0));
        const x = tidy(hundredths / 100);
        const v = tidy((hundredths * power) / 100);
        const explanation = `Multiplying by ${formatNumber(power)} moves every digit ${places} to the left, so ${formatNumber(x)} becomes ${formatNumber(v)}.`;
        return arith(`${formatNumber(x)} × ${formatNumber(power)}`, v, diff(5, k / 3, -0.3), explanation, [tidy(v * 10), tidy(v / 10), tidy(x + power), tidy(v * 100)].filter((y) => y !== v));
      }
      const n = rng.pick(range(2, 999).filter((x) => x % 10 !== 0));
      const v = tidy(n / power);
      const explanation = `Dividing by ${formatNumber(power)} moves every digit ${places} to the right, so ${n} becomes ${formatNumber(v)}.`;
      return arith(`${n} ÷ ${formatNumber(power)}`, v, diff(5, k / 3, 0), explanation, [tidy(v * 10), tidy(v / 10), n * power, tidy(v * 100)].filter((y) => y !== v));
    },
  }),
  spec({
    id: 'volume',
    grade: 5,
    name: 'Volume with cubes',
    description: 'Find the volume of a box as length × width × height.',
    prerequisites: ['area-rectangles'],
    teach: 'Volume is how many unit cubes fill a solid. A box 4 cubes long and 3 cubes wide has 4 × 3 = 12 cubes in one layer. With 2 layers it holds 12 × 2 = 24 cubes.',
    tip: 'Find the cubes in one layer first, then multiply by the number of layers.',
    make(rng, level) {
      const l = rng.int(2, level === 0 ? 5 : 10);
      const w = rng.int(2, level === 0 ? 5 : 8);
      const h = rng.int(2, level === 0 ? 4 : 6);
      const v = l * w * h;
      const stem = `A box is ${l} cubes long, ${w} cubes wide and ${h} cubes tall. How many cubes fill the box?`;
      return {
        stem,
        answer: num(v),
        distractors: [l + w + h, l * w, ...near(v, [l * w, -l * w, 1])].filter((x) => x !== v),
        difficulty: diff(5, v / 480, -0.3),
        explanation: `One layer has ${l} × ${w} = ${l * w} cubes. There are ${h} layers, so ${l * w} × ${h} = ${v} cubes.`,
        check: () => numbersIn(stem).reduce((p, x) => p * x, 1) === v,
      };
    },
  }),
  spec({
    id: 'mult-fraction-whole',
    grade: 5,
    name: 'Multiplying a fraction by a whole number',
    description: 'Multiply a fraction by a whole number, such as 3 × 2/5.',
    prerequisites: ['add-fractions-like', 'fraction-of-number'],
    teach: '3 × 2/5 means 3 groups of 2/5: 2/5 + 2/5 + 2/5 = 6/5. Multiply the numerator by the whole number and keep the denominator. 6/5 is the same as 1 1/5.',
    tip: 'Only the numerator is multiplied; the size of the pieces (the denominator) stays the same.',
    make(rng, level) {
      const d = rng.int(3, level === 0 ? 6 : 12);
      const n = rng.pick(range(1, d - 1).filter((m) => gcd(m, d) === 1));
      const k = rng.int(2, level === 0 ? 4 : 9);
      const raw = { n: k * n, d };
      const s = simplify(raw);
      const whole = Math.floor(s.n / s.d);
      const mixed = s.d !== 1 && s.n > s.d ? `${whole} ${s.n % s.d}/${s.d}` : undefined;
      const p: Problem = {
        stem: `What is ${k} × ${n}/${d}?`,
        answer: txt(fractionText(raw), fractionAccepted(raw)),
        distractors: fracDistractors(raw, [{ n: k * n, d: k * d }, { n, d: k * d }, { n: k + n, d }, { n: k * n + 1, d }, { n: k * n - 1, d }]),
        difficulty: diff(5, k / 9, -0.2),
        explanation: `${k} × ${n}/${d} means ${k} groups of ${n}/${d}. Multiply the numerator: ${k} × ${n} = ${k * n}, and keep the denominator: ${k * n}/${d}${s.d === 1 ? `, which is ${s.n}` : mixed ? `, which is the same as ${mixed}` : s.d !== d ? `, which simplifies to ${fractionText(s)}` : ''}.`,
        check: () => true,
      };
      return fractionCheck(p, () => {
        const [kk] = numbersIn(p.stem);
        const f = at(fractionsIn(p.stem), 0);
        return { n: (kk ?? NaN) * f.n, d: f.d };
      });
    },
  }),
];

/** All math concepts in a valid learning order (grade by grade). */
const SPECS: readonly ConceptSpec[] = [...K, ...G1, ...G2, ...G3, ...G4, ...G5];

/** The concept templates of Math Kids, by concept id: the offline item generator (adapters/llm) draws fresh items from them. */
export const MATHKIDS_TEMPLATES: readonly ConceptSpec[] = SPECS;

interface Review {
  grade: number;
  id: string;
  title: string;
  conceptIds: [string, string, string];
}

/** One mixed review per grade, at the end of the grade. */
const REVIEWS: readonly Review[] = [
  { grade: 0, id: 'review-kindergarten', title: 'Review: Adding and Taking Away to 10', conceptIds: ['add-within-10', 'sub-within-10', 'make-ten'] },
  { grade: 1, id: 'review-grade-1', title: 'Review: Facts and Stories to 20', conceptIds: ['add-within-20', 'sub-within-20', 'word-problems-20'] },
  { grade: 2, id: 'review-grade-2', title: 'Review: Two-Digit Numbers and Money', conceptIds: ['add-2digit-regroup', 'sub-2digit-regroup', 'money-coins'] },
  { grade: 3, id: 'review-grade-3', title: 'Review: Times Tables, Division and Area', conceptIds: ['mult-facts-all', 'div-facts', 'area-rectangles'] },
  { grade: 4, id: 'review-grade-4', title: 'Review: Fractions and Decimals', conceptIds: ['fraction-equivalence', 'add-fractions-like', 'decimals-hundredths'] },
  { grade: 5, id: 'review-grade-5', title: 'Review: Long Division, Fractions and Order of Operations', conceptIds: ['long-division', 'add-fractions-unlike', 'order-of-operations'] },
];

const LESSON_COUNT = 120;

function reviewPlan(r: Review, byId: ReadonlyMap<string, ConceptSpec>): LessonPlan {
  const specs = r.conceptIds.map((id) => {
    const s = byId.get(id);
    ensure(s !== undefined, `review ${r.id}: unknown concept ${id}`);
    return s;
  });
  const names = specs.map((s) => inSentence(s.name));
  return {
    id: r.id,
    subject: SUBJECT,
    grade: r.grade,
    title: r.title,
    summary: `A mixed review of ${listText(names)}.`,
    conceptIds: [...r.conceptIds],
    intro: `This review mixes ${listText(names)}. Read each question carefully and decide which skill it needs.`,
    examples: specs.map((s) => ({ spec: s, level: 1 as Level })),
    tip: 'If a question feels hard, look back at the worked examples above, then try again.',
    segments: specs.map((s, i) => ({ spec: s, level: 1 as Level, count: i === 0 ? 4 : 3 })),
  };
}

/** The lesson plans in order: for each grade, an intro and a practice lesson per concept, then the grade review. */
function lessonPlans(): LessonPlan[] {
  const byId = new Map(SPECS.map((s) => [s.id, s]));
  const plans: LessonPlan[] = [];
  for (let grade = 0; grade <= 5; grade++) {
    SPECS.forEach((s, i) => {
      if (s.grade !== grade) return;
      const warmUp = s.prerequisites[0] === undefined ? undefined : byId.get(s.prerequisites[0]);
      plans.push(introPlan(s, 8 + (i % 2)), practicePlan(s, warmUp, 9 + (i % 2)));
    });
    for (const r of REVIEWS.filter((x) => x.grade === grade)) plans.push(reviewPlan(r, byId));
  }
  ensure(plans.length === LESSON_COUNT, `mathkids must have ${LESSON_COUNT} lessons, planned ${plans.length}`);
  return plans;
}

/**
 * Builds the Math Kids demo curriculum (K–5 arithmetic). Deterministic:
 * each lesson draws from its own fixed-seed PRNG, so two calls return
 * deep-equal packs; every item's answer is verified while building.
 */
export function buildMathkidsPack(): CurriculumPack {
  return {
    concepts: SPECS.map(toConcept),
    lessons: lessonPlans().map((plan) => buildLesson(plan, SEED_KEY)),
  };
}
