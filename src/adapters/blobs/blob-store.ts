/**
 * The blob store port: the analytics lake's files, in a directory (embedded
 * default, `<dataDir>/lake`) or an S3 bucket. Keys are `/`-separated paths
 * such as `events/app=mathkids/year=2026/…/x.parquet`. Every failure to
 * reach the store is an AppError `blob_store_unavailable` (503).
 */

/** One stored object as `list` reports it. */
export interface BlobInfo { key: string; size: number; modifiedAt: Date }

export interface BlobStore {
  readonly kind: 'directory' | 's3';
  /** Where the files are (a directory path or `s3://bucket/prefix`), for logs and status. */
  readonly location: string;
  /** Stores a local file under `key`: atomic (readers see the old object or the whole new one), overwrites. */
  putFile(key: string, file: string): Promise<void>;
  putBytes(key: string, bytes: Uint8Array): Promise<void>;
  /** Copies the object to a local file. */
  getFile(key: string, file: string): Promise<void>;
  /** The object's bytes, or undefined when there is none. */
  getBytes(key: string): Promise<Uint8Array | undefined>;
  exists(key: string): Promise<boolean>;
  /** Every object whose key starts with `prefix`, recursively, sorted by key. */
  list(prefix: string): Promise<BlobInfo[]>;
  /** Deletes the objects; a key that does not exist is no error. */
  delete(keys: readonly string[]): Promise<void>;
  /** The directory holding the objects (directory store only), so DuckDB can read them in place. */
  readonly localRoot?: string;
  /** Resolves when the store answers within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
