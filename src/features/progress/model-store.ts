import { lruCache } from '../../adapters/cache/lru.ts';
import type { Database } from '../../adapters/db/database.ts';
import { AppError } from '../../domain/errors.ts';
import { scoped } from '../../adapters/db/scoped.ts';
import { DEFAULT_BKT_PARAMS, predict, type BktParams } from '../../domain/learner/bkt.ts';
import { bktParamsFor } from '../../domain/learner/bkt-fit.ts';
import { fitModel, LearnerModel, type LearnerRow, type ModelParams } from '../../domain/learner/model.ts';

/** The model the API uses for an app: the newest fitted version, or the defaults. */
export interface ActiveModel {
  version: number | null;
  /** BKT parameters of a concept (they drive P(known)). */
  paramsFor(conceptId: string): BktParams;
  /**
   * P(correct on the next item of the concept), from the child's state on it
   * and the child's totals over all concepts.
   */
  predictNext(child: { answers: number; correct: number }, state: { pKnown: number; attempts: number; correct: number }, conceptId: string): number;
}

const DEFAULT_MODEL: ActiveModel = {
  version: null,
  paramsFor: () => DEFAULT_BKT_PARAMS,
  predictNext: (_child, state) => predict(state, DEFAULT_BKT_PARAMS),
};

function activeFrom(version: number, params: ModelParams): ActiveModel {
  const model = new LearnerModel(params);
  return {
    version,
    paramsFor: (concept) => bktParamsFor(params.bkt, concept),
    predictNext: (child, state, concept) =>
      model.predict(child, { pKnown: state.pKnown, successes: state.correct, failures: state.attempts - state.correct }, concept),
  };
}

/** How long a process keeps using a version before looking for a newer one. */
export const MODEL_REFRESH_MS = 30_000;

/**
 * Fitted learner-model versions per app. The API reads the newest version
 * through a short in-process memo, so a `model fit` run is picked up by every
 * process within {@link MODEL_REFRESH_MS}, without a restart.
 */
export class ModelStore {
  readonly #db: Database;
  readonly #active = lruCache<string, ActiveModel>(1000, { ttl: MODEL_REFRESH_MS });

  constructor(db: Database) {
    this.#db = db;
  }

  async active(appId: string): Promise<ActiveModel> {
    const hit = this.#active.get(appId);
    if (hit) return hit;
    const row = await scoped(this.#db.db, appId).selectFrom('model_versions').select(['version', 'params']).orderBy('version', 'desc').limit(1).executeTakeFirst();
    const model: ActiveModel = row ? activeFrom(row.version, row.params as ModelParams) : DEFAULT_MODEL;
    this.#active.set(appId, model);
    return model;
  }

  /**
   * Fits the model (per-concept BKT by EM, then the logistic layer over it
   * with item eases) from every stored answer of the app, in the order each
   * child gave them, and saves it as a new version. Answers are read a page
   * of children at a time (no statement grows with the app), and ids repeated
   * across rows share one string. Refuses (AppError `no_answers`, nothing
   * saved) when the app has no answers.
   */
  async fit(
    appId: string,
    options: {
      childrenPerPage?: number;
      /** Called after each page of children is read, with the children read so far and how many there are. */
      onProgress?: (childrenRead: number, children: number) => void;
    } = {},
  ): Promise<{ version: number; answers: number; concepts: number; fittedConcepts: number }> {
    const perPage = options.childrenPerPage ?? 500;
    const db = scoped(this.#db.db, appId);
    const onProgress = options.onProgress;
    const total = onProgress ? Number((await db.selectFrom('children').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n) : 0;
    let read = 0;
    const interned = new Map<string, string>();
    const intern = (s: string) => interned.get(s) ?? (interned.set(s, s), s);
    const rows: LearnerRow[] = [];
    for (let after = ''; ; ) {
      const children = await db.selectFrom('children').select('id').where('id', '>', after).orderBy('id').limit(perPage).execute();
      if (children.length === 0) break;
      after = children.at(-1)!.id;
      const page = await db
        .selectFrom('answers')
        .select(['child_id', 'concept_id', 'item_id', 'correct'])
        .where(
          'child_id',
          'in',
          children.map((c) => c.id),
        )
        .orderBy('child_id')
        .orderBy('answered_at')
        .orderBy('id')
        .execute();
      for (const r of page) rows.push({ student: intern(r.child_id), skill: intern(r.concept_id), item: intern(r.item_id), correct: r.correct });
      read += children.length;
      onProgress?.(read, Math.max(total, read));
    }
    // A model fitted on nothing is the defaults under a version number: refuse rather than save it.
    if (rows.length === 0) throw new AppError('conflict', 'no_answers', `app ${appId} has no answers yet: nothing to fit (no model version saved)`);
    const params = fitModel(rows);
    const concepts = new Set(rows.map((r) => r.skill));
    const fittedConcepts = [...concepts].filter((c) => params.bkt.skills[c] !== params.bkt.global).length;
    const saved = await scoped(this.#db.db, appId)
      .insertInto('model_versions')
      .values({
        params: JSON.stringify(params),
        answers_used: rows.length,
        summary: JSON.stringify({ concepts: concepts.size, fittedConcepts, global: params.bkt.global, weights: params.weights }),
      })
      .returning('version')
      .executeTakeFirstOrThrow();
    this.#active.delete(appId);
    return { version: saved.version, answers: rows.length, concepts: concepts.size, fittedConcepts };
  }
}
