import { CONTENT_PACK_FORMAT, ContentPack, itemConceptId, itemContentHash, packProblems } from '../domain/content-pack.ts';
import type { PackItem, PackLesson, PackUnit } from '../domain/content-pack.ts';
import type { NewLessonInput } from '../domain/curriculum.ts';
import { buildMathkidsPack } from './mathkids.ts';
import type { CurriculumPack } from './pack.ts';
import { buildWordkidsPack } from './wordkids.ts';

/**
 * The build step that turns the demo generators (mathkids, wordkids) into
 * content packs (`content/packs/<app>.json`, `npm run content:build`). The
 * generators are only this step's input: apps are seeded from the packs.
 *
 * Item ids are identities for ever (answers point at them), so a rebuild
 * keeps the committed id of every item whose content hash is unchanged and
 * refuses to put different content under a committed id; with `newIds` the
 * changed items get new ids `<lessonId>-<first 8 hex of content hash>`.
 */

/** The generated demo packs, by app id. */
export const GENERATED_PACKS = {
  mathkids: { title: 'Math Kids', description: 'Arithmetic from kindergarten to grade 5: counting, place value, the four operations, fractions and decimals.', build: buildMathkidsPack },
  wordkids: { title: 'Word Kids', description: 'Early reading and vocabulary from kindergarten to grade 3: letter sounds, sight words, rhymes, word parts and meaning.', build: buildWordkidsPack },
} as const;
export type GeneratedPackId = keyof typeof GENERATED_PACKS;

/** Where each pack file points editors for its schema (relative to `content/packs/`). */
export const PACK_SCHEMA_REF = '../../schemas/content-pack.json';

const GRADE_TITLES = ['Kindergarten', 'Grade 1', 'Grade 2', 'Grade 3', 'Grade 4', 'Grade 5', 'Grade 6', 'Grade 7', 'Grade 8'] as const;

/**
 * A generator's curriculum as a content pack, with the generator's item ids
 * (`<lessonId>-q<n>`): one unit per grade, lessons in a teaching order that
 * respects prerequisites. Throws when the pack fails `packProblems`.
 */
export function generatedPack(appId: GeneratedPackId): ContentPack {
  const meta = GENERATED_PACKS[appId];
  return toContentPack(appId, meta.title, meta.description, meta.build());
}

/** Converts a generator's output; exported for tests. */
export function toContentPack(id: string, title: string, description: string, generated: CurriculumPack): ContentPack {
  const grades = [...new Set(generated.lessons.map((l) => l.grade))].sort((a, b) => a - b);
  const concepts = generated.concepts.map((c) => ({ ...c, prerequisites: [...c.prerequisites] }));
  const units: PackUnit[] = grades.map((grade) => ({
    id: grade === 0 ? 'kindergarten' : `grade-${grade}`,
    title: GRADE_TITLES[grade] ?? `Grade ${grade}`,
    lessons: generated.lessons.filter((l) => l.grade === grade).map(toPackLesson),
  }));
  const pack = ContentPack.parse({
    $schema: PACK_SCHEMA_REF,
    format: CONTENT_PACK_FORMAT,
    pack: { id, version: '1.0.0', title, description, language: 'en', license: 'CC-BY-4.0', authors: [{ name: 'kidslearn contributors' }] },
    concepts,
    units: inTeachingOrder(units, concepts),
  });
  assertClean(pack);
  return pack;
}

function toPackLesson(lesson: NewLessonInput): PackLesson {
  return {
    id: lesson.id,
    subject: lesson.subject,
    grade: lesson.grade,
    title: lesson.title,
    summary: lesson.summary,
    conceptIds: [...lesson.conceptIds],
    blocks: lesson.blocks,
    media: lesson.media,
    estimatedMinutes: lesson.estimatedMinutes,
    published: lesson.published,
    items: lesson.items.map((item) => {
      const out: PackItem = { id: item.id, conceptId: item.conceptId, type: item.type, prompt: item.prompt, answer: item.answer, difficulty: item.difficulty };
      if (item.choices) out.choices = item.choices;
      if (item.mediaId !== undefined) out.mediaId = item.mediaId;
      return out;
    }),
  };
}

/**
 * Orders the lessons of each unit (units stay in order) so that every lesson
 * comes after the first lesson teaching each prerequisite of its concepts:
 * repeatedly takes the earliest remaining lesson whose prerequisites are
 * taught already (or by the lesson itself, or by no lesson of the pack).
 * Lessons that are already in a valid order keep it.
 */
