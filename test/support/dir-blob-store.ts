import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { BlobInfo, BlobStore } from '../../src/adapters/blobs/blob-store.ts';

/**
 * A minimal directory-backed blob store for tests (keys are relative paths
 * under `dir`). Test-only: the real adapter (src/adapters/blobs) replaces it
 * once the branches meet. `kind` may be set to 's3' (without `localRoot`) so
 * the query engine takes its download-to-cache path over the same files;
 * `gets` counts downloads.
 */
export function createTestDirBlobStore(dir: string, options: { as?: 'directory' | 's3' } = {}): BlobStore & { gets: string[] } {
  const root = path.resolve(dir);
  const file = (key: string) => path.join(root, ...key.split('/'));
  const gets: string[] = [];
  const atomicWrite = async (key: string, write: (tmp: string) => Promise<void>) => {
    const target = file(key);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(path.dirname(target), `.tmp-${randomUUID()}`);
    await write(tmp);
    await rename(tmp, target);
  };
  const walk = async (d: string, out: BlobInfo[]) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.name.startsWith('.')) continue;
      if (e.isDirectory()) await walk(p, out);
      else {
        const s = await stat(p);
        out.push({ key: path.relative(root, p).split(path.sep).join('/'), size: s.size, modifiedAt: s.mtime });
      }
    }
  };
  const s3 = options.as === 's3';
  return {
    kind: s3 ? 's3' : 'directory',
    location: root,
    ...(s3 ? {} : { localRoot: root }),
    gets,
    putFile: (key, from) => atomicWrite(key, (tmp) => copyFile(from, tmp)),
    putBytes: (key, bytes) => atomicWrite(key, (tmp) => writeFile(tmp, bytes)),
    async getFile(key, to) {
      gets.push(key);
      await mkdir(path.dirname(to), { recursive: true });
      await copyFile(file(key), to);
    },
    async getBytes(key) {
      try {
        return new Uint8Array(await readFile(file(key)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async exists(key) {
      try {
        await stat(file(key));
        return true;
      } catch {
        return false;
      }
    },
    async list(prefix) {
      const out: BlobInfo[] = [];
      // Walk from the deepest folder the prefix names, then filter by string prefix (as S3 does).
      const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      await walk(folder ? file(folder) : root, out);
      return out.filter((b) => b.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async delete(keys) {
      for (const k of keys) await rm(file(k), { force: true });
    },
    async ping() {},
    async close() {},
  };
}
