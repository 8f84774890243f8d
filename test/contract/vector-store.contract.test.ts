import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Database } from '../../src/adapters/db/database.ts';
import { migrateAll, PGVECTOR_MISSING } from '../../src/adapters/db/migrations.ts';
import { openPgliteDatabase } from '../../src/adapters/db/pglite.ts';
import { createPgvectorStore } from '../../src/adapters/vectors/pgvector-store.ts';
import type { VectorRecord, VectorStore } from '../../src/adapters/vectors/vector-store.ts';
import { AppError } from '../../src/domain/errors.ts';
import { AppsService } from '../../src/features/apps/apps.service.ts';
import { databaseBackends } from '../support/servers.ts';

/** A deterministic pseudo-random generator (mulberry32), so every run stores the same vectors. */
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

const unit = (values: number[]): Float32Array => {
  const n = Math.hypot(...values);
  return Float32Array.from(values, (x) => x / n);
};

/** A unit vector near `center`: the center plus noise of size `spread` in each coordinate. */
function near(center: readonly number[], spread: number, random: () => number): Float32Array {
  return unit(center.map((c) => c + (random() - 0.5) * 2 * spread));
}

const record = (kind: VectorRecord['kind'], id: string, vector: Float32Array, extra: Partial<VectorRecord> = {}): VectorRecord => ({
  kind,
  id,
  model: 'test-model',
  vector,
  grade: 1,
  subject: 'math',
  textHash: `hash-${id}`,
  ...extra,
});

