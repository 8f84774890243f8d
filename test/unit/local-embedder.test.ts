import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { dot, type Embedder } from '../../src/adapters/embeddings/embedder.ts';
import { createLocalEmbedder, numberWords, tokenize } from '../../src/adapters/embeddings/local-embedder.ts';
import { cacheFileName } from '../../src/adapters/embeddings/word-vectors.ts';
import { readPackFile } from '../../src/features/content/pack-file.ts';
import { TEST_EMBEDDINGS_CACHE } from '../support/embeddings.ts';

const PACKS = path.resolve(import.meta.dirname, '../../content/packs');

describe('local embedder: tokens', () => {
  it('reads numerals as number words and arithmetic symbols between numbers as their words', () => {
    assert.deepEqual(tokenize('What is 7 + 5?'), ['what', 'is', 'seven', 'plus', 'five']);
    assert.deepEqual(tokenize('12 − 4 = 8, 3 x 4, 6 × 2, 10 ÷ 2, 3/4, 50%, 2 < 3'), [
      ...['twelve', 'minus', 'four', 'equals', 'eight'],
      ...['three', 'times', 'four', 'six', 'times', 'two', 'ten', 'divided', 'two'],
      ...['three', 'fraction', 'four', 'fifty', 'percent', 'two', 'less', 'three'],
    ]);
    assert.deepEqual(numberWords('1,250'), ['one', 'thousand', 'two', 'hundred', 'fifty']);
    assert.deepEqual(numberWords('3.05'), ['three', 'point', 'zero', 'five']);
    assert.deepEqual(numberWords('40'), ['forty']);
    assert.deepEqual(numberWords('1000000000000000'), ['number']);
  });

  it('lower-cases, drops punctuation, splits hyphens, expands contractions; a hyphen in prose is not minus', () => {
    assert.deepEqual(tokenize('Don’t SKIP the Two-Digit numbers — ok?'), ['do', 'not', 'skip', 'the', 'two', 'digit', 'numbers', 'ok']);
    assert.deepEqual(tokenize("It's a well-known rule; can't stop"), ['it', 'a', 'well', 'known', 'rule', 'can', 'not', 'stop']);
    assert.deepEqual(tokenize('ＡＢＣ'), ['abc'], 'NFKC folds full-width letters');
  });
});

describe('local embedder: meaning', () => {
  let embedder: Embedder;
  const cos = async (a: string, b: string) => {
    const [va, vb] = await embedder.embed([a, b]);
    return dot(va!, vb!);
  };
  before(async () => {
    embedder = createLocalEmbedder({ cacheDir: TEST_EMBEDDINGS_CACHE });
    await embedder.ready();
  });

  it('ranks related curriculum sentences above unrelated ones', async () => {
    // [anchor, related, unrelated]: the related one must be clearly closer.
    const triples: [string, string, string][] = [
      ['add two numbers', 'sum of 3 and 4', 'spell the plural of mouse'],
      ['sum of 3 and 4', 'What is 7 + 5?', 'Which word is the plural of child?'],
      ['spell the plural of mouse', 'Which word is the plural of child?', 'add two numbers'],
      ['Which word rhymes with cat?', 'Find two words that end with the same sound.', 'Count the corners of a square.'],
      ['How many sides does a triangle have?', 'A square has four equal sides and four corners.', 'Which word rhymes with cat?'],
      ['Share 12 sweets equally between 3 children.', 'Divide 20 by 4.', 'Put the words in alphabetical order.'],
    ];
    for (const [anchor, related, unrelated] of triples) {
      const near = await cos(anchor, related);
      const far = await cos(anchor, unrelated);
      assert.ok(near > far + 0.15, `"${anchor}": "${related}" (${near.toFixed(2)}) should beat "${unrelated}" (${far.toFixed(2)}) by 0.15`);
    }
  });

  it('gives text with no known word one fixed unit vector, orthogonal to every real text, never NaN', async () => {
    const [empty, emoji, digitsOfAnotherScript, real] = await embedder.embed(['', '🙂 🙂', '٣٤٥', 'add two numbers']);
    for (const v of [empty!, emoji!, digitsOfAnotherScript!]) {
      assert.ok(v.every(Number.isFinite));
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
      assert.deepEqual(v, empty);
      assert.ok(Math.abs(dot(v, real!)) < 1e-4, 'cosine 0 with real text');
    }
  });

  it('is deterministic: a second embedder (reading the cache file) gives bit-identical vectors', async () => {
    const texts = ['Count the dots: ● ● ●.', 'Plurals with -s and -es'];
    const again = createLocalEmbedder({ cacheDir: TEST_EMBEDDINGS_CACHE });
    assert.deepEqual(await again.embed(texts), await embedder.embed(texts));
  });
});

