import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import { scoped } from '../../adapters/db/scoped.ts';
import type { LessonsTable, PracticeItemsTable, Tables } from '../../adapters/db/tables.ts';
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
  /** `teaching` (default): the packs' teaching sequence; `grade`: grade, subject, id. */
  order?: 'teaching' | 'grade' | undefined;
  page: number;
  limit: number;
}

/**
 * Published, live lessons with the total count. In teaching order: packs in
 * the order they were first imported, each pack's lessons in its sequence,
 * then lessons authored outside packs; ties and `order=grade` by grade,
 * subject and id.
 */
export async function listPublishedLessons(db: Kysely<Tables>, appId: string, q: LessonQuery): Promise<{ items: LessonSummary[]; total: number }> {
  let base = scoped(db, appId).selectFrom('lessons as l').where('l.published', '=', true).where('l.retired_at', 'is', null);
  if (q.subject !== undefined) base = base.where('l.subject', '=', q.subject);
  if (q.grade !== undefined) base = base.where('l.grade', '=', q.grade);
  let listing = base
    .leftJoin('content_packs as p', 'p.id', 'l.pack_id')
    .leftJoin('content_units as u', 'u.id', 'l.unit_id')
    .select(['l.id', 'l.subject', 'l.grade', 'l.title', 'l.summary', 'l.concept_ids', 'l.estimated_minutes', 'l.unit_id', 'u.title as unit_title'])
    .select(sql<number>`(count(*) over ())::int`.as('total'));
  if ((q.order ?? 'teaching') === 'teaching') {
    listing = listing.orderBy(sql`p.rank asc nulls last`).orderBy(sql`l.position asc nulls last`);
  }
  const rows = await listing
    .orderBy('l.grade')
    .orderBy('l.subject')
    .orderBy('l.id')
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
      unit: r.unit_id !== null && r.unit_title !== null ? { id: r.unit_id, title: r.unit_title } : null,
    })),
  };
}

/** A lesson with its live items (answer keys included: callers decide what leaves the server); `retired` lessons are gone from their pack. */
export async function findLesson(db: Kysely<Tables>, appId: string, lessonId: string): Promise<{ lesson: Lesson; items: PracticeItem[]; retired: boolean } | undefined> {
  const row = await scoped(db, appId)
    .selectFrom('lessons as l')
    .leftJoin('content_units as u', 'u.id', 'l.unit_id')
    .selectAll('l')
    .select('u.title as unit_title')
    .where('l.id', '=', lessonId)
    .executeTakeFirst();
  if (!row) return undefined;
  const items = await scoped(db, appId)
    .selectFrom('practice_items')
    .selectAll()
    .where('lesson_id', '=', lessonId)
    .where('retired_at', 'is', null)
    // Generated items were made for one child: they are served through that child's plans, never listed here.
    .where('generated', 'is', null)
    .orderBy('position')
    .execute();
  return {
    retired: row.retired_at !== null,
    lesson: {
      ...lessonFields(row),
      updatedAt: row.updated_at.toISOString(),
      unit: row.unit_id !== null && row.unit_title !== null ? { id: row.unit_id, title: row.unit_title } : null,
    },
    items: items.map(toPracticeItem),
  };
}

type ItemRow = Selectable<PracticeItemsTable>;

/** A stored lesson row's authored fields (without its items). */
export function lessonFields(row: Selectable<LessonsTable>): Omit<NewLessonInput, 'items'> {
  return {
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
  };
}

/** A stored item row as a practice item (answer key included). */
export function toPracticeItem(i: ItemRow): PracticeItem {
  const item: PracticeItem = {
    id: i.id,
    conceptId: i.concept_id,
    type: i.type as PracticeItem['type'],
    prompt: i.prompt,
    answer: i.answer as AnswerKey,
    difficulty: Number(i.difficulty),
  };
  if (i.choices !== null) item.choices = i.choices as Choice[];
  if (i.media_id !== null) item.mediaId = i.media_id;
  return item;
}

/** An item as stored, live or retired, with its identity facts: answers keep resolving after it left its lesson. */
export interface StoredItemRecord {
  item: PracticeItem;
  lessonId: string;
  contentHash: string;
  releasedAt: string | null;
  retiredAt: string | null;
}

