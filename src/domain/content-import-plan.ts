import type { Concept, ContentBlock, MediaRef, PracticeItem } from './curriculum.ts';
import { canonicalJson, itemContentHash, lessonsInOrder, packItems, type ContentPack, type PackMetadata, type PackProblem } from './content-pack.ts';

/**
 * What importing a pack into an app would do, computed from the pack and the
 * app's stored content. Pure: the import service loads the stored content in
 * its transaction, asks for a plan, and writes exactly what the plan says.
 *
 * Identity rules:
 * - An item id names one question for ever once the item was released (part
 *   of a published lesson). A different question under a released id is
 *   refused; before release an item may still be edited under its id.
 * - What disappears from a pack is retired, not deleted: not served, but
 *   items still resolve for history and for grading answers recorded offline.
 *   Items that were never released are deleted (nobody can have seen them).
 * - Content that belongs to another pack of the app is never taken over;
 *   content authored over the admin API (no pack) is adopted by the pack.
 */

export interface StoredConcept extends Concept {
  packId: string | null;
  retired: boolean;
}

export interface StoredUnit {
  id: string;
  packId: string;
  position: number;
  title: string;
  description: string | null;
}

export interface StoredLesson {
  id: string;
  subject: string;
  grade: number;
  title: string;
  summary: string;
  blocks: ContentBlock[];
  conceptIds: string[];
  media: MediaRef[];
  estimatedMinutes: number;
  published: boolean;
  packId: string | null;
  unitId: string | null;
  position: number | null;
  retired: boolean;
}

export interface StoredItem extends PracticeItem {
  lessonId: string;
  position: number;
  contentHash: string;
  released: boolean;
  retired: boolean;
}

/** The stored content of one app (every pack, retired rows included). */
export interface StoredContent {
  packs: (PackMetadata & { rank: number })[];
  concepts: StoredConcept[];
  units: StoredUnit[];
  lessons: StoredLesson[];
  items: StoredItem[];
}

/** A lesson as the pack wants it stored. */
export interface PlannedLesson extends Omit<StoredLesson, 'retired'> {
  items: (PracticeItem & { contentHash: string })[];
}

export type Change = 'added' | 'changed' | 'restored' | 'unchanged' | 'retired';
export const CHANGES: readonly Change[] = ['added', 'changed', 'restored', 'unchanged', 'retired'];

/** Ids per kind and change, for the import report. */
export type ChangeReport = Record<'concepts' | 'units' | 'lessons' | 'items', Record<Change, string[]>>;

export interface ImportPlan {
  packId: string;
  /** The pack's metadata changed (or it is new). */
  packChanged: boolean;
  packIsNew: boolean;
  report: ChangeReport;
  /** Refusals: the import must not happen while there is one. */
  conflicts: PackProblem[];
  /** What to write. */
  concepts: Concept[];
  units: StoredUnit[];
  /** Lessons to insert or update (added, changed, restored), with all their live items. */
  lessons: PlannedLesson[];
  retireConcepts: string[];
  deleteUnits: string[];
  retireLessons: string[];
  /** Lessons that left the pack before children could see them (never published, no released item). */
  deleteLessons: string[];
  /** Unchanged units and lessons whose position moved only because others were added or removed. */
  repositionUnits: { id: string; position: number }[];
  repositionLessons: { id: string; position: number }[];
  /** Lessons not written whose cached detail is stale after the import (items moved out, unit renamed). */
  refreshLessons: string[];
  /** Released items that left the pack. */
  retireItems: string[];
  /** Never-released items that left the pack. */
  deleteItems: string[];
}

