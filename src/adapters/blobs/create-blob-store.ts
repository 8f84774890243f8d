import type { BlobStore } from './blob-store.ts';
import { createDirectoryBlobStore } from './directory-blob-store.ts';
import { createS3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.ts';

/** Which blob store to open: a local directory (default `<dataDir>/lake`) or an S3 bucket and prefix. */
export type BlobStoreOptions = { kind: 'directory'; dir: string } | ({ kind: 's3' } & Omit<S3BlobStoreOptions, 'client'>);

/** Opens the blob store `options` names. Nothing is contacted until the first call (or `ping`). */
export function createBlobStore(options: BlobStoreOptions): BlobStore {
  if (options.kind === 'directory') return createDirectoryBlobStore({ dir: options.dir });
  const { kind: _kind, ...s3 } = options;
  return createS3BlobStore(s3);
}
