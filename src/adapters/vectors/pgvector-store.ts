import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { databaseUnavailable, withTimeout, type Database } from '../db/database.ts';
import type { Tables } from '../db/tables.ts';
import { tenantSchema } from '../../domain/tenancy.ts';
import { invalidVectorQuery, type StoredVector, type VectorKey, type VectorMatch, type VectorRecord, type VectorStore } from './vector-store.ts';

/** How the HNSW indexes are built and searched; see docs/engine.md ("Vector search") for why these values. */
export interface HnswSettings {
  /** Links per node (pgvector default 16). */
  m: number;
  /** Candidate list while building (pgvector default 64). */
  efConstruction: number;
  /** Candidate list while searching (pgvector default 40); at least the search limit. */
  efSearch: number;
  /** Rows an iterative (filtered) scan may visit before it gives up (pgvector default 20,000). */
  maxScanTuples: number;
}

export const DEFAULT_HNSW: HnswSettings = { m: 16, efConstruction: 64, efSearch: 100, maxScanTuples: 20_000 };

/**
 * Largest dimension pgvector's HNSW indexes a `vector` for. Vectors of more
 * dimensions (e.g. OpenAI's text-embedding-3-large, 3072) are stored and
 * searched exactly, without an index.
 */
export const HNSW_MAX_DIMENSIONS = 2000;

export interface PgvectorStoreOptions {
  database: Database;
  /** Bound on every call (waiting for the connection included); past it the call fails with 503 `database_unavailable`. */
  timeoutMs: number;
  /** Bound on building an HNSW index (once per app and dimension). */
  indexTimeoutMs?: number;
  hnsw?: Partial<HnswSettings>;
  /** maintenance_work_mem while an index is built, so the graph fits in memory (a build that spills is many times slower). */
  indexBuildMemoryMb?: number;
}

/** Rows per multi-row INSERT: about 1 MB of vector text per statement. */
const rowsPerInsert = (dimensions: number) => Math.max(10, Math.min(1000, Math.floor(100_000 / dimensions)));

/** `[0.1,0.2,…]`; 9 significant digits hold a float32 exactly and keep the statement half the size of JavaScript's doubles. */
const vectorLiteral = (v: Float32Array) => `[${Array.from(v, (x) => (Number.isFinite(x) ? Number(x.toPrecision(9)) : 0)).join(',')}]`;

/**
 * The pgvector adapter, on PGlite and on a PostgreSQL server through the
 * same Kysely instance. Vectors live in the app's `curriculum_embeddings`
 * table (tenant migration 11) in an untyped `vector` column, because the
 * dimension depends on the model. Each dimension in use gets its own HNSW
 * index (cosine) on the expression `(embedding::vector(N))`, partial on
 * `dimensions = N`, created after the first vectors of that dimension are
 * stored (so a bulk load builds the graph once instead of row by row);
 * a search casts and filters the same way so the planner can use it.
 *
 * Filters: pgvector applies WHERE conditions to the rows an HNSW scan
 * returns, and a plain scan returns only `ef_search` candidates, so a
 * selective filter (one grade of eight) used to leave a search with fewer
 * results than exist. Searches therefore run with pgvector 0.8's iterative
 * index scans (`hnsw.iterative_scan = relaxed_order`): the scan continues
 * until `limit` rows pass the filter (or `max_scan_tuples` rows were
 * visited); the relaxed order is restored by sorting the materialised
 * candidates again. When the filter is very selective the planner may read
 * the matching rows through the btree index and compare them exactly, which
 * is also right.
 */
