import type { Database } from '../../adapters/db/database.ts';
import { authorize, notFoundFor } from '../../domain/access-policy.ts';
import { isCorrect } from '../../domain/curriculum.ts';
import { AppError } from '../../domain/errors.ts';
import { applyAnswer, newConceptState, viewOf, type ConceptState, type ConceptView } from '../../domain/learner/concept-state.ts';
import type { Principal } from '../../domain/principal.ts';
import type { ChildrenService } from '../families/children.service.ts';
import type { ActiveModel, ModelStore } from './model-store.ts';
import { LRUCache } from 'lru-cache';
import type { LessonsService } from '../lessons/lessons.service.ts';
import { lessonExists } from '../lessons/lessons.repo.ts';
import type { AppsService } from '../apps/apps.service.ts';
import type { AnswerKey } from '../../domain/curriculum.ts';
import { startOfWeek, streakDays } from '../../domain/progress-summary.ts';
import { listChildrenOfGuardian, listClassroomsOfTeacher, rosterOf } from '../families/families.repo.ts';
import {
  answersPage,
  findAnswersByEvent,
  findCompletion,
  findItems,
  insertAnswersAndLockStates,
  insertCompletion,
  saveState,
  statesOfChild,
  summaryFacts,
  type ItemKey,
  type NewAnswer,
  type StoredAnswer,
} from './progress.repo.ts';

/** One answer as a client sends it. */
export interface AnswerInput {
  childId: string;
  itemId: string;
  response: unknown;
  durationMs: number;
  answeredAt: Date;
  clientEventId: string;
}

/** One child's line in a progress summary. */
export interface ChildSummary {
  childId: string;
  nickname: string;
  minutesThisWeek: number;
  streakDays: number;
  conceptsMastered: number;
  lessonsCompleted: number;
  lastActivityAt: string | null;
}

/** A completed lesson as a client reports it. */
export interface CompletionInput {
  childId: string;
  secondsSpent: number;
  score?: number | undefined;
  completedAt: Date;
  clientEventId: string;
}

/** What the client learns about each answer it sent. */
export interface AnswerResult {
  clientEventId: string;
  itemId: string;
  correct: boolean;
  /** True when this event id was already recorded (a retry): nothing was counted again. */
  duplicate: boolean;
  /** The expected answer, when the app's settings reveal answers. */
  correctAnswer?: string | number;
  concept: ConceptView & { conceptId: string };
}

/** PostgreSQL's SQLSTATE for a foreign-key violation. */
const FOREIGN_KEY_VIOLATION = '23503';

const key = (childId: string, clientEventId: string) => `${childId}\u0000${clientEventId}`;

/** Is `response` the right shape for the item's type? Returns what is wrong, or undefined. */
export function responseProblem(type: ItemKey['type'], response: unknown): string | undefined {
  switch (type) {
    case 'multiple_choice':
      return typeof response === 'string' && response.length <= 100 ? undefined : 'must be the id of a choice (a string)';
    case 'numeric':
      return (typeof response === 'number' && Number.isFinite(response)) || (typeof response === 'string' && response.length <= 50)
        ? undefined
        : 'must be a number';
    case 'short_text':
      return typeof response === 'string' && response.length <= 500 ? undefined : 'must be a string of at most 500 characters';
  }
}

/**
 * Records answers: correctness decided here from the answer key, idempotent
 * on (child, clientEventId), and each concept state changed in the same
 * transaction as the answers that change it.
 */
export class ProgressService {
  readonly #db: Database;
  readonly #children: ChildrenService;
  readonly #masteryThreshold: number;
  readonly #models: ModelStore;
  readonly #apps: AppsService;
  readonly #lessons: LessonsService | undefined;
  /** Answer keys by app, content generation and item id (see {@link ProgressService.#itemKeys}). */
  readonly #keys = new LRUCache<string, ItemKey>({ max: 50_000 });

