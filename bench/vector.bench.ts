import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/adapters/db/database.ts';
import { createLocalEmbedder } from '../src/adapters/embeddings/local-embedder.ts';
import { openPgliteDatabase } from '../src/adapters/db/pglite.ts';
import { openPostgresDatabase } from '../src/adapters/db/postgres.ts';
import { createPgvectorStore, DEFAULT_HNSW } from '../src/adapters/vectors/pgvector-store.ts';
import type { VectorFilter, VectorRecord, VectorStore } from '../src/adapters/vectors/vector-store.ts';
import { loadConfig } from '../src/config/config.ts';
import { curriculumDocuments } from '../src/engine/curriculum-index.ts';
import { createLogger } from '../src/observability/logger.ts';
import { seedDemoApp } from '../src/seed/seed-demo-apps.ts';
import { createContainer } from '../src/wiring/container.ts';
import { machine } from './support.ts';

/**
 * `npm run bench:vector`: the pgvector store's search latency (p50, p95) and
 * the recall@10 of its HNSW index against an exact scan of the same rows,
 * on embedded PGlite and on the PostgreSQL server (BENCH_POSTGRES_URL,
 * default 127.0.0.1:5432; skipped when unreachable), over
 *
 * 1. the mathkids curriculum, embedded by the local embedder (100-d), with
 *    its own item texts as queries;
 * 2. a synthetic set of clustered 100-d unit vectors (100 clusters, Gaussian
 *    spread; 100,000 on the server, 20,000 on PGlite, see VECTORS), with
 *    queries drawn from the same clusters, plain and filtered to one grade of
 *    nine (the iterative scan at work).
 *
 * Latency is the store's `search` call (transaction, settings, query), not
 * the embedding of the query. The index is built once per database with the
 * store's defaults (m 16, ef_construction 64); searches are measured at
 * several ef_search values so the recall/latency trade-off is visible.
 */
/**
 * Synthetic set sizes. PGlite (single-threaded WASM) builds an HNSW graph
 * about 20× slower than the server (measured: 20k × 100-d in ~40 s), so a
 * 100k build there alone would take minutes; it gets 20k by default
 * (BENCH_PGLITE_VECTORS=100000 to run the full set), the server 100k.
 */
const VECTORS = { postgres: Number(process.env.BENCH_VECTORS ?? 100_000), pglite: Number(process.env.BENCH_PGLITE_VECTORS ?? 20_000) };
const CLUSTERS = 100;
const DIMENSION = 100;
const QUERIES = 200;
const EF_SEARCH = [40, 100, 200];
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** mulberry32: the same vectors on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}

function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

