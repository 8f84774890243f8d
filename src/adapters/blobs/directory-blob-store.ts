import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { blobStoreUnavailable } from '../../domain/errors.ts';
import type { BlobInfo, BlobStore } from './blob-store.ts';

/**
 * The embedded blob store: objects are files under `root`, keys are relative
 * paths. A put writes a temporary file beside the target (`.tmp-*`, never
 * listed), fsyncs it and renames it over the target: readers see the old file
 * or the whole new one, and a crash leaves at most a stray temporary file.
 */
export function createDirectoryBlobStore(options: { root: string; timeoutMs: number }): BlobStore {
  const root = path.resolve(options.root);
  const fileOf = (key: string) => {
    const file = path.resolve(root, key);
    if (!file.startsWith(root + path.sep) || key.includes('\\')) throw new Error(`blob key outside the store: ${key}`);
    return file;
  };
  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${options.timeoutMs} ms`)), options.timeoutMs))),
      ]);
    } catch (error) {
      throw blobStoreUnavailable(`Blob store (${root}): ${what} failed`, error);
    } finally {
      clearTimeout(timer);
    }
  };
  const writeAtomically = async (key: string, write: (tmp: string) => Promise<void>) => {
    const target = fileOf(key);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(path.dirname(target), `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await write(tmp);
      const handle = await fs.open(tmp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, target);
    } catch (error) {
      await fs.rm(tmp, { force: true });
      throw error;
    }
  };
  const walk = async (dir: string, out: BlobInfo[]) => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, out);
      else if (entry.isFile() && !entry.name.startsWith('.tmp-')) {
        const stat = await fs.stat(full);
        out.push({ key: path.relative(root, full).split(path.sep).join('/'), size: stat.size, modifiedAt: stat.mtime });
      }
    }
  };
  return {
    kind: 'directory',
    location: root,
    localRoot: root,
    putFile: (key, file) => guard('put', () => writeAtomically(key, (tmp) => fs.copyFile(file, tmp))),
    putBytes: (key, bytes) => guard('put', () => writeAtomically(key, (tmp) => fs.writeFile(tmp, bytes))),
    getFile: (key, file) => guard('get', () => fs.copyFile(fileOf(key), file)),
    getBytes: (key) =>
      guard('get', async () => {
        try {
          return new Uint8Array(await fs.readFile(fileOf(key)));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw error;
        }
      }),
    exists: (key) =>
      guard('exists', async () => {
        try {
          await fs.access(fileOf(key), constants.F_OK);
          return true;
        } catch {
          return false;
        }
      }),
    list: (prefix) =>
      guard('list', async () => {
        // Walk from the deepest whole folder of the prefix, then filter by the full prefix.
        const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
        const out: BlobInfo[] = [];
        await walk(dir ? fileOf(dir) : root, out);
        return out.filter((b) => b.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      }),
    delete: (keys) =>
      guard('delete', async () => {
        for (const key of keys) await fs.rm(fileOf(key), { force: true });
      }),
    ping: (timeoutMs) =>
      guard('ping', async () => {
        await fs.mkdir(root, { recursive: true });
        await Promise.race([fs.access(root, constants.W_OK), new Promise((_, reject) => setTimeout(() => reject(new Error('ping timeout')), timeoutMs).unref())]);
      }),
    close: async () => {},
  };
}
