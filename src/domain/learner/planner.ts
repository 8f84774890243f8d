import type { Analysis, ConceptFinding, Evidence } from './analysis.ts';

/**
 * The lesson planner: turns a child's analysis into an ordered list of
 * activities that fills the minutes asked for. Pure; the engine supplies the
 * catalogue, the model's predictions and what the child answered last.
 *
 * Rules, from learning science rather than from any one simulator:
 * 1. Spacing: reviews of learned concepts whose recall has decayed come
 *    first (lowest recall first), capped at a share of the time.
 * 2. Prerequisites: a struggling concept gets its missing prerequisite
 *    repaired before it is practised again.
 * 3. The frontier in teaching order: new concepts are learned from the first
 *    lesson that teaches them; concepts being learned are practised.
 * 4. Desirable difficulty: practice items are picked so that the predicted
 *    success is in a target band (0.6–0.85), nearest its middle.
 * 5. Interleaving: when time allows, a short challenge on a learned concept
 *    mixes in harder items of something else; the weakest memory first (the
 *    known concept whose FSRS review is soonest), as retrieving what is
 *    nearest to being forgotten strengthens memory most.
 * 6. Nothing the child answered in the last session comes back, except in
 *    a review.
 */

export type ActivityKind = 'review' | 'learn' | 'practice' | 'challenge';

/** A lesson of the catalogue, in teaching order, with its live items. */
export interface CatalogueLesson {
  id: string;
  conceptIds: readonly string[];
  estimatedMinutes: number;
  items: readonly { id: string; conceptId: string; difficulty: number }[];
}

export interface PlanRequest {
  minutes: number;
  /** Only these concepts (and the prerequisites they need repaired). */
  focusConcepts?: readonly string[];
}

export interface PlanInputs {
  analysis: Analysis;
  /** Lessons in the app's teaching order. */
  catalogue: readonly CatalogueLesson[];
  /** P(correct) of the child on a concept's next item (the learner model). */
  pCorrect: (conceptId: string) => number;
  /** Items the child answered in the last session. */
  lastSessionItems: ReadonlySet<string>;
  request: PlanRequest;
  now: Date;
}

export interface Why {
  code: 'due_for_review' | 'repair_prerequisite' | 'new_concept' | 'keep_practising' | 'struggling_small_steps' | 'challenge';
  /** For the child. */
  child: string;
  /** For a grown-up. */
  adult: string;
  evidence: Evidence;
}

export interface Activity {
  kind: ActivityKind;
  conceptId: string;
  lessonId: string | null;
  itemIds: string[];
  /**
   * New questions generated for this child, each in `itemIds` in the place
   * of the planned item it `replaces` (set by the engine after planning; see
   * engine/plan-enricher.ts). Absent when none.
   */
  fresh?: FreshItem[];
  minutes: number;
  /** Mean predicted success of the activity's items. */
  targetSuccess: number;
  why: Why;
}

/** A question generated for the child, shown as the client shows any item (never its answer key). */
export interface FreshItem {
  itemId: string;
  /** The planned item it took the place of. */
  replaces: string;
  type: string;
  prompt: string;
  choices?: { id: string; text: string }[];
}

export interface Plan {
  minutes: number;
  activities: Activity[];
}

/** Target band of predicted success for practice (desirable difficulty). */
export const SUCCESS_BAND = { low: 0.6, high: 0.85 } as const;
/** Without a measured pace: items per minute for a young child. */
export const DEFAULT_ITEMS_PER_MINUTE = 2;
/** Reviews take at most this share of the time. */
export const REVIEW_SHARE = 0.3;
/** Reading a lesson's teaching before its items. */
export const LEARN_READING_MINUTES = 2;

const ITEMS_PER_REVIEW = 3;
const ITEMS_PER_PRACTICE = 5;
const ITEMS_PER_CHALLENGE = 3;

