import { createEmptyCard, fsrs, Rating, State, type Card, type Grade } from 'ts-fsrs';
import { DEFAULT_BKT_PARAMS, initialBktState, predict, update, type BktParams } from './bkt.ts';

/**
 * What we know about one child on one concept, updated by every answer in
 * constant work: counts, the knowledge-tracing estimate P(known), and an FSRS
 * memory state (ts-fsrs) that says when the concept is due for review.
 */
export interface ConceptState {
  attempts: number;
  correct: number;
  pKnown: number;
  /** FSRS card, JSON-safe (dates as ISO strings). */
  fsrs: StoredCard;
  lastAnsweredAt: string | null;
}

/** A ts-fsrs card as stored (dates as ISO strings). */
export interface StoredCard {
  due: string;
  stability: number;
  difficulty: number;
  elapsed_days: number;
  scheduled_days: number;
  learning_steps: number;
  reps: number;
  lapses: number;
  state: number;
  last_review?: string;
}

/** The view of a concept state the API returns. */
export interface ConceptView {
  attempts: number;
  correct: number;
  accuracy: number | null;
  pKnown: number;
  pCorrectNext: number;
  /** Known now: learned, and recall not yet under the review target (see {@link viewOf}). */
  mastered: boolean;
  /** P(known) reached the mastery threshold (mastered once), whether or not recall has decayed since. */
  learned: boolean;
  /** FSRS probability of recalling the concept now. */
  recall: number;
  /** Learned, but recall has fallen under the target: practise it again. */
  reviewDue: boolean;
  nextReviewAt: string;
}

/** Default P(known) at which a concept counts as mastered. */
export const DEFAULT_MASTERY_THRESHOLD = 0.95;

/** Answers faster than this (and correct) are rated Easy; slower than {@link SLOW_MS} Hard. */
export const FAST_MS = 4_000;
export const SLOW_MS = 20_000;

const scheduler = fsrs({ enable_fuzz: false });

const toStored = (card: Card): StoredCard => ({
  due: card.due.toISOString(),
  stability: card.stability,
  difficulty: card.difficulty,
  elapsed_days: card.elapsed_days,
  scheduled_days: card.scheduled_days,
  learning_steps: card.learning_steps,
  reps: card.reps,
  lapses: card.lapses,
  state: card.state,
  ...(card.last_review ? { last_review: card.last_review.toISOString() } : {}),
});

const fromStored = (s: StoredCard): Card => ({
  ...s,
  due: new Date(s.due),
  state: s.state,
  ...(s.last_review ? { last_review: new Date(s.last_review) } : { last_review: undefined }),
}) as Card;

/**
 * FSRS probability that the child recalls the concept now (1 right after a
 * review, falling with time at a rate set by the card's stability). Reviews
 * are scheduled for when it falls to the target retention, 0.9.
 */
export function recallNow(state: Pick<ConceptState, 'fsrs'>, now: Date): number {
  if (!state.fsrs.last_review) return 0;
  return scheduler.get_retrievability(fromStored(state.fsrs), now, false);
}

/** The state before any answer. */
export function newConceptState(params: BktParams = DEFAULT_BKT_PARAMS, now: Date = new Date()): ConceptState {
  return { attempts: 0, correct: 0, pKnown: initialBktState(params).pKnown, fsrs: toStored(createEmptyCard(now)), lastAnsweredAt: null };
}

/**
 * Maps an answer to an FSRS rating: wrong → Again; right but slow → Hard;
 * right → Good; right and quick → Easy.
 */
export function ratingFor(correct: boolean, durationMs: number): Grade {
  if (!correct) return Rating.Again;
  if (durationMs >= SLOW_MS) return Rating.Hard;
  if (durationMs > 0 && durationMs < FAST_MS) return Rating.Easy;
  return Rating.Good;
}

/**
 * The rating FSRS gets for an answer on a card in a given state. A slow right
 * answer is Hard only once the card has graduated to review: in FSRS's
 * (Anki's) learning steps, Hard repeats the current step, so a child who
 * answers every item right but takes 20 s or more (most young children) would
 * keep every concept in its first learning step, due again minutes later and
 * never scheduled days out — "due for review" every day however well known.
 * While learning, a right answer moves on to the next step (Good).
 */
export function ratingForCard(card: Pick<StoredCard, 'state'>, correct: boolean, durationMs: number): Grade {
  const rating = ratingFor(correct, durationMs);
  return rating === Rating.Hard && card.state !== State.Review ? Rating.Good : rating;
}

/** The state after one answer. Answers must be applied in the order they were given. */
export function applyAnswer(state: ConceptState, params: BktParams, answer: { correct: boolean; durationMs: number; answeredAt: Date }): ConceptState {
  // A review dated before the card's last one (an offline device syncing late) is scheduled from the last review.
  const last = state.fsrs.last_review ? new Date(state.fsrs.last_review) : undefined;
  const at = last && answer.answeredAt < last ? last : answer.answeredAt;
  const next = scheduler.next(fromStored(state.fsrs), at, ratingForCard(state.fsrs, answer.correct, answer.durationMs));
  return {
    attempts: state.attempts + 1,
    correct: state.correct + (answer.correct ? 1 : 0),
    pKnown: update({ pKnown: state.pKnown }, params, answer.correct).pKnown,
    fsrs: toStored(next.card),
    lastAnsweredAt: answer.answeredAt.toISOString(),
  };
}

/**
 * What the API shows for a state. `pCorrectNext` comes from the full model
 * when the caller has one; plain BKT otherwise. `mastered` means known now:
 * P(known) at the threshold and the FSRS review date not yet passed (recall
 * still at or above 0.9); a concept learned once whose recall has decayed is
 * `learned` and `reviewDue`, not `mastered`.
 */
export function viewOf(state: ConceptState, params: BktParams, masteryThreshold: number = DEFAULT_MASTERY_THRESHOLD, pCorrectNext?: number, now: Date = new Date()): ConceptView {
  const learned = state.pKnown >= masteryThreshold;
  // Due exactly when recall has fallen to FSRS's target retention (0.9): the review date has passed.
  const due = now.getTime() >= new Date(state.fsrs.due).getTime();
  return {
    attempts: state.attempts,
    correct: state.correct,
    accuracy: state.attempts ? state.correct / state.attempts : null,
    pKnown: round(state.pKnown),
    pCorrectNext: round(pCorrectNext ?? predict({ pKnown: state.pKnown }, params)),
    mastered: learned && !due,
    learned,
    recall: round(recallNow(state, now)),
    reviewDue: learned && due,
    nextReviewAt: state.fsrs.due,
  };
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;
