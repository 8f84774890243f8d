import type { Container } from '../wiring/container.ts';
import { countConcepts, writeConcepts, writeLesson } from '../features/lessons/lessons.repo.ts';
import { topologicalOrder } from '../domain/curriculum.ts';
import { buildMathkidsPack } from './mathkids.ts';
import { buildWordkidsPack } from './wordkids.ts';
import type { CurriculumPack } from './pack.ts';

/** The demo apps every fresh install gets. */
export const DEMO_APPS: { id: string; name: string; build: () => CurriculumPack }[] = [
  { id: 'mathkids', name: 'Math Kids', build: buildMathkidsPack },
  { id: 'wordkids', name: 'Word Kids', build: buildWordkidsPack },
];

/**
 * Writes a curriculum pack into an app in one transaction. Idempotent: ids
 * are deterministic and every write is an upsert, so running it twice leaves
 * the same rows.
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

/**
 * Creates and seeds the demo apps that do not exist yet (or exist without any
 * curriculum, e.g. after an interrupted first start). Seeded apps are left
 * alone so that edits made through the admin API survive restarts.
 */
export async function seedDemoAppsOnFirstStart(container: Container): Promise<string[]> {
  const created: string[] = [];
  for (const demo of DEMO_APPS) {
    if (!(await container.apps.find(demo.id))) await container.apps.create(demo.id, demo.name);
    else if ((await countConcepts(container.database.db, demo.id)) > 0) continue;
    const counts = await seedPack(container, demo.id, demo.build());
    container.logger.info({ app: demo.id, ...counts }, 'demo app seeded');
    created.push(demo.id);
  }
  return created;
}