export function inTeachingOrder(units: readonly PackUnit[], concepts: readonly { id: string; prerequisites: readonly string[] }[]): PackUnit[] {
  const prerequisites = new Map(concepts.map((c) => [c.id, c.prerequisites]));
  const taughtSomewhere = new Set(units.flatMap((u) => u.lessons.flatMap((l) => l.conceptIds)));
  const taught = new Set<string>();
  return units.map((unit) => {
    const remaining = [...unit.lessons];
    const ordered: PackLesson[] = [];
    while (remaining.length > 0) {
      const ready = (l: PackLesson) =>
        l.conceptIds.every((c) => (prerequisites.get(c) ?? []).every((p) => taught.has(p) || l.conceptIds.includes(p) || !taughtSomewhere.has(p)));
      const index = Math.max(0, remaining.findIndex(ready)); // none ready: a cycle, which packProblems reports
      const [next] = remaining.splice(index, 1);
      if (!next) break;
      ordered.push(next);
      for (const c of next.conceptIds) taught.add(c);
    }
    return { ...unit, lessons: ordered };
  });
}

function assertClean(pack: ContentPack): void {
  const { errors } = packProblems(pack);
  if (errors.length > 0) {
    throw new Error(`pack ${pack.pack.id} has problems:\n${errors.map((e) => `  ${e.path.join('.')}: ${e.message}`).join('\n')}`);
  }
}

/** An item whose generated content differs from what the committed pack holds under the same id. */
export interface IdConflict {
  itemId: string;
  lessonId: string;
  committedHash: string;
  generatedHash: string;
}

/** What {@link withStableIds} gives: the pack with its ids settled, the refused items, and the ids changed by `newIds`. */
export interface StableIdsResult {
  pack: ContentPack;
  conflicts: IdConflict[];
  renamed: { from: string; to: string; lessonId: string }[];
}

/**
 * Settles item ids against the committed version of a pack. An item keeps
 * the committed id of the item with the same content hash (same question);
 * otherwise its generated id, when the committed pack does not use it. An
 * item whose generated id holds other content in the committed pack is a
 * conflict; with `newIds` it gets `<lessonId>-<first 8 hex of its hash>`
 * instead. Difficulty is not part of the hash and may change under an id.
 */
export function withStableIds(generated: ContentPack, committed: ContentPack | undefined, options: { newIds?: boolean } = {}): StableIdsResult {
  if (!committed) return { pack: generated, conflicts: [], renamed: [] };
  const committedHashById = new Map<string, string>();
  const committedIdByHash = new Map<string, string>();
  for (const unit of committed.units) {
    for (const lesson of unit.lessons) {
      for (const item of lesson.items) {
        const hash = hashOf(lesson, item);
        committedHashById.set(item.id, hash);
        if (!committedIdByHash.has(hash)) committedIdByHash.set(hash, item.id);
      }
    }
  }
  const entries = generated.units.flatMap((u) => u.lessons.flatMap((lesson) => lesson.items.map((item) => ({ lesson, item, hash: hashOf(lesson, item), id: undefined as string | undefined }))));
  const claimed = new Set<string>();
  // First the unchanged questions, wherever they sit now.
  for (const e of entries) {
    const id = committedHashById.get(e.item.id) === e.hash ? e.item.id : committedIdByHash.get(e.hash);
    if (id !== undefined && !claimed.has(id)) {
      e.id = id;
      claimed.add(id);
    }
  }
  const conflicts: IdConflict[] = [];
  const renamed: StableIdsResult['renamed'] = [];
  for (const e of entries) {
    if (e.id !== undefined) continue;
    const held = committedHashById.get(e.item.id);
    if (held === undefined && !claimed.has(e.item.id)) {
      e.id = e.item.id;
    } else if (options.newIds) {
      e.id = `${e.lesson.id}-${e.hash.replace(/^sha256:/, '').slice(0, 8)}`;
      if (claimed.has(e.id) || (committedHashById.has(e.id) && committedHashById.get(e.id) !== e.hash)) throw new Error(`item id ${e.id} is taken; cannot give ${e.item.id} a new id`);
      renamed.push({ from: e.item.id, to: e.id, lessonId: e.lesson.id });
    } else {
      conflicts.push({ itemId: e.item.id, lessonId: e.lesson.id, committedHash: held ?? '(taken by another item)', generatedHash: e.hash });
      e.id = e.item.id;
    }
    claimed.add(e.id);
  }
  const idOf = new Map(entries.map((e) => [e.item, e.id as string]));
  const pack: ContentPack = {
    ...generated,
    units: generated.units.map((u) => ({ ...u, lessons: u.lessons.map((l) => ({ ...l, items: l.items.map((item) => ({ ...item, id: idOf.get(item) ?? item.id })) })) })),
  };
  if (conflicts.length === 0) assertClean(pack);
  return { pack, conflicts, renamed };
}

function hashOf(lesson: PackLesson, item: PackItem): string {
  return itemContentHash({ ...item, conceptId: itemConceptId(lesson, item) ?? '' }, lesson.media);
}