describe('local embedder: nearest lessons of the committed packs', () => {
  interface Lesson {
    id: string;
    subject: string;
    text: string;
    vector?: Float32Array;
  }
  const lessons: Lesson[] = [];
  let embedder: Embedder;
  before(async () => {
    for (const file of readdirSync(PACKS)) {
      const { pack, errors } = await readPackFile(path.join(PACKS, file), { fast: true });
      assert.deepEqual(errors, []);
      for (const unit of pack!.units) for (const l of unit.lessons) lessons.push({ id: l.id, subject: l.subject, text: `${l.title}. ${l.summary ?? ''}` });
    }
    embedder = createLocalEmbedder({ cacheDir: TEST_EMBEDDINGS_CACHE });
    const vectors = await embedder.embed(lessons.map((l) => l.text));
    lessons.forEach((l, i) => (l.vector = vectors[i]!));
  });
  const nearest = async (query: string, k: number) => {
    const [q] = await embedder.embed([query]);
    return lessons
      .map((l) => ({ l, score: dot(q!, l.vector!) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k)
      .map((x) => x.l);
  };

  // Queries written for this test, not copied from the packs.
  const QUERIES: Record<string, string[]> = {
    math: ['adding numbers together', 'take away and find how many are left', 'multiply equal groups', 'What is 12 + 7?', 'odd and even numbers', 'round to the nearest ten', 'sum of 3 and 4', 'count coins and money'],
    reading: ['words that rhyme', 'spell the plural of mouse', 'letters and the sounds they make', 'words with opposite meanings', 'clap the beats in a word', 'put words in ABC order', 'words that mean the same', 'join two words with an apostrophe'],
  };

  it('precision@5 of the query’s subject is at least 0.8 for math and for reading queries (reading is 19% of the lessons)', async (t) => {
    const share = (s: string) => lessons.filter((l) => l.subject === s).length / lessons.length;
    assert.ok(share('reading') < 0.25, 'the reading queries cannot pass by base rate');
    for (const [subject, queries] of Object.entries(QUERIES)) {
      let hits = 0;
      const misses: string[] = [];
      for (const q of queries) {
        const top = await nearest(q, 5);
        hits += top.filter((l) => l.subject === subject).length;
        misses.push(...top.filter((l) => l.subject !== subject).map((l) => `${q} → ${l.id}`));
      }
      const precision = hits / (queries.length * 5);
      t.diagnostic(`${subject}: precision@5 ${precision.toFixed(3)} over ${queries.length} queries`);
      assert.ok(precision >= 0.8, `${subject}: precision@5 ${precision.toFixed(2)}; misses: ${misses.join('; ')}`);
    }
  });

  it('finds the one lesson a query is about at the top', async () => {
    const cases: [string, RegExp][] = [
      ['words that rhyme with cat', /^rhyming-/],
      ['words that mean the same', /^synonyms-/],
      ['take away and find how many are left', /^sub-within-5/],
      ['What is 12 + 7?', /^add-within-20/],
      ['cubes, cones and spheres', /solid/],
      ['clap the beats in a word', /^syllables-/],
      ['odd and even numbers', /^even-odd/],
      ['round to the nearest ten', /^rounding/],
    ];
    for (const [q, expected] of cases) {
      const [top] = await nearest(q, 1);
      assert.match(top!.id, expected, `"${q}" → ${top!.id}`);
    }
  });
});

describe('local embedder: the word-vector cache', () => {
  const probe = ['Add two numbers with a total of up to 10.', 'Which word rhymes with cat?'];

  it('rebuilds a damaged cache file from the package, giving the same vectors', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-embed-cache-'));
    try {
      const file = path.join(dir, cacheFileName());
      writeFileSync(file, 'KLWV1\nnot a cache');
      const vectors = await createLocalEmbedder({ cacheDir: dir }).embed(probe);
      assert.deepEqual(vectors, await createLocalEmbedder({ cacheDir: TEST_EMBEDDINGS_CACHE }).embed(probe));
      assert.ok(statSync(file).size > 30_000_000, 'the damaged file was replaced by a whole cache');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('still embeds when the cache cannot be written (read-only data dir)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-embed-cache-'));
    try {
      const blocked = path.join(dir, 'a-file');
      writeFileSync(blocked, '');
      const vectors = await createLocalEmbedder({ cacheDir: path.join(blocked, 'cache') }).embed(probe);
      assert.deepEqual(vectors, await createLocalEmbedder({ cacheDir: TEST_EMBEDDINGS_CACHE }).embed(probe));
      assert.deepEqual(readdirSync(dir), ['a-file'], 'no temporary file left behind');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
