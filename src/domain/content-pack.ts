import { createHash } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import {
  AnswerKey,
  Choice,
  ContentBlock,
  Difficulty,
  Grade,
  ItemType,
  MediaRef,
  ResourceId,
  Subject,
  isCorrect,
  lessonProblems,
  practiceItemProblems,
  type PracticeItem,
} from './curriculum.ts';
import { safeName, safeText } from './input-rules.ts';

/**
 * The content pack: a whole curriculum (or a part of one) as data that
 * educators write and review as JSON or YAML. This Zod schema is the single
 * source of the TypeScript types, of the validation (CLI and API) and of the
 * published JSON Schema (`schemas/content-pack.json`, `/schemas/content-pack.json`).
 *
 * Order is meaning: units are taught in the order listed, and the lessons
 * of a unit in the order listed. That sequence is the app's teaching order.
 */

/** The value of a pack's `format` field; a new incompatible format gets a new value. */
export const CONTENT_PACK_FORMAT = 'kidslearn.content-pack/v1';

const SemVer = z
  .string()
  .regex(/^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-[0-9A-Za-z.-]{1,40})?$/, 'must be a semantic version such as 1.0.0')
  .openapi({ example: '1.0.0' });

/** A BCP 47 language tag such as `en`, `en-US` or `es-419`. */
const LanguageTag = z
  .string()
  .regex(/^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$/, 'must be a BCP 47 language tag such as en or en-US')
  .openapi({ example: 'en' });

export const PackAuthor = z.strictObject({
  name: safeName(200),
  email: z.email().max(254).optional(),
  url: z.url().max(2048).optional(),
});
export type PackAuthor = z.infer<typeof PackAuthor>;

export const PackMetadata = z
  .strictObject({
    id: ResourceId.describe('Stable id of the pack; an app can hold several packs'),
    version: SemVer.describe('Version of this pack (semantic versioning)'),
    title: safeName(200),
    description: safeText({ max: 2000 }).optional(),
    language: LanguageTag,
    license: safeText({ min: 1, max: 100 }).describe('An SPDX identifier such as CC-BY-SA-4.0, or a short licence name'),
    authors: z.array(PackAuthor).min(1).max(50),
  })
  .openapi('ContentPackMetadata');
export type PackMetadata = z.infer<typeof PackMetadata>;

export const PackConcept = z
  .strictObject({
    id: ResourceId,
    subject: Subject,
    grade: Grade,
    name: safeName(200),
    description: safeText({ max: 2000 }).default(''),
    prerequisites: z.array(ResourceId).max(20).default([]).describe('Concepts to learn before this one (ids of concepts in the same pack)'),
  })
  .openapi('ContentPackConcept');
export type PackConcept = z.infer<typeof PackConcept>;

/**
 * A practice item. Its `id` is its identity for ever: answers point at it.
 * A changed question (prompt, choices, answer key, concept, type or media)
 * needs a new id; difficulty may be re-calibrated under the same id.
 */
export const PackItem = z
  .strictObject({
    id: ResourceId,
    conceptId: ResourceId.optional().describe('Defaults to the lesson’s concept when the lesson has exactly one'),
    type: ItemType,
    prompt: safeText({ min: 1, max: 2000 }),
    choices: z.array(Choice).min(2).max(8).optional(),
    answer: AnswerKey,
    difficulty: Difficulty,
    mediaId: ResourceId.optional().describe('A picture or sound of the lesson’s `media` that the question needs'),
  })
  .superRefine((item, ctx) => {
    for (const issue of practiceItemProblems(item)) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  })
  .openapi('ContentPackItem');
export type PackItem = z.infer<typeof PackItem>;

export const PackLesson = z
  .strictObject({
    id: ResourceId,
    subject: Subject,
    grade: Grade,
    title: safeName(200),
    summary: safeText({ max: 2000 }).default(''),
    conceptIds: z.array(ResourceId).min(1).max(20),
    blocks: z.array(ContentBlock).max(200).default([]),
    media: z.array(MediaRef).max(50).default([]),
    estimatedMinutes: z.number().int().min(1).max(240),
    published: z.boolean().default(true),
    items: z.array(PackItem).max(200).default([]),
  })
  .openapi('ContentPackLesson');
