import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalEmbedder } from '../src/adapters/embeddings/local-embedder.ts';
import { readPackFile } from '../src/features/content/pack-file.ts';
import { machine, median } from './support.ts';

/**
 * `npm run bench:embed`: the local embedder on every lesson and item text of
 * the mathkids pack (lesson title + summary + text blocks, item prompt +
 * choices — what the engine will embed). Measures (a) the first use on a
 * fresh machine, which prepares the word-vector cache from the package's
 * JSON, (b) a later start reading that cache, (c) embeddings per second over
 * 5 rounds after a warm-up (median) in batches of 64, and the RSS the vectors add.
 */
const ROUNDS = 5;
if (process.argv[2] === '--load-only') {
  const rss0 = process.memoryUsage().rss;
  const t = performance.now();
  await createLocalEmbedder({ cacheDir: process.argv[3]! }).ready();
  const ms = performance.now() - t;
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  console.log(`${Math.round(ms)} ms; RSS ${mib(rss0)} → ${mib(process.memoryUsage().rss)} MiB (+${mib(process.memoryUsage().rss - rss0)} MiB for the vectors)`);
  process.exit(0);
}
const BATCH = 64;

console.log(`kidslearn bench:embed — ${new Date().toISOString()} — ${machine()}`);
const { pack } = await readPackFile(path.resolve(import.meta.dirname, '../content/packs/mathkids.json'), { fast: true });
const texts: string[] = [];
for (const unit of pack!.units) {
  for (const lesson of unit.lessons) {
    const blocks = lesson.blocks.map((b) => ('text' in b ? b.text : 'prompt' in b ? `${b.prompt} ${b.explanation}` : '')).join(' ');
    texts.push(`${lesson.title}. ${lesson.summary ?? ''} ${blocks}`);
    for (const item of lesson.items) texts.push(`${item.prompt} ${'choices' in item && item.choices ? item.choices.map((c) => c.text).join(' ') : ''}`);
  }
}
const chars = texts.reduce((n, t) => n + t.length, 0);
console.log(`texts: ${texts.length} (mathkids lessons and items), ${Math.round(chars / texts.length)} characters on average`);

const cacheDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-embed-'));
try {
  let t0 = performance.now();
  await createLocalEmbedder({ cacheDir }).ready();
  const coldMs = performance.now() - t0;
  console.log(`(a) first use, preparing the cache from the package: ${(coldMs / 1000).toFixed(1)} s; RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
  // A later start is a new process: measure it in one, with its memory.
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--load-only', cacheDir], { encoding: 'utf8' });
  console.log(`(b) later start (new process), reading the cache: ${child.stdout.trim() || child.stderr}`);

  const embedder = createLocalEmbedder({ cacheDir });
  await embedder.ready();
  const rates: number[] = [];
  // Round 0 warms the JIT up and is not counted.
  for (let round = -1; round < ROUNDS; round++) {
    t0 = performance.now();
    for (let i = 0; i < texts.length; i += BATCH) await embedder.embed(texts.slice(i, i + BATCH));
    if (round >= 0) rates.push(texts.length / ((performance.now() - t0) / 1000));
  }
  console.log(`(c) embeddings/s: median ${Math.round(median(rates))} (rounds: ${rates.map((r) => Math.round(r)).join(', ')}); ${(1000 / median(rates)).toFixed(3)} ms per text`);
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
