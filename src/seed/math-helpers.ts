import type { Problem, Rng } from './generator.ts';
import { ensure, num, txt } from './generator.ts';
import { evaluateArithmetic, formatNumber, numbersIn } from './numbers.ts';

/**
 * Reusable problem shapes for the math pack (expressions, stories, "which is
 * greatest", comparison symbols) and the worked-explanation text they share.
 * Every shape carries a `check` that re-reads the numbers from the prompt.
 */

/** The minus sign used in prompts (U+2212), as in printed worksheets. */
export const MINUS = '−';

/** Integers lo..hi inclusive. */
export function range(lo: number, hi: number): number[] {
  return Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
}

/** Element i of an array, throwing instead of returning undefined. */
export function at<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new RangeError(`index ${i} out of range`);
  return x;
}

/** Logit difficulty from grade (0–5), relative operand size (0–1) and a template adjustment. */
export function mathDifficulty(grade: number, size: number, adjust = 0): number {
  return -2.4 + 0.85 * grade + 0.8 * (Math.min(1, Math.max(0, size)) - 0.5) + adjust;
}

/** Wrong answers near `value` (value + each delta), never negative and never the value itself. */
export function near(value: number, deltas: readonly number[], min = 0): number[] {
  return deltas.map((d) => Math.round((value + d) * 1e6) / 1e6).filter((x) => x >= min && x !== value);
}

