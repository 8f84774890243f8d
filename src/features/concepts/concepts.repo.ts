import { sql, type Kysely, type Transaction } from 'kysely';
import { scoped } from '../../adapters/db/scoped.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import { lockAppContent } from '../content/content.repo.ts';
import type { Concept } from '../../domain/curriculum.ts';

/**
 * SQL for the concept graph of one app. Every function takes the app id and
 * scopes its queries to that app's schema. Writes run inside the caller's
 * transaction, after {@link lockConceptGraph}.
 */

type Db = Kysely<Tables> | Transaction<Tables>;

/** A live concept as stored, with where it came from. */
export interface StoredConcept extends Concept {
  /** The content pack that owns it; null when it was authored over the admin API. */
  packId: string | null;
}

/** A concept row whatever its state, for writes to decide on. */
export interface ConceptRow {
  id: string;
  packId: string | null;
  retired: boolean;
}

/**
 * Serialises writes to one app's concept graph until the transaction ends:
 * two writes that each keep the graph acyclic can close a cycle together
 * (a needs b; b needs a), so every check-then-write of the graph holds this.
 * It is the very lock content-pack imports take (`lockAppContent` in
 * features/content: the same key), so an import and an API write of
 * concepts cannot interleave either. Reads do not wait for it.
 */
export const lockConceptGraph = lockAppContent;

/** Live (non-retired) concepts with their live prerequisites, in no particular order. */
export async function listLiveConcepts(db: Db, appId: string): Promise<StoredConcept[]> {
  const rows = await scoped(db, appId)
    .selectFrom('concepts')
    .select(['id', 'subject', 'grade', 'name', 'description', 'pack_id'])
    .where('retired_at', 'is', null)
    .execute();
  // An edge to a retired concept is history, not part of the graph a client should follow.
  const edges = await scoped(db, appId)
    .selectFrom('concept_prerequisites as e')
    .innerJoin('concepts as p', 'p.id', 'e.prerequisite_id')
    .select(['e.concept_id', 'e.prerequisite_id'])
    .where('p.retired_at', 'is', null)
    .orderBy('e.prerequisite_id')
    .execute();
  const prerequisites = new Map<string, string[]>();
  for (const e of edges) {
    const list = prerequisites.get(e.concept_id);
    if (list) list.push(e.prerequisite_id);
    else prerequisites.set(e.concept_id, [e.prerequisite_id]);
  }
  return rows.map((r) => ({
    id: r.id,
    subject: r.subject,
    grade: r.grade,
    name: r.name,
    description: r.description,
    prerequisites: prerequisites.get(r.id) ?? [],
    packId: r.pack_id,
  }));
}

/** Published, non-retired lessons by concept id, each list ordered by grade, subject, id. */
export async function publishedLessonsByConcept(db: Db, appId: string, conceptIds?: readonly string[]): Promise<Map<string, string[]>> {
  let q = scoped(db, appId)
    .selectFrom('lessons')
    .select(['id', 'concept_ids'])
    .where('published', '=', true)
    .where('retired_at', 'is', null);
  if (conceptIds) {
    if (conceptIds.length === 0) return new Map();
    q = q.where(sql<boolean>`concept_ids && ${sql.val([...conceptIds])}::text[]`);
  }
  const rows = await q.orderBy('grade').orderBy('subject').orderBy('id').execute();
  const out = new Map<string, string[]>();
  for (const r of rows) {
    for (const c of new Set(r.concept_ids)) {
      const list = out.get(c);
      if (list) list.push(r.id);
      else out.set(c, [r.id]);
    }
  }
  return out;
}

/** A concept row, live or retired; undefined if the id was never used (or the concept was deleted outright). */
export async function findConceptRow(db: Db, appId: string, id: string): Promise<ConceptRow | undefined> {
  const row = await scoped(db, appId).selectFrom('concepts').select(['id', 'pack_id', 'retired_at']).where('id', '=', id).executeTakeFirst();
  return row && { id: row.id, packId: row.pack_id, retired: row.retired_at !== null };
}

