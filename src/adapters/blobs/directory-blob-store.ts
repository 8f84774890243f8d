import { constants } from 'node:fs';
import { access, copyFile, mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { withTimeout } from '../db/database.ts';
import { replaceFile } from './atomic-file.ts';
import { assertBlobKey, assertBlobPrefix, blobNotFound, blobStoreUnavailable, type BlobInfo, type BlobStore } from './blob-store.ts';

/** Options of the directory blob store. */
export interface DirectoryBlobStoreOptions {
  /** The root directory (by default `<dataDir>/lake`); created on the first write or ping. */
  dir: string;
}

/**
 * The `directory` blob store: each key is a file under the root
 * (`events/app=a/…` → `<root>/events/app=a/…`), so DuckDB reads the lake in
 * place (`localRoot`). Writes go to a temp file that is fsynced and renamed
 * over the target. Unlike S3, a key cannot also be a "folder" of other keys
 * (`a` and `a/b`); the lake's keys never are. Directories left empty by
 * `delete` stay (removing them would race with a concurrent write).
 */
export function createDirectoryBlobStore(options: DirectoryBlobStoreOptions): BlobStore {
  const root = resolve(options.dir);
  const pathOf = (key: string) => join(root, ...key.split('/'));

  /** Runs a filesystem step; its failure becomes `blob_store_unavailable`. */
  const disk = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw blobStoreUnavailable(`Blob store ${root}: ${what} failed (${(error as NodeJS.ErrnoException).code ?? 'error'})`, error);
    }
  };

  /**
   * Whether a failed read means "no such object": ENOENT, or ENOTDIR where a
   * key's parent is itself an object. ENOTDIR because the root is a file is
   * a broken store, not a missing object.
   */
  const isAbsent = async (error: unknown): Promise<boolean> => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code !== 'ENOTDIR') return false;
    try {
      return (await stat(root)).isDirectory();
    } catch {
      return false;
    }
  };

  /** Runs a read; `undefined` if the object is absent, `blob_store_unavailable` on any other failure. */
  const read = async <T>(what: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (error) {
      if (await isAbsent(error)) return undefined;
      return disk(what, () => Promise.reject(error));
    }
  };

  const put = async (key: string, write: (tempPath: string) => Promise<void>) => {
    assertBlobKey(key);
    const target = pathOf(key);
    await disk(`writing ${key}`, async () => {
      await mkdir(dirname(target), { recursive: true });
      await replaceFile(target, write, { durable: true });
    });
  };

  return {
    kind: 'directory',
    location: root,
    localRoot: root,

    async putFile(key, file) {
      await stat(file); // a missing source is the caller's error, not the store's
      await put(key, (temp) => copyFile(file, temp));
    },

    async putBytes(key, bytes) {
      await put(key, (temp) => writeFile(temp, bytes));
    },

    async getFile(key, file) {
      assertBlobKey(key);
      const source = pathOf(key);
      const found = await read(`reading ${key}`, async () => (await stat(source)).isFile());
      if (!found) throw blobNotFound(key);
      await disk(`copying ${key}`, () => replaceFile(resolve(file), (temp) => copyFile(source, temp), { durable: false }));
    },

    async getBytes(key) {
      assertBlobKey(key);
      const buffer = await read(`reading ${key}`, () => readFile(pathOf(key)));
      return buffer && new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    },

    async exists(key) {
      assertBlobKey(key);
      return (await read(`reading ${key}`, async () => (await stat(pathOf(key))).isFile())) ?? false;
    },

    async list(prefix) {
      assertBlobPrefix(prefix);
      // Walk the deepest directory the prefix names in full, then match by string prefix (as S3 does).
      const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const found: BlobInfo[] = [];
      const walk = async (relative: string): Promise<void> => {
        const entries = await read(`listing ${relative || '/'}`, () => readdir(relative === '' ? root : pathOf(relative), { withFileTypes: true }));
        if (!entries) return; // no such directory: nothing under it
        for (const entry of entries) {
          if (entry.name.startsWith('.')) continue; // temp files (see atomic-file.ts); keys never start with '.'
          const key = relative === '' ? entry.name : `${relative}/${entry.name}`;
          if (entry.isDirectory()) {
            if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
          } else if (entry.isFile() && key.startsWith(prefix)) {
            const info = await read(`listing ${key}`, () => stat(pathOf(key)));
            if (info) found.push({ key, size: info.size, modifiedAt: info.mtime });
          }
        }
      };
      await walk(base);
      return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async delete(keys) {
      keys.forEach(assertBlobKey);
      for (const key of keys) await read(`deleting ${key}`, () => unlink(pathOf(key)));
    },

    async ping(timeoutMs) {
      await withTimeout(
        disk('checking the root', async () => {
          await mkdir(root, { recursive: true });
          await access(root, constants.R_OK | constants.W_OK);
        }),
        timeoutMs,
        () => blobStoreUnavailable(`Blob store ${root} did not answer within ${timeoutMs} ms`),
      );
    },

    async close() {},
  };
}