const logit = (p: number) => Math.log(Math.min(0.999, Math.max(0.001, p)) / (1 - Math.min(0.999, Math.max(0.001, p))));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const round2 = (x: number) => Math.round(x * 100) / 100;
const percent = (x: number | null) => `${Math.round((x ?? 0) * 100)}%`;

/** Builds a plan. The activities' minutes add up to the request within 10% whenever the catalogue has enough items. */
export function planLesson(inputs: PlanInputs): Plan {
  const { analysis, catalogue, pCorrect, lastSessionItems, request } = inputs;
  const pace = Math.max(0.5, Math.min(8, analysis.pace?.itemsPerMinute ?? DEFAULT_ITEMS_PER_MINUTE));
  const budget = request.minutes;
  const focus = request.focusConcepts ? new Set(request.focusConcepts) : undefined;
  const findings = new Map(analysis.concepts.map((c) => [c.conceptId, c]));
  const inFocus = (id: string) => !focus || focus.has(id);

  // Items per concept, with the mean difficulty of the concept's items (to place each item around the concept's prediction).
  const itemsOf = new Map<string, { id: string; lessonId: string; difficulty: number }[]>();
  const firstLesson = new Map<string, CatalogueLesson>();
  const order = new Map<string, number>();
  catalogue.forEach((lesson, index) => {
    for (const c of lesson.conceptIds) {
      if (!firstLesson.has(c)) firstLesson.set(c, lesson);
      if (!order.has(c)) order.set(c, index);
    }
    for (const item of lesson.items) {
      const list = itemsOf.get(item.conceptId) ?? [];
      list.push({ id: item.id, lessonId: lesson.id, difficulty: item.difficulty });
      itemsOf.set(item.conceptId, list);
    }
  });
  const meanDifficulty = new Map([...itemsOf].map(([c, items]) => [c, items.reduce((n, i) => n + i.difficulty, 0) / items.length]));
  /** Predicted success on one item: the concept's prediction shifted by how much harder the item is than its siblings. */
  const pItem = (conceptId: string, difficulty: number) => sigmoid(logit(pCorrect(conceptId)) - (difficulty - (meanDifficulty.get(conceptId) ?? 0)));

  const used = new Set<string>();
  const activities: Activity[] = [];
  let spent = 0;
  const left = () => budget - spent;

  /** Picks up to `count` items of a concept nearest a target success, skipping used ones and (unless allowed) last session's. */
  const pick = (conceptId: string, count: number, target: number, options: { allowLastSession?: boolean; lessonId?: string } = {}) => {
    const candidates = (itemsOf.get(conceptId) ?? []).filter(
      (i) => !used.has(i.id) && (options.allowLastSession || !lastSessionItems.has(i.id)) && (options.lessonId === undefined || i.lessonId === options.lessonId),
    );
    const scored = candidates.map((i) => ({ ...i, p: pItem(conceptId, i.difficulty) })).sort((a, b) => Math.abs(a.p - target) - Math.abs(b.p - target) || a.id.localeCompare(b.id));
    return scored.slice(0, count);
  };

  const add = (kind: ActivityKind, finding: ConceptFinding, items: { id: string; lessonId: string; p: number }[], why: Omit<Why, 'evidence'>, extraMinutes = 0): boolean => {
    // Never more than the time left allows (the last activity is trimmed to fit).
    const fit = Math.max(0, Math.floor((left() - extraMinutes) * pace));
    const chosen = items.slice(0, Math.min(items.length, fit));
    if (chosen.length === 0) return false;
    for (const i of chosen) used.add(i.id);
    const minutes = round2(chosen.length / pace + extraMinutes);
    spent += minutes;
    activities.push({
      kind,
      conceptId: finding.conceptId,
      lessonId: chosen[0]!.lessonId,
      itemIds: chosen.map((i) => i.id),
      minutes,
      targetSuccess: round2(chosen.reduce((n, i) => n + i.p, 0) / chosen.length),
      why: { ...why, evidence: finding.evidence },
    });
    return true;
  };

  // 1. Reviews, lowest recall first, at most REVIEW_SHARE of the time.
  const reviews = analysis.dueForReview
    .map((id) => findings.get(id)!)
    .filter((f) => inFocus(f.conceptId))
    .sort((a, b) => (a.evidence.recall ?? 0) - (b.evidence.recall ?? 0));
  for (const f of reviews) {
    if (spent >= budget * REVIEW_SHARE) break;
    const items = pick(f.conceptId, ITEMS_PER_REVIEW, SUCCESS_BAND.high, { allowLastSession: true });
    add('review', f, items, {
      code: 'due_for_review',
      child: `Let's remember ${f.name}!`,
      adult: `Due for review: last practised ${f.evidence.lastPractisedAt ? daysSince(f.evidence.lastPractisedAt, inputs) : 'a while ago'}, recall now about ${percent(f.evidence.recall)}.`,
    });
  }

  // 2. Struggling concepts: repair the prerequisite, then small steps on the concept itself.
  const struggling = analysis.struggling.map((id) => findings.get(id)!).filter((f) => inFocus(f.conceptId) || (f.repair && inFocus(f.repair.conceptId)));
  for (const f of struggling) {
    if (left() <= 0) break;
    if (f.repair) {
      const prerequisite = findings.get(f.repair.conceptId);
      if (prerequisite) {
        add('practice', prerequisite, pick(prerequisite.conceptId, ITEMS_PER_PRACTICE, (SUCCESS_BAND.low + SUCCESS_BAND.high) / 2), {
          code: 'repair_prerequisite',
          child: `A little ${prerequisite.name} first, to make ${f.name} easier.`,
          adult: `${f.name} is hard right now (P(known) ${f.evidence.pKnown}); ${prerequisite.name} comes before it and is not learned yet (P(known) ${prerequisite.evidence.pKnown ?? 0}).`,
        });
      }
    } else {
      add('practice', f, pick(f.conceptId, ITEMS_PER_PRACTICE, SUCCESS_BAND.high), {
        code: 'struggling_small_steps',
        child: `Let's try some easier ${f.name} questions.`,
        adult: `Struggling with ${f.name} (P(known) ${f.evidence.pKnown}, ${f.evidence.recentErrors} of the last ${f.evidence.recentAnswers} wrong); its prerequisites are learned, so easier items first.`,
      });
    }
  }

  // 3. The frontier in teaching order: learn what is new, practise what is being learned.
  const frontier = analysis.frontier
    .map((id) => findings.get(id)!)
    .filter((f) => inFocus(f.conceptId) && itemsOf.has(f.conceptId))
    .sort((a, b) => (order.get(a.conceptId) ?? Infinity) - (order.get(b.conceptId) ?? Infinity) || a.conceptId.localeCompare(b.conceptId));
  for (const f of frontier) {
    if (left() < 1 / pace) break;
    if (f.status === 'ready') {
      const lesson = firstLesson.get(f.conceptId);
      if (!lesson) continue;
      // A new concept: its first lesson's teaching, then its easiest items (a first success matters).
      const items = pick(f.conceptId, ITEMS_PER_PRACTICE, SUCCESS_BAND.high, { lessonId: lesson.id });
      add('learn', f, items, {
        code: 'new_concept',
        child: `Something new: ${f.name}!`,
        adult: f.evidence.missingPrerequisites.length === 0 ? `Ready to learn ${f.name}: everything it needs is learned.` : `Next in the teaching order: ${f.name}.`,
      }, Math.min(LEARN_READING_MINUTES, lesson.estimatedMinutes));
    } else {
      add('practice', f, pick(f.conceptId, ITEMS_PER_PRACTICE, (SUCCESS_BAND.low + SUCCESS_BAND.high) / 2), {
        code: 'keep_practising',
        child: `More ${f.name} practice.`,
        adult: `Learning ${f.name}: P(known) ${f.evidence.pKnown} after ${f.evidence.attempts} attempts; items picked to be right about ${percent((SUCCESS_BAND.low + SUCCESS_BAND.high) / 2)} of the time.`,
      });
    }
  }

  // 3b. Looking ahead: with time left and the frontier's items used, the next concepts of the
  // teaching order whose prerequisites are learned or worked on earlier in this plan.
  const planned = () => new Set(activities.filter((a) => a.kind !== 'challenge').map((a) => a.conceptId));
  const lookahead = analysis.concepts
    .filter((f) => inFocus(f.conceptId) && itemsOf.has(f.conceptId) && f.status !== 'mastered' && f.status !== 'review_due')
    .sort((a, b) => (order.get(a.conceptId) ?? Infinity) - (order.get(b.conceptId) ?? Infinity) || a.conceptId.localeCompare(b.conceptId));
  for (let changed = true; changed && left() >= 1 / pace; ) {
    changed = false;
    const inPlan = planned();
    for (const f of lookahead) {
      if (left() < 1 / pace) break;
      if (inPlan.has(f.conceptId)) continue;
      const waitingFor = f.evidence.missingPrerequisites;
      if (!waitingFor.every((p) => inPlan.has(p))) continue;
      const lesson = firstLesson.get(f.conceptId);
      if (!lesson) continue;
      const items = pick(f.conceptId, ITEMS_PER_PRACTICE, SUCCESS_BAND.high, { lessonId: lesson.id });
      const names = waitingFor.map((p) => findings.get(p)?.name ?? p).join(', ');
      changed =
        add('learn', f, items, {
          code: 'new_concept',
          child: `Something new: ${f.name}!`,
          adult: waitingFor.length ? `Next in the teaching order once today's work on ${names} is done: ${f.name}.` : `Next in the teaching order: ${f.name}.`,
        }, Math.min(LEARN_READING_MINUTES, lesson.estimatedMinutes)) || changed;
      if (changed) break;
    }
  }

  // 4. Time left: challenges on learned concepts (interleaving harder items), then more practice rounds.
  // Weakest memory first: the known concept whose review FSRS expects soonest is the nearest to
  // being forgotten, so retrieving it now does the most for retention (spacing).
  const learned = analysis.mastered
    .map((id) => findings.get(id)!)
    .filter((f) => inFocus(f.conceptId))
    .sort((a, b) => (a.evidence.nextReviewAt ?? '').localeCompare(b.evidence.nextReviewAt ?? '') || (order.get(a.conceptId) ?? Infinity) - (order.get(b.conceptId) ?? Infinity));
  for (let round = 0; round < 4 && left() >= 1 / pace; round++) {
    let added = false;
    for (const f of learned) {
      if (left() < 1 / pace) break;
      added =
        add('challenge', f, pick(f.conceptId, ITEMS_PER_CHALLENGE, SUCCESS_BAND.low), {
          code: 'challenge',
          child: `A challenge: harder ${f.name}!`,
          adult: `${f.name} is known (recall about ${percent(f.evidence.recall)}); harder items keep it sharp and mix it with today's new work.`,
        }) || added;
    }
    for (const f of frontier) {
      if (left() < 1 / pace) break;
      added =
        add('practice', f, pick(f.conceptId, ITEMS_PER_PRACTICE, (SUCCESS_BAND.low + SUCCESS_BAND.high) / 2), {
          code: 'keep_practising',
          child: `More ${f.name} practice.`,
          adult: `More practice on ${f.name} (P(known) ${f.evidence.pKnown ?? 0}) to use the time asked for.`,
        }) || added;
    }
    if (!added) break;
  }

  return { minutes: round2(spent), activities };
}

function daysSince(iso: string, inputs: PlanInputs): string {
  const days = Math.floor((inputs.now.getTime() - new Date(iso).getTime()) / 86_400_000);
  return days <= 0 ? 'today' : days === 1 ? 'yesterday' : `${days} days ago`;
}