export type PackLesson = z.infer<typeof PackLesson>;

export const PackUnit = z
  .strictObject({
    id: ResourceId,
    title: safeName(200),
    description: safeText({ max: 2000 }).optional(),
    lessons: z.array(PackLesson).min(1).max(500).describe('Taught in this order'),
  })
  .openapi('ContentPackUnit');
export type PackUnit = z.infer<typeof PackUnit>;

export const ContentPack = z
  .strictObject({
    $schema: z.string().max(2048).optional().describe('Where editors find this schema; ignored on import'),
    format: z.literal(CONTENT_PACK_FORMAT),
    pack: PackMetadata,
    concepts: z.array(PackConcept).max(5000),
    units: z.array(PackUnit).max(500).describe('Taught in this order'),
  })
  .openapi('ContentPack');
export type ContentPack = z.infer<typeof ContentPack>;
/** A pack as written (defaults not yet applied). */
export type ContentPackInput = z.input<typeof ContentPack>;

/** One finding of {@link packProblems}: where (a path into the pack) and what. */
export interface PackProblem {
  path: (string | number)[];
  message: string;
}

/** The concept an item practises: its own, or the lesson's only concept. */
export function itemConceptId(lesson: Pick<PackLesson, 'conceptIds'>, item: Pick<PackItem, 'conceptId'>): string | undefined {
  return item.conceptId ?? (lesson.conceptIds.length === 1 ? lesson.conceptIds[0] : undefined);
}

/** Every lesson of the pack in teaching order, with where it sits. */
export function lessonsInOrder(pack: Pick<ContentPack, 'units'>): { lesson: PackLesson; unit: PackUnit; unitIndex: number; lessonIndex: number; position: number }[] {
  const out: { lesson: PackLesson; unit: PackUnit; unitIndex: number; lessonIndex: number; position: number }[] = [];
  pack.units.forEach((unit, unitIndex) =>
    unit.lessons.forEach((lesson, lessonIndex) => out.push({ lesson, unit, unitIndex, lessonIndex, position: out.length })),
  );
  return out;
}

/**
 * Checks a schema-valid pack as a whole: unique ids, a prerequisite graph
 * without unknown ids or cycles, lessons on known concepts, answer keys that
 * accept their own answer, and a teaching order in which no lesson comes
 * before a lesson teaching the prerequisites of its concepts. Pure.
 */
