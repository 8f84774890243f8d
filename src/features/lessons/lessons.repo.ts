import { sql, type Kysely, type Transaction } from 'kysely';
import { scoped } from '../../adapters/db/scoped.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import { itemContentHash } from '../../domain/content-pack.ts';
import type { AnswerKey, Choice, Concept, ContentBlock, Lesson, LessonSummary, MediaRef, NewLessonInput, PracticeItem } from '../../domain/curriculum.ts';

/**
 * SQL for concepts, lessons and practice items of one app. Every function
 * takes the app id and scopes its queries to that app's schema; there is no
 * way to query lessons without naming the app.
 */

/** Filters and paging for the lesson catalogue. */
export interface LessonQuery {
  subject?: string | undefined;
  grade?: number | undefined;
  page: number;
  limit: number;
}

/** Published lessons in a stable order (grade, subject, id) with the total count. */
export async function listPublishedLessons(db: Kysely<Tables>, appId: string, q: LessonQuery): Promise<{ items: LessonSummary[]; total: number }> {
  let base = scoped(db, appId).selectFrom('lessons').where('published', '=', true);
  if (q.subject !== undefined) base = base.where('subject', '=', q.subject);
  if (q.grade !== undefined) base = base.where('grade', '=', q.grade);
  const rows = await base
    .select(['id', 'subject', 'grade', 'title', 'summary', 'concept_ids', 'estimated_minutes'])
    .select(sql<number>`(count(*) over ())::int`.as('total'))
    .orderBy('grade')
    .orderBy('subject')
    .orderBy('id')
    .limit(q.limit)
    .offset((q.page - 1) * q.limit)
    .execute();
  let total = rows[0]?.total;
  if (total === undefined) {
    // Past the last page the window function has no row to ride on.
    const r = await base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
    total = r.n;
  }
  return {
    total,
    items: rows.map((r) => ({
      id: r.id,
      subject: r.subject,
      grade: r.grade,
      title: r.title,
      summary: r.summary,
      conceptIds: r.concept_ids,
      estimatedMinutes: r.estimated_minutes,
    })),
  };
}

/** A lesson with its items (answer keys included: callers decide what leaves the server). */
export async function findLesson(db: Kysely<Tables>, appId: string, lessonId: string): Promise<{ lesson: Lesson; items: PracticeItem[] } | undefined> {
  const row = await scoped(db, appId).selectFrom('lessons').selectAll().where('id', '=', lessonId).executeTakeFirst();
  if (!row) return undefined;
  const items = await scoped(db, appId)
    .selectFrom('practice_items')
    .selectAll()
    .where('lesson_id', '=', lessonId)
    .orderBy('position')
    .execute();
  return {
    lesson: {
      id: row.id,
      subject: row.subject,
      grade: row.grade,
      title: row.title,
      summary: row.summary,
      blocks: row.blocks as ContentBlock[],
      conceptIds: row.concept_ids,
      media: row.media as MediaRef[],
      estimatedMinutes: row.estimated_minutes,
      published: row.published,
      updatedAt: row.updated_at.toISOString(),
    },
    items: items.map((i) => {
      const item: PracticeItem = {
        id: i.id,
        conceptId: i.concept_id,
        type: i.type as PracticeItem['type'],
        prompt: i.prompt,
        answer: i.answer as AnswerKey,
        difficulty: Number(i.difficulty),
      };
      if (i.choices !== null) item.choices = i.choices as Choice[];
      return item;
    }),
  };
}

/** Which of `ids` are not concepts of this app. */
export async function missingConcepts(db: Kysely<Tables> | Transaction<Tables>, appId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const unique = [...new Set(ids)];
  const rows = await scoped(db, appId).selectFrom('concepts').select('id').where('id', 'in', unique).execute();
  const found = new Set(rows.map((r) => r.id));
  return unique.filter((id) => !found.has(id));
}

