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
    const db = this.#db.db;
    const [concepts, states, recent] = await Promise.all([
      listLiveConcepts(db, principal.app),
      statesOfChild(db, principal.app, childId),
      recentAnswerFacts(db, principal.app, childId, RECENT_ANSWERS),
    ]);
    const analysis = analyse(
      concepts.map((c) => ({ id: c.id, name: c.name, prerequisites: c.prerequisites })),
      new Map(states.map((s) => [s.conceptId, s.state])),
      recent,
      now,
      { masteryThreshold: this.#masteryThreshold },
    );
    return { childId, generatedAt: now.toISOString(), masteryThreshold: this.#masteryThreshold, reviewTarget: 0.9, ...analysis };
  }
}