export function packProblems(pack: ContentPack): { errors: PackProblem[]; warnings: PackProblem[] } {
  const errors: PackProblem[] = [];
  const warnings: PackProblem[] = [];

  // Concepts: unique ids, known prerequisites, no self-loops or cycles.
  const conceptIndex = new Map<string, number>();
  pack.concepts.forEach((c, i) => {
    if (conceptIndex.has(c.id)) errors.push({ path: ['concepts', i, 'id'], message: `duplicate concept id "${c.id}" (first at concepts.${conceptIndex.get(c.id)})` });
    else conceptIndex.set(c.id, i);
  });
  pack.concepts.forEach((c, i) => {
    const seen = new Set<string>();
    c.prerequisites.forEach((p, j) => {
      if (seen.has(p)) errors.push({ path: ['concepts', i, 'prerequisites', j], message: `prerequisite "${p}" is listed twice` });
      seen.add(p);
      if (p === c.id) errors.push({ path: ['concepts', i, 'prerequisites', j], message: `concept "${c.id}" cannot be its own prerequisite` });
      else if (!conceptIndex.has(p)) errors.push({ path: ['concepts', i, 'prerequisites', j], message: `unknown prerequisite "${p}": no concept of this pack has that id` });
    });
  });
  for (const cycle of prerequisiteCycles(pack.concepts)) {
    const first = cycle[0] as string;
    errors.push({ path: ['concepts', conceptIndex.get(first) ?? 0, 'prerequisites'], message: `prerequisite cycle: ${[...cycle, first].join(' -> ')}` });
  }

  // Units, lessons, items: ids unique across the pack (items are referenced by answers of every lesson).
  const unitIds = new Map<string, number>();
  const lessonIds = new Map<string, string>();
  const itemIds = new Map<string, string>();
  pack.units.forEach((unit, u) => {
    if (unitIds.has(unit.id)) errors.push({ path: ['units', u, 'id'], message: `duplicate unit id "${unit.id}" (first at units.${unitIds.get(unit.id)})` });
    else unitIds.set(unit.id, u);
    unit.lessons.forEach((lesson, l) => {
      const at: (string | number)[] = ['units', u, 'lessons', l];
      const where = `units.${u}.lessons.${l}`;
      if (lessonIds.has(lesson.id)) errors.push({ path: [...at, 'id'], message: `duplicate lesson id "${lesson.id}" (first at ${lessonIds.get(lesson.id)})` });
      else lessonIds.set(lesson.id, where);
      lesson.conceptIds.forEach((id, k) => {
        if (!conceptIndex.has(id)) errors.push({ path: [...at, 'conceptIds', k], message: `unknown concept "${id}": no concept of this pack has that id` });
      });
      if (new Set(lesson.conceptIds).size !== lesson.conceptIds.length) errors.push({ path: [...at, 'conceptIds'], message: 'a concept is listed twice' });
      const mediaIds = new Set<string>();
      lesson.media.forEach((m, k) => {
        if (mediaIds.has(m.id)) errors.push({ path: [...at, 'media', k, 'id'], message: `duplicate media id "${m.id}"` });
        mediaIds.add(m.id);
      });
      lesson.items.forEach((item, k) => {
        const itemAt = [...at, 'items', k];
        if (itemIds.has(item.id)) errors.push({ path: [...itemAt, 'id'], message: `duplicate item id "${item.id}" (first at ${itemIds.get(item.id)})` });
        else itemIds.set(item.id, `${where}.items.${k}`);
        if (itemConceptId(lesson, item) === undefined) {
          errors.push({ path: [...itemAt, 'conceptId'], message: 'conceptId is required when the lesson has more than one concept' });
        }
        for (const p of keyProblems(item)) errors.push({ path: [...itemAt, ...p.path], message: p.message });
      });
      const resolved = lesson.items.map((item) => ({ id: item.id, conceptId: itemConceptId(lesson, item) ?? '', mediaId: item.mediaId }));
      for (const p of lessonProblems({ ...lesson, items: resolved })) {
        // Duplicate item ids were reported above, across the whole pack; unresolved concepts too.
        if (p.message.startsWith('duplicate item id') || (p.path[2] === 'conceptId' && resolved[p.path[1] as number]?.conceptId === '')) continue;
        errors.push({ path: [...at, ...p.path], message: p.message });
      }
      if (lesson.published && lesson.items.length === 0) warnings.push({ path: [...at, 'items'], message: 'a published lesson without practice items' });
    });
  });

  // Teaching order: a lesson's concepts' prerequisites are taught earlier (or in the same lesson).
  const conceptById = new Map(pack.concepts.map((c) => [c.id, c]));
  const firstTaught = new Map<string, number>();
  const ordered = lessonsInOrder(pack);
  for (const { lesson, position } of ordered) for (const id of lesson.conceptIds) if (!firstTaught.has(id)) firstTaught.set(id, position);
  for (const { lesson, unitIndex, lessonIndex, position } of ordered) {
    for (const conceptId of lesson.conceptIds) {
      for (const prerequisite of conceptById.get(conceptId)?.prerequisites ?? []) {
        if (!conceptById.has(prerequisite)) continue;
        const taught = firstTaught.get(prerequisite);
        const at = ['units', unitIndex, 'lessons', lessonIndex, 'conceptIds', lesson.conceptIds.indexOf(conceptId)];
        if (taught === undefined) {
          warnings.push({ path: at, message: `"${conceptId}" needs "${prerequisite}", which no lesson of this pack teaches` });
        } else if (taught > position) {
          const later = ordered[taught]!;
          errors.push({
            path: at,
            message: `lesson "${lesson.id}" teaches "${conceptId}" before its prerequisite "${prerequisite}" (first taught by lesson "${later.lesson.id}" at units.${later.unitIndex}.lessons.${later.lessonIndex}); move it after that lesson`,
          });
        }
      }
    }
  }
  pack.concepts.forEach((c, i) => {
    if (!firstTaught.has(c.id)) warnings.push({ path: ['concepts', i], message: `concept "${c.id}" is not taught by any lesson of this pack` });
  });
  return { errors, warnings };
}

