/**
 * Number helpers for the demo content generators: English number words,
 * display formatting, a tiny arithmetic evaluator and exact fractions.
 *
 * The evaluator and `wordsToNumber` exist so generated answers can be checked
 * by a second, independent computation that reads the numbers back out of the
 * prompt text (rather than trusting the values the template used).
 */

const ONES = [
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen',
] as const;
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'] as const;

function below100(n: number): string {
  if (n < 20) return ONES[n] ?? '';
  const tens = TENS[Math.floor(n / 10)] ?? '';
  const ones = n % 10;
  return ones === 0 ? tens : `${tens}-${ONES[ones]}`;
}

function below1000(n: number): string {
  const hundreds = Math.floor(n / 100);
  const rest = n % 100;
  const parts: string[] = [];
  if (hundreds > 0) parts.push(`${ONES[hundreds]} hundred`);
  if (rest > 0) parts.push(below100(rest));
  return parts.join(' ');
}

/** English words for a whole number 0–999,999 in US school style ("three hundred forty-five"). */
export function numberToWords(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 999_999) throw new RangeError(`numberToWords: unsupported ${n}`);
  if (n === 0) return 'zero';
  const thousands = Math.floor(n / 1000);
  const rest = n % 1000;
  const parts: string[] = [];
  if (thousands > 0) parts.push(`${below1000(thousands)} thousand`);
  if (rest > 0) parts.push(below1000(rest));
  return parts.join(' ');
}

/**
 * Every spelling a child may reasonably type for a number in words: with a
 * hyphen or a space between tens and ones, and with or without "and" after
 * "hundred" (British style).
 */
export function numberWordVariants(n: number): string[] {
  const base = numberToWords(n);
  const variants = [base, base.replaceAll('-', ' ')];
  if (n < 1000 && n > 100 && n % 100 !== 0) variants.push(...variants.map((v) => v.replace('hundred ', 'hundred and ')));
  return [...new Set(variants)];
}

/** Separate word table for `wordsToNumber`, so it does not share code with `numberToWords`. */
const WORD_VALUES: Readonly<Record<string, number>> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9,
  ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16,
  seventeen: 17, eighteen: 18, nineteen: 19, twenty: 20, thirty: 30, forty: 40, fifty: 50,
  sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};

/** Reads English number words back into a number (NaN if a word is unknown); used to verify generated answers. */
export function wordsToNumber(words: string): number {
  const tokens = words.toLowerCase().split(/[\s-]+/).filter((t) => t !== '' && t !== 'and');
  if (tokens.length === 0) return NaN;
  let total = 0;
  let current = 0;
  for (const token of tokens) {
    const value = WORD_VALUES[token];
    if (value !== undefined) current += value;
    else if (token === 'hundred') current *= 100;
    else if (token === 'thousand') {
      total += current * 1000;
      current = 0;
    } else return NaN;
  }
  return total + current;
}

/** Formats a number for display: thousands separators for whole parts of 1,000 or more, decimals as-is. */
export function formatNumber(n: number): string {
  const [whole = '0', frac] = String(Math.abs(n)).split('.');
  const grouped = whole.length > 3 ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') : whole;
  return `${n < 0 ? '-' : ''}${grouped}${frac ? `.${frac}` : ''}`;
}

/** Rounds away binary floating-point noise (e.g. 0.1 + 0.2) to 6 decimals. */
export function tidy(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** All numbers written in a text, in order (accepts "7,482" and "3.45"; ignores the parts of a fraction's slash). */
export function numbersIn(text: string): number[] {
  return [...text.matchAll(/\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?/g)].map((m) => Number(m[0].replaceAll(',', '')));
}

const TOKEN = /\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[-+−×÷*/()])/y;

/**
 * Evaluates a school arithmetic expression such as "3 + 4 × (5 − 2)" with
 * the usual precedence. Throws on anything it does not understand.
 */
export function evaluateArithmetic(expression: string): number {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expression.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(expression);
    if (!m || m[1] === undefined) {
      if (expression.slice(start).trim() === '') break;
      throw new Error(`cannot parse "${expression}" at ${start}`);
    }
    tokens.push(m[1]);
  }
  let pos = 0;
  const peek = () => tokens[pos];
  const take = () => tokens[pos++];
  const factor = (): number => {
    const t = take();
    if (t === '(') {
      const v = sum();
      if (take() !== ')') throw new Error(`missing ")" in "${expression}"`);
      return v;
    }
    if (t === undefined || !/^\d/.test(t)) throw new Error(`expected a number in "${expression}"`);
    return Number(t.replaceAll(',', ''));
  };
  const product = (): number => {
    let v = factor();
    for (let op = peek(); op === '×' || op === '*' || op === '÷' || op === '/'; op = peek()) {
      take();
      const rhs = factor();
      v = op === '×' || op === '*' ? v * rhs : v / rhs;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    for (let op = peek(); op === '+' || op === '-' || op === '−'; op = peek()) {
      take();
      const rhs = product();
      v = op === '+' ? v + rhs : v - rhs;
    }
    return v;
  };
  const value = sum();
  if (pos !== tokens.length) throw new Error(`unexpected "${peek()}" in "${expression}"`);
  return value;
}

/** An exact fraction n/d with d > 0. */
export interface Fraction {
  n: number;
  d: number;
}

/** Greatest common divisor of two non-negative integers. */
export function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** Least common multiple of two positive integers. */
export function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** The fraction in lowest terms. */
export function simplify(f: Fraction): Fraction {
  const g = gcd(f.n, f.d) || 1;
  return { n: f.n / g, d: f.d / g };
}

/** "n/d" as written in prompts and answers. */
export function fractionText(f: Fraction): string {
  return `${f.n}/${f.d}`;
}

/** True when two fractions name the same number (cross-multiplication). */
export function sameValue(a: Fraction, b: Fraction): boolean {
  return a.n * b.d === b.n * a.d;
}

/** All "a/b" fractions written in a text, in order. */
export function fractionsIn(text: string): Fraction[] {
  return [...text.matchAll(/(\d+)\/(\d+)/g)].map((m) => ({ n: Number(m[1]), d: Number(m[2]) }));
}

/**
 * Accepted spellings of a fraction answer: the given forms (e.g. the
 * unsimplified sum a child computes first) plus lowest terms, a whole number
 * when it is one, and a mixed number for improper fractions.
 */
export function fractionAccepted(...forms: Fraction[]): string[] {
  const out: string[] = [];
  for (const f of forms) {
    const s = simplify(f);
    for (const g of [f, s]) out.push(fractionText(g), `${g.n} / ${g.d}`);
    if (s.d === 1) out.push(String(s.n));
    else if (s.n > s.d) {
      const whole = Math.floor(s.n / s.d);
      out.push(`${whole} ${s.n % s.d}/${s.d}`, `${whole} and ${s.n % s.d}/${s.d}`);
    }
  }
  return [...new Set(out)];
}