const emptyReport = (): ChangeReport => {
  const kinds = () => Object.fromEntries(CHANGES.map((c) => [c, [] as string[]])) as Record<Change, string[]>;
  return { concepts: kinds(), units: kinds(), lessons: kinds(), items: kinds() };
};

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/** Plans the import of a pack that passed its own checks (`packProblems` without errors). */
export function planImport(pack: ContentPack, stored: StoredContent): ImportPlan {
  const packId = pack.pack.id;
  const report = emptyReport();
  const conflicts: PackProblem[] = [];
  const ownedElsewhere = (owner: string | null) => owner !== null && owner !== packId;

  const storedPack = stored.packs.find((p) => p.id === packId);
  const { rank: _rank, ...storedMeta } = storedPack ?? { rank: 0 };
  const packChanged = !storedPack || !same(storedMeta, pack.pack);

  // Concepts.
  const conceptsById = new Map(stored.concepts.map((c) => [c.id, c]));
  const concepts: Concept[] = [];
  pack.concepts.forEach((c, i) => {
    const old = conceptsById.get(c.id);
    const wanted: Concept = { id: c.id, subject: c.subject, grade: c.grade, name: c.name, description: c.description, prerequisites: [...c.prerequisites] };
    if (old && ownedElsewhere(old.packId)) {
      conflicts.push({ path: ['concepts', i, 'id'], message: `concept "${c.id}" belongs to pack "${old.packId}" of this app; use another id` });
      return;
    }
    const change: Change = !old ? 'added' : old.retired ? 'restored' : old.packId === null || !sameConcept(old, wanted) ? 'changed' : 'unchanged';
    report.concepts[change].push(c.id);
    if (change !== 'unchanged') concepts.push(wanted);
  });
  const packConceptIds = new Set(pack.concepts.map((c) => c.id));
  const retireConcepts = stored.concepts.filter((c) => c.packId === packId && !c.retired && !packConceptIds.has(c.id)).map((c) => c.id);
  report.concepts.retired.push(...retireConcepts);
  // A concept may leave its pack only if nothing outside the pack still builds on it.
  const packLessonIdsAll = new Set(pack.units.flatMap((u) => u.lessons.map((l) => l.id)));
  for (const id of retireConcepts) {
    const users = stored.lessons.filter((l) => !l.retired && l.packId !== packId && !packLessonIdsAll.has(l.id) && l.conceptIds.includes(id)).map((l) => l.id);
    const dependents = stored.concepts.filter((c) => !c.retired && c.packId !== packId && !packConceptIds.has(c.id) && c.prerequisites.includes(id)).map((c) => c.id);
    if (users.length || dependents.length) {
      const what = [users.length ? `lessons ${users.join(', ')}` : '', dependents.length ? `concepts ${dependents.join(', ')}` : ''].filter(Boolean).join(' and ');
      conflicts.push({ path: ['concepts'], message: `concept "${id}" is no longer in the pack but ${what} outside the pack still use it; keep it in the pack or change them first` });
    }
  }

  // Units.
  const unitsById = new Map(stored.units.map((u) => [u.id, u]));
  const units: StoredUnit[] = [];
  const repositionUnits: { id: string; position: number }[] = [];
  const unitRanks = survivorRanks(
    stored.units.filter((u) => u.packId === packId).sort((a, b) => a.position - b.position).map((u) => u.id),
    pack.units.map((u) => u.id),
  );
  pack.units.forEach((u, i) => {
    const old = unitsById.get(u.id);
    if (old && old.packId !== packId) {
      conflicts.push({ path: ['units', i, 'id'], message: `unit "${u.id}" belongs to pack "${old.packId}" of this app; use another id` });
      return;
    }
    const wanted: StoredUnit = { id: u.id, packId, position: i, title: u.title, description: u.description ?? null };
    const sameOrder = unitRanks.before.get(u.id) === unitRanks.after.get(u.id);
    const change: Change = !old ? 'added' : sameOrder && same({ ...old, position: i }, wanted) ? 'unchanged' : 'changed';
    report.units[change].push(u.id);
    if (change !== 'unchanged') units.push(wanted);
    else if (old!.position !== i) repositionUnits.push({ id: u.id, position: i });
  });
  const packUnitIds = new Set(pack.units.map((u) => u.id));
  const deleteUnits = stored.units.filter((u) => u.packId === packId && !packUnitIds.has(u.id)).map((u) => u.id);
  report.units.retired.push(...deleteUnits);

  // Lessons and their items.
  const lessonsById = new Map(stored.lessons.map((l) => [l.id, l]));
  const itemsById = new Map(stored.items.map((i) => [i.id, i]));
  const itemsByLesson = new Map<string, StoredItem[]>();
  for (const item of stored.items) {
    const list = itemsByLesson.get(item.lessonId) ?? [];
    list.push(item);
    itemsByLesson.set(item.lessonId, list);
  }
  const lessons: PlannedLesson[] = [];
  const repositionLessons: { id: string; position: number }[] = [];
  /** Lessons outside the plan whose cached detail changes: items moved out of them, units renamed. */
  const refreshLessons = new Set<string>();
  const packItemIds = new Set<string>();
  const ordered = lessonsInOrder(pack);
  const lessonRanks = survivorRanks(
    stored.lessons.filter((l) => l.packId === packId && !l.retired).sort((a, b) => (a.position ?? 0) - (b.position ?? 0)).map((l) => l.id),
    ordered.map((o) => o.lesson.id),
  );
  for (const { lesson, unit, unitIndex, lessonIndex, position } of ordered) {
    const at = ['units', unitIndex, 'lessons', lessonIndex];
    const old = lessonsById.get(lesson.id);
    if (old && ownedElsewhere(old.packId)) {
      conflicts.push({ path: [...at, 'id'], message: `lesson "${lesson.id}" belongs to pack "${old.packId}" of this app; use another id` });
      continue;
    }
    const planned: PlannedLesson = {
      id: lesson.id,
      subject: lesson.subject,
      grade: lesson.grade,
      title: lesson.title,
      summary: lesson.summary,
      blocks: lesson.blocks,
      conceptIds: [...lesson.conceptIds],
      media: lesson.media,
      estimatedMinutes: lesson.estimatedMinutes,
      published: lesson.published,
      packId,
      unitId: unit.id,
      position,
      items: packItems(lesson).map((item) => ({ ...item, contentHash: itemContentHash(item, lesson.media) })),
    };
    let itemsChanged = false;
    planned.items.forEach((item, k) => {
      packItemIds.add(item.id);
      const was = itemsById.get(item.id);
      const itemAt = [...at, 'items', k, 'id'];
      if (!was) {
        report.items.added.push(item.id);
        itemsChanged = true;
        return;
      }
      const owner = lessonsById.get(was.lessonId);
      if (was.lessonId !== lesson.id) refreshLessons.add(was.lessonId);
      if (was.lessonId !== lesson.id && owner && ownedElsewhere(owner.packId)) {
        conflicts.push({ path: itemAt, message: `item "${item.id}" belongs to lesson "${was.lessonId}" of pack "${owner.packId}"; use another id` });
        return;
      }
      if (was.contentHash !== item.contentHash && was.released) {
        conflicts.push({
          path: itemAt,
          message: `item "${item.id}" is a different question from the one stored under this id (${describeDifference(was, item)}); answers already point at the stored question, so give the changed question a new id`,
        });
        return;
      }
      const change: Change = was.retired
        ? 'restored'
        : was.contentHash !== item.contentHash || was.lessonId !== lesson.id || was.position !== k || was.difficulty !== item.difficulty
          ? 'changed'
          : 'unchanged';
      report.items[change].push(item.id);
      if (change !== 'unchanged') itemsChanged = true;
    });
    const liveStoredItems = (itemsByLesson.get(lesson.id) ?? []).filter((i) => !i.retired);
    const ids = new Set(planned.items.map((i) => i.id));
    if (liveStoredItems.some((i) => !ids.has(i.id))) itemsChanged = true;
    const change: Change = !old
      ? 'added'
      : old.retired
        ? 'restored'
        : itemsChanged || !sameLesson(old, planned) || lessonRanks.before.get(lesson.id) !== lessonRanks.after.get(lesson.id)
          ? 'changed'
          : 'unchanged';
    report.lessons[change].push(lesson.id);
    if (change !== 'unchanged') lessons.push(planned);
    else if (old!.position !== position) repositionLessons.push({ id: lesson.id, position });
  }
  const changedUnits = new Set(report.units.changed);
  for (const l of stored.lessons) if (!l.retired && l.unitId !== null && changedUnits.has(l.unitId)) refreshLessons.add(l.id);
  const packLessonIds = new Set(lessons.map((l) => l.id).concat(report.lessons.unchanged));
  // Lessons that left the pack: retired when children could have seen them, deleted otherwise.
  const leaving = stored.lessons.filter((l) => l.packId === packId && !l.retired && !packLessonIds.has(l.id));
  const seen = (l: StoredLesson) => l.published || (itemsByLesson.get(l.id) ?? []).some((i) => i.released);
  const retireLessons = leaving.filter(seen).map((l) => l.id);
  const deleteLessons = leaving.filter((l) => !seen(l)).map((l) => l.id);
  report.lessons.retired.push(...retireLessons, ...deleteLessons);

  // Items that left the pack: those of the pack's lessons (kept or retired) that the pack no longer lists.
  const lessonsOfPack = new Set([...packLessonIds, ...retireLessons, ...deleteLessons]);
  const retireItems: string[] = [];
  const deleteItems: string[] = [];
  for (const item of stored.items) {
    if (item.retired || packItemIds.has(item.id) || !lessonsOfPack.has(item.lessonId)) continue;
    (item.released ? retireItems : deleteItems).push(item.id);
  }
  report.items.retired.push(...retireItems, ...deleteItems);

  return {
    packId,
    packChanged,
    packIsNew: !storedPack,
    report,
    conflicts,
    concepts,
    units,
    lessons,
    retireConcepts,
    deleteUnits,
    retireLessons,
    deleteLessons,
    repositionUnits,
    repositionLessons,
    refreshLessons: [...refreshLessons].filter((id) => !lessons.some((l) => l.id === id)),
    retireItems,
    deleteItems,
  };
}

