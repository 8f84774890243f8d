import { AppError, notFound } from '../../domain/errors.ts';

/** One stored object, as `list` reports it. */
export interface BlobInfo {
  key: string;
  size: number;
  modifiedAt: Date;
  /** The store's content tag (S3's ETag, quotes removed), when it has one: changes whenever the content does. */
  etag?: string;
}

/**
 * The blob store port: where the analytics lake keeps its Parquet files
 * (`events/app=<app>/year=YYYY/month=MM/day=DD/<firstSeq>-<lastSeq>.parquet`).
 * Two adapters: a local directory (default) and S3. Keys are checked by
 * `assertBlobKey`; a bad key is a programmer error and throws. Every failure
 * of the backing store is one error, `blob_store_unavailable`, with the
 * driver's error as `cause`.
 */
export interface BlobStore {
  readonly kind: 'directory' | 's3';
  /** Human-readable location for logs/docs: a path or s3://bucket/prefix */
  readonly location: string;
  /** Stores the local file at `file` under `key` atomically: readers see the old object or the whole new one, never a partial one. Overwrites. */
  putFile(key: string, file: string): Promise<void>;
  /** Stores `bytes` under `key`, atomically like `putFile`. Overwrites. */
  putBytes(key: string, bytes: Uint8Array): Promise<void>;
  /** Copies the object to a local file path (for DuckDB to read). Rejects with a not-found AppError if absent. */
  getFile(key: string, file: string): Promise<void>;
  /** The object's bytes, or undefined if there is none. */
  getBytes(key: string): Promise<Uint8Array | undefined>;
  /** Whether an object is stored under `key`. */
  exists(key: string): Promise<boolean>;
  /** Every object under the prefix (recursively), sorted by key. Paginates on S3. */
  list(prefix: string): Promise<BlobInfo[]>;
  /** Deletes the keys (absent ones are not an error). S3: DeleteObjects in chunks of 1000. */
  delete(keys: readonly string[]): Promise<void>;
  /** A local directory DuckDB can read directly (directory adapter only) — lets queries read files in place without copying; undefined on S3. */
  readonly localRoot?: string;
  /** Resolves if the store answers within timeoutMs (for /health). */
  ping(timeoutMs: number): Promise<void>;
  /** Releases the store's connections (S3); the directory store holds none. */
  close(): Promise<void>;
}

/** Longest key S3 accepts (1024 bytes; keys here are ASCII). */
export const MAX_BLOB_KEY_LENGTH = 1024;
/** Longest segment: file names are limited to 255 bytes, and the directory store's temp names add 22 characters. */
export const MAX_BLOB_SEGMENT_LENGTH = 200;

const KEY_CHARS = /^[A-Za-z0-9=._/-]*$/;

/**
 * Throws unless `key` is a relative `/`-separated key of `[A-Za-z0-9=._/-]`,
 * at most 1024 characters, with no empty segment, no segment longer than
 * 200 characters and none starting with a dot (so no `.`/`..`, and no clash
 * with the directory store's hidden temp files).
 */
export function assertBlobKey(key: string): void {
  checkPath(key, 'key');
  if (key.endsWith('/')) throw new TypeError(`Invalid blob key ${JSON.stringify(key)}: ends with "/"`);
}

/**
 * Throws unless `prefix` is '' or a key prefix: the key rules, except that
 * it may end with `/` (a "folder"). Matching is by string prefix, as on S3:
 * `events/app=a` also matches `events/app=ab/…`.
 */
export function assertBlobPrefix(prefix: string): void {
  if (prefix === '') return;
  checkPath(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'prefix');
}

function checkPath(path: string, what: string): void {
  const bad = (why: string) => new TypeError(`Invalid blob ${what} ${JSON.stringify(path)}: ${why}`);
  if (typeof path !== 'string' || path === '') throw bad('empty');
  if (path.length > MAX_BLOB_KEY_LENGTH) throw bad(`longer than ${MAX_BLOB_KEY_LENGTH} characters`);
  if (!KEY_CHARS.test(path)) throw bad('only A-Z a-z 0-9 = . _ / - are allowed');
  for (const segment of path.split('/')) {
    if (segment === '') throw bad('empty segment (leading, trailing or double "/")');
    if (segment.startsWith('.')) throw bad('a segment starts with "."');
    if (segment.length > MAX_BLOB_SEGMENT_LENGTH) throw bad(`a segment is longer than ${MAX_BLOB_SEGMENT_LENGTH} characters`);
  }
}

/** Seconds a client is asked to wait (`Retry-After`) after a 503 `blob_store_unavailable`. */
export const BLOB_STORE_RETRY_AFTER_SECONDS = 5;

/**
 * The one error every blob store adapter raises when the backing store
 * cannot serve (S3 unreachable, silent past the timeout, 5xx, access denied;
 * a disk error): 503 `blob_store_unavailable`. The driver's error is kept as
 * `cause` for the log.
 */
export function blobStoreUnavailable(message: string, cause?: unknown): AppError {
  return new AppError('unavailable', 'blob_store_unavailable', message, { details: { retryAfterSeconds: BLOB_STORE_RETRY_AFTER_SECONDS }, cause });
}

/** `getFile` of a key with no object. */
export function blobNotFound(key: string): AppError {
  return notFound('blob_not_found', `No blob stored under ${JSON.stringify(key)}`);
}
