/**
 * An independent solver for the question shapes of the curriculum: it reads
 * a practice question as a child would and computes its answer from the text
 * alone, without looking at any answer key. The generated-item checks use it
 * to recompute numeric answers (and to find the correct choices of a
 * multiple-choice question), so an answer key written by a model is never
 * trusted as it stands. Pure; a question it does not recognise gives
 * `undefined`, never a guess.
 */

/** What the solver computed: a number, or a predicate a choice must satisfy (questions like "Which number is a factor of 42?"). */
export type Solution = { kind: 'number'; value: number } | { kind: 'predicate'; test: (value: number) => boolean } | { kind: 'text'; accepted: string[] };

/** A number written in a question: "7,482", "3.45" or "12"; not the parts of a fraction. */
const NUMBER = String.raw`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`;

/** Every number in `text`, in order. */
export function numbersIn(text: string): number[] {
  return [...text.matchAll(new RegExp(NUMBER, 'g'))].map((m) => Number(m[0].replaceAll(',', '')));
}

/** Reads a typed number the way the grader does: a plain decimal, commas between thousands allowed. */
export function readNumber(text: string): number | undefined {
  const t = text.trim();
  if (!new RegExp(`^-?(?:${NUMBER})$`).test(t)) return undefined;
  const n = Number(t.replaceAll(',', ''));
  return Number.isFinite(n) ? n : undefined;
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

/** Evaluates school arithmetic ("3 + 4 × (5 − 2)", "672 ÷ 6") with the usual precedence; undefined when it is not that. */
export function evaluate(expression: string): number | undefined {
  const tokens = expression.match(new RegExp(`${NUMBER}|[-+−×÷*/()x]|\\S`, 'g')) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const factor = (): number => {
    const t = tokens[pos++];
    if (t === '(') {
      const v = sum();
      if (tokens[pos++] !== ')') throw new Error('missing )');
      return v;
    }
    if (t === undefined || !/^\d/.test(t)) throw new Error('expected a number');
    return Number(t.replaceAll(',', ''));
  };
  const product = (): number => {
    let v = factor();
    for (let op = peek(); op === '×' || op === '*' || op === 'x' || op === '÷' || op === '/'; op = peek()) {
      pos++;
      const rhs = factor();
      v = op === '÷' || op === '/' ? v / rhs : v * rhs;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    for (let op = peek(); op === '+' || op === '-' || op === '−'; op = peek()) {
      pos++;
      const rhs = product();
      v = op === '+' ? v + rhs : v - rhs;
    }
    return v;
  };
  try {
    if (tokens.length === 0) return undefined;
    const v = sum();
    return pos === tokens.length && Number.isFinite(v) ? round6(v) : undefined;
  } catch {
    return undefined;
  }
}

/** An exact fraction. */
interface Fraction {
  n: number;
  d: number;
}
const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));
const simplify = (f: Fraction): Fraction => {
  const g = gcd(f.n, f.d) || 1;
  return { n: f.n / g, d: f.d / g };
};

/** "3/4", "2 1/2" or "5" as a fraction. */
export function readFraction(text: string): Fraction | undefined {
  const t = text.trim().replace(/\s*\/\s*/g, '/').replace(/\s+and\s+/, ' ');
  let m = /^(\d+) (\d+)\/(\d+)$/.exec(t);
  if (m) return { n: Number(m[1]) * Number(m[3]) + Number(m[2]), d: Number(m[3]) };
  m = /^(\d+)\/(\d+)$/.exec(t);
  if (m && Number(m[2]) > 0) return { n: Number(m[1]), d: Number(m[2]) };
  m = /^(\d+)$/.exec(t);
  return m ? { n: Number(m[1]), d: 1 } : undefined;
}

const FRACTION = String.raw`(\d+)\s*/\s*(\d+)`;

