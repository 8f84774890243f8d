import { sql } from 'kysely';
import type { Database } from '../adapters/db/database.ts';
import { scoped } from '../adapters/db/scoped.ts';
import type { Analysis } from '../domain/learner/analysis.ts';
import { planLesson, type CatalogueLesson, type Plan, type PlanInputs, type PlanRequest } from '../domain/learner/planner.ts';
import { SESSION_GAP_MS } from '../domain/progress-summary.ts';
import type { ModelStore } from '../features/progress/model-store.ts';
import { analyseChild } from '../features/adaptive/analysis.service.ts';

/** What a plan was computed from, stored with it so that it can be replayed and explained. */
export interface PlanInputsRecord {
  request: PlanRequest;
  modelVersion: number | null;
  masteryThreshold: number;
  /** Answers the child had when the plan was made (the learner clock of the analysis). */
  answers: number;
  computedAt: string;
}

/**
 * Everything {@link planLesson} read, as plain JSON: the analysis, the
 * catalogue, the learner model's prediction for every concept the catalogue
 * has items on, last session's items, the request and the time. Stored with
 * each plan; {@link replayPlan} runs the planner on it again.
 */
export interface StoredPlannerInputs {
  analysis: Analysis;
  catalogue: CatalogueLesson[];
  /** P(correct next) per concept (every concept of the catalogue's items and of the analysis). */
  pCorrect: Record<string, number>;
  lastSessionItems: string[];
  request: PlanRequest;
  now: string;
}

/** The planner's inputs from their stored form. */
export function plannerInputsFrom(stored: StoredPlannerInputs): PlanInputs {
  const pCorrect = new Map(Object.entries(stored.pCorrect));
  return {
    analysis: stored.analysis,
    catalogue: stored.catalogue,
    pCorrect: (conceptId) => {
      const p = pCorrect.get(conceptId);
      // The builder stores a prediction for every concept the planner can ask about.
      if (p === undefined) throw new Error(`Stored planner inputs have no prediction for concept ${conceptId}`);
      return p;
    },
    lastSessionItems: new Set(stored.lastSessionItems),
    request: stored.request,
    now: new Date(stored.now),
  };
}

/** Runs the planner again on stored inputs: the same plan, for checking and explaining one. */
export function replayPlan(stored: StoredPlannerInputs): Plan {
  return planLesson(plannerInputsFrom(stored));
}

/**
 * Builds a child's lesson plan from what is stored: the app's live concepts
 * and published lessons in teaching order, the child's concept states and
 * recent answers, and the app's active learner model. The engine's job
 * handler calls it; it checks no access (the API did before queueing).
 */
export class PlanBuilder {
  readonly #db: Database;
  readonly #models: ModelStore;
  readonly #masteryThreshold: number;

  constructor(deps: { db: Database; models: ModelStore; masteryThreshold: number }) {
    this.#db = deps.db;
    this.#models = deps.models;
    this.#masteryThreshold = deps.masteryThreshold;
  }

  async build(appId: string, childId: string, request: PlanRequest, now: Date = new Date()): Promise<{ plan: Plan; inputs: PlanInputsRecord; planner: StoredPlannerInputs }> {
    const [{ analysis, states, stateOf, recent }, catalogue, model] = await Promise.all([
      analyseChild(this.#db, appId, childId, this.#masteryThreshold, now),
      teachingCatalogue(this.#db, appId),
      this.#models.active(appId),
    ]);
    const totals = states.reduce((t, s) => ({ answers: t.answers + s.state.attempts, correct: t.correct + s.state.correct }), { answers: 0, correct: 0 });
    // Predictions are computed up front for every concept the planner can ask about, so the
    // stored inputs replay exactly (the planner only asks about concepts that have items).
    const concepts = new Set([...analysis.concepts.map((c) => c.conceptId), ...catalogue.flatMap((l) => l.items.map((i) => i.conceptId))]);
    const pCorrect: Record<string, number> = {};
    for (const conceptId of [...concepts].sort()) {
      const state = stateOf.get(conceptId);
      pCorrect[conceptId] = model.predictNext(totals, state ?? { pKnown: model.paramsFor(conceptId).pInit, attempts: 0, correct: 0 }, conceptId);
    }
    const planner: StoredPlannerInputs = {
      analysis,
      catalogue: catalogue.map((l) => ({ ...l, conceptIds: [...l.conceptIds], items: [...l.items] })),
      pCorrect,
      lastSessionItems: [...lastSessionItems(recent)],
      request,
      now: now.toISOString(),
    };
    return {
      plan: replayPlan(planner),
      inputs: { request, modelVersion: model.version, masteryThreshold: this.#masteryThreshold, answers: totals.answers, computedAt: now.toISOString() },
      planner,
    };
  }
}

/** The items of the child's newest practice session (answers with gaps under 30 minutes, newest first in `recent`). */
export function lastSessionItems(recent: readonly { answeredAt: Date; itemId?: string }[]): Set<string> {
  const out = new Set<string>();
  let previous: Date | undefined;
  for (const a of recent) {
    if (previous && previous.getTime() - a.answeredAt.getTime() > SESSION_GAP_MS) break;
    if (a.itemId) out.add(a.itemId);
    previous = a.answeredAt;
  }
  return out;
}

/** Published, live lessons in the catalogue's teaching order, with their live items. */
export async function teachingCatalogue(database: Database, appId: string): Promise<CatalogueLesson[]> {
  const db = database.db;
  const lessons = await scoped(db, appId)
    .selectFrom('lessons as l')
    .leftJoin('content_packs as p', 'p.id', 'l.pack_id')
    .select(['l.id', 'l.concept_ids', 'l.estimated_minutes'])
    .where('l.published', '=', true)
    .where('l.retired_at', 'is', null)
    .orderBy(sql`p.rank asc nulls last`)
    .orderBy(sql`l.position asc nulls last`)
    .orderBy('l.grade')
    .orderBy('l.subject')
    .orderBy('l.id')
    .execute();
  const items = await scoped(db, appId)
    .selectFrom('practice_items')
    .select(['id', 'lesson_id', 'concept_id', 'difficulty'])
    .where('retired_at', 'is', null)
    // Items generated for one child are not offered to others (the plan job adds the child's own).
    .where('generated', 'is', null)
    .orderBy('lesson_id')
    .orderBy('position')
    .execute();
  const byLesson = new Map<string, { id: string; conceptId: string; difficulty: number }[]>();
  for (const i of items) {
    const list = byLesson.get(i.lesson_id) ?? [];
    list.push({ id: i.id, conceptId: i.concept_id, difficulty: Number(i.difficulty) });
    byLesson.set(i.lesson_id, list);
  }
  return lessons.map((l) => ({ id: l.id, conceptIds: l.concept_ids, estimatedMinutes: l.estimated_minutes, items: byLesson.get(l.id) ?? [] }));
}
