/** One stored object, as `list` reports it. */
export interface BlobInfo {
  key: string;
  size: number;
  modifiedAt: Date;
}

/**
 * The blob store port: where the analytics lake keeps its Parquet files
 * (`events/app=<app>/year=YYYY/month=MM/day=DD/<firstSeq>-<lastSeq>.parquet`).
 * Two adapters: a local directory (default `<dataDir>/lake`) and S3.
 */
export interface BlobStore {
  readonly kind: 'directory' | 's3';
  /** Human-readable location for logs and docs: a path or s3://bucket/prefix. */
  readonly location: string;
  /** Stores the local file at `file` under `key` atomically. Overwrites. */
  putFile(key: string, file: string): Promise<void>;
  /** Stores `bytes` under `key` atomically. Overwrites. */
  putBytes(key: string, bytes: Uint8Array): Promise<void>;
  /** Copies the object to a local file (for DuckDB to read). */
  getFile(key: string, file: string): Promise<void>;
  /** The object's bytes, or undefined if there is none. */
  getBytes(key: string): Promise<Uint8Array | undefined>;
  /** Whether an object is stored under `key`. */
  exists(key: string): Promise<boolean>;
  /** Every object under the prefix (recursively), sorted by key. */
  list(prefix: string): Promise<BlobInfo[]>;
  /** Deletes the keys (absent ones are not an error). */
  delete(keys: readonly string[]): Promise<void>;
  /** Directory store: the root folder, DuckDB reads files in place. Undefined on S3. */
  readonly localRoot?: string;
  /** Resolves if the store answers within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
