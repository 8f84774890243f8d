import { DEFAULT_MASTERY_THRESHOLD, recallNow, type ConceptState } from './concept-state.ts';

/**
 * History analysis: what a child knows now, what is due for review, what
 * they are ready to learn next, where they struggle and what to repair
 * first, and how fast they work. Pure and constant work per concept, so it
 * runs in microseconds per child; the adaptive engine plans from it and the
 * API shows it with plain-language reasons.
 *
 * "Mastered" means known *now*: P(known) at or over the mastery threshold
 * and FSRS recall not yet fallen under the target retention (0.9, the
 * retention FSRS schedules reviews for, so a concept is due exactly when
 * its review date has passed). A concept learned once whose recall has
 * decayed is "due for review", not mastered.
 */

/** A concept of the app's graph, as the analysis needs it. */
export interface AnalysisConcept {
  id: string;
  name: string;
  prerequisites: readonly string[];
}

/** One recent answer (newest last or in any order): for recent errors and time on task. */
export interface RecentAnswer {
  conceptId: string;
  correct: boolean;
  durationMs: number;
  answeredAt: Date;
}

export interface AnalysisOptions {
  /** P(known) at which a concept counts as learned. */
  masteryThreshold?: number;
  /** A concept is struggling after at least this many attempts with P(known) under {@link struggleBelow}. */
  struggleAfterAttempts?: number;
  struggleBelow?: number;
  /** How many of a concept's latest answers count as "recent". */
  recentWindow?: number;
}

export const ANALYSIS_DEFAULTS = { masteryThreshold: DEFAULT_MASTERY_THRESHOLD, struggleAfterAttempts: 6, struggleBelow: 0.5, recentWindow: 5 } as const;

export type ConceptStatus = 'mastered' | 'review_due' | 'struggling' | 'learning' | 'ready' | 'not_ready';

/** The machine-readable evidence behind a finding, so a client or a teacher can check it. */
export interface Evidence {
  pKnown: number | null;
  /** FSRS probability of recalling the concept now (null before any answer). */
  recall: number | null;
  nextReviewAt: string | null;
  lastPractisedAt: string | null;
  attempts: number;
  /** Wrong answers among the concept's most recent ones, and how many were looked at. */
  recentErrors: number;
  recentAnswers: number;
  /** Prerequisites not yet learned (P(known) under the threshold). */
  missingPrerequisites: string[];
}

export interface ConceptFinding {
  conceptId: string;
  name: string;
  status: ConceptStatus;
  /** One sentence for grown-ups saying why. */
  reason: string;
  evidence: Evidence;
  /** For struggling concepts: the prerequisite to repair first, if one needs it. */
  repair?: { conceptId: string; name: string; pKnown: number | null };
}

export interface Pace {
  /** Answers per minute of time on task (the sum of answer durations). */
  itemsPerMinute: number;
  answers: number;
  minutesOnTask: number;
}

