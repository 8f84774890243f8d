import { sql } from 'kysely';
import type { Database } from '../../adapters/db/database.ts';
import { checkConceptWrite, dependentsOf, learningOrder, type ConceptInput, type ConceptView, type NewConceptInput } from '../../domain/concept-graph.ts';
import type { Concept } from '../../domain/curriculum.ts';
import { AppError } from '../../domain/errors.ts';
import {
  conceptHasHistory,
  deleteConcept,
  findConceptRow,
  insertConcept,
  listLiveConcepts,
  lessonsUsingConcept,
  lockConceptGraph,
  publishedLessonsByConcept,
  replaceConcept,
  retireConcept,
  type ConceptRow,
} from './concepts.repo.ts';

/** Filters of `GET /api/concepts`. */
export interface ConceptQuery {
  subject?: string | undefined;
  grade?: number | undefined;
}

/** The concept graph as served: live concepts in a learning order. */
export interface ConceptGraph {
  items: ConceptView[];
}

/**
 * Use cases of the concepts API: the app's concept graph for every role, and
 * admin writes that keep it a valid graph. Each write loads the live graph,
 * checks it with the pure rules of `domain/concept-graph.ts` and writes in
 * one transaction that holds the app's concept-graph lock, so two writes
 * cannot together close a cycle or remove a concept the other starts to
 * need. Nothing is cached: the graph is read from the database.
 */
export class ConceptsService {
  readonly #db: Database;
  readonly #contentListeners = new Set<(appId: string) => void>();

  constructor(deps: { db: Database }) {
    this.#db = deps.db;
  }

  /**
   * Calls `listener` with the app after every committed concept write in
   * this process (create, update, remove): for what is derived from the
   * concepts, such as the curriculum index's vectors. A listener must not
   * throw; one that does is ignored, the write stands.
   */
  onContentChange(listener: (appId: string) => void): () => void {
    this.#contentListeners.add(listener);
    return () => this.#contentListeners.delete(listener);
  }

