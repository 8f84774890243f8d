import type { Database } from '../../adapters/db/database.ts';
import { analyse, type Analysis } from '../../domain/learner/analysis.ts';
import type { Principal } from '../../domain/principal.ts';
import { listLiveConcepts } from '../concepts/concepts.repo.ts';
import type { ChildrenService } from '../families/children.service.ts';
import { recentAnswerFacts, statesOfChild } from '../progress/progress.repo.ts';

/** How many of the child's newest answers the analysis reads (recent errors, pace). */
export const RECENT_ANSWERS = 200;

/** A child's analysis as the API returns it. */
export interface ChildAnalysis extends Analysis {
  childId: string;
  generatedAt: string;
  masteryThreshold: number;
  /** Recall under which a learned concept is due for review (FSRS's target retention). */
  reviewTarget: number;
}

/**
 * The adaptive engine's history analysis for one child, under the access
 * policy: the child's guardian, the child itself, teachers of its
 * classrooms (audited) and admins (audited).
 */
export class AnalysisService {
  readonly #db: Database;
  readonly #children: ChildrenService;
  readonly #masteryThreshold: number;

  constructor(deps: { db: Database; children: ChildrenService; masteryThreshold: number }) {
    this.#db = deps.db;
    this.#children = deps.children;
    this.#masteryThreshold = deps.masteryThreshold;
  }

  async analyse(principal: Principal, childId: string, now: Date = new Date()): Promise<ChildAnalysis> {
    await this.#children.authorizeChild(principal, 'child.analysis.read', childId);
    await this.#children.audit(principal, [childId], 'read child learning analysis');
    const { analysis } = await analyseChild(this.#db, principal.app, childId, this.#masteryThreshold, now);
    return { childId, generatedAt: now.toISOString(), masteryThreshold: this.#masteryThreshold, reviewTarget: 0.9, ...analysis };
  }
}

/**
 * Loads what the analysis needs (the app's live concept graph, the child's
 * states and newest answers) and runs it. The engine's plan builder uses the
 * states and answers too.
 */
export async function analyseChild(database: Database, appId: string, childId: string, masteryThreshold: number, now: Date) {
  const db = database.db;
  const [concepts, states, recent] = await Promise.all([
    listLiveConcepts(db, appId),
    statesOfChild(db, appId, childId),
    recentAnswerFacts(db, appId, childId, RECENT_ANSWERS),
  ]);
  const stateOf = new Map(states.map((s) => [s.conceptId, s.state]));
  const analysis = analyse(
    concepts.map((c) => ({ id: c.id, name: c.name, prerequisites: c.prerequisites })),
    stateOf,
    recent,
    now,
    { masteryThreshold },
  );
  return { analysis, states, stateOf, recent };
}
