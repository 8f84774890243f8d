import { z } from '@hono/zod-openapi';
import { parsePlainDecimal, refineText, safeId, safeName, safeText } from './input-rules.ts';

/**
 * The curriculum model: concepts (skills) with a prerequisite graph, lessons
 * made of ordered content blocks, and practice items with server-only answer
 * keys. The Zod schemas here are the single source for validation, TypeScript
 * types and the OpenAPI document.
 */

/** Slug-like ids for concepts, lessons and items: stable, URL-safe, bounded. */
export const ResourceId = safeId;

/** Grades K–8, stored and served as integers where 0 means kindergarten. */
export const Grade = z.number().int().min(0).max(8).openapi({ description: 'Grade level, 0 = kindergarten … 8' });
export type Grade = z.infer<typeof Grade>;

/** A subject slug such as `math` or `reading`. */
export const Subject = z.string().regex(/^[a-z][a-z0-9-]{1,39}$/, 'must be a lowercase slug (2–40 chars)');

export const MediaRef = z
  .strictObject({
    id: ResourceId,
    kind: z.enum(['image', 'audio', 'video']),
    url: z.url().max(2048).superRefine(refineText('name')),
    alt: safeText({ max: 300 }).optional(),
  })
  .openapi('MediaRef');
export type MediaRef = z.infer<typeof MediaRef>;

export const ContentBlock = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('text'), text: safeText({ min: 1, max: 5000 }) }),
    z.strictObject({ type: z.literal('tip'), text: safeText({ min: 1, max: 2000 }) }),
    z.strictObject({
      type: z.literal('example'),
      prompt: safeText({ min: 1, max: 2000 }),
      explanation: safeText({ min: 1, max: 5000 }),
    }),
    z.strictObject({ type: z.literal('media'), mediaId: ResourceId }),
  ])
  .openapi('ContentBlock');
export type ContentBlock = z.infer<typeof ContentBlock>;

export const ItemType = z.enum(['multiple_choice', 'numeric', 'short_text']);
export type ItemType = z.infer<typeof ItemType>;

const ChoiceId = z.string().regex(/^[a-z0-9]{1,8}$/, 'must be 1–8 chars of a-z or 0-9');
export const Choice = z.strictObject({ id: ChoiceId, text: safeText({ min: 1, max: 500 }) });
export type Choice = z.infer<typeof Choice>;

/** Answer keys. They never leave the server. */
export const AnswerKey = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('multiple_choice'), choiceId: ChoiceId }),
    z.strictObject({ type: z.literal('numeric'), value: z.number().finite(), tolerance: z.number().min(0).default(0) }),
    z.strictObject({
      type: z.literal('short_text'),
      accepted: z.array(safeText({ min: 1, max: 200 })).min(1).max(20),
      caseSensitive: z.boolean().default(false),
    }),
  ])
  .openapi('AnswerKey');
export type AnswerKey = z.infer<typeof AnswerKey>;

/** Item difficulty on a logit scale (IRT-style b parameter): -3 easy … +3 hard. */
export const Difficulty = z.number().min(-3).max(3);

/** A practice item as authored, including its answer key. */
export const PracticeItem = z
  .strictObject({
    id: ResourceId,
    conceptId: ResourceId,
    type: ItemType,
    prompt: safeText({ min: 1, max: 2000 }),
    choices: z.array(Choice).min(2).max(8).optional(),
    answer: AnswerKey,
    difficulty: Difficulty,
    /** A picture or sound the question needs, one of the lesson's `media` ids. */
    mediaId: ResourceId.optional(),
  })
  .superRefine((item, ctx) => {
    for (const issue of practiceItemProblems(item)) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  })
  .openapi('PracticeItemInput');
export type PracticeItem = z.infer<typeof PracticeItem>;