export async function findItemRecord(db: Kysely<Tables>, appId: string, itemId: string): Promise<StoredItemRecord | undefined> {
  const row = await scoped(db, appId).selectFrom('practice_items').selectAll().where('id', '=', itemId).executeTakeFirst();
  if (!row) return undefined;
  return {
    item: toPracticeItem(row),
    lessonId: row.lesson_id,
    contentHash: row.content_hash,
    releasedAt: row.released_at?.toISOString() ?? null,
    retiredAt: row.retired_at?.toISOString() ?? null,
  };
}

/** Which of `ids` are not concepts of this app. */
export async function missingConcepts(db: Kysely<Tables> | Transaction<Tables>, appId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const unique = [...new Set(ids)];
  // Retired concepts are hidden: a new lesson cannot build on them.
  const rows = await scoped(db, appId).selectFrom('concepts').select('id').where('id', 'in', unique).where('retired_at', 'is', null).execute();
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

/** Whether a lesson with this id exists, and whether it is retired (gone from its pack or deleted after use). */
export async function lessonState(db: Kysely<Tables> | Transaction<Tables>, appId: string, lessonId: string): Promise<'live' | 'retired' | undefined> {
  const row = await scoped(db, appId).selectFrom('lessons').select('retired_at').where('id', '=', lessonId).forUpdate().executeTakeFirst();
  if (!row) return undefined;
  return row.retired_at === null ? 'live' : 'retired';
}

/** The content pack a lesson belongs to (null: authored over the API, or no such lesson). */
export async function lessonPack(trx: Transaction<Tables>, appId: string, lessonId: string): Promise<string | null> {
  const row = await scoped(trx, appId).selectFrom('lessons').select('pack_id').where('id', '=', lessonId).executeTakeFirst();
  return row?.pack_id ?? null;
}

/** Makes a lesson authored outside packs again (a retired pack lesson created anew over the admin API). */
export async function detachFromPack(trx: Transaction<Tables>, appId: string, lessonId: string): Promise<void> {
  await scoped(trx, appId).updateTable('lessons').set({ pack_id: null, unit_id: null, position: null }).where('id', '=', lessonId).execute();
}

/** Which of `conceptIds` are not concepts of pack `packId`. */
export async function conceptsOutsidePack(trx: Transaction<Tables>, appId: string, packId: string, conceptIds: readonly string[]): Promise<string[]> {
  if (conceptIds.length === 0) return [];
  const rows = await scoped(trx, appId).selectFrom('concepts').select('id').where('id', 'in', [...conceptIds]).where('pack_id', '=', packId).execute();
  const inPack = new Set(rows.map((r) => r.id));
  return conceptIds.filter((id) => !inPack.has(id));
}

/** Released items whose question `lesson` would change under the same id (see {@link writeLesson}). */
export async function changedReleasedItems(trx: Transaction<Tables>, appId: string, lesson: NewLessonInput): Promise<{ id: string; index: number }[]> {
  if (lesson.items.length === 0) return [];
  const rows = await scoped(trx, appId)
    .selectFrom('practice_items')
    .select(['id', 'content_hash'])
    .where('id', 'in', lesson.items.map((i) => i.id))
    .where('released_at', 'is not', null)
    .execute();
  const stored = new Map(rows.map((r) => [r.id, r.content_hash]));
  return lesson.items.flatMap((item, index) => {
    const hash = stored.get(item.id);
    return hash !== undefined && hash !== itemContentHash(item, lesson.media) ? [{ id: item.id, index }] : [];
  });
}

/**
 * Inserts or replaces a lesson and its whole item list inside the caller's
 * transaction, keeping item identity: items are upserted by id; items that
 * left the lesson are retired when they were ever released (answers may
 * point at them) and deleted otherwise; items of a published lesson are
 * marked released. Callers refuse changed released items first
 * ({@link changedReleasedItems}). A retired lesson written again is live again.
 */
export async function writeLesson(trx: Transaction<Tables>, appId: string, lesson: NewLessonInput): Promise<void> {
  const now = new Date();
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
    .onConflict((oc) => oc.column('id').doUpdateSet({ ...values, retired_at: null, updated_at: now }))
    .execute();
  const keep = lesson.items.map((i) => i.id);
  // Generated items are not part of the authored item list: rewriting the lesson keeps them.
  let gone = scoped(trx, appId).deleteFrom('practice_items').where('lesson_id', '=', lesson.id).where('released_at', 'is', null).where('generated', 'is', null);
  if (keep.length) gone = gone.where('id', 'not in', keep);
  await gone.execute();
  let retire = scoped(trx, appId).updateTable('practice_items').set({ retired_at: now }).where('lesson_id', '=', lesson.id).where('retired_at', 'is', null).where('generated', 'is', null);
  if (keep.length) retire = retire.where('id', 'not in', keep);
  await retire.execute();
  await upsertItems(trx, appId, lesson.items.map((item, position) => itemRow(item, lesson, position, now)));
}

/** The row of a live item at `position` of a lesson; items of a published lesson are released now (if not before). */
export function itemRow(item: PracticeItem, lesson: Pick<NewLessonInput, 'id' | 'published' | 'media'>, position: number, now: Date): Insertable<PracticeItemsTable> {
  return {
    id: item.id,
    lesson_id: lesson.id,
    position,
    concept_id: item.conceptId,
    type: item.type,
    prompt: item.prompt,
    choices: item.choices ? JSON.stringify(item.choices) : null,
    answer: JSON.stringify(item.answer),
    difficulty: item.difficulty,
    content_hash: itemContentHash(item, lesson.media),
    media_id: item.mediaId ?? null,
    released_at: lesson.published ? now : null,
    retired_at: null,
  };
}

/**
 * Inserts or updates items by id, live again; once released, an item stays
 * released (the question is fixed under its id from then on). Multi-row
 * statements of 200 keep statements small and PGlite fast. `onChunk` gets
 * the number of rows of each statement (progress bars).
 */
export async function upsertItems(trx: Transaction<Tables>, appId: string, rows: readonly Insertable<PracticeItemsTable>[], onChunk: (rows: number) => void = () => {}): Promise<void> {
  for (let start = 0; start < rows.length; start += 200) {
    const chunk = rows.slice(start, start + 200);
    await scoped(trx, appId)
      .insertInto('practice_items')
      .values(chunk)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          lesson_id: eb.ref('excluded.lesson_id'),
          position: eb.ref('excluded.position'),
          concept_id: eb.ref('excluded.concept_id'),
          type: eb.ref('excluded.type'),
          prompt: eb.ref('excluded.prompt'),
          choices: eb.ref('excluded.choices'),
          answer: eb.ref('excluded.answer'),
          difficulty: eb.ref('excluded.difficulty'),
          content_hash: eb.ref('excluded.content_hash'),
          media_id: eb.ref('excluded.media_id'),
          released_at: sql`coalesce(${sql.ref('practice_items.released_at')}, ${sql.ref('excluded.released_at')})`,
          retired_at: null,
        })),
      )
      .execute();
    onChunk(chunk.length);
  }
}

/**
 * Deletes a lesson. One with released items is retired instead (it and its
 * items stop being served; answers keep resolving). Returns whether a live
 * lesson existed.
 */
export async function deleteLesson(trx: Transaction<Tables>, appId: string, lessonId: string): Promise<boolean> {
  const state = await lessonState(trx, appId, lessonId);
  if (state !== 'live') return false;
  const released = await scoped(trx, appId)
    .selectFrom('practice_items')
    .select('id')
    .where('lesson_id', '=', lessonId)
    .where('released_at', 'is not', null)
    .limit(1)
    .executeTakeFirst();
  if (!released) {
    await scoped(trx, appId).deleteFrom('lessons').where('id', '=', lessonId).execute();
    return true;
  }
  const now = new Date();
  await scoped(trx, appId).deleteFrom('practice_items').where('lesson_id', '=', lessonId).where('released_at', 'is', null).execute();
  await scoped(trx, appId).updateTable('practice_items').set({ retired_at: now }).where('lesson_id', '=', lessonId).where('retired_at', 'is', null).execute();
  await scoped(trx, appId).updateTable('lessons').set({ retired_at: now, updated_at: now }).where('id', '=', lessonId).execute();
  return true;
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
