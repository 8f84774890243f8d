import type { Config } from '../../config/config.ts';
import type { BlobStore } from './blob-store.ts';
import { createDirectoryBlobStore } from './directory-blob-store.ts';

/** The configured lake store (`LAKE_DIR` or `LAKE_S3_*`). Minimal: the S3 adapter comes with the blob-store branch. */
export function createBlobStore(store: Config['lake']['store'], timeoutMs: number): BlobStore {
  if (store.kind !== 'directory') throw new Error('The S3 lake store is not available in this build');
  return createDirectoryBlobStore({ root: store.dir, timeoutMs });
}