/** What a client sees of a practice item: everything but the answer key. */
export const PublicPracticeItem = z
  .object({
    id: z.string(),
    conceptId: z.string(),
    type: ItemType,
    prompt: z.string(),
    choices: z.array(Choice).optional(),
    difficulty: z.number(),
    mediaId: z.string().optional(),
  })
  .openapi('PracticeItem');
export type PublicPracticeItem = z.infer<typeof PublicPracticeItem>;

const lessonFields = {
  subject: Subject,
  grade: Grade,
  title: safeName(200),
  summary: safeText({ max: 2000 }),
  blocks: z.array(ContentBlock).max(200),
  conceptIds: z.array(ResourceId).min(1).max(20),
  media: z.array(MediaRef).max(50).default([]),
  estimatedMinutes: z.number().int().min(1).max(240),
  published: z.boolean().default(false),
};

/** Body of `PUT /admin/lessons/{id}`: a whole lesson with its items. */
export const LessonInput = z
  .strictObject({ ...lessonFields, items: z.array(PracticeItem).max(200).default([]) })
  .superRefine((lesson, ctx) => {
    for (const issue of lessonProblems(lesson)) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  })
  .openapi('LessonInput');
export type LessonInput = z.infer<typeof LessonInput>;

/** Body of `POST /admin/lessons`: a lesson input plus its new id. */
export const NewLessonInput = z
  .strictObject({ id: ResourceId, ...lessonFields, items: z.array(PracticeItem).max(200).default([]) })
  .superRefine((lesson, ctx) => {
    for (const issue of lessonProblems(lesson)) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  })
  .openapi('NewLessonInput');
export type NewLessonInput = z.infer<typeof NewLessonInput>;

/** A lesson as listed in the catalogue. */
export const LessonSummary = z
  .object({
    id: z.string(),
    subject: z.string(),
    grade: z.number().int(),
    title: z.string(),
    summary: z.string(),
    conceptIds: z.array(z.string()),
    estimatedMinutes: z.number().int(),
    unit: z
      .object({ id: z.string(), title: z.string() })
      .nullable()
      .openapi({ description: 'The unit of the content pack that teaches this lesson; null for lessons authored outside packs' }),
  })
  .openapi('LessonSummary');
export type LessonSummary = z.infer<typeof LessonSummary>;

/** A lesson as stored, without its items. */
export const Lesson = LessonSummary.extend({
  blocks: z.array(ContentBlock),
  media: z.array(MediaRef),
  published: z.boolean(),
  updatedAt: z.string(),
});
export type Lesson = z.infer<typeof Lesson>;

/** A lesson as clients read it: with its items, minus answer keys. */
export const LessonDetail = Lesson.extend({ items: z.array(PublicPracticeItem) }).openapi('LessonDetail');
export type LessonDetail = z.infer<typeof LessonDetail>;

/** A concept (skill) and the concepts that should be learned before it. */
export interface Concept {
  id: string;
  subject: string;
  grade: number;
  name: string;
  description: string;
  prerequisites: string[];
}

interface Problem {
  path: (string | number)[];
  message: string;
}

/** Cross-field checks on one item: choices exist exactly for multiple choice and the key matches the type. */
export function practiceItemProblems(item: Pick<PracticeItem, 'type' | 'choices' | 'answer'>): Problem[] {
  const problems: Problem[] = [];
  if (item.answer.type !== item.type) {
    problems.push({ path: ['answer', 'type'], message: `answer type must be "${item.type}"` });
  }
  if (item.type === 'multiple_choice') {
    if (!item.choices) {
      problems.push({ path: ['choices'], message: 'multiple choice items need choices' });
    } else {
      const ids = item.choices.map((c) => c.id);
      if (new Set(ids).size !== ids.length) problems.push({ path: ['choices'], message: 'choice ids must be unique' });
      if (item.answer.type === 'multiple_choice' && !ids.includes(item.answer.choiceId)) {
        problems.push({ path: ['answer', 'choiceId'], message: 'answer must be one of the choice ids' });
      }
    }
  } else if (item.choices !== undefined) {
    problems.push({ path: ['choices'], message: `${item.type} items have no choices` });
  }
  return problems;
}