/**
 * Where each id that is both stored and wanted sits among those ids, before
 * and after: equal ranks mean the teaching order of the survivors is the
 * same, even when additions or removals shifted absolute positions.
 */
function survivorRanks(storedOrder: readonly string[], wantedOrder: readonly string[]): { before: Map<string, number>; after: Map<string, number> } {
  const wanted = new Set(wantedOrder);
  const kept = storedOrder.filter((id) => wanted.has(id));
  const keptSet = new Set(kept);
  return { before: new Map(kept.map((id, i) => [id, i])), after: new Map(wantedOrder.filter((id) => keptSet.has(id)).map((id, i) => [id, i])) };
}

function sameConcept(a: Concept, b: Concept): boolean {
  return (
    a.subject === b.subject &&
    a.grade === b.grade &&
    a.name === b.name &&
    a.description === b.description &&
    same([...a.prerequisites].sort(), [...b.prerequisites].sort())
  );
}

/** Same fields, position aside (the order is compared through ranks). */
function sameLesson(old: StoredLesson, planned: PlannedLesson): boolean {
  const { items: _items, position: _p, ...fields } = planned;
  const { retired: _retired, position: _q, ...stored } = old;
  return same(stored, fields);
}

/** Names what differs between two versions of an item, for the refusal message. */
function describeDifference(was: PracticeItem, now: PracticeItem): string {
  const fields: (keyof PracticeItem)[] = ['prompt', 'type', 'choices', 'answer', 'conceptId', 'mediaId'];
  const differ = fields.filter((f) => !same(was[f] ?? null, now[f] ?? null));
  return differ.length ? `its ${differ.join(', ')} changed` : 'its content changed';
}

/** Counts per kind and change, for printing. */
export function reportCounts(report: ChangeReport): Record<keyof ChangeReport, Record<Change, number>> {
  const count = (r: Record<Change, string[]>) => Object.fromEntries(CHANGES.map((c) => [c, r[c].length])) as Record<Change, number>;
  return { concepts: count(report.concepts), units: count(report.units), lessons: count(report.lessons), items: count(report.items) };
}
