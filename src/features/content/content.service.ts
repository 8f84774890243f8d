import type { Database } from '../../adapters/db/database.ts';
import { topologicalOrder } from '../../domain/curriculum.ts';
import { planImport, reportCounts, type ChangeReport, type StoredContent } from '../../domain/content-import-plan.ts';
import { CONTENT_PACK_FORMAT, packProblems, type ContentPack, type PackMetadata, type PackProblem } from '../../domain/content-pack.ts';
import { AppError } from '../../domain/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { LessonsService } from '../lessons/lessons.service.ts';
import { applyImportPlan, loadStoredContent, lockAppContent } from './content.repo.ts';

/** What an import did (or, dry, would do). */
export interface ImportResult {
  pack: { id: string; version: string; title: string };
  dryRun: boolean;
  /** False when the pack was already stored exactly as given (nothing was written). */
  changed: boolean;
  counts: ReturnType<typeof reportCounts>;
  report: ChangeReport;
  warnings: PackProblem[];
}

/** A pack stored in an app, as listed. */
export interface StoredPackSummary extends PackMetadata {
  rank: number;
  concepts: number;
  lessons: number;
  items: number;
}

const joinPath = (path: readonly (string | number)[]) => path.join('.');

/**
 * Imports and exports content packs. An import runs in one transaction
 * under a per-app lock: it checks the pack, plans against what is stored,
 * refuses the whole pack on any conflict (nothing written), writes, and
 * after the commit invalidates the lesson caches of every process.
 */
export class ContentService {
  readonly #db: Database;
  readonly #lessons: LessonsService;
  readonly #log: Logger;

  constructor(deps: { db: Database; lessons: LessonsService; logger: Logger }) {
    this.#db = deps.db;
    this.#lessons = deps.lessons;
    this.#log = deps.logger;
  }

  /**
   * Imports a schema-valid pack into an app. Throws 400 `invalid_pack` when
   * the pack fails its own checks and 409 `content_conflict` when it clashes
   * with what is stored (a changed question under a released item id, ids
   * of another pack); `details` lists every problem with its path.
   */
  async importPack(appId: string, pack: ContentPack, options: { dryRun?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<ImportResult> {
    const { errors, warnings } = packProblems(pack);
    if (errors.length) {
      throw new AppError('invalid', 'invalid_pack', `The pack has ${errors.length} problem(s); first: ${joinPath(errors[0]!.path)}: ${errors[0]!.message}`, {
        details: errors.map((e) => ({ path: joinPath(e.path), message: e.message })),
      });
    }
    const dryRun = options.dryRun ?? false;
    let touchedLessons: string[] = [];
    let imported = false;
    const result = await this.#db.db.transaction().execute(async (trx) => {
      await lockAppContent(trx, appId);
      const plan = planImport(pack, await loadStoredContent(trx, appId));
      if (plan.conflicts.length) {
        throw new AppError('conflict', 'content_conflict', `The pack clashes with stored content in ${plan.conflicts.length} place(s); first: ${joinPath(plan.conflicts[0]!.path)}: ${plan.conflicts[0]!.message}`, {
          details: plan.conflicts.map((e) => ({ path: joinPath(e.path), message: e.message })),
        });
      }
      const counts = reportCounts(plan.report);
      const changed =
        plan.packChanged ||
        Object.values(counts).some((c) => c.added + c.changed + c.restored + c.retired > 0);
      const moves = plan.repositionLessons.length + plan.repositionUnits.length;
      if (!dryRun && (changed || moves > 0)) {
        const total = plan.concepts.length + plan.lessons.length + plan.lessons.reduce((n, l) => n + l.items.length, 0);
        await applyImportPlan(trx, appId, pack.pack, plan, (done) => options.onProgress?.(done, total));
        // Added lessons cannot be cached anywhere yet; the others may be, in any process.
        touchedLessons = [...plan.report.lessons.changed, ...plan.report.lessons.restored, ...plan.report.lessons.retired, ...plan.refreshLessons];
        imported = true;
      }
      return { pack: { id: pack.pack.id, version: pack.pack.version, title: pack.pack.title }, dryRun, changed, counts, report: plan.report, warnings };
    });
    if (imported) {
      // After the commit: every process drops its cached copies (catalogue generation, lesson entries, answer keys).
      await this.#lessons.afterContentImport(appId, touchedLessons);
      this.#log.info({ appId, pack: pack.pack.id, version: pack.pack.version, ...flatten(result.counts) }, 'content pack imported');
    }
    return result;
  }