/** Cross-field checks on a lesson: unique item ids, media blocks that reference listed media, items on lesson concepts. */
export function lessonProblems(lesson: { items: readonly Pick<PracticeItem, 'id' | 'conceptId' | 'mediaId'>[]; blocks: readonly ContentBlock[]; media: readonly MediaRef[]; conceptIds: readonly string[] }): Problem[] {
  const problems: Problem[] = [];
  const itemIds = new Set<string>();
  lesson.items.forEach((item, i) => {
    if (itemIds.has(item.id)) problems.push({ path: ['items', i, 'id'], message: `duplicate item id "${item.id}"` });
    itemIds.add(item.id);
    if (!lesson.conceptIds.includes(item.conceptId)) {
      problems.push({ path: ['items', i, 'conceptId'], message: 'item concept must be one of the lesson conceptIds' });
    }
  });
  const mediaIds = new Set(lesson.media.map((m) => m.id));
  lesson.items.forEach((item, i) => {
    if (item.mediaId !== undefined && !mediaIds.has(item.mediaId)) {
      problems.push({ path: ['items', i, 'mediaId'], message: `no media with id "${item.mediaId}"` });
    }
  });
  lesson.blocks.forEach((block, i) => {
    if (block.type === 'media' && !mediaIds.has(block.mediaId)) {
      problems.push({ path: ['blocks', i, 'mediaId'], message: `no media with id "${block.mediaId}"` });
    }
  });
  return problems;
}

/** Strips the answer key: the only way items are turned into client payloads. */
export function toPublicItem(item: PracticeItem): PublicPracticeItem {
  const out: PublicPracticeItem = {
    id: item.id,
    conceptId: item.conceptId,
    type: item.type,
    prompt: item.prompt,
    difficulty: item.difficulty,
  };
  if (item.choices) out.choices = item.choices;
  if (item.mediaId !== undefined) out.mediaId = item.mediaId;
  return out;
}

/** Decides whether a response is correct according to an answer key. */
export function isCorrect(key: AnswerKey, response: unknown): boolean {
  switch (key.type) {
    case 'multiple_choice':
      return typeof response === 'string' && response === key.choiceId;
    case 'numeric': {
      // Typed answers count only in plain decimal: Number() would also read
      // "0x0B", "1.1e1" or " 11 " as 11, which a child did not write.
      const n = typeof response === 'number' ? response : typeof response === 'string' ? parsePlainDecimal(response) : undefined;
      return n !== undefined && Number.isFinite(n) && Math.abs(n - key.value) <= key.tolerance + 1e-9;
    }
    case 'short_text': {
      if (typeof response !== 'string') return false;
      const norm = (s: string) => {
        // Keyboards type ' where books print ’: treat the apostrophes as one.
        const t = s.trim().replace(/\s+/g, ' ').replace(/[\u2018\u2019\u02bc]/g, "'");
        return key.caseSensitive ? t : t.toLowerCase();
      };
      const r = norm(response);
      return key.accepted.some((a) => norm(a) === r);
    }
  }
}

/**
 * Checks that a prerequisite graph is well formed: every prerequisite exists
 * and there are no cycles. Returns the concept ids in a valid learning order.
 */
export function topologicalOrder(concepts: readonly Pick<Concept, 'id' | 'prerequisites'>[]): string[] {
  const byId = new Map(concepts.map((c) => [c.id, c]));
  for (const c of concepts) {
    for (const p of c.prerequisites) {
      if (!byId.has(p)) throw new Error(`concept ${c.id} has unknown prerequisite ${p}`);
      if (p === c.id) throw new Error(`concept ${c.id} is its own prerequisite`);
    }
  }
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]) => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`prerequisite cycle: ${[...path, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const p of byId.get(id)!.prerequisites) visit(p, [...path, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const c of concepts) visit(c.id, []);
  return order;
}