/** The vector store port's contract, on embedded PGlite (pglite-pgvector) and a throwaway PostgreSQL database with pgvector. */
for (const backend of await databaseBackends()) {
  describe(`vector store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let opened: Awaited<ReturnType<typeof backend.open>>;
    let database: Database;
    let store: VectorStore;
    before(async () => {
      opened = await backend.open();
      database = opened.database;
      await migrateAll(database.db);
      const apps = new AppsService(database);
      for (const id of ['alpha', 'beta', 'gamma', 'starve']) await apps.create(id, id);
      store = createPgvectorStore({ database, timeoutMs: 20_000 });
    });
    after(async () => opened.dispose());

    it('stores vectors with their model, dimension and text hash; upsert replaces; delete removes', async () => {
      await store.upsert('alpha', [record('lesson', 'l1', unit([1, 0, 0])), record('item', 'i1', unit([0, 1, 0]), { grade: 2, subject: 'reading' })]);
      await store.upsert('alpha', [record('lesson', 'l1', unit([1, 1, 0]), { textHash: 'hash-l1-v2', model: 'other-model' })]);
      assert.deepEqual(await store.list('alpha'), [
        { kind: 'item', id: 'i1', model: 'test-model', dimensions: 3, textHash: 'hash-i1' },
        { kind: 'lesson', id: 'l1', model: 'other-model', dimensions: 3, textHash: 'hash-l1-v2' },
      ]);
      assert.equal(await store.count('alpha'), 2);
      assert.equal(await store.count('alpha', { model: 'test-model' }), 1);
      assert.equal(await store.delete('alpha', [{ kind: 'lesson', id: 'l1' }, { kind: 'lesson', id: 'missing' }]), 1);
      assert.deepEqual((await store.list('alpha')).map((v) => v.id), ['i1']);
      assert.equal(await store.count('beta'), 0, 'apps are isolated');
    });

    it('search returns the nearest vectors of the query model, best first, with cosine scores', async () => {
      await store.upsert('beta', [
        record('lesson', 'east', unit([1, 0, 0])),
        record('lesson', 'north-east', unit([1, 1, 0])),
        record('item', 'north', unit([0, 1, 0])),
        record('concept', 'west', unit([-1, 0, 0])),
        // Same direction as the query, but another model: never compared.
        record('lesson', 'other-model', unit([1, 0, 0]), { model: 'other-model' }),
      ]);
      const found = await store.search('beta', { model: 'test-model', vector: unit([1, 0, 0]), limit: 10 });
      assert.deepEqual(
        found.map((m) => m.id),
        ['east', 'north-east', 'north', 'west'],
      );
      const scores = found.map((m) => Math.round(m.score * 1000) / 1000);
      assert.deepEqual(scores, [1, 0.707, 0, -1]);
      assert.deepEqual(found[0], { kind: 'lesson', id: 'east', score: found[0]!.score });
      assert.equal((await store.search('beta', { model: 'test-model', vector: unit([1, 0, 0]), limit: 2 })).length, 2);
      assert.deepEqual(await store.search('alpha', { model: 'no-such-model', vector: unit([1, 0, 0]), limit: 5 }), []);
    });

    it('filters by kind, grade and subject', async () => {
      await store.upsert('gamma', [
        record('lesson', 'g1-math', unit([1, 0.1, 0]), { grade: 1, subject: 'math' }),
        record('lesson', 'g2-math', unit([1, 0.2, 0]), { grade: 2, subject: 'math' }),
        record('item', 'g1-math-item', unit([1, 0.3, 0]), { grade: 1, subject: 'math' }),
        record('lesson', 'g1-reading', unit([1, 0.4, 0]), { grade: 1, subject: 'reading' }),
      ]);
      const ids = async (filter: Parameters<VectorStore['search']>[1]['filter']) =>
        (await store.search('gamma', { model: 'test-model', vector: unit([1, 0, 0]), limit: 10, filter })).map((m) => m.id);
      assert.deepEqual(await ids({ kinds: ['lesson'] }), ['g1-math', 'g2-math', 'g1-reading']);
      assert.deepEqual(await ids({ grade: 1 }), ['g1-math', 'g1-math-item', 'g1-reading']);
      assert.deepEqual(await ids({ subject: 'reading' }), ['g1-reading']);
      assert.deepEqual(await ids({ kinds: ['lesson', 'item'], grade: 1, subject: 'math' }), ['g1-math', 'g1-math-item']);
      assert.deepEqual(await ids({ kinds: [] }), []);
    });

    it('keeps vectors of different dimensions apart, each with its own HNSW index', async () => {
      await store.upsert('gamma', [record('lesson', 'wide', unit([1, 0, 0, 0, 0]), { model: 'wide-model' })]);
      const indexes = await sql<{ indexname: string; indexdef: string }>`select indexname, indexdef from pg_indexes where schemaname = 'app_gamma' and indexname like 'curriculum_embeddings_hnsw_%' order by indexname`.execute(database.db);
      assert.deepEqual(
        indexes.rows.map((r) => r.indexname),
        ['curriculum_embeddings_hnsw_3', 'curriculum_embeddings_hnsw_5'],
      );
      assert.match(indexes.rows[0]!.indexdef, /USING hnsw \(\(\(embedding\)::vector\(3\)\) vector_cosine_ops\).*WHERE \(dimensions = 3\)/);
      assert.deepEqual(
        (await store.search('gamma', { model: 'wide-model', vector: unit([1, 0, 0, 0, 0]), limit: 5 })).map((m) => m.id),
        ['wide'],
      );
    });

    it('refuses a limit outside 1–100', async () => {
      await assert.rejects(store.search('gamma', { model: 'test-model', vector: unit([1, 0, 0]), limit: 0 }), (e: unknown) => e instanceof AppError && e.code === 'invalid_vector_query');
      await assert.rejects(store.search('gamma', { model: 'test-model', vector: unit([1, 0, 0]), limit: 101 }), (e: unknown) => e instanceof AppError && e.code === 'invalid_vector_query');
    });

    it('a selective filter still returns `limit` results through the HNSW index, where a plain index scan returns fewer', async () => {
      // 4,000 vectors: 667 lessons (one in six) in a cluster far from the query, the items
      // around it. A plain HNSW scan (ef_search 40) finds 40 candidates near the query, almost
      // no lesson; the store's iterative scan goes on. (A much rarer kind is read through the
      // primary key and compared exactly, which is also right but would not test the index.)
      const random = rng(7);
      const dimension = 16;
      const queryCenter = Array.from({ length: dimension }, (_, i) => (i === 0 ? 1 : 0));
      const farCenter = Array.from({ length: dimension }, (_, i) => (i === 1 ? 1 : i === 0 ? 0.3 : 0));
      const rows: VectorRecord[] = [];
      for (let i = 0; i < 4000; i++) {
        const rare = i % 6 === 0;
        rows.push(record(rare ? 'lesson' : 'item', `v${i}`, near(rare ? farCenter : queryCenter, 0.35, random), { grade: i % 8, subject: 'math' }));
      }
      await store.upsert('starve', rows);
      await sql`analyze app_starve.curriculum_embeddings`.execute(database.db);
      const query = { model: 'test-model', vector: unit(queryCenter), limit: 30, filter: { kinds: ['lesson' as const] } };

      // ef_search 40 (pgvector's default) in the store too, so only the iterative scan can make up the difference.
      const store40 = createPgvectorStore({ database, timeoutMs: 20_000, hnsw: { efSearch: 40 } });
      const found = await store40.search('starve', query);
      assert.equal(found.length, 30, 'limit results although the matching rows are far from the query');
      assert.ok(found.every((m) => Number(m.id.slice(1)) % 6 === 0), 'every result matches the filter');
      const exact = await store.search('starve', { ...query, exact: true });
      const recall = found.filter((m) => exact.some((e) => e.id === m.id)).length / exact.length;
      assert.ok(recall >= 0.9, `recall@30 against an exact scan: ${recall}`);
      for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.score >= found[i]!.score, 'best first');

      // The same statement as the store's, without iterative scans: the index is used (so the
      // test above exercised it) and returns too few rows.
      const n = sql.raw(String(dimension));
      const q = `[${Array.from(query.vector).join(',')}]`;
      const plain = async (iterative: 'off' | 'relaxed_order') =>
        database.db.transaction().execute(async (trx) => {
          await sql`select set_config('hnsw.ef_search', '40', true), set_config('hnsw.iterative_scan', ${iterative}, true)`.execute(trx);
          const statement = sql`select id from app_starve.curriculum_embeddings where model = 'test-model' and dimensions = ${n} and kind in ('lesson')
              order by embedding::vector(${n}) <=> ${q}::vector(${n}) limit 30`;
          const plan = await sql<{ 'QUERY PLAN': string }>`explain ${statement}`.execute(trx);
          return { rows: (await statement.execute(trx)).rows.length, plan: plan.rows.map((r) => r['QUERY PLAN']).join('\n') };
        });
      const withoutIterative = await plain('off');
      assert.match(withoutIterative.plan, /curriculum_embeddings_hnsw_16/, 'the planner walks the HNSW index for this filter');
      assert.match((await plain('relaxed_order')).plan, /curriculum_embeddings_hnsw_16/, 'also with iterative scans');
      assert.ok(withoutIterative.rows < 30, `a plain HNSW scan returned ${withoutIterative.rows} rows`);
    });
  });
}

describe('a database without pgvector', () => {
  it('stops migrations with one line saying what is missing and how to install it', async () => {
    // Real PostgreSQL (PGlite) whose file system lacks the extension, as a server without pgvector.
    const database = await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: 10_000, pgvector: false });
    try {
      await assert.rejects(migrateAll(database.db), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal(error.message, PGVECTOR_MISSING);
        return true;
      });
      assert.doesNotMatch(PGVECTOR_MISSING, /\n/);
      assert.match(PGVECTOR_MISSING, /pgvector\/pgvector:pg15/);
      assert.match(PGVECTOR_MISSING, /install-pgvector\.sh/);
      assert.match(PGVECTOR_MISSING, /Aurora\/RDS/);
    } finally {
      await database.close();
    }
  });
});
