import type { Database } from '../../adapters/db/database.ts';
import { authorize, notFoundFor } from '../../domain/access-policy.ts';
import { isCorrect } from '../../domain/curriculum.ts';
import { AppError, isForeignKeyViolation } from '../../domain/errors.ts';
import { applyAnswer, newConceptState, viewOf, type ConceptState, type ConceptView } from '../../domain/learner/concept-state.ts';
import type { Principal } from '../../domain/principal.ts';
import type { ChildrenService } from '../families/children.service.ts';
import type { ActiveModel, ModelStore } from './model-store.ts';
import { LRUCache } from 'lru-cache';
import { lruCache } from '../../adapters/cache/lru.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedSerial } from './keyed-serial.ts';
import { WriteBatcher, type BatchableWrite } from './write-batcher.ts';
import type { LessonsService } from '../lessons/lessons.service.ts';
import type { AppsService } from '../apps/apps.service.ts';
import type { AnswerKey } from '../../domain/curriculum.ts';
import { sessionsOf, startOfWeek, streakDays, type PracticeSession } from '../../domain/progress-summary.ts';
import { listChildrenOfGuardian, listClassroomsOfTeacher, rosterOf } from '../families/families.repo.ts';
import type { LearnerKeys } from '../../analytics/learner-keys.ts';
import { packedServerEvent, serverEvent } from '../../analytics/server-events.ts';
import type { LakeEvent } from '../../domain/analytics/event-types.ts';
import {
  answersPage,
  completionsOfChild,
  findAnswersByEvent,
  findCompletion,
  findItems,
  publishedLessonExists,
  insertCompletion,
  loadSnapshots,
  recentAnswerFacts,
  statesOfChild,
  summaryFacts,
  writeAnswerGroups,
  type AnswerWrite,
  type ItemKey,
  type LearnerSnapshot,
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
  conceptsDueForReview: number;
  lessonsCompleted: number;
  lastActivityAt: string | null;
}

/** What `GET /api/progress/{childId}` shows. */
export interface ChildProgress {
  childId: string;
  concepts: (ConceptView & { conceptId: string; name: string | null })[];
  /** The newest practice sessions (answers without a pause over 30 minutes), newest first. */
  recentSessions: PracticeSession[];
  /** Distinct lessons completed, and the newest completions. */
  lessonsCompleted: { count: number; recent: { lessonId: string; title: string | null; completedAt: string; secondsSpent: number; score: number | null }[] };
}

/** Sessions are built from at most this many of the newest answers; at most RECENT_SESSIONS are shown, and RECENT_LESSONS completions. */
const SESSION_ANSWERS = 500;
const RECENT_SESSIONS = 10;
const RECENT_LESSONS = 20;

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

/** PostgreSQL's SQLSTATE for a unique violation. */
const UNIQUE_VIOLATION = '23505';

/** Answers one merged write statement carries at most (a single batch of up to 200 always fits). */
const MAX_ANSWERS_PER_STATEMENT = 1000;

/**
 * How long this process reuses an item's answer key. Lesson writes in this
 * process drop the copies at once; a write in another process is seen at
 * the latest after this (sooner once its generation bump reaches Redis).
 */
export const ITEM_KEY_TTL_MS = 30_000;

/** Attempts of one answer write before giving up with 503 (each attempt that fails lost a race to another write). */
const MAX_WRITE_ATTEMPTS = 8;