export interface Analysis {
  /** Every concept of the graph, in the order given, with its status. */
  concepts: ConceptFinding[];
  mastered: string[];
  dueForReview: string[];
  /** Not learned, every prerequisite learned: what to learn next. */
  frontier: string[];
  struggling: string[];
  pace: Pace | null;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const percent = (x: number) => `${Math.round(x * 100)}%`;
const DAY_MS = 86_400_000;

function ago(from: Date, now: Date): string {
  const days = Math.floor((now.getTime() - from.getTime()) / DAY_MS);
  if (days <= 0) return 'today';
  if (days === 1) return 'yesterday';
  return `${days} days ago`;
}

function inDays(to: Date, now: Date): string {
  const days = Math.ceil((to.getTime() - now.getTime()) / DAY_MS);
  return days <= 1 ? 'within a day' : `in ${days} days`;
}

/** Whether a concept state counts as known now (see the module comment). */
export function knownNow(state: Pick<ConceptState, 'pKnown' | 'fsrs'>, now: Date, masteryThreshold: number = DEFAULT_MASTERY_THRESHOLD): boolean {
  return state.pKnown >= masteryThreshold && now.getTime() < new Date(state.fsrs.due).getTime();
}

/**
 * Analyses one child. `states` holds the concepts the child has answered on
 * (others count as never practised); `recent` the child's latest answers.
 */
export function analyse(
  concepts: readonly AnalysisConcept[],
  states: ReadonlyMap<string, ConceptState>,
  recent: readonly RecentAnswer[],
  now: Date,
  options: AnalysisOptions = {},
): Analysis {
  const o = { ...ANALYSIS_DEFAULTS, ...options };
  const names = new Map(concepts.map((c) => [c.id, c.name]));
  const learned = (id: string) => (states.get(id)?.pKnown ?? 0) >= o.masteryThreshold;

  // The latest answers per concept, newest first.
  const byConcept = new Map<string, RecentAnswer[]>();
  for (const a of [...recent].sort((x, y) => y.answeredAt.getTime() - x.answeredAt.getTime())) {
    const list = byConcept.get(a.conceptId) ?? [];
    if (list.length < o.recentWindow) list.push(a);
    byConcept.set(a.conceptId, list);
  }

  const findings = concepts.map((c): ConceptFinding => {
    const state = states.get(c.id);
    const latest = byConcept.get(c.id) ?? [];
    const recentErrors = latest.filter((a) => !a.correct).length;
    const missing = c.prerequisites.filter((p) => names.has(p) && !learned(p));
    const recall = state && state.attempts > 0 ? round(recallNow(state, now), 3) : null;
    const evidence: Evidence = {
      pKnown: state ? round(state.pKnown, 3) : null,
      recall,
      nextReviewAt: state && state.attempts > 0 ? state.fsrs.due : null,
      lastPractisedAt: state?.lastAnsweredAt ?? null,
      attempts: state?.attempts ?? 0,
      recentErrors,
      recentAnswers: latest.length,
      missingPrerequisites: missing,
    };
    const base = { conceptId: c.id, name: c.name, evidence };
    const last = state?.lastAnsweredAt ? new Date(state.lastAnsweredAt) : undefined;

    if (!state || state.attempts === 0) {
      if (missing.length) {
        return { ...base, status: 'not_ready', reason: `Not ready yet: first learn ${missing.map((m) => names.get(m)).join(', ')}.` };
      }
      return { ...base, status: 'ready', reason: c.prerequisites.length ? `Ready to learn: its prerequisites (${c.prerequisites.map((p) => names.get(p) ?? p).join(', ')}) are learned.` : 'Ready to learn: it needs nothing learned before it.' };
    }
    if (learned(c.id)) {
      if (knownNow(state, now, o.masteryThreshold)) {
        return { ...base, status: 'mastered', reason: `Known: P(known) ${round(state.pKnown)}, recall about ${percent(recall ?? 1)}, next review ${inDays(new Date(state.fsrs.due), now)}.` };
      }
      return { ...base, status: 'review_due', reason: `Due for review: learned, but last practised ${last ? ago(last, now) : 'long ago'}; recall now about ${percent(recall ?? 0)}.` };
    }
    if (state.attempts >= o.struggleAfterAttempts && state.pKnown < o.struggleBelow) {
      const repairId = [...missing].sort((a, b) => (states.get(a)?.pKnown ?? 0) - (states.get(b)?.pKnown ?? 0))[0];
      const repair = repairId === undefined ? undefined : { conceptId: repairId, name: names.get(repairId) ?? repairId, pKnown: states.get(repairId) ? round(states.get(repairId)!.pKnown, 3) : null };
      const errors = latest.length ? `${recentErrors} of the last ${latest.length} answers wrong` : 'mostly wrong answers';
      const reason = repair
        ? `Struggling: ${errors} after ${state.attempts} attempts (P(known) ${round(state.pKnown)}); practise ${repair.name} first.`
        : `Struggling: ${errors} after ${state.attempts} attempts (P(known) ${round(state.pKnown)}); its prerequisites are learned, so practise it in smaller steps.`;
      return { ...base, status: 'struggling', reason, ...(repair ? { repair } : {}) };
    }
    if (missing.length) {
      return { ...base, status: 'not_ready', reason: `Started, but ${missing.map((m) => names.get(m)).join(', ')} should be learned first (P(known) ${round(state.pKnown)}).` };
    }
    return { ...base, status: 'learning', reason: `Learning: P(known) ${round(state.pKnown)} after ${state.attempts} attempts; keep practising.` };
  });

  const withStatus = (...statuses: ConceptStatus[]) => findings.filter((f) => statuses.includes(f.status)).map((f) => f.conceptId);

  // Pace: answers per minute on task over the recent answers (durations are time on task).
  const timed = recent.filter((a) => a.durationMs > 0);
  const ms = timed.reduce((n, a) => n + a.durationMs, 0);
  const pace = timed.length && ms > 0 ? { itemsPerMinute: round(timed.length / (ms / 60_000)), answers: timed.length, minutesOnTask: round(ms / 60_000, 1) } : null;

  return {
    concepts: findings,
    mastered: withStatus('mastered'),
    dueForReview: withStatus('review_due'),
    frontier: withStatus('ready', 'learning'),
    struggling: withStatus('struggling'),
    pace,
  };
}