export function createPgvectorStore(options: PgvectorStoreOptions): VectorStore {
  const { database } = options;
  const db = database.db;
  const hnsw = { ...DEFAULT_HNSW, ...options.hnsw };
  const indexTimeoutMs = options.indexTimeoutMs ?? Math.max(options.timeoutMs, 600_000);
  const buildMemoryMb = options.indexBuildMemoryMb ?? 256;
  /** Apps and dimensions whose index this process knows exists. */
  const indexed = new Set<string>();

  const table = (appId: string) => sql.table(`${tenantSchema(appId)}.curriculum_embeddings`);
  const timed = <T>(what: string, promise: Promise<T>, ms = options.timeoutMs) => withTimeout(promise, ms, () => databaseUnavailable(`Vector store did not answer in time (${what})`));
  /** Statement timeout for the transaction too, so the server stops work nobody waits for (PGlite ignores it). */
  const limitStatement = (trx: Transaction<Tables>, ms: number) => sql`select set_config('statement_timeout', ${String(ms)}, true)`.execute(trx);

  async function ensureIndex(appId: string, dimensions: number): Promise<void> {
    if (dimensions > HNSW_MAX_DIMENSIONS) return;
    const key = `${appId}:${dimensions}`;
    if (indexed.has(key)) return;
    const schema = tenantSchema(appId);
    const name = `curriculum_embeddings_hnsw_${dimensions}`;
    const exists = await sql<{ n: number }>`select 1 as n from pg_indexes where schemaname = ${schema} and indexname = ${name}`.execute(db);
    if (!exists.rows.length) {
      const n = sql.raw(String(dimensions));
      try {
        await timed(
          'index build',
          db.transaction().execute(async (trx) => {
            await limitStatement(trx, indexTimeoutMs);
            await sql`select set_config('maintenance_work_mem', ${`${buildMemoryMb}MB`}, true)`.execute(trx);
            await sql`create index if not exists ${sql.id(name)} on ${table(appId)}
              using hnsw ((embedding::vector(${n})) vector_cosine_ops) with (m = ${sql.raw(String(hnsw.m))}, ef_construction = ${sql.raw(String(hnsw.efConstruction))})
              where dimensions = ${n}`.execute(trx);
          }),
          indexTimeoutMs,
        );
      } catch (error) {
        // Another process built it at the same moment: what we wanted.
        const code = (error as { code?: string }).code;
        if (code !== '23505' && code !== '42P07') throw error;
      }
    }
    indexed.add(key);
  }

  /**
   * One INSERT for many rows: each column travels as one array parameter and
   * `unnest` turns them back into rows, so a statement has 8 parameters
   * whatever its size (a VALUES list of 1,000 rows had 9,000, and building
   * and binding them cost more than the insert).
   */
  async function insertRows(trx: Kysely<Tables> | Transaction<Tables>, appId: string, rows: readonly VectorRecord[]): Promise<void> {
    const col = <T>(f: (r: VectorRecord) => T) => rows.map(f);
    await sql`insert into ${table(appId)} (kind, id, model, dimensions, grade, subject, text_hash, embedding, updated_at)
      select k, i, m, d, g, s, h, e::vector, now()
      from unnest(${col((r) => r.kind)}::text[], ${col((r) => r.id)}::text[], ${col((r) => r.model)}::text[], ${col((r) => r.vector.length)}::int[],
                  ${col((r) => r.grade)}::smallint[], ${col((r) => r.subject)}::text[], ${col((r) => r.textHash)}::text[], ${col((r) => vectorLiteral(r.vector))}::text[])
        as u(k, i, m, d, g, s, h, e)
      on conflict (kind, id) do update set model = excluded.model, dimensions = excluded.dimensions, grade = excluded.grade,
        subject = excluded.subject, text_hash = excluded.text_hash, embedding = excluded.embedding, updated_at = excluded.updated_at`.execute(trx);
  }

  return {
    async upsert(appId, records) {
      if (!records.length) return;
      for (const r of records) {
        if (r.vector.length === 0) throw invalidVectorQuery(`The vector of ${r.kind} "${r.id}" is empty`);
      }
      // Grouped by dimension so each statement's rows are about the same size.
      const byDimension = new Map<number, VectorRecord[]>();
      for (const r of records) byDimension.set(r.vector.length, [...(byDimension.get(r.vector.length) ?? []), r]);
      for (const [dimensions, group] of byDimension) {
        const size = rowsPerInsert(dimensions);
        for (let start = 0; start < group.length; start += size) {
          await timed('upsert', insertRows(db, appId, group.slice(start, start + size)));
        }
        // After the rows: the first load of a dimension builds the graph in one pass.
        await ensureIndex(appId, dimensions);
      }
    },

    async delete(appId, keys) {
      let deleted = 0;
      for (let start = 0; start < keys.length; start += 500) {
        const chunk = keys.slice(start, start + 500);
        const list = sql.join(chunk.map((k: VectorKey) => sql`(${k.kind}, ${k.id})`));
        const result = await timed('delete', sql`delete from ${table(appId)} where (kind, id) in (${list})`.execute(db));
        deleted += Number(result.numAffectedRows ?? 0);
      }
      return deleted;
    },

    async search(appId, query) {
      const { vector, filter = {} } = query;
      const limit = query.limit;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalidVectorQuery('limit must be a whole number from 1 to 100');
      const dimensions = vector.length;
      if (dimensions === 0) throw invalidVectorQuery('The query vector is empty');
      if (filter.kinds?.length === 0) return [];
      const n = sql.raw(String(dimensions));
      const conditions: RawBuilder<unknown>[] = [sql`model = ${query.model}`, sql`dimensions = ${n}`];
      if (filter.kinds) conditions.push(sql`kind in (${sql.join(filter.kinds.map((k) => sql`${k}`))})`);
      if (filter.grade !== undefined) conditions.push(sql`grade = ${filter.grade}`);
      if (filter.subject !== undefined) conditions.push(sql`subject = ${filter.subject}`);
      const where = sql.join(conditions, sql` and `);
      const q = vectorLiteral(vector);
      const exact = query.exact === true || dimensions > HNSW_MAX_DIMENSIONS;
      const rows = await timed(
        'search',
        db.transaction().execute(async (trx) => {
          if (exact) {
            // The untyped column's distance matches no index expression: a full comparison.
            await sql`select set_config('statement_timeout', ${String(options.timeoutMs)}, true), set_config('enable_indexscan', 'off', true)`.execute(trx);
            return (
              await sql<{ kind: VectorMatch['kind']; id: string; distance: number }>`
                select kind, id, embedding <=> ${q}::vector as distance from ${table(appId)} where ${where} order by distance, kind, id limit ${limit}`.execute(trx)
            ).rows;
          }
          // One statement for every setting: each is a round trip, and a search is a handful of them.
          await sql`select set_config('statement_timeout', ${String(options.timeoutMs)}, true),
                           set_config('hnsw.ef_search', ${String(Math.max(hnsw.efSearch, limit))}, true),
                           set_config('hnsw.iterative_scan', 'relaxed_order', true),
                           set_config('hnsw.max_scan_tuples', ${String(hnsw.maxScanTuples)}, true)`.execute(trx);
          return (
            await sql<{ kind: VectorMatch['kind']; id: string; distance: number }>`
              with nearest as materialized (
                select kind, id, embedding::vector(${n}) <=> ${q}::vector(${n}) as distance
                from ${table(appId)} where ${where}
                order by embedding::vector(${n}) <=> ${q}::vector(${n}) limit ${limit}
              )
              select kind, id, distance from nearest order by distance, kind, id`.execute(trx)
          ).rows;
        }),
      );
      return rows.map((r) => ({ kind: r.kind, id: r.id, score: 1 - Number(r.distance) }));
    },

    async count(appId, opts = {}) {
      const where = opts.model === undefined ? sql`true` : sql`model = ${opts.model}`;
      const r = await timed('count', sql<{ n: number }>`select count(*)::int as n from ${table(appId)} where ${where}`.execute(db));
      return r.rows[0]?.n ?? 0;
    },

    async list(appId) {
      const r = await timed(
        'list',
        sql<{ kind: StoredVector['kind']; id: string; model: string; dimensions: number; text_hash: string }>`
          select kind, id, model, dimensions, text_hash from ${table(appId)} order by kind, id`.execute(db),
      );
      return r.rows.map((row) => ({ kind: row.kind, id: row.id, model: row.model, dimensions: row.dimensions, textHash: row.text_hash }));
    },

    async health(timeoutMs = options.timeoutMs) {
      const r = await withTimeout(sql<{ v: string }>`select extversion as v from pg_extension where extname = 'vector'`.execute(db), timeoutMs, () =>
        databaseUnavailable('Vector store did not answer in time (health)'),
      );
      const version = r.rows[0]?.v;
      if (!version) throw databaseUnavailable('The database has no pgvector extension');
      return { version };
    },
  };
}