/** 100 random cluster centres on the unit sphere, and points around them (noise per coordinate ~ N(0, spread²)). */
function clusteredSet(count: number, seed: number): { points: Array<{ vector: Float32Array; cluster: number }>; sample(n: number, seed: number): Array<{ vector: Float32Array; cluster: number }> } {
  const random = rng(seed);
  const centres = Array.from({ length: CLUSTERS }, () => unit(Float32Array.from({ length: DIMENSION }, () => gaussian(random))));
  // Spread such that a point is about as far from its centre as the centre's length: overlapping, realistic clusters.
  const spread = 0.1;
  const point = (r: () => number) => {
    const cluster = Math.floor(r() * CLUSTERS);
    const c = centres[cluster]!;
    return { vector: unit(Float32Array.from(c, (x) => x + gaussian(r) * spread)), cluster };
  };
  return { points: Array.from({ length: count }, () => point(random)), sample: (n, s) => Array.from({ length: n }, ((r) => () => point(r))(rng(s))) };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Row {
  database: string;
  set: string;
  efSearch: number | string;
  p50: number;
  p95: number;
  recall: number;
  results: number;
}

/** Runs the queries through the HNSW index at each ef_search and exactly, and compares. */
async function measure(database: Database, label: string, appId: string, queries: Float32Array[], model: string, filter: VectorFilter | undefined, rows: Row[]): Promise<void> {
  const exactStore = createPgvectorStore({ database, timeoutMs: 60_000 });
  const exact: string[][] = [];
  for (const vector of queries) exact.push((await exactStore.search(appId, { model, vector, limit: 10, filter, exact: true })).map((m) => `${m.kind}:${m.id}`));
  for (const efSearch of EF_SEARCH) {
    const store: VectorStore = createPgvectorStore({ database, timeoutMs: 60_000, hnsw: { efSearch } });
    // Warm-up: a first pass that is not timed (plans, buffers, JIT).
    for (const vector of queries.slice(0, 20)) await store.search(appId, { model, vector, limit: 10, filter });
    const ms: number[] = [];
    let hits = 0;
    let expected = 0;
    let results = 0;
    for (let q = 0; q < queries.length; q++) {
      const t0 = performance.now();
      const found = await store.search(appId, { model, vector: queries[q]!, limit: 10, filter });
      ms.push(performance.now() - t0);
      const truth = new Set(exact[q]);
      hits += found.filter((m) => truth.has(`${m.kind}:${m.id}`)).length;
      expected += truth.size;
      results += found.length;
    }
    rows.push({ database: database.kind, set: label, efSearch, p50: percentile(ms, 50), p95: percentile(ms, 95), recall: hits / expected, results: results / queries.length });
  }
}

async function benchDatabase(database: Database, config: ReturnType<typeof loadConfig>, rows: Row[]): Promise<void> {
  const logger = createLogger({ level: 'warn' });
  const embedder = createLocalEmbedder({ cacheDir: path.join(tmpdir(), 'kidslearn-test-embeddings-cache') });
  const container = await createContainer(config, { database, logger, embedder, autoIndex: false });
  try {
    // 1. The mathkids curriculum.
    let t0 = performance.now();
    await seedDemoApp(container, 'mathkids');
    const indexed = await container.curriculumIndex.reindex('mathkids');
    console.log(`[${database.kind}] mathkids: ${indexed.documents} concepts, lessons and items seeded and embedded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const docs = (await curriculumDocuments(database, 'mathkids')).filter((d) => d.kind === 'item');
    const pick = rng(3);
    const queryTexts = Array.from({ length: QUERIES }, () => docs[Math.floor(pick() * docs.length)]!.text);
    const curriculumQueries = await embedder.embed(queryTexts);
    await measure(database, `mathkids (${indexed.documents})`, 'mathkids', curriculumQueries, indexed.model, undefined, rows);

    // 2. The synthetic clustered set.
    await container.apps.create('synthetic', 'Synthetic vectors');
    const count = VECTORS[database.kind];
    const set = clusteredSet(count, 42);
    const records: VectorRecord[] = set.points.map((p, i) => ({
      kind: 'item',
      id: `v${i}`,
      model: 'synthetic-100',
      vector: p.vector,
      grade: i % 9,
      subject: 'math',
      textHash: 'x',
    }));
    const store = createPgvectorStore({ database, timeoutMs: 600_000 });
    // One upsert: multi-row INSERTs of 1,000 rows, then the HNSW index built once over all of them.
    t0 = performance.now();
    await store.upsert('synthetic', records);
    const insertMs = performance.now() - t0;
    console.log(`[${database.kind}] synthetic: ${count.toLocaleString('en')} vectors inserted and indexed (HNSW m ${DEFAULT_HNSW.m}, ef_construction ${DEFAULT_HNSW.efConstruction}) in ${(insertMs / 1000).toFixed(1)} s`);
    await sql`analyze app_synthetic.curriculum_embeddings`.execute(database.db);
    const queries = set.sample(QUERIES, 99).map((p) => p.vector);
    await measure(database, `synthetic ${count / 1000}k`, 'synthetic', queries, 'synthetic-100', undefined, rows);
    await measure(database, `synthetic ${count / 1000}k, grade filter (1/9)`, 'synthetic', queries, 'synthetic-100', { grade: 4 }, rows);
  } finally {
    await container.close();
  }
}

console.log(`kidslearn bench:vector — ${new Date().toISOString()} — ${machine()}`);
const rows: Row[] = [];
const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-vector-'));
const config = loadConfig({ KIDSLEARN_DATA_DIR: dataDir, LOG_LEVEL: 'warn', SEED_DEMO_APPS: 'false' }, { envFile: null });

const started = performance.now();
await benchDatabase(await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: 600_000 }), config, rows);

const name = `kidslearn_bench_vector_${process.pid}`;
let admin: pg.Client | undefined;
try {
  admin = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  await admin.connect();
  await admin.query(`create database ${name}`);
} catch (error) {
  console.log(`PostgreSQL at ${POSTGRES_URL} unreachable, skipped: ${(error as Error).message}`);
  admin = undefined;
}
if (admin) {
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  try {
    await benchDatabase(await openPostgresDatabase({ url: url.toString(), poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 600_000 }), config, rows);
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

console.log('\n| database | set | ef_search | p50 ms | p95 ms | recall@10 | results per query |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.database} | ${r.set} | ${r.efSearch} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.recall.toFixed(3)} | ${r.results.toFixed(1)} |`);
console.log(`\n(${QUERIES} queries per row; recall@10 against an exact scan of the same rows and filter; total ${((performance.now() - started) / 1000).toFixed(0)} s)`);