  #changed<T>(appId: string, result: T): T {
    for (const listener of this.#contentListeners) {
      try {
        listener(appId);
      } catch {
        // The write is committed; what listens repairs itself (e.g. `kidslearn engine reindex`).
      }
    }
    return result;
  }

  /**
   * Live concepts of the app with their prerequisites and the published
   * lessons teaching them, prerequisites first (ties: grade, subject, id).
   * Filters apply after ordering, so the order is the whole graph's.
   */
  async list(appId: string, q: ConceptQuery): Promise<ConceptGraph> {
    // One snapshot for both reads, so every prerequisite listed is in the graph read.
    const { concepts, lessons } = await this.#db.db.transaction().execute(async (trx) => {
      await sql`set transaction isolation level repeatable read, read only`.execute(trx);
      return { concepts: await listLiveConcepts(trx, appId), lessons: await publishedLessonsByConcept(trx, appId) };
    });
    const items = learningOrder(concepts)
      .filter((c) => (q.subject === undefined || c.subject === q.subject) && (q.grade === undefined || c.grade === q.grade))
      .map((c) => toView(c, lessons.get(c.id) ?? []));
    return { items };
  }

  /** Creates a concept; 409 `concept_exists` if the id is taken, by a live or a retired concept. */
  async create(appId: string, input: NewConceptInput): Promise<ConceptView> {
    const view = await this.#db.db.transaction().execute(async (trx) => {
      await lockConceptGraph(trx, appId);
      const existing = await findConceptRow(trx, appId, input.id);
      if (existing) {
        const why = existing.retired ? ' (retired: its id stays reserved because recorded answers point at it)' : '';
        throw new AppError('conflict', 'concept_exists', `Concept "${input.id}" already exists${why}`, { details: { conceptId: input.id, retired: existing.retired } });
      }
      const concept = { ...input };
      await this.#checkGraph(trx, appId, concept);
      await insertConcept(trx, appId, concept);
      return this.#written(trx, appId, concept);
    });
    return this.#changed(appId, view);
  }

  /** Replaces a concept's subject, grade, name, description and prerequisites; 404 if there is no live concept with this id. */
  async update(appId: string, conceptId: string, input: ConceptInput): Promise<ConceptView> {
    const view = await this.#db.db.transaction().execute(async (trx) => {
      await lockConceptGraph(trx, appId);
      editable(await findConceptRow(trx, appId, conceptId), conceptId);
      const concept = { ...input, id: conceptId };
      await this.#checkGraph(trx, appId, concept);
      await replaceConcept(trx, appId, concept);
      return this.#written(trx, appId, concept);
    });
    return this.#changed(appId, view);
  }

  /**
   * Removes a concept no live lesson uses and no live concept needs. One
   * that children have answered on, or that retired lessons or items still
   * name, is retired (hidden, kept for their history); any other is deleted
   * outright.
   */
  async remove(appId: string, conceptId: string): Promise<{ retired: boolean }> {
    const outcome = await this.#db.db.transaction().execute(async (trx) => {
      await lockConceptGraph(trx, appId);
      editable(await findConceptRow(trx, appId, conceptId), conceptId);
      const users = await lessonsUsingConcept(trx, appId, conceptId);
      const lessons = users.live;
      if (lessons.length) {
        throw new AppError('conflict', 'concept_in_use', `Concept "${conceptId}" is used by lessons: ${lessons.join(', ')}`, { details: { lessonIds: lessons } });
      }
      const dependents = dependentsOf(await listLiveConcepts(trx, appId), conceptId);
      if (dependents.length) {
        throw new AppError('conflict', 'concept_is_prerequisite', `Concept "${conceptId}" is a prerequisite of: ${dependents.join(', ')}`, {
          details: { conceptIds: dependents },
        });
      }
      // Retired lessons or items (children saw them) and recorded answers keep naming it: hide it, keep the row.
      if (users.retired || (await conceptHasHistory(trx, appId, conceptId))) {
        await retireConcept(trx, appId, conceptId);
        return { retired: true };
      }
      await deleteConcept(trx, appId, conceptId);
      return { retired: false };
    });
    return this.#changed(appId, outcome);
  }

  /** Refuses a write that would leave the graph with unknown prerequisites or a cycle. */
  async #checkGraph(trx: Parameters<typeof listLiveConcepts>[0], appId: string, concept: Concept): Promise<void> {
    const refusal = checkConceptWrite(await listLiveConcepts(trx, appId), concept);
    if (!refusal) return;
    if (refusal.code === 'unknown_concept') {
      throw new AppError('invalid', 'unknown_concept', `Unknown prerequisites (no live concept of this app has these ids): ${refusal.conceptIds.join(', ')}`, {
        details: { conceptIds: refusal.conceptIds },
      });
    }
    const message =
      refusal.cycle.length === 2 ? `Concept "${concept.id}" cannot be its own prerequisite` : `These prerequisites would make a cycle: ${refusal.cycle.join(' -> ')}`;
    throw new AppError('invalid', 'prerequisite_cycle', message, { details: { cycle: refusal.cycle } });
  }

  /** The view of a concept just written (its prerequisites were checked to be live), with the lessons teaching it. */
  async #written(trx: Parameters<typeof listLiveConcepts>[0], appId: string, concept: Concept): Promise<ConceptView> {
    const lessons = await publishedLessonsByConcept(trx, appId, [concept.id]);
    return toView({ ...concept, packId: null }, lessons.get(concept.id) ?? []);
  }
}

/** Throws unless the row is a live concept authored over the API. */
function editable(row: ConceptRow | undefined, conceptId: string): void {
  if (!row || row.retired) throw new AppError('not_found', 'concept_not_found', `Concept "${conceptId}" not found`);
  if (row.packId !== null) {
    throw new AppError('conflict', 'concept_in_pack', `Concept "${conceptId}" belongs to content pack "${row.packId}": change it in the pack and import that again`, {
      details: { packId: row.packId },
    });
  }
}

function toView(c: Concept & { packId: string | null }, lessonIds: string[]): ConceptView {
  return { id: c.id, subject: c.subject, grade: c.grade, name: c.name, description: c.description, prerequisites: [...c.prerequisites].sort(), lessonIds, packId: c.packId };
}