  /** The packs stored in an app, in import order. */
  async listPacks(appId: string): Promise<StoredPackSummary[]> {
    const stored = await loadStoredContent(this.#db.db, appId);
    return stored.packs.map((p) => {
      const lessons = stored.lessons.filter((l) => l.packId === p.id && !l.retired);
      const lessonIds = new Set(lessons.map((l) => l.id));
      return {
        ...p,
        concepts: stored.concepts.filter((c) => c.packId === p.id && !c.retired).length,
        lessons: lessons.length,
        items: stored.items.filter((i) => lessonIds.has(i.lessonId) && !i.retired).length,
      };
    });
  }

  /**
   * A stored pack as a content pack that imports back unchanged: live
   * concepts (prerequisites first), units and lessons in teaching order,
   * items in lesson order. `packId` may be left out when the app has one pack.
   */
  async exportPack(appId: string, packId?: string): Promise<ContentPack> {
    const stored = await loadStoredContent(this.#db.db, appId);
    if (packId === undefined) {
      if (stored.packs.length !== 1) {
        throw new AppError('invalid', 'pack_required', stored.packs.length === 0 ? `App "${appId}" has no content pack` : `App "${appId}" has ${stored.packs.length} packs (${stored.packs.map((p) => p.id).join(', ')}); name one`);
      }
      packId = stored.packs[0]!.id;
    }
    return buildPack(stored, packId);
  }
}

function flatten(counts: ReturnType<typeof reportCounts>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, c] of Object.entries(counts)) for (const [change, n] of Object.entries(c)) if (n) out[`${kind}_${change}`] = n;
  return out;
}

/** Builds the pack `packId` from an app's stored content. */
export function buildPack(stored: StoredContent, packId: string): ContentPack {
  const meta = stored.packs.find((p) => p.id === packId);
  if (!meta) throw new AppError('not_found', 'pack_not_found', `No content pack "${packId}" in this app`);
  const { rank: _rank, ...pack } = meta;
  const concepts = stored.concepts.filter((c) => c.packId === packId && !c.retired);
  const byId = new Map(concepts.map((c) => [c.id, c]));
  const ordered = topologicalOrder(concepts.map((c) => ({ id: c.id, prerequisites: c.prerequisites.filter((p) => byId.has(p)) }))).map((id) => byId.get(id)!);
  const lessons = stored.lessons.filter((l) => l.packId === packId && !l.retired).sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  const items = new Map<string, StoredContent['items']>();
  for (const item of stored.items) {
    if (item.retired) continue;
    const list = items.get(item.lessonId) ?? [];
    list.push(item);
    items.set(item.lessonId, list);
  }
  return {
    format: CONTENT_PACK_FORMAT,
    pack,
    concepts: ordered.map((c) => ({ id: c.id, subject: c.subject, grade: c.grade, name: c.name, description: c.description, prerequisites: [...c.prerequisites].sort() })),
    units: stored.units
      .filter((u) => u.packId === packId)
      .sort((a, b) => a.position - b.position)
      .map((u) => {
        const unit: ContentPack['units'][number] = {
          id: u.id,
          title: u.title,
          lessons: lessons
            .filter((l) => l.unitId === u.id)
            .map((l) => ({
              id: l.id,
              subject: l.subject,
              grade: l.grade,
              title: l.title,
              summary: l.summary,
              conceptIds: l.conceptIds,
              blocks: l.blocks,
              media: l.media,
              estimatedMinutes: l.estimatedMinutes,
              published: l.published,
              items: (items.get(l.id) ?? [])
                .sort((a, b) => a.position - b.position)
                .map((i) => {
                  const item: ContentPack['units'][number]['lessons'][number]['items'][number] = {
                    id: i.id,
                    conceptId: i.conceptId,
                    type: i.type,
                    prompt: i.prompt,
                    answer: i.answer,
                    difficulty: i.difficulty,
                  };
                  if (i.choices) item.choices = i.choices;
                  if (i.mediaId !== undefined) item.mediaId = i.mediaId;
                  return item;
                }),
            })),
        };
        if (u.description !== null) unit.description = u.description;
        return unit;
      })
      .filter((u) => u.lessons.length > 0),
  };
}
