import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { formatFinding, parsePackText, serializePack } from '../features/content/pack-file.ts';
import { GENERATED_PACKS, generatedPack, withStableIds } from './pack-build.ts';
import type { GeneratedPackId, StableIdsResult } from './pack-build.ts';

/** The repository root (this file is src/seed/pack-files.ts). */
export const REPOSITORY_ROOT = join(import.meta.dirname, '..', '..');

/** Where the generated packs are committed, relative to the repository root. */
export const GENERATED_PACK_FILES: Record<GeneratedPackId, string> = {
  mathkids: 'content/packs/mathkids.json',
  wordkids: 'content/packs/wordkids.json',
};

/** One pack of {@link buildContentPacks}: the text to write and the committed text to compare with. */
export interface BuiltPackFile {
  appId: GeneratedPackId;
  file: string;
  relativeFile: string;
  /** The new file content; compare with `committedText`. */
  text: string;
  committedText: string | undefined;
  /** Why the pack cannot be written (conflicting item ids, an invalid committed pack). */
  errors: string[];
  renamed: StableIdsResult['renamed'];
  lessons: number;
  items: number;
}

/**
 * Rebuilds every generated pack in memory against its committed file (see
 * `withStableIds`), without writing anything; `npm run content:build` and
 * the unit test that keeps the committed packs in step both use it.
 */
export async function buildContentPacks(options: { newIds?: boolean; root?: string } = {}): Promise<BuiltPackFile[]> {
  const root = options.root ?? REPOSITORY_ROOT;
  const out: BuiltPackFile[] = [];
  for (const appId of Object.keys(GENERATED_PACKS) as GeneratedPackId[]) {
    const file = join(root, GENERATED_PACK_FILES[appId]);
    const relativeFile = relative(process.cwd(), file) || file;
    const committedText = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    const errors: string[] = [];
    const committed = committedText === undefined ? undefined : parsePackText(committedText, { file: relativeFile, format: 'json' });
    if (committed && !committed.pack) errors.push(...committed.errors.map((e) => `the committed pack is invalid: ${formatFinding(e)}`));
    const result = withStableIds(generatedPack(appId), committed?.pack, { newIds: options.newIds ?? false });
    for (const c of result.conflicts) {
      errors.push(`item ${c.itemId} (lesson ${c.lessonId}) would hold a different question than the committed one (${c.committedHash} -> ${c.generatedHash}); rerun with --new-ids to give it a new id`);
    }
    const lessons = result.pack.units.flatMap((u) => u.lessons);
    out.push({
      appId,
      file,
      relativeFile,
      text: serializePack(result.pack, 'json'),
      committedText,
      errors,
      renamed: result.renamed,
      lessons: lessons.length,
      items: lessons.reduce((n, l) => n + l.items.length, 0),
    });
  }
  return out;
}
