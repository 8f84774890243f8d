import { join } from 'node:path';
import type { ContentPack } from '../domain/content-pack.ts';
import { formatFinding, readPackFile } from '../features/content/pack-file.ts';

/** A demo app every fresh install gets, and the content pack it is seeded from (relative to the repository root). */
export interface DemoApp {
  id: string;
  name: string;
  packFile: string;
}

/** The demo apps: two packs built from the generators (`npm run content:build`) and one written by hand. */
export const DEMO_APPS: readonly DemoApp[] = [
  { id: 'mathkids', name: 'Math Kids', packFile: 'content/packs/mathkids.json' },
  { id: 'wordkids', name: 'Word Kids', packFile: 'content/packs/wordkids.json' },
  { id: 'shapekids', name: 'Shape Kids', packFile: 'content/packs/shapes.yaml' },
];

/** The repository root: this file is src/seed/demo-packs.ts. */
const ROOT = join(import.meta.dirname, '..', '..');

/** The absolute path of a demo app's pack file. */
export function demoPackPath(appId: string): string {
  const demo = DEMO_APPS.find((d) => d.id === appId);
  if (!demo) throw new Error(`unknown demo app "${appId}"`);
  return join(ROOT, demo.packFile);
}

/**
 * Reads and validates a demo app's pack. Throws, listing every problem with
 * its file, line and column, when the pack has errors (a committed pack
 * never should: the unit tests read them all).
 */
export async function loadDemoPack(appId: string): Promise<ContentPack> {
  const result = await readPackFile(demoPackPath(appId), { fast: true });
  if (!result.pack) throw new Error(`demo pack of ${appId} is invalid:\n${result.errors.map(formatFinding).join('\n')}`);
  return result.pack;
}