const PLACES: Record<string, number> = { ones: 1, tens: 10, hundreds: 100, thousands: 1000, 'ten thousands': 10000 };
const ROUND_TO: Record<string, number> = { ten: 10, hundred: 100, thousand: 1000, 'whole number': 1, one: 1, tenth: 0.1, hundredth: 0.01 };
const COINS: Record<string, number> = { penny: 1, pennies: 1, nickel: 5, nickels: 5, dime: 10, dimes: 10, quarter: 25, quarters: 25 };
const STEP_WORDS: Record<string, number> = { twos: 2, threes: 3, fours: 4, fives: 5, tens: 10, hundreds: 100 };

/** Sides (= corners) of the flat shapes the curriculum names; faces, edges and vertices of its solids. */
const POLYGON_SIDES: Record<string, number> = { triangle: 3, square: 4, rectangle: 4, rhombus: 4, trapezoid: 4, quadrilateral: 4, pentagon: 5, hexagon: 6, heptagon: 7, octagon: 8, circle: 0 };
const SOLIDS: Record<string, { faces: number; edges: number; vertices: number }> = {
  cube: { faces: 6, edges: 12, vertices: 8 },
  'rectangular prism': { faces: 6, edges: 12, vertices: 8 },
  'square pyramid': { faces: 5, edges: 8, vertices: 5 },
  'triangular prism': { faces: 5, edges: 9, vertices: 6 },
  sphere: { faces: 0, edges: 0, vertices: 0 },
};

/** Rough syllable count from vowel groups (final silent e dropped unless consonant + "le"). */
export function syllables(word: string): number {
  const w = word.toLowerCase().replace(/[^a-z]/g, '');
  let n = w.match(/[aeiouy]+/g)?.length ?? 0;
  if (n > 1 && w.endsWith('e') && !/[^aeiou]le$/.test(w)) n--;
  return Math.max(1, n);
}

/** The constant step of a run with one blank ("13, 14, __, 16"), and the blank's value. */
function fillRun(items: string[]): number | undefined {
  const blank = items.findIndex((x) => /^_+$/.test(x));
  if (blank < 0 || items.length < 3) return undefined;
  const values = items.map((x) => (/^_+$/.test(x) ? NaN : readNumber(x) ?? NaN));
  const known = values.map((v, i) => ({ v, i })).filter((x) => !Number.isNaN(x.v));
  if (known.length !== items.length - 1) return undefined;
  const [a, b] = known;
  if (!a || !b) return undefined;
  const step = (b.v - a.v) / (b.i - a.i);
  if (!known.every((k) => Math.abs(k.v - (a.v + step * (k.i - a.i))) < 1e-9)) return undefined;
  return round6(a.v + step * (blank - a.i));
}

/** Solves "__ + 9 = 11", "5 × __ = 35" or "3/4 = __/16" for the blank (linear in the blank). */
function solveBlank(equation: string): number | undefined {
  const sides = equation.split('=');
  if (sides.length !== 2) return undefined;
  const f = (x: number) => {
    const l = evaluate(sides[0]!.replace(/_+/g, String(x)));
    const r = evaluate(sides[1]!.replace(/_+/g, String(x)));
    return l === undefined || r === undefined ? undefined : l - r;
  };
  // Division by the blank is not linear: try whole candidates instead.
  if (/[÷/]\s*_+/.test(equation)) {
    for (let x = 1; x <= 1000; x++) if (Math.abs(f(x) ?? 1) < 1e-9) return x;
    return undefined;
  }
  const f0 = f(0);
  const f1 = f(1);
  if (f0 === undefined || f1 === undefined || f1 === f0) return undefined;
  const raw = -f0 / (f1 - f0);
  // evaluate() rounds to 6 decimals, so a whole answer comes out a hair off: prefer the whole number when it fits.
  for (const x of [Math.round(raw), round6(raw)]) if (Math.abs(f(x) ?? 1) < 1e-6) return x;
  return undefined;
}

const TWO_NUMBERS_STORY = /(\d+)\D+?(\d+)/;

/**
 * Computes the answer of a question from its text, for the shapes the
 * curriculum's questions take; `undefined` for anything else.
 */