/** Inserts a concept authored over the API (no pack) with its prerequisite edges. */
export async function insertConcept(trx: Transaction<Tables>, appId: string, concept: Concept): Promise<void> {
  await scoped(trx, appId)
    .insertInto('concepts')
    .values({ id: concept.id, subject: concept.subject, grade: concept.grade, name: concept.name, description: concept.description, pack_id: null })
    .execute();
  await insertEdges(trx, appId, concept.id, concept.prerequisites);
}

/** Replaces a concept's fields and its whole prerequisite list. */
export async function replaceConcept(trx: Transaction<Tables>, appId: string, concept: Concept): Promise<void> {
  await scoped(trx, appId)
    .updateTable('concepts')
    .set({ subject: concept.subject, grade: concept.grade, name: concept.name, description: concept.description })
    .where('id', '=', concept.id)
    .execute();
  await scoped(trx, appId).deleteFrom('concept_prerequisites').where('concept_id', '=', concept.id).execute();
  await insertEdges(trx, appId, concept.id, concept.prerequisites);
}

async function insertEdges(trx: Transaction<Tables>, appId: string, id: string, prerequisites: readonly string[]): Promise<void> {
  const unique = [...new Set(prerequisites)];
  if (unique.length === 0) return;
  await scoped(trx, appId)
    .insertInto('concept_prerequisites')
    .values(unique.map((p) => ({ concept_id: id, prerequisite_id: p })))
    .execute();
}

/**
 * Who uses the concept: `live` lists (sorted) the live lessons that name it
 * in `concept_ids` or have a live item practising it; `retired` says whether
 * retired lessons or items still name it (then it can only be retired too,
 * so that history keeps resolving).
 */
export async function lessonsUsingConcept(db: Db, appId: string, id: string): Promise<{ live: string[]; retired: boolean }> {
  const listed = await scoped(db, appId)
    .selectFrom('lessons')
    .select(['id', 'retired_at'])
    .where(sql<boolean>`concept_ids @> array[${id}]::text[]`)
    .execute();
  const practised = await scoped(db, appId)
    .selectFrom('practice_items as i')
    .innerJoin('lessons as l', 'l.id', 'i.lesson_id')
    .select(['i.lesson_id', 'i.retired_at as item_retired', 'l.retired_at as lesson_retired'])
    .where('i.concept_id', '=', id)
    .execute();
  const live = new Set<string>();
  let retired = false;
  for (const l of listed) {
    if (l.retired_at === null) live.add(l.id);
    else retired = true;
  }
  for (const p of practised) {
    if (p.item_retired === null && p.lesson_retired === null) live.add(p.lesson_id);
    else retired = true;
  }
  return { live: [...live].sort(), retired };
}

/** Whether any child's answers or learner state point at the concept (then it is retired, not deleted). */
export async function conceptHasHistory(db: Db, appId: string, id: string): Promise<boolean> {
  const answered = await scoped(db, appId).selectFrom('answers').select('id').where('concept_id', '=', id).limit(1).executeTakeFirst();
  if (answered) return true;
  const state = await scoped(db, appId).selectFrom('concept_states').select('child_id').where('concept_id', '=', id).limit(1).executeTakeFirst();
  return state !== undefined;
}

/** Hides a concept for good while keeping its row and edges, so history that names it still resolves. */
export async function retireConcept(trx: Transaction<Tables>, appId: string, id: string): Promise<void> {
  await scoped(trx, appId).updateTable('concepts').set({ retired_at: new Date() }).where('id', '=', id).execute();
}

/** Deletes a concept outright; its own prerequisite edges go with it. */
export async function deleteConcept(trx: Transaction<Tables>, appId: string, id: string): Promise<void> {
  await scoped(trx, appId).deleteFrom('concept_prerequisites').where('concept_id', '=', id).execute();
  await scoped(trx, appId).deleteFrom('concepts').where('id', '=', id).execute();
}
