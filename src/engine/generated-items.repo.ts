import { sql, type Insertable } from 'kysely';
import type { Database } from '../adapters/db/database.ts';
import { scoped } from '../adapters/db/scoped.ts';
import type { PracticeItemsTable } from '../adapters/db/tables.ts';
import type { ContentBlock, PracticeItem } from '../domain/curriculum.ts';
import { itemContentHash } from '../domain/content-pack.ts';

/** SQL of the item generator: what it reads of the curriculum, the token budget, and the items it stores. */

/** The curriculum a generation is about: the concept, the lesson, and the concept's existing items. */
export interface GenerationContext {
  concept: { id: string; name: string; description: string; subject: string; grade: number };
  lesson: { id: string; title: string; summary: string; blocks: ContentBlock[]; published: boolean };
  /** The concept's authored items, then those generated for the child (for de-duplication), at most 2,000. */
  items: { type: string; prompt: string; choices: { id: string; text: string }[] | undefined; generated: boolean }[];
}

/**
 * Reads the context, or says which of concept and lesson is missing (or
 * retired). The items are the concept's authored ones and those generated
 * for this child: other children's generated items are no repeat for it.
 */
export async function loadGenerationContext(db: Database, appId: string, conceptId: string, lessonId: string, forChildId: string): Promise<GenerationContext | 'concept_not_found' | 'lesson_not_found'> {
  const s = scoped(db.db, appId);
  const [concept, lesson, items] = await Promise.all([
    s.selectFrom('concepts').select(['id', 'name', 'description', 'subject', 'grade']).where('id', '=', conceptId).where('retired_at', 'is', null).executeTakeFirst(),
    s.selectFrom('lessons').select(['id', 'title', 'summary', 'blocks', 'published', 'concept_ids']).where('id', '=', lessonId).where('retired_at', 'is', null).executeTakeFirst(),
    s
      .selectFrom('practice_items')
      .select(['type', 'prompt', 'choices', 'generated'])
      .where('concept_id', '=', conceptId)
      .where((eb) => eb.or([eb('generated_for', 'is', null), eb('generated_for', '=', forChildId)]))
      .orderBy(sql`generated is null`, 'desc')
      .limit(2000)
      .execute(),
  ]);
  if (!concept) return 'concept_not_found';
  if (!lesson || !lesson.concept_ids.includes(conceptId)) return 'lesson_not_found';
  return {
    concept: { id: concept.id, name: concept.name, description: concept.description, subject: concept.subject, grade: concept.grade },
    lesson: { id: lesson.id, title: lesson.title, summary: lesson.summary, blocks: lesson.blocks as ContentBlock[], published: lesson.published },
    items: items.map((i) => ({ type: i.type, prompt: i.prompt, choices: (i.choices ?? undefined) as { id: string; text: string }[] | undefined, generated: i.generated !== null })),
  };
}

/** Whether the child exists in the app (generated items are made for a child and erased with it). */
export async function childExists(db: Database, appId: string, childId: string): Promise<boolean> {
  return (await scoped(db.db, appId).selectFrom('children').select('id').where('id', '=', childId).executeTakeFirst()) !== undefined;
}

/** Tokens the app's model calls used on a UTC day (`YYYY-MM-DD`). */
export async function tokensUsed(db: Database, appId: string, day: string): Promise<number> {
  const row = await scoped(db.db, appId).selectFrom('llm_usage').select(['input_tokens', 'output_tokens']).where('day', '=', day).executeTakeFirst();
  return row ? Number(row.input_tokens) + Number(row.output_tokens) : 0;
}

/** Adds one call's tokens to the day's total (atomic: concurrent generations add up). */
export async function recordUsage(db: Database, appId: string, day: string, usage: { inputTokens: number; outputTokens: number }): Promise<void> {
  await scoped(db.db, appId)
    .insertInto('llm_usage')
    .values({ day, calls: 1, input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, updated_at: new Date() })
    .onConflict((oc) =>
      oc.column('day').doUpdateSet({
        calls: sql`llm_usage.calls + 1`,
        input_tokens: sql`llm_usage.input_tokens + ${usage.inputTokens}`,
        output_tokens: sql`llm_usage.output_tokens + ${usage.outputTokens}`,
        updated_at: new Date(),
      }),
    )
    .execute();
}

/** One item to store, with its provenance and the child it was made for. */
export interface NewGeneratedItem {
  item: PracticeItem;
  lessonId: string;
  provenance: Record<string, unknown>;
  forChildId: string;
}

/**
 * Stores generated items as items of the lesson: released at once (a child
 * is about to see them, so the question is fixed under its id), placed after
 * the authored items, marked generated and tied to their child.
 */
export async function insertGeneratedItems(db: Database, appId: string, items: readonly NewGeneratedItem[]): Promise<void> {
  if (items.length === 0) return;
  const now = new Date();
  const rows: Insertable<PracticeItemsTable>[] = items.map((g, i) => ({
    id: g.item.id,
    lesson_id: g.lessonId,
    position: 100_000 + i,
    concept_id: g.item.conceptId,
    type: g.item.type,
    prompt: g.item.prompt,
    choices: g.item.choices ? JSON.stringify(g.item.choices) : null,
    answer: JSON.stringify(g.item.answer),
    difficulty: g.item.difficulty,
    content_hash: itemContentHash(g.item),
    media_id: null,
    released_at: now,
    retired_at: null,
    generated: JSON.stringify(g.provenance),
    generated_for: g.forChildId,
  }));
  await scoped(db.db, appId).insertInto('practice_items').values(rows).execute();
}