export function solveQuestion(question: string): Solution | undefined {
  const q = question.trim().replace(/\s+/g, ' ').replace(/[“”]/g, '"');
  const num = (value: number | undefined): Solution | undefined => (value === undefined || !Number.isFinite(value) ? undefined : { kind: 'number', value: round6(value) });
  let m: RegExpExecArray | null;

  if ((m = /^What number comes (?:right |just )?(after|before) ([\d,]+)\?$/i.exec(q))) return num(Number(m[2]!.replaceAll(',', '')) + (m[1]!.toLowerCase() === 'after' ? 1 : -1));
  if ((m = /^(?:Fill in the missing number|Count by (\w+)): (.+?)\.?(?: What number comes next\?)?$/i.exec(q))) {
    const items = m[2]!.split(/,\s*/).map((x) => x.trim().replace(/\.$/, ''));
    const step = m[1] ? STEP_WORDS[m[1].toLowerCase()] : undefined;
    const value = fillRun(items);
    if (value === undefined) return undefined;
    if (m[1] && step === undefined) return undefined;
    const numbers = items.map(readNumber).filter((x): x is number => x !== undefined);
    if (step !== undefined && numbers.length >= 2 && numbers[1]! - numbers[0]! !== step) return undefined;
    return num(value);
  }
  if ((m = /^Which (?:number|decimal|one) is (?:the )?(greatest|largest|biggest|smallest|least): (.+)\?$/i.exec(q))) {
    const xs = m[2]!.split(/,\s*|\s+or\s+/).map(readNumber);
    if (xs.some((x) => x === undefined)) return undefined;
    const values = xs as number[];
    return num(/smallest|least/i.test(m[1]!) ? Math.min(...values) : Math.max(...values));
  }
  if ((m = /^Which of these numbers is (odd|even): (.+)\?$/i.exec(q))) {
    const values = m[2]!.split(/,\s*|\s+or\s+/).map(readNumber);
    if (values.some((x) => x === undefined)) return undefined;
    const odd = m[1]!.toLowerCase() === 'odd';
    const fit = (values as number[]).filter((v) => Number.isInteger(v) && (v % 2 !== 0) === odd);
    return fit.length === 1 ? num(fit[0]) : undefined;
  }
  if ((m = /^Which number is (?:a )?(factor|multiple) of ([\d,]+)\?$/i.exec(q))) {
    const n = Number(m[2]!.replaceAll(',', ''));
    const factor = m[1]!.toLowerCase() === 'factor';
    return { kind: 'predicate', test: (v) => Number.isInteger(v) && v > 0 && (factor ? n % v === 0 : v % n === 0) };
  }
  if ((m = /^What number goes with ([\d,]+) to make ([\d,]+)\?$/i.exec(q))) return num(Number(m[2]!.replaceAll(',', '')) - Number(m[1]!.replaceAll(',', '')));
  if ((m = /^What is ([\d,.]+) (less|more|fewer) than ([\d,.]+)\?$/i.exec(q))) {
    const [a, b] = [readNumber(m[1]!), readNumber(m[3]!)];
    return a === undefined || b === undefined ? undefined : num(m[2]!.toLowerCase() === 'more' ? b + a : b - a);
  }
  if ((m = /^What digit is in the (ones|tens|hundreds|thousands|ten thousands) place of ([\d,]+)\?$/i.exec(q))) {
    const n = Number(m[2]!.replaceAll(',', ''));
    return num(Math.floor(n / PLACES[m[1]!.toLowerCase()]!) % 10);
  }
  if ((m = /^What is the value of the (\d) in ([\d,]+)\?$/i.exec(q))) {
    const digits = m[2]!.replaceAll(',', '');
    if (digits.split(m[1]!).length !== 2) return undefined; // the digit must occur exactly once
    return num(Number(m[1]) * 10 ** (digits.length - 1 - digits.indexOf(m[1]!)));
  }
  if ((m = /^Round ([\d,.]+) to the nearest (ten|hundred|thousand|whole number|one|tenth|hundredth)\.?$/i.exec(q))) {
    const n = readNumber(m[1]!);
    const unit = ROUND_TO[m[2]!.toLowerCase()]!;
    return n === undefined ? undefined : num(Math.round(round6(n / unit)) * unit);
  }
  if ((m = new RegExp(`^What is ${FRACTION} of ([\\d,]+)\\?$`, 'i').exec(q))) return num((Number(m[1]) / Number(m[2])) * Number(m[3]!.replaceAll(',', '')));
  if ((m = /^Count the (\w+): ([^.]+)\. How many \w+ are there\?$/i.exec(q))) {
    const symbols = m[2]!.trim().split(/\s+/);
    return new Set(symbols).size === 1 ? num(symbols.length) : undefined;
  }
  if ((m = /^You have (.+)\. How many cents do you have(?: in all)?\?$/i.exec(q))) {
    let total = 0;
    for (const part of m[1]!.split(/,\s*|\s+and\s+/)) {
      const c = /^(\d+) (\w+)$/.exec(part.trim());
      const value = c ? COINS[c[2]!.toLowerCase()] : undefined;
      if (!c || value === undefined) return undefined;
      total += Number(c[1]) * value;
    }
    return num(total);
  }
  if ((m = /(\d+) \w+ long and (\d+) \w+ wide\. What is its area/i.exec(q))) return num(Number(m[1]) * Number(m[2]));
  if ((m = /(\d+) \w+ long and (\d+) \w+ wide\. What is its perimeter/i.exec(q))) return num(2 * (Number(m[1]) + Number(m[2])));
  if ((m = /^A square has sides that are (\d+) \w+ long\. What is its perimeter/i.exec(q))) return num(4 * Number(m[1]));
  if ((m = /^A square has sides that are (\d+) \w+ long\. What is its area/i.exec(q))) return num(Number(m[1]) ** 2);
  if ((m = /(\d+) cubes long, (\d+) cubes wide and (\d+) cubes tall\. How many cubes/i.exec(q))) return num(Number(m[1]) * Number(m[2]) * Number(m[3]));
  if ((m = /^(\d+) \w+ (?:are|is) (?:put|shared|split) (?:into|among|between) (?:groups of|bags of|teams of)? ?(\d+)(?: \w+)?\. How many (full groups|are left over|\w+ are left over)/i.exec(q))) {
    const [n, k] = [Number(m[1]), Number(m[2])];
    return k === 0 ? undefined : num(/left over/i.test(m[3]!) ? n % k : Math.floor(n / k));
  }
  if ((m = /^How many syllables are in the word "([a-z]+)"\?$/i.exec(q))) return num(syllables(m[1]!));
  if ((m = /^How many (sides|corners|vertices) does an? ([a-z]+) have\?$/i.exec(q)) && POLYGON_SIDES[m[2]!.toLowerCase()] !== undefined) return num(POLYGON_SIDES[m[2]!.toLowerCase()]);
  if ((m = /^How many (faces|edges|vertices|corners) does an? ([a-z ]+?) have\?$/i.exec(q)) && SOLIDS[m[2]!.toLowerCase()]) {
    const s = SOLIDS[m[2]!.toLowerCase()]!;
    const what = m[1]!.toLowerCase();
    return num(what === 'faces' ? s.faces : what === 'edges' ? s.edges : s.vertices);
  }
  if ((m = /^Which word comes first in ABC order: (.+)\?$/i.exec(q))) {
    const words = m[1]!.split(/,\s*/).map((w) => w.trim().toLowerCase());
    return { kind: 'text', accepted: [[...words].sort()[0]!] };
  }
  if ((m = new RegExp(`^Which symbol goes in the blank: (.+?) _+ (.+?)\\?`, 'i').exec(q))) {
    const [l, r] = [readFraction(m[1]!) ?? undefined, readFraction(m[2]!) ?? undefined];
    const lv = l ? l.n / l.d : evaluate(m[1]!);
    const rv = r ? r.n / r.d : evaluate(m[2]!);
    if (lv === undefined || rv === undefined) return undefined;
    return { kind: 'text', accepted: [Math.abs(lv - rv) < 1e-9 ? '=' : lv < rv ? '<' : '>'] };
  }
  if ((m = new RegExp(`^What is ${FRACTION} ([+−-]) ${FRACTION}\\?$`, 'i').exec(q))) {
    const [a, b, op, c, d] = [Number(m[1]), Number(m[2]), m[3]!, Number(m[4]), Number(m[5])];
    if (b === 0 || d === 0) return undefined;
    const sum = op === '+' ? { n: a * d + c * b, d: b * d } : { n: a * d - c * b, d: b * d };
    return fractionAnswer(sum);
  }
  if ((m = new RegExp(`^Write ${FRACTION} in simplest form\\.?$`, 'i').exec(q))) {
    const s = simplify({ n: Number(m[1]), d: Number(m[2]) });
    return { kind: 'text', accepted: [s.d === 1 ? String(s.n) : `${s.n}/${s.d}`] };
  }
  // Blanks in an equation: "__ + 9 = 11. What number goes in the blank?", "Fill in the blank: 3/4 = __/16."
  if ((m = /^(?:Fill in the blank: )?([^?]+?)\.?(?: What number goes in the blank\?)?$/i.exec(q)) && /_/.test(m[1]!) && /=/.test(m[1]!)) return num(solveBlank(m[1]!));
  if ((m = /^Write (\d+)\s*\/\s*(10|100|1000) as a decimal\.?$/i.exec(q))) return num(Number(m[1]) / Number(m[2]));
  if ((m = /^What is the (smallest|largest) multiple of (\d+) that is (greater|less) than (\d+)\?$/i.exec(q))) {
    const [k, n] = [Number(m[2]), Number(m[4])];
    if (k === 0) return undefined;
    return num(m[3]!.toLowerCase() === 'greater' ? (Math.floor(n / k) + 1) * k : (Math.ceil(n / k) - 1) * k);
  }
  if ((m = /^What is (.+?)\??$/i.exec(q)) && /^[\d\s,.+\-−×÷*/()x]+$/.test(m[1]!)) return num(evaluate(m[1]!));
  if ((m = /^(.+?) = \?$/.exec(q)) && /^[\d\s,.+\-−×÷*/()x]+$/.test(m[1]!)) return num(evaluate(m[1]!));
  // Two-number stories: compare ("How many more … than …?"), take away ("… left?"), put together ("… now?", "… in all?", "… altogether?").
  if ((m = /^There are (\d+) \w+ with (\d+) \w+ in each\. How many \w+ are there in all\?$/i.exec(q))) return num(Number(m[1]) * Number(m[2]));
  if ((m = /^(\d+) \w+ are shared equally (?:among|between) (\d+) \w+\. How many \w+ does each \w+ get\?$/i.exec(q))) {
    const [n, k] = [Number(m[1]), Number(m[2])];
    return k === 0 || n % k !== 0 ? undefined : num(n / k);
  }
  if (TWO_NUMBERS_STORY.test(q) && /\?$/.test(q)) {
    const values = numbersIn(q);
    if (values.length === 2) {
      const [x, y] = values as [number, number];
      if (/How many more [\w ]+ than [\w ]+\?$/i.test(q) || /How many fewer [\w ]+ than [\w ]+\?$/i.test(q)) return num(Math.abs(x - y));
      if (/left\?$/i.test(q)) return num(x - y);
      if (/(now|in all|altogether|in total)\?$/i.test(q)) return num(x + y);
    }
  }
  return undefined;
}

/** The text answers of a fraction result: any equal fraction is right, so the key must name one equal to it. */
function fractionAnswer(f: Fraction): { kind: 'text'; accepted: string[] } {
  const s = simplify(f);
  return { kind: 'text', accepted: [s.d === 1 ? String(s.n) : `${s.n}/${s.d}`, `${f.n}/${f.d}`] };
}

/** Whether a typed answer is the same fraction as one of `accepted` ("2/4" and "1/2" are). */
export function sameFractionAsAny(answer: string, accepted: readonly string[]): boolean {
  const a = readFraction(answer);
  if (!a || a.d === 0) return false;
  return accepted.some((x) => {
    const b = readFraction(x);
    return b !== undefined && b.d !== 0 && a.n * b.d === b.n * a.d;
  });
}
