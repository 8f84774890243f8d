import type { Container } from '../wiring/container.ts';
import { countConcepts, writeConcepts, writeLesson } from '../features/lessons/lessons.repo.ts';
import { topologicalOrder } from '../domain/curriculum.ts';
import type { ImportResult } from '../features/content/content.service.ts';
import { DEMO_APPS, loadDemoPack } from './demo-packs.ts';
import type { CurriculumPack } from './pack.ts';

export { DEMO_APPS } from './demo-packs.ts';

/**
 * Writes a curriculum (concepts and lessons, no pack) into an app in one
 * transaction, as content authored over the admin API would be. Test
 * fixtures use it; apps get their content from packs ({@link seedDemoApp}).
 */
export async function seedPack(container: Container, appId: string, pack: CurriculumPack): Promise<{ concepts: number; lessons: number; items: number }> {
  const byId = new Map(pack.concepts.map((c) => [c.id, c]));
  const ordered = topologicalOrder(pack.concepts).map((id) => byId.get(id)!);
  await container.database.db.transaction().execute(async (trx) => {
    await writeConcepts(trx, appId, ordered);
    for (const lesson of pack.lessons) await writeLesson(trx, appId, lesson);
  });
  await container.lessons.afterBulkWrite(appId, pack.lessons.map((l) => l.id));
  return { concepts: pack.concepts.length, lessons: pack.lessons.length, items: pack.lessons.reduce((n, l) => n + l.items.length, 0) };
}

/** Creates a demo app if it is missing and imports its committed pack (idempotent: a second run reports everything unchanged). */
export async function seedDemoApp(container: Container, appId: string, onProgress?: (done: number, total: number) => void): Promise<ImportResult> {
  const demo = DEMO_APPS.find((d) => d.id === appId);
  if (!demo) throw new Error(`unknown demo app "${appId}"`);
  if (!(await container.apps.find(demo.id))) await container.apps.create(demo.id, demo.name);
  return container.content.importPack(demo.id, await loadDemoPack(demo.id), onProgress ? { onProgress } : {});
}

/**
 * Creates and fills the demo apps that do not exist yet (or exist without any
 * curriculum, e.g. after an interrupted first start). Filled apps are left
 * alone so that edits made through the admin API survive restarts.
 */
export async function seedDemoAppsOnFirstStart(container: Container): Promise<string[]> {
  const created: string[] = [];
  for (const demo of DEMO_APPS) {
    if ((await container.apps.find(demo.id)) && (await countConcepts(container.database.db, demo.id)) > 0) continue;
    const result = await seedDemoApp(container, demo.id);
    container.logger.info({ app: demo.id, pack: result.pack.id, concepts: result.counts.concepts.added, lessons: result.counts.lessons.added, items: result.counts.items.added }, 'demo app filled from its content pack');
    created.push(demo.id);
  }
  return created;
}