/** Item ids among `itemIds` that already belong to a lesson other than `lessonId`. */
export async function itemsOwnedElsewhere(trx: Transaction<Tables>, appId: string, lessonId: string, itemIds: readonly string[]): Promise<string[]> {
  if (itemIds.length === 0) return [];
  const rows = await scoped(trx, appId)
    .selectFrom('practice_items')
    .select('id')
    .where('id', 'in', [...itemIds])
    .where('lesson_id', '<>', lessonId)
    .execute();
  return rows.map((r) => r.id);
}

/** Whether a lesson with this id exists (published or not). */
export async function lessonExists(db: Kysely<Tables> | Transaction<Tables>, appId: string, lessonId: string): Promise<boolean> {
  const row = await scoped(db, appId).selectFrom('lessons').select('id').where('id', '=', lessonId).executeTakeFirst();
  return row !== undefined;
}

/** Inserts or replaces a lesson and its whole item list inside the caller's transaction. */
export async function writeLesson(trx: Transaction<Tables>, appId: string, lesson: NewLessonInput): Promise<void> {
  const values = {
    id: lesson.id,
    subject: lesson.subject,
    grade: lesson.grade,
    title: lesson.title,
    summary: lesson.summary,
    blocks: JSON.stringify(lesson.blocks),
    concept_ids: lesson.conceptIds,
    media: JSON.stringify(lesson.media),
    estimated_minutes: lesson.estimatedMinutes,
    published: lesson.published,
  };
  await scoped(trx, appId)
    .insertInto('lessons')
    .values(values)
    .onConflict((oc) => oc.column('id').doUpdateSet({ ...values, updated_at: new Date() }))
    .execute();
  await scoped(trx, appId).deleteFrom('practice_items').where('lesson_id', '=', lesson.id).execute();
  // Multi-row inserts in chunks keep statements small and PGlite fast.
  for (let start = 0; start < lesson.items.length; start += 100) {
    const chunk = lesson.items.slice(start, start + 100).map((item, i) => ({
      id: item.id,
      lesson_id: lesson.id,
      position: start + i,
      concept_id: item.conceptId,
      type: item.type,
      prompt: item.prompt,
      choices: item.choices ? JSON.stringify(item.choices) : null,
      answer: JSON.stringify(item.answer),
      difficulty: item.difficulty,
      content_hash: itemContentHash(item),
      media_id: item.mediaId ?? null,
    }));
    await scoped(trx, appId).insertInto('practice_items').values(chunk).execute();
  }
}

/** Deletes a lesson (its items go with it). Returns whether it existed. */
export async function deleteLesson(trx: Transaction<Tables>, appId: string, lessonId: string): Promise<boolean> {
  const res = await scoped(trx, appId).deleteFrom('lessons').where('id', '=', lessonId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Inserts or updates concepts and replaces their prerequisite edges (seeding and curriculum import). */
export async function writeConcepts(trx: Transaction<Tables>, appId: string, concepts: readonly Concept[]): Promise<void> {
  for (let start = 0; start < concepts.length; start += 200) {
    const chunk = concepts.slice(start, start + 200).map((c) => ({
      id: c.id,
      subject: c.subject,
      grade: c.grade,
      name: c.name,
      description: c.description,
    }));
    await scoped(trx, appId)
      .insertInto('concepts')
      .values(chunk)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          subject: eb.ref('excluded.subject'),
          grade: eb.ref('excluded.grade'),
          name: eb.ref('excluded.name'),
          description: eb.ref('excluded.description'),
        })),
      )
      .execute();
  }
  const ids = concepts.map((c) => c.id);
  if (ids.length) await scoped(trx, appId).deleteFrom('concept_prerequisites').where('concept_id', 'in', ids).execute();
  const edges = concepts.flatMap((c) => c.prerequisites.map((p) => ({ concept_id: c.id, prerequisite_id: p })));
  for (let start = 0; start < edges.length; start += 500) {
    await scoped(trx, appId).insertInto('concept_prerequisites').values(edges.slice(start, start + 500)).execute();
  }
}

/** Number of concepts of an app (0 means its curriculum was never seeded or imported). */
export async function countConcepts(db: Kysely<Tables>, appId: string): Promise<number> {
  const row = await scoped(db, appId).selectFrom('concepts').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
  return row.n;
}