const key = (childId: string, clientEventId: string) => `${childId}\u0000${clientEventId}`;
/** Key of a child's learner snapshot and of its write queue in this process. */
const childKey = (app: string, childId: string) => `${app}\u0000${childId}`;

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
  /** Learner keys for the analytics events written with answers and completions; without it, none are written (lake off). */
  readonly #learnerKeys: LearnerKeys | undefined;
  /** Answer keys by app, local epoch, content generation and item id (see {@link ProgressService.#itemKeys}). */
  readonly #keys: LRUCache<string, ItemKey>;
  /** Per app, bumped by every lesson write in this process: keys cached before it are unreachable at once. */
  readonly #keyEpochs = new Map<string, number>();
  readonly #perChild = new KeyedSerial();
  /** Group commit of answer writes, per app (each app's tables are its own). */
  readonly #batchers = new Map<string, WriteBatcher<AnswerWrite & BatchableWrite>>();
  readonly #writeConcurrency: number;
  /**
   * The learner snapshot this process last wrote per (app, child), so a
   * child's next answer needs one round trip. A snapshot another process has
   * since moved past only costs a refused write and a fresh read. Bounded by
   * concept states held; dropped after 10 minutes unused.
   */
  readonly #snapshotCache = new LRUCache<string, LearnerSnapshot>({
    maxSize: 200_000,
    sizeCalculation: (s) => s.states.size + 1,
    ttl: 10 * 60_000,
    updateAgeOnGet: true,
  });

  /**
   * `writeConcurrency`: answer-write statements in flight at once per app;
   * writes arriving meanwhile wait and go together in the next one.
   */
  /**
   * `itemKeyTtlMs`: how long an answer key is reused at most (default
   * {@link ITEM_KEY_TTL_MS}); `perf`: its clock, for tests.
   */
  constructor(deps: {
    db: Database;
    children: ChildrenService;
    masteryThreshold: number;
    models: ModelStore;
    apps: AppsService;
    lessons?: LessonsService;
    writeConcurrency?: number;
    itemKeyTtlMs?: number;
    perf?: { now(): number };
    learnerKeys?: LearnerKeys;
  }) {
    this.#learnerKeys = deps.learnerKeys;
    this.#writeConcurrency = deps.writeConcurrency ?? 1;
    this.#apps = deps.apps;
    this.#lessons = deps.lessons;
    this.#keys = lruCache<string, ItemKey>(50_000, {
      ttl: deps.itemKeyTtlMs ?? ITEM_KEY_TTL_MS,
      // lru-cache reuses its last clock reading until a 1 ms timer fires; a
      // test clock moves without timers running, so read it every time.
      ...(deps.perf ? { perf: deps.perf, ttlResolution: 0 } : {}),
    });
    deps.lessons?.onContentChange((app) => this.#keyEpochs.set(app, (this.#keyEpochs.get(app) ?? 0) + 1));
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
      // An item generated for another child does not exist for this one (its erasure would orphan these answers).
      if (!item || (item.generatedFor !== undefined && item.generatedFor !== a.childId)) throw new AppError('not_found', 'item_not_found', `No practice item "${a.itemId}" (answers[${i}].itemId)`);
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
      // One write at a time per child in this process, so this process's own
      // requests never race each other; only other processes can.
      return await this.#perChild.runAll(
        [...new Set(rows.map((r) => childKey(app, r.childId)))],
        () => this.#write(app, rows, model, reveal, items),
      );
    } catch (error) {
      if (isForeignKeyViolation(error)) throw notFoundFor('child');
      throw error;
    }
  }

  /**
   * Writes the new answers and the concept states they produce in one
   * statement, computed from a snapshot of each child (the last one this
   * process wrote, or read fresh). The statement lands only if no other write
   * for those children came in between (their learner clocks); otherwise the
   * snapshots are read again and the states recomputed. An event id already
   * stored makes the statement fail as a whole: the stored answer is then
   * compared (a different payload → 409) and left out of the next attempt.
   */
  async #write(app: string, rows: NewAnswer[], model: ActiveModel, reveal: boolean, items: Map<string, ItemKey>): Promise<AnswerResult[]> {
    const db = this.#db.db;
    const childIds = [...new Set(rows.map((r) => r.childId))];
    const learners = this.#learnerKeys ? await this.#learnerKeys.keysOf(app, childIds) : undefined;
    const retried = new Map<string, StoredAnswer>();
    for (let attempt = 1; ; attempt++) {
      const snapshots = await this.#snapshots(app, childIds, attempt > 1);
      const fresh = rows.filter((r) => !retried.has(key(r.childId, r.clientEventId)));
      const { after, changed, mastery } = this.#apply(snapshots, fresh, model);
      if (fresh.length > 0) {
        let landed: boolean;
        try {
          landed = await this.#batcherFor(app).write({
            childIds,
            size: fresh.length,
            clocks: childIds.map((childId) => ({ childId, expectedSeq: snapshots.get(childId)!.seq })),
            answers: fresh,
            states: changed,
            ...(learners ? { events: fresh.map((r) => answerEvent(app, learners.get(r.childId)!, r, mastery.get(key(r.childId, r.clientEventId))!)) } : {}),
          });
        } catch (error) {
          if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
          const stored = await findAnswersByEvent(db, app, fresh);
          if (stored.length === 0) throw error;
          for (const s of stored) retried.set(key(s.childId, s.clientEventId), s);
          landed = false;
        }
        for (const r of rows) {
          const before = retried.get(key(r.childId, r.clientEventId));
          if (before) assertSameEvent(r.clientEventId, 'answer', answerFields(before), answerFields(r));
        }
        if (!landed) {
          for (const childId of childIds) this.#snapshotCache.delete(childKey(app, childId));
          if (attempt >= MAX_WRITE_ATTEMPTS) {
            throw new AppError('unavailable', 'write_contention', 'Too many answers for these children are being written at once; retry with the same clientEventIds', {
              details: { retryAfterSeconds: 1 },
            });
          }
          // Another process won this round: step aside a random moment so the next one spreads out.
          await sleep(Math.random() * 2 ** attempt);
          continue;
        }
        for (const [childId, snapshot] of after) this.#remember(app, childId, snapshot);
      }
      return rows.map((r) => {
        const stored = retried.get(key(r.childId, r.clientEventId));
        const snapshot = fresh.length > 0 ? after.get(r.childId)! : snapshots.get(r.childId)!;
        return {
          clientEventId: r.clientEventId,
          itemId: r.itemId,
          correct: stored ? stored.correct : r.correct,
          duplicate: stored !== undefined,
          ...(reveal ? { correctAnswer: displayAnswer(items.get(r.itemId)!.answer) } : {}),
          concept: { conceptId: r.conceptId, ...this.#view(model, snapshot.totals, snapshot.states.get(r.conceptId) ?? newConceptState(model.paramsFor(r.conceptId)), r.conceptId) },
        };
      });
    }
  }

  /**
   * Applies answers, oldest first, to the children's snapshots: returns each
   * child's snapshot after them (its clock one further on) and the concept
   * states they changed.
   */
  #apply(
    snapshots: Map<string, LearnerSnapshot>,
    fresh: readonly NewAnswer[],
    model: ActiveModel,
  ): { after: Map<string, LearnerSnapshot>; changed: { childId: string; conceptId: string; state: ConceptState }[]; mastery: Map<string, number> } {
    const mastery = new Map<string, number>();
    const next = new Map([...snapshots].map(([childId, s]) => [childId, { seq: s.seq + 1, states: new Map(s.states), totals: { ...s.totals } }]));
    const changed = new Map<string, { childId: string; conceptId: string; state: ConceptState }>();
    const ordered = [...fresh].sort((a, b) => a.answeredAt.getTime() - b.answeredAt.getTime());
    for (const r of ordered) {
      const child = next.get(r.childId)!;
      const params = model.paramsFor(r.conceptId);
      const state = applyAnswer(child.states.get(r.conceptId) ?? newConceptState(params), params, r);
      child.states.set(r.conceptId, state);
      mastery.set(key(r.childId, r.clientEventId), state.pKnown);
      child.totals.answers++;
      if (r.correct) child.totals.correct++;
      changed.set(key(r.childId, r.conceptId), { childId: r.childId, conceptId: r.conceptId, state });
    }
    return { after: next, changed: [...changed.values()], mastery };
  }

  /** Snapshots of the children: from this process's last write unless `reload`, else read in one statement. */
  async #snapshots(app: string, childIds: readonly string[], reload: boolean): Promise<Map<string, LearnerSnapshot>> {
    const out = new Map<string, LearnerSnapshot>();
    const missing: string[] = [];
    for (const childId of childIds) {
      const hit = reload ? undefined : this.#snapshotCache.get(childKey(app, childId));
      if (hit) out.set(childId, hit);
      else missing.push(childId);
    }
    if (missing.length > 0) {
      const loaded = await loadSnapshots(this.#db.db, app, missing);
      for (const childId of missing) out.set(childId, loaded.get(childId)!);
    }
    return out;
  }

  #batcherFor(app: string): WriteBatcher<AnswerWrite & BatchableWrite> {
    let batcher = this.#batchers.get(app);
    if (!batcher) {
      batcher = new WriteBatcher((writes) => writeAnswerGroups(this.#db.db, app, writes), { maxInFlight: this.#writeConcurrency, maxSize: MAX_ANSWERS_PER_STATEMENT });
      this.#batchers.set(app, batcher);
    }
    return batcher;
  }

  /** Drops what this process holds of a child (called when the child is erased). */
  forgetChild(app: string, childId: string): void {
    this.#snapshotCache.delete(childKey(app, childId));
  }

  /** Does this process hold the child's learner snapshot? (For tests.) */
  holdsSnapshot(app: string, childId: string): boolean {
    return this.#snapshotCache.has(childKey(app, childId));
  }

  /** Keeps a snapshot this process wrote, unless a newer one is already kept. */
  #remember(app: string, childId: string, snapshot: LearnerSnapshot): void {
    const k = childKey(app, childId);
    const kept = this.#snapshotCache.get(k);
    if (!kept || kept.seq < snapshot.seq) this.#snapshotCache.set(k, snapshot);
  }

  /** Records a completed lesson; idempotent on (child, clientEventId) like answers. */
  async completeLesson(principal: Principal, lessonId: string, input: CompletionInput): Promise<{ lessonId: string; childId: string; duplicate: boolean }> {
    authorize(principal, 'child.progress.write');
    await this.#children.authorizeChild(principal, 'child.progress.write', input.childId);
    const db = this.#db.db;
    if (!(await publishedLessonExists(db, principal.app, lessonId))) throw new AppError('not_found', 'lesson_not_found', `No lesson "${lessonId}"`);
    const row = { childId: input.childId, lessonId, clientEventId: input.clientEventId, secondsSpent: input.secondsSpent, score: input.score ?? null, completedAt: input.completedAt };
    const event = this.#learnerKeys
      ? serverEvent({
          app: principal.app,
          type: 'lesson_recorded',
          recordKey: `${input.childId}\u0000${input.clientEventId}`,
          learner: await this.#learnerKeys.keyOf(principal.app, input.childId),
          occurredAt: input.completedAt,
          properties: { lessonId, secondsSpent: input.secondsSpent, ...(input.score === undefined ? {} : { score: input.score }) },
        })
      : undefined;
    if (await insertCompletion(db, principal.app, row, event)) return { lessonId, childId: input.childId, duplicate: false };
    const before = await findCompletion(db, principal.app, input.childId, input.clientEventId);
    const fields = (c: { lessonId: string; secondsSpent: number; score: number | null; completedAt: Date }) => ({
      lessonId: c.lessonId,
      secondsSpent: c.secondsSpent,
      score: c.score,
      completedAt: c.completedAt.toISOString(),
    });
    // A row that vanished in between (the child was erased) counts as different: nothing of it can be confirmed.
    const stored = before ? fields({ lessonId: before.lesson_id, secondsSpent: before.seconds_spent, score: before.score ?? null, completedAt: before.completed_at }) : {};
    assertSameEvent(input.clientEventId, 'completion', stored, fields(row));
    return { lessonId, childId: input.childId, duplicate: true };
  }

  /**
   * The summary a guardian sees for each child, a teacher for each of their
   * classrooms, a child for itself: minutes this week, streak, concepts
   * mastered, lessons completed, last activity.
   */
  async summary(
    principal: Principal,
    options: { now?: Date; timeZone?: string } = {},
  ): Promise<{ timeZone: string; children?: ChildSummary[]; classrooms?: { classroomId: string; name: string; children: ChildSummary[] }[] }> {
    authorize(principal, 'progress.summary');
    const now = options.now ?? new Date();
    // An IANA name (checked with the request by isTimeZone): PostgreSQL reads it as Intl does.
    const timeZone = options.timeZone ?? 'UTC';
    const db = this.#db.db;
    const summarise = async (childIds: string[]) =>
      (await summaryFacts(db, principal.app, childIds, startOfWeek(now, timeZone), this.#masteryThreshold, timeZone)).map((f) => ({
        childId: f.childId,
        nickname: f.nickname,
        minutesThisWeek: Math.round(f.secondsThisWeek / 60),
        streakDays: streakDays(f.activeDays, now, timeZone),
        conceptsMastered: f.conceptsMastered,
        conceptsDueForReview: f.conceptsDueForReview,
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
      return { timeZone, classrooms: out };
    }
    const ids = principal.role === 'child' ? [principal.sub] : (await listChildrenOfGuardian(db, principal.app, principal.sub)).map((c) => c.id);
    return { timeZone, children: await summarise(ids) };
  }

  /** Per concept: attempts, accuracy, P(known), P(correct next), mastered, next review. */
  async childProgress(principal: Principal, childId: string): Promise<ChildProgress> {
    await this.#children.authorizeChild(principal, 'child.progress.read', childId);
    await this.#children.audit(principal, [childId], 'read child progress');
    const db = this.#db.db;
    const [states, model, answers, lessons] = await Promise.all([
      statesOfChild(db, principal.app, childId),
      this.#models.active(principal.app),
      recentAnswerFacts(db, principal.app, childId, SESSION_ANSWERS + 1),
      completionsOfChild(db, principal.app, childId, RECENT_LESSONS),
    ]);
    const totals = states.reduce((t, s) => ({ answers: t.answers + s.state.attempts, correct: t.correct + s.state.correct }), { answers: 0, correct: 0 });
    let sessions = sessionsOf(answers.slice(0, SESSION_ANSWERS));
    // More answers than read: the oldest session may be cut short, so it is left out.
    if (answers.length > SESSION_ANSWERS) sessions = sessions.slice(0, -1);
    return {
      childId,
      concepts: states.map((s) => ({ conceptId: s.conceptId, name: s.name, ...this.#view(model, totals, s.state, s.conceptId) })),
      recentSessions: sessions.slice(0, RECENT_SESSIONS),
      lessonsCompleted: { count: lessons.distinctLessons, recent: lessons.recent },
    };
  }

  /**
   * Answer keys of the items, from a process-local copy keyed by the app's
   * content generation (which every lesson write replaces, in every process
   * with Redis) and by a local epoch (which every lesson write in this
   * process replaces, even when Redis could not be told), so most answers
   * need no item query. A copy lives at most {@link ITEM_KEY_TTL_MS}: a write
   * in another process whose generation bump failed (Redis down) is seen
   * here within that bound, or sooner when its replay bumps the generation.
   */
  async #itemKeys(app: string, ids: string[]): Promise<Map<string, ItemKey>> {
    // Epoch first: a write committing while the items are read below moves
    // it on, so what was read cannot be stored where later reads look.
    const epoch = this.#keyEpochs.get(app) ?? 0;
    const generation = await this.#lessons?.contentGeneration(app);
    if (generation === undefined) return findItems(this.#db.db, app, ids);
    const found = new Map<string, ItemKey>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.#keys.get(`${app}:${epoch}:${generation}:${id}`);
      if (hit) found.set(id, hit);
      else missing.push(id);
    }
    if (missing.length) {
      for (const [id, item] of await findItems(this.#db.db, app, missing)) {
        found.set(id, item);
        this.#keys.set(`${app}:${epoch}:${generation}:${id}`, item);
      }
    }
    return found;
  }

  #view(model: ActiveModel, totals: { answers: number; correct: number }, state: ConceptState, conceptId: string): ConceptView {
    return viewOf(state, model.paramsFor(conceptId), this.#masteryThreshold, model.predictNext(totals, state, conceptId), new Date());
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

/** The `answer_recorded` event of a new answer: its id derived from (app, child, clientEventId), so a retry maps to the same event. */
function answerEvent(app: string, learner: string, r: NewAnswer, mastery: number): LakeEvent {
  return packedServerEvent({
    app,
    type: 'answer_recorded',
    recordKey: `${r.childId}\u0000${r.clientEventId}`,
    learner,
    occurredAt: r.answeredAt,
    properties: { itemId: r.itemId, lessonId: r.lessonId, conceptId: r.conceptId, correct: r.correct, durationMs: r.durationMs, mastery },
  });
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

/** The fields of an answer a retry must repeat exactly, as JSON values (instants as ISO strings). */
function answerFields(a: StoredAnswer | NewAnswer): Record<string, unknown> {
  return { itemId: a.itemId, response: a.response, durationMs: a.durationMs, answeredAt: a.answeredAt.toISOString() };
}

/**
 * 409 `event_conflict` unless a retried event repeats the stored one. The
 * message and `details` name the fields that differ, with both values: a
 * client that regenerated a timestamp on retry learns exactly that, rather
 * than "a different answer". Both values are the caller's own input for a
 * child it may write for; nothing the server derived (correctness) is shown.
 */
function assertSameEvent(clientEventId: string, what: 'answer' | 'completion', stored: Record<string, unknown>, sent: Record<string, unknown>): void {
  const fields = Object.keys(sent).filter((f) => JSON.stringify(stored[f]) !== JSON.stringify(sent[f]));
  if (fields.length === 0) return;
  const pick = (o: Record<string, unknown>) => Object.fromEntries(fields.map((f) => [f, o[f] ?? null]));
  throw new AppError(
    'conflict',
    'event_conflict',
    `clientEventId "${clientEventId}" was already recorded as ${what === 'answer' ? 'an answer' : 'a completion'} with a different ${fields.join(', ')} ` +
      `(stored ${fields.map((f) => `${f}=${JSON.stringify(stored[f] ?? null)}`).join(', ')}; sent ${fields.map((f) => `${f}=${JSON.stringify(sent[f])}`).join(', ')}); ` +
      'nothing was changed. A retry must repeat the event exactly; a new event needs a new clientEventId',
    { details: { clientEventId, fields, stored: pick(stored), sent: pick(sent) } },
  );
}
