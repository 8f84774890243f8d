import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temp files are `.<name>.<16 hex>.tmp` beside their target; `list` skips them. */
export const TEMP_FILE = /^\..+\.[0-9a-f]{16}\.tmp$/;

/**
 * Replaces `target` with a file written by `write` so that readers see the
 * old file or the whole new one, never a partial one: `write` fills a temp
 * file in the same directory, which is renamed over the target. With
 * `durable`, the temp file is fsynced before the rename and the directory
 * after it, so the new file survives a crash once this resolves. The temp
 * file is removed if anything fails. The target's directory must exist.
 */
export async function replaceFile(target: string, write: (tempPath: string) => Promise<void>, options: { durable: boolean }): Promise<void> {
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    await write(temp);
    if (options.durable) await fsync(temp);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  if (options.durable) await fsync(dir);
}

/** Flushes a file's or a directory's contents to the disk. */
async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
