import type { BlobStore } from '../../src/adapters/blobs/blob-store.ts';
import { createDirectoryBlobStore } from '../../src/adapters/blobs/directory-blob-store.ts';

/**
 * The real directory blob store over `dir`, with the keys passed to
 * `getFile` recorded in `gets`. With `as: 's3'` it poses as a remote store
 * (kind `s3`, no `localRoot`), so the query engine takes its
 * download-to-cache path over the same files.
 */
export function createTestDirBlobStore(dir: string, options: { as?: 'directory' | 's3' } = {}): BlobStore & { gets: string[] } {
  const inner = createDirectoryBlobStore({ dir });
  const gets: string[] = [];
  const remote = options.as === 's3';
  return {
    kind: remote ? 's3' : inner.kind,
    location: inner.location,
    ...(remote ? {} : { localRoot: inner.localRoot }),
    gets,
    putFile: (key, file) => inner.putFile(key, file),
    putBytes: (key, bytes) => inner.putBytes(key, bytes),
    getFile: (key, file) => {
      gets.push(key);
      return inner.getFile(key, file);
    },
    getBytes: (key) => inner.getBytes(key),
    exists: (key) => inner.exists(key),
    list: (prefix) => inner.list(prefix),
    delete: (keys) => inner.delete(keys),
    ping: (ms) => inner.ping(ms),
    close: () => inner.close(),
  };
}