  constructor(deps: { db: Database; children: ChildrenService; masteryThreshold: number; models: ModelStore; apps: AppsService; lessons?: LessonsService }) {
    this.#apps = deps.apps;
    this.#lessons = deps.lessons;
    this.#db = deps.db;
    this.#children = deps.children;
    this.#masteryThreshold = deps.masteryThreshold;
    this.#models = deps.models;
  }

  async record(principal: Principal, answers: readonly AnswerInput[]): Promise<AnswerResult[]> {
    authorize(principal, 'child.progress.write');
    const app = principal.app;
    for (const childId of new Set(answers.map((a) => a.childId))) {
      // A child writing its own answers needs no lookup: the policy only asks
      // that the child is itself, and a profile erased meanwhile fails the
      // foreign key below (404). Everyone else is checked against the facts.
      if (principal.role === 'child' && childId === principal.sub) continue;
      await this.#children.authorizeChild(principal, 'child.progress.write', childId);
    }

    const items = await this.#itemKeys(app, [...new Set(answers.map((a) => a.itemId))]);
    const model = await this.#models.active(app);
    const reveal = (await this.#apps.require(app)).settings.revealAnswers;
    const rows: NewAnswer[] = answers.map((a, i) => {
      const item = items.get(a.itemId);
      if (!item) throw new AppError('not_found', 'item_not_found', `No practice item "${a.itemId}" (answers[${i}].itemId)`);
      const problem = responseProblem(item.type, a.response);
      if (problem) {
        throw new AppError('invalid', 'validation_failed', `Invalid body field "answers.${i}.response": ${problem} for a ${item.type} item`, {
          details: [{ in: 'body', field: `answers.${i}.response`, message: problem }],
        });
      }
      return { ...a, lessonId: item.lessonId, conceptId: item.conceptId, correct: isCorrect(item.answer, a.response) };
    });
    const seen = new Set<string>();
    for (const [i, r] of rows.entries()) {
      if (seen.has(key(r.childId, r.clientEventId))) throw new AppError('invalid', 'duplicate_event', `answers[${i}] repeats clientEventId "${r.clientEventId}" of the same batch`);
      seen.add(key(r.childId, r.clientEventId));
    }

    try {
      return await this.#write(app, rows, model, reveal, items);
    } catch (error) {
      if ((error as { code?: unknown }).code === FOREIGN_KEY_VIOLATION) throw notFoundFor('child');
      throw error;
    }
  }

  async #write(app: string, rows: NewAnswer[], model: ActiveModel, reveal: boolean, items: Map<string, ItemKey>): Promise<AnswerResult[]> {
    return this.#db.db.transaction().execute(async (trx) => {
      const touched = new Map<string, Set<string>>();
      for (const r of rows) (touched.get(r.childId) ?? touched.set(r.childId, new Set()).get(r.childId)!).add(r.conceptId);
      const { inserted, states: allStates } = await insertAnswersAndLockStates(trx, app, rows, [...touched.keys()]);
      const retried = rows.filter((r) => !inserted.has(key(r.childId, r.clientEventId)));
      const stored = new Map((await findAnswersByEvent(trx, app, retried)).map((s) => [key(s.childId, s.clientEventId), s]));
      for (const r of retried) {
        const before = stored.get(key(r.childId, r.clientEventId));
        if (!before || !samePayload(before, r)) {
          throw new AppError('conflict', 'event_conflict', `clientEventId "${r.clientEventId}" was already recorded with a different answer; nothing was changed`);
        }
      }
      // Apply new answers to their concept states in the order they were given.
      const fresh = rows.filter((r) => inserted.has(key(r.childId, r.clientEventId)));
      const states = new Map<string, ConceptState>();
      for (const [childId, concepts] of touched) {
        const loaded = allStates.get(childId)!;
        for (const conceptId of concepts) states.set(key(childId, conceptId), loaded.get(conceptId) ?? newConceptState(model.paramsFor(conceptId)));
      }
      const ordered = [...fresh].sort((a, b) => a.answeredAt.getTime() - b.answeredAt.getTime());
      const changed = new Set<string>();
      for (const r of ordered) {
        const k = key(r.childId, r.conceptId);
        states.set(k, applyAnswer(states.get(k)!, model.paramsFor(r.conceptId), r));
        changed.add(k);
      }
      const totals = new Map<string, { answers: number; correct: number }>();
      for (const k of changed) {
        const [childId, conceptId] = k.split('\u0000') as [string, string];
        await saveState(trx, app, childId, conceptId, states.get(k)!);
        allStates.get(childId)!.set(conceptId, states.get(k)!);
      }
      for (const [childId, all] of allStates) {
        let answersSoFar = 0;
        let correctSoFar = 0;
        for (const st of all.values()) {
          answersSoFar += st.attempts;
          correctSoFar += st.correct;
        }
        totals.set(childId, { answers: answersSoFar, correct: correctSoFar });
      }
      return rows.map((r) => {
        const duplicate = !inserted.has(key(r.childId, r.clientEventId));
        const correct = duplicate ? stored.get(key(r.childId, r.clientEventId))!.correct : r.correct;
        return {
          clientEventId: r.clientEventId,
          itemId: r.itemId,
          correct,
          duplicate,
          ...(reveal ? { correctAnswer: displayAnswer(items.get(r.itemId)!.answer) } : {}),
          concept: { conceptId: r.conceptId, ...this.#view(model, totals.get(r.childId)!, states.get(key(r.childId, r.conceptId))!, r.conceptId) },
        };
      });
    });
  }

  /** Records a completed lesson; idempotent on (child, clientEventId) like answers. */
  async completeLesson(principal: Principal, lessonId: string, input: CompletionInput): Promise<{ lessonId: string; childId: string; duplicate: boolean }> {
    authorize(principal, 'child.progress.write');
    await this.#children.authorizeChild(principal, 'child.progress.write', input.childId);
    const db = this.#db.db;
    if (!(await lessonExists(db, principal.app, lessonId))) throw new AppError('not_found', 'lesson_not_found', `No lesson "${lessonId}"`);
    const row = { childId: input.childId, lessonId, clientEventId: input.clientEventId, secondsSpent: input.secondsSpent, score: input.score ?? null, completedAt: input.completedAt };
    if (await insertCompletion(db, principal.app, row)) return { lessonId, childId: input.childId, duplicate: false };
    const before = await findCompletion(db, principal.app, input.childId, input.clientEventId);
    const same =
      before &&
      before.lesson_id === lessonId &&
      before.seconds_spent === row.secondsSpent &&
      (before.score ?? null) === row.score &&
      before.completed_at.getTime() === row.completedAt.getTime();
    if (!same) throw new AppError('conflict', 'event_conflict', `clientEventId "${input.clientEventId}" was already recorded with a different completion; nothing was changed`);
    return { lessonId, childId: input.childId, duplicate: true };
  }

  /**
   * The summary a guardian sees for each child, a teacher for each of their
   * classrooms, a child for itself: minutes this week, streak, concepts
   * mastered, lessons completed, last activity.
   */
  async summary(principal: Principal, now: Date = new Date()): Promise<{ children?: ChildSummary[]; classrooms?: { classroomId: string; name: string; children: ChildSummary[] }[] }> {
    authorize(principal, 'progress.summary');
    const db = this.#db.db;
    const summarise = async (childIds: string[]) =>
      (await summaryFacts(db, principal.app, childIds, startOfWeek(now), this.#masteryThreshold)).map((f) => ({
        childId: f.childId,
        nickname: f.nickname,
        minutesThisWeek: Math.round(f.secondsThisWeek / 60),
        streakDays: streakDays(f.activeDays, now),
        conceptsMastered: f.conceptsMastered,
        lessonsCompleted: f.lessonsCompleted,
        lastActivityAt: f.lastActivity?.toISOString() ?? null,
      }));
    if (principal.role === 'teacher') {
      const classrooms = await listClassroomsOfTeacher(db, principal.app, principal.sub);
      const out = [];
      for (const c of classrooms) {
        const ids = (await rosterOf(db, principal.app, c.id)).map((r) => r.id);
        await this.#children.audit(principal, ids, 'read classroom progress summary');
        out.push({ classroomId: c.id, name: c.name, children: await summarise(ids) });
      }
      return { classrooms: out };
    }
    const ids = principal.role === 'child' ? [principal.sub] : (await listChildrenOfGuardian(db, principal.app, principal.sub)).map((c) => c.id);
    return { children: await summarise(ids) };
  }

  /** Per concept: attempts, accuracy, P(known), P(correct next), mastered, next review. */
  async childProgress(principal: Principal, childId: string): Promise<{ childId: string; concepts: (ConceptView & { conceptId: string; name: string | null })[] }> {
    await this.#children.authorizeChild(principal, 'child.progress.read', childId);
    await this.#children.audit(principal, [childId], 'read child progress');
    const states = await statesOfChild(this.#db.db, principal.app, childId);
    const model = await this.#models.active(principal.app);
    const totals = states.reduce((t, s) => ({ answers: t.answers + s.state.attempts, correct: t.correct + s.state.correct }), { answers: 0, correct: 0 });
    return {
      childId,
      concepts: states.map((s) => ({ conceptId: s.conceptId, name: s.name, ...this.#view(model, totals, s.state, s.conceptId) })),
    };
  }

  /**
   * Answer keys of the items, from a process-local copy keyed by the app's
   * content generation (which every lesson write replaces, in every process
   * with Redis), so grading never uses a key older than the last write and
   * most answers need no item query.
   */
  async #itemKeys(app: string, ids: string[]): Promise<Map<string, ItemKey>> {
    const generation = await this.#lessons?.contentGeneration(app);
    if (generation === undefined) return findItems(this.#db.db, app, ids);
    const found = new Map<string, ItemKey>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.#keys.get(`${app}:${generation}:${id}`);
      if (hit) found.set(id, hit);
      else missing.push(id);
    }
    if (missing.length) {
      for (const [id, item] of await findItems(this.#db.db, app, missing)) {
        found.set(id, item);
        this.#keys.set(`${app}:${generation}:${id}`, item);
      }
    }
    return found;
  }

  #view(model: ActiveModel, totals: { answers: number; correct: number }, state: ConceptState, conceptId: string): ConceptView {
    return viewOf(state, model.paramsFor(conceptId), this.#masteryThreshold, model.predictNext(totals, state, conceptId));
  }

  /** The child's answers, newest first, a page at a time. */
  async answers(principal: Principal, childId: string, cursor: string | undefined, limit: number): Promise<{ items: StoredAnswer[]; nextCursor: string | null }> {
    await this.#children.authorizeChild(principal, 'child.progress.read', childId);
    await this.#children.audit(principal, [childId], 'read child answers');
    const items = await answersPage(this.#db.db, principal.app, childId, cursor, limit + 1);
    const page = items.slice(0, limit);
    return { items: page, nextCursor: items.length > limit ? page.at(-1)!.id : null };
  }
}

/** The answer a child would be shown: the right choice's id, the number, or the first accepted text. */
function displayAnswer(key: AnswerKey): string | number {
  switch (key.type) {
    case 'multiple_choice':
      return key.choiceId;
    case 'numeric':
      return key.value;
    case 'short_text':
      return key.accepted[0] ?? '';
  }
}

function samePayload(a: StoredAnswer, b: NewAnswer): boolean {
  return a.itemId === b.itemId && a.durationMs === b.durationMs && a.answeredAt.getTime() === b.answeredAt.getTime() && JSON.stringify(a.response) === JSON.stringify(b.response);
}