/** Keys that do not accept their own answer as a child would type or pick it, and ambiguous choices. */
function keyProblems(item: PackItem): PackProblem[] {
  const problems: PackProblem[] = [];
  const key = item.answer;
  if (key.type !== item.type) return problems; // reported by the item schema
  if (key.type === 'numeric') {
    const typed = String(key.value);
    if (!isCorrect(key, typed)) problems.push({ path: ['answer', 'value'], message: `the key does not accept its own answer typed as "${typed}"; use a plain decimal value` });
  } else if (key.type === 'short_text') {
    key.accepted.forEach((a, i) => {
      if (!isCorrect(key, a)) problems.push({ path: ['answer', 'accepted', i], message: `the key does not accept its own answer "${a}"` });
    });
  } else if (item.choices) {
    const norm = (t: string) => t.trim().replace(/\s+/g, ' ').toLowerCase();
    const texts = new Map<string, number>();
    item.choices.forEach((c, i) => {
      const t = norm(c.text);
      if (texts.has(t)) problems.push({ path: ['choices', i, 'text'], message: `choice "${c.text}" reads the same as choice ${texts.get(t)}; a child cannot tell them apart` });
      else texts.set(t, i);
    });
  }
  return problems;
}

/** Every prerequisite cycle, each once, as the concept ids along it. */
function prerequisiteCycles(concepts: readonly Pick<PackConcept, 'id' | 'prerequisites'>[]): string[][] {
  const byId = new Map(concepts.map((c) => [c.id, c]));
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[][] = [];
  const stack: string[] = [];
  const visit = (id: string) => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const p of byId.get(id)?.prerequisites ?? []) {
      if (!byId.has(p) || p === id) continue;
      const s = state.get(p);
      if (s === 'visiting') cycles.push(stack.slice(stack.indexOf(p)));
      else if (s === undefined) visit(p);
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const c of concepts) if (!state.has(c.id)) visit(c.id);
  return cycles;
}

/** What makes an item the question it is; `difficulty` is not part of it (it may be re-calibrated). */
export type ItemIdentity = Pick<PracticeItem, 'conceptId' | 'type' | 'prompt' | 'choices' | 'answer' | 'mediaId'>;

/** JSON with object keys sorted and `undefined` left out, so equal content always serialises the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The content hash of an item: SHA-256 over the canonical JSON of what the
 * child is asked and what counts as right, including the picture or sound
 * it shows (kind and URL, resolved from the lesson's `media`: the same
 * prompt with another picture is another question). Two items with the same
 * hash are the same question.
 */
export function itemContentHash(item: ItemIdentity, lessonMedia: readonly Pick<MediaRef, 'id' | 'kind' | 'url'>[] = []): string {
  const media = item.mediaId === undefined ? undefined : lessonMedia.find((m) => m.id === item.mediaId);
  const identity = {
    conceptId: item.conceptId,
    type: item.type,
    prompt: item.prompt,
    choices: item.choices ?? null,
    answer: item.answer,
    mediaId: item.mediaId ?? null,
    media: media ? { kind: media.kind, url: media.url } : null,
  };
  return `sha256:${createHash('sha256').update(canonicalJson(identity)).digest('hex')}`;
}

/** Concepts, lessons and items of a valid pack in the shapes the stores use (conceptId resolved). */
export function packItems(lesson: PackLesson): PracticeItem[] {
  return lesson.items.map((item) => {
    const out: PracticeItem = {
      id: item.id,
      conceptId: itemConceptId(lesson, item) ?? '',
      type: item.type,
      prompt: item.prompt,
      answer: item.answer,
      difficulty: item.difficulty,
    };
    if (item.choices) out.choices = item.choices;
    if (item.mediaId !== undefined) out.mediaId = item.mediaId;
    return out;
  });
}