/** "1 ten" / "3 tens": a count with the right noun form. */
export function countOf(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Adds an extra independent condition to a problem's check. */
export function alsoCheck(p: Problem, extra: () => boolean): Problem {
  const base = p.check;
  return { ...p, check: () => base() && extra() };
}

/**
 * "What is <expression>?" with a numeric answer. The check parses the
 * expression back out of the prompt and evaluates it with precedence rules.
 */
export function arith(expression: string, value: number, difficulty: number, explanation: string, distractors: readonly number[]): Problem {
  const stem = `What is ${expression}?`;
  return {
    stem,
    answer: num(value),
    distractors,
    difficulty,
    explanation,
    check: () => {
      const m = /^What is (.+)\?$/.exec(stem);
      return m?.[1] !== undefined && Math.abs(evaluateArithmetic(m[1]) - value) < 1e-9;
    },
  };
}

/** Explanation for a small addition by counting on from the bigger number. */
export function countOnText(a: number, b: number): string {
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  if (small === 0) return `Adding 0 does not change a number, so ${a} + ${b} = ${a + b}.`;
  return `Start at the bigger number, ${big}, and count on ${small}: ${range(big + 1, big + small).join(', ')}. So ${a} + ${b} = ${a + b}.`;
}

/** Explanation for a small subtraction: count back, or think addition when the jump is long. */
export function countBackText(a: number, b: number): string {
  const r = a - b;
  if (b <= 5) return `Start at ${a} and count back ${b}: ${range(r, a - 1).reverse().join(', ')}. So ${a} ${MINUS} ${b} = ${r}.`;
  return `Think of adding: ${b} + ${r} = ${a}. So ${a} ${MINUS} ${b} = ${r}.`;
}

const PEOPLE: readonly (readonly [string, string])[] = [
  ['Mia', 'She'], ['Leo', 'He'], ['Ava', 'She'], ['Sam', 'He'], ['Zoe', 'She'], ['Omar', 'He'],
  ['Lily', 'She'], ['Ben', 'He'], ['Nora', 'She'], ['Kai', 'He'], ['Ana', 'She'], ['Raj', 'He'],
];
const THINGS = ['stickers', 'marbles', 'apples', 'crayons', 'shells', 'books', 'blocks', 'cookies', 'pencils', 'balloons'] as const;
const CRITTERS = [
  { many: 'birds', place: 'tree', leave: 'fly away' },
  { many: 'ducks', place: 'pond', leave: 'swim away' },
  { many: 'frogs', place: 'pond', leave: 'hop away' },
  { many: 'bunnies', place: 'garden', leave: 'hop away' },
  { many: 'ladybugs', place: 'garden', leave: 'fly away' },
] as const;

/** Two different children for stories. */
export function twoPeople(rng: Rng): [readonly [string, string], readonly [string, string]] {
  const [p, q] = rng.sample(PEOPLE, 2);
  ensure(p !== undefined && q !== undefined, 'two people');
  return [p, q];
}

/**
 * Re-solves a story problem from its text alone: compare stories ("How many
 * more … than …") and "left" stories subtract, "now" stories add.
 */
export function solveStory(stem: string): number {
  const [x, y] = numbersIn(stem);
  if (x === undefined || y === undefined) return NaN;
  if (/How many more \w+ does \w+ have than \w+\?$/.test(stem)) return x - y;
  if (/left\?$/.test(stem)) return x - y;
  if (/now\?$/.test(stem)) return x + y;
  return NaN;
}

/** An adding story ("… gets 5 more. How many … now?"); a and b are at least 2 so the English stays plural. */
export function addStory(rng: Rng, a: number, b: number, difficulty: number): Problem {
  ensure(a >= 2 && b >= 2, 'story numbers must be at least 2');
  const sum = a + b;
  let stem: string;
  let ending: string;
  if (rng.int(0, 1) === 0) {
    const [[name, pronoun]] = twoPeople(rng);
    const thing = rng.pick(THINGS);
    stem = `${name} has ${a} ${thing}. ${pronoun} gets ${b} more. How many ${thing} does ${name} have now?`;
    ending = `${name} has ${sum} ${thing} now.`;
  } else {
    const c = rng.pick(CRITTERS);
    stem = `There are ${a} ${c.many} in the ${c.place}. ${b} more ${c.many} come. How many ${c.many} are there now?`;
    ending = `There are ${sum} ${c.many} now.`;
  }
  return {
    stem,
    answer: num(sum),
    distractors: near(sum, [-1, 1, 2, -2]).concat(Math.abs(a - b)),
    difficulty,
    explanation: `This is an adding story: put the two groups together. ${a} + ${b} = ${sum}. ${ending}`,
    check: () => solveStory(stem) === sum,
  };
}

/** A taking-away story ("… 4 of them fly away. How many … left?"). */
export function subStory(rng: Rng, a: number, b: number, difficulty: number): Problem {
  ensure(b >= 2 && a - b >= 1, 'story numbers out of range');
  const r = a - b;
  let stem: string;
  let ending: string;
  if (rng.int(0, 1) === 0) {
    const [[name, pronoun]] = twoPeople(rng);
    const thing = rng.pick(THINGS);
    stem = `${name} has ${a} ${thing}. ${pronoun} gives ${b} ${thing} to a friend. How many ${thing} does ${name} have left?`;
    ending = `${name} has ${r} left.`;
  } else {
    const c = rng.pick(CRITTERS);
    stem = `There are ${a} ${c.many} in the ${c.place}. ${b} of them ${c.leave}. How many ${c.many} are left?`;
    ending = `${r} ${r === 1 ? 'is' : 'are'} left.`;
  }
  return {
    stem,
    answer: num(r),
    distractors: near(r, [-1, 1, 2, -2]).concat(a + b),
    difficulty,
    explanation: `This is a taking-away story: start with ${a} and take away ${b}. ${a} ${MINUS} ${b} = ${r}. ${ending}`,
    check: () => solveStory(stem) === r,
  };
}

/** A comparing story ("How many more … does A have than B?"), a > b. */
export function compareStory(rng: Rng, a: number, b: number, difficulty: number): Problem {
  ensure(a > b && b >= 2, 'compare story needs a > b >= 2');
  const [[n1], [n2]] = twoPeople(rng);
  const thing = rng.pick(THINGS);
  const stem = `${n1} has ${a} ${thing}. ${n2} has ${b} ${thing}. How many more ${thing} does ${n1} have than ${n2}?`;
  const r = a - b;
  return {
    stem,
    answer: num(r),
    distractors: near(r, [-1, 1, 2]).concat(a + b, a),
    difficulty,
    explanation: `To compare, subtract the smaller number from the bigger one: ${a} ${MINUS} ${b} = ${r}. ${n1} has ${r} more ${thing} than ${n2}.`,
    check: () => solveStory(stem) === r,
  };
}

/**
 * "Which number is the greatest/smallest: …?" over four distinct values.
 * The other three values are the distractors.
 */
export function extremeOf(values: readonly number[], want: 'greatest' | 'smallest', difficulty: number, noun = 'number'): Problem {
  ensure(values.length === 4 && new Set(values).size === 4, 'extremeOf needs four distinct values');
  const stem = `Which ${noun} is the ${want}: ${values.map(formatNumber).join(', ')}?`;
  const sorted = [...values].sort((x, y) => x - y);
  const answer = want === 'greatest' ? at(sorted, 3) : at(sorted, 0);
  return {
    stem,
    answer: num(answer),
    distractors: values.filter((v) => v !== answer),
    difficulty,
    explanation: `Put them in order from smallest to greatest: ${sorted.map(formatNumber).join(', ')}. The ${want} is ${formatNumber(answer)}.`,
    check: () => {
      const listed = numbersIn(stem.slice(stem.indexOf(':')));
      const best = listed.reduce((m, v) => (want === 'greatest' ? (v > m ? v : m) : v < m ? v : m));
      return listed.length === 4 && best === answer;
    },
  };
}

/** The comparison symbol for a − b: '<', '=' or '>'. */
export function symbolFor(diff: number): '<' | '=' | '>' {
  return diff < 0 ? '<' : diff > 0 ? '>' : '=';
}

/** "Which symbol goes in the blank: L __ R?" answered by typing <, > or = (three options only, so never multiple choice). */
export function symbolProblem(left: string, right: string, sym: '<' | '=' | '>', difficulty: number, explanation: string, check: (stem: string) => boolean): Problem {
  const stem = `Which symbol goes in the blank: ${left} __ ${right}? Type <, > or =.`;
  return {
    stem,
    answer: txt(sym),
    distractors: ['<', '=', '>'].filter((s) => s !== sym),
    difficulty,
    explanation,
    formats: ['short_text'],
    check: () => check(stem),
  };
}

/** Column addition explanation with carries, for whole numbers of any length. */
export function columnAddText(a: number, b: number): string {
  const places = ['ones', 'tens', 'hundreds', 'thousands', 'ten thousands'];
  const da = String(a).split('').reverse().map(Number);
  const db = String(b).split('').reverse().map(Number);
  const steps: string[] = [];
  let carry = 0;
  for (let i = 0; i < Math.max(da.length, db.length); i++) {
    const x = da[i] ?? 0;
    const y = db[i] ?? 0;
    const s = x + y + carry;
    const terms = [x, y, ...(carry ? [carry] : [])].join(' + ');
    const place = at(places, i);
    const isLast = i === Math.max(da.length, db.length) - 1;
    if (s >= 10 && !isLast) steps.push(`${cap(place)}: ${terms} = ${s}. Write ${s % 10} and carry 1.`);
    else steps.push(`${cap(place)}: ${terms} = ${s}.`);
    carry = s >= 10 ? 1 : 0;
  }
  return `${steps.join(' ')} So ${formatNumber(a)} + ${formatNumber(b)} = ${formatNumber(a + b)}.`;
}

/** Column subtraction explanation with regrouping ("trade 1 ten for 10 ones"), a ≥ b. */
export function columnSubText(a: number, b: number): string {
  const places = ['ones', 'tens', 'hundreds', 'thousands'];
  const singular = ['one', 'ten', 'hundred', 'thousand'];
  const da = String(a).split('').reverse().map(Number);
  const db = String(b).split('').reverse().map(Number);
  const steps: string[] = [];
  let borrow = 0;
  for (let i = 0; i < da.length; i++) {
    const top = (da[i] ?? 0) - borrow;
    const y = db[i] ?? 0;
    const place = at(places, i);
    if (top < y) {
      const have = top + 10;
      const trade = `trade 1 ${at(singular, i + 1)} for 10 ${place}`;
      const lead = top < 0 ? `the 0 ${place} already lent 1, so ${trade}, leaving ${have}` : `${top} is less than ${y}, so ${trade}`;
      steps.push(`${cap(place)}: ${lead}: ${have} ${MINUS} ${y} = ${have - y}.`);
      borrow = 1;
    } else {
      if (i >= db.length && top === 0 && i === da.length - 1) break;
      steps.push(`${cap(place)}: ${top} ${MINUS} ${y} = ${top - y}.`);
      borrow = 0;
    }
  }
  return `${steps.join(' ')} So ${formatNumber(a)} ${MINUS} ${formatNumber(b)} = ${formatNumber(a - b)}.`;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
