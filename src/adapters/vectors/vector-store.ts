import { AppError } from '../../domain/errors.ts';

/**
 * The vector-store port: the embeddings of an app's curriculum (concepts,
 * lessons, practice items) and nearest-neighbour search over them. One
 * adapter, pgvector (./pgvector-store.ts), which runs on embedded PGlite
 * (through `@electric-sql/pglite-pgvector`) and on a PostgreSQL server with
 * the `vector` extension alike; a hosted vector database would be a second.
 *
 * Every vector is stored with the model that made it and its dimension, and
 * a search names the model of its query vector: vectors of different models
 * are never compared. Scores are cosine similarities (1 = same direction).
 */
export type VectorKind = 'concept' | 'lesson' | 'item';

export const VECTOR_KINDS: readonly VectorKind[] = ['concept', 'lesson', 'item'];

/** What one stored vector is of. */
export interface VectorKey {
  kind: VectorKind;
  id: string;
}

/** One vector to store, with what searches filter on and what a reindex compares. */
export interface VectorRecord extends VectorKey {
  /** Embedding model id (e.g. `local-wink-sg100-tfidf-v1`); the dimension is the vector's length. */
  model: string;
  vector: Float32Array;
  grade: number | null;
  subject: string | null;
  /** Hash of the embedded text: an unchanged text under the same model is not embedded again. */
  textHash: string;
}

/** What a stored vector was made from (for incremental reindexing). */
export interface StoredVector extends VectorKey {
  model: string;
  dimensions: number;
  textHash: string;
}

/** Filters of a search; all optional, combined with AND. */
export interface VectorFilter {
  kinds?: readonly VectorKind[] | undefined;
  grade?: number | undefined;
  subject?: string | undefined;
}

/** A search: the query vector, its model, filters and how many results. */
export interface VectorQuery {
  model: string;
  vector: Float32Array;
  filter?: VectorFilter | undefined;
  /** At most this many results (1–100). */
  limit: number;
  /**
   * Compare with every matching vector instead of walking the HNSW index:
   * exact, slower. For measuring the index's recall, and nothing else.
   */
  exact?: boolean;
}

/** One search result: what it is and its cosine similarity to the query. */
export interface VectorMatch extends VectorKey {
  score: number;
}

export interface VectorStore {
  /** Stores (or replaces) vectors, keyed by (kind, id); creates the HNSW index a new dimension needs. */
  upsert(appId: string, records: readonly VectorRecord[]): Promise<void>;
  /** Removes vectors; returns how many there were. */
  delete(appId: string, keys: readonly VectorKey[]): Promise<number>;
  /**
   * The nearest vectors of the query's model, best first. With filters it
   * still returns `limit` results whenever that many match (the index scan
   * goes on past filtered-out rows; see the adapter).
   */
  search(appId: string, query: VectorQuery): Promise<VectorMatch[]>;
  /** How many vectors the app has (of one model, if given). */
  count(appId: string, options?: { model?: string }): Promise<number>;
  /** What every stored vector of the app was made from. */
  list(appId: string): Promise<StoredVector[]>;
  /** Resolves with the pgvector version when the store answers within the timeout. */
  health(timeoutMs?: number): Promise<{ version: string }>;
}

/** A search limit outside 1–100, or a vector that cannot be searched with. */
export function invalidVectorQuery(message: string): AppError {
  return new AppError('invalid', 'invalid_vector_query', message);
}
