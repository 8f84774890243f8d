import { packItems } from '../src/domain/content-pack.ts';
import { analyse, type Analysis, type RecentAnswer } from '../src/domain/learner/analysis.ts';
import { DEFAULT_BKT_PARAMS, predict } from '../src/domain/learner/bkt.ts';
import { applyAnswer, newConceptState, type ConceptState } from '../src/domain/learner/concept-state.ts';
import { BktGraphLearner, IrtStructureLearner, type SimItem, type SimulatedLearner } from '../src/domain/learner/learner-simulators.ts';
import { LEARN_READING_MINUTES, planLesson, type ActivityKind, type CatalogueLesson } from '../src/domain/learner/planner.ts';
import { loadDemoPack } from '../src/seed/demo-packs.ts';
import { machine } from './support.ts';

/**
 * `npm run bench:plan`: how many items and minutes simulated children of the
 * mathkids curriculum need to master grade K and grades K–1 under three
 * teaching policies, on two simulators that model learning differently (see
 * src/domain/learner/learner-simulators.ts and docs/engine.md):
 *
 * (a) the fixed curriculum: the app's lessons in teaching order, every item,
 *     then round again;
 * (b) a heuristic: the unmastered concept with the lowest P(known) whose
 *     prerequisites are mastered, five items at a time (planned up front, so
 *     the next five go to the next such concept);
 * (c) our plans (analysis + planner), one 15-minute plan a day.
 *
 * Every policy sees only the answers (through the same BKT + FSRS states the
 * API keeps), never the simulator's truth, and plans a whole session up
 * front (as the engine does). One 15-minute session a day, at most 60 days,
 * the same seeds for every policy. Time: 30 s an item, plus the lesson's
 * teaching (at most 2 minutes) the first time a learner meets an item of a
 * lesson, whatever the policy. Mastered (truth): the simulator says the
 * concept is mastered at the end of a session (known, for the BKT learner; a
 * typical item right ≥ 90% of the time, for the IRT learner). Every learner
 * does the whole course of 60 sessions whatever it masters on the way, so
 * that retention compares equal time on task: the expected share of typical
 * items of grades K–1 answered right 30 days after the course's last session.
 *
 * `BENCH_TRACE=1` also prints, for our plans, what the sessions were made of
 * and how the analysis's view tracked the simulator's truth.
 */

const LEARNERS = Number(process.env.BENCH_LEARNERS ?? 200);
const MAX_SESSIONS = Number(process.env.BENCH_SESSIONS ?? 60);
const TRACE = process.env.BENCH_TRACE === '1';
const SESSION_MINUTES = 15;
/** `BENCH_POLICIES=a,c` runs only those policies (for quick experiments). */
const ITEM_MS = 30_000;
const ITEM_MINUTES = ITEM_MS / 60_000;
const BUDGET_SESSIONS = 10;
const DAY = 86_400_000;
const START = new Date('2026-01-05T16:00:00Z');

const pack = await loadDemoPack('mathkids');
const target = new Set(pack.concepts.filter((c) => c.grade <= 1).map((c) => c.id));
const gradeK = new Set(pack.concepts.filter((c) => c.grade === 0).map((c) => c.id));
const concepts = pack.concepts.filter((c) => target.has(c.id)).map((c) => ({ id: c.id, name: c.name, prerequisites: c.prerequisites.filter((p) => target.has(p)) }));
const lessons: CatalogueLesson[] = pack.units
  .flatMap((u) => u.lessons)
  .filter((l) => l.conceptIds.every((c) => target.has(c)))
  .map((l) => ({ id: l.id, conceptIds: l.conceptIds, estimatedMinutes: l.estimatedMinutes, items: packItems(l) }));
const items: SimItem[] = lessons.flatMap((l) => l.items.map((i) => ({ id: i.id, conceptId: i.conceptId, difficulty: i.difficulty })));
const itemsOf = new Map<string, SimItem[]>();
for (const i of items) itemsOf.set(i.conceptId, [...(itemsOf.get(i.conceptId) ?? []), i]);
const byId = new Map(items.map((i) => [i.id, i]));
const lessonOf = new Map(lessons.flatMap((l) => l.items.map((i) => [i.id, l] as const)));
const readingMinutes = (l: CatalogueLesson) => Math.min(LEARN_READING_MINUTES, l.estimatedMinutes);

/** What a policy sees: the observed states, the answers so far, the last session's items. */
interface Observed {
  states: Map<string, ConceptState>;
  recent: RecentAnswer[];
  lastSession: Set<string>;
  now: Date;
  /** Lessons whose teaching the learner has had (their first item costs the reading time). */
  seenLessons: Set<string>;
  /** Per-policy memory (e.g. the fixed policy's place in the curriculum). */
  cursor: number;
  /** Per concept: the heuristic's place in the concept's items. */
  itemCursor: Map<string, number>;
}

/** One session being filled: what an item costs in minutes, and whether it still fits. */
class Session {
  readonly items: SimItem[] = [];
  minutes = 0;
  readonly #seen: Set<string>;
  constructor(seenLessons: ReadonlySet<string>) {
    this.#seen = new Set(seenLessons);
  }
  cost(item: SimItem): number {
    const lesson = lessonOf.get(item.id)!;
    return ITEM_MINUTES + (this.#seen.has(lesson.id) ? 0 : readingMinutes(lesson));
  }
  /** Adds the item if it fits in the session; false when it does not. */
  take(item: SimItem): boolean {
    const cost = this.cost(item);
    if (this.minutes + cost > SESSION_MINUTES + 1e-9) return false;
    this.minutes += cost;
    this.#seen.add(lessonOf.get(item.id)!.id);
    this.items.push(item);
    return true;
  }
}

/** A policy fills one session; `trace` (our plans only) receives the analysis and the plan's activity per item. */
type Policy = (o: Observed, trace?: (analysis: Analysis, kinds: ActivityKind[]) => void) => Session;

const allItems = lessons.flatMap((l) => l.items).map((i) => byId.get(i.id)!);

const fixed: Policy = (o) => {
  const s = new Session(o.seenLessons);
  while (s.take(allItems[o.cursor % allItems.length]!)) o.cursor++;
  return s;
};

const heuristic: Policy = (o) => {
  // "Mastered" as the analysis says it (known now, recall not decayed); prerequisites as the
  // analysis's readiness (learned). Planned up front: the candidates in turn, five items each,
  // round again until the session is full.
  const analysis = analyse(concepts, o.states, o.recent.slice(-200), o.now);
  const byPKnown = (list: typeof analysis.concepts) => [...list].sort((a, b) => (a.evidence.pKnown ?? 0) - (b.evidence.pKnown ?? 0) || a.conceptId.localeCompare(b.conceptId));
  const ready = byPKnown(analysis.concepts.filter((f) => f.status !== 'mastered' && f.evidence.missingPrerequisites.length === 0));
  const pool = ready.length ? ready : byPKnown(analysis.concepts);
  const s = new Session(o.seenLessons);
  for (let k = 0, full = false; !full; k++) {
    const list = itemsOf.get(pool[k % pool.length]!.conceptId)!;
    for (let n = 0; n < 5 && !full; n++) {
      const at = o.itemCursor.get(list[0]!.conceptId) ?? 0;
      full = !s.take(list[at % list.length]!);
      if (!full) o.itemCursor.set(list[0]!.conceptId, at + 1);
    }
  }
  return s;
};

const planned: Policy = (o, trace) => {
  const analysis = analyse(concepts, o.states, o.recent.slice(-200), o.now);
  const plan = planLesson({
    analysis,
    catalogue: lessons,
    pCorrect: (id) => predict({ pKnown: o.states.get(id)?.pKnown ?? DEFAULT_BKT_PARAMS.pInit }, DEFAULT_BKT_PARAMS),
    lastSessionItems: o.lastSession,
    request: { minutes: SESSION_MINUTES },
    now: o.now,
  });
  const s = new Session(o.seenLessons);
  const kinds: ActivityKind[] = [];
  for (const a of plan.activities) for (const id of a.itemIds) if (s.take(byId.get(id)!)) kinds.push(a.kind);
  trace?.(analysis, kinds);
  return s;
};

interface Outcome {
  itemsToK: number | null;
  minutesToK: number | null;
  itemsToAll: number | null;
  minutesToAll: number | null;
  masteredAfterBudget: number;
  retention30: number;
}

/** The trace's truth: a concept counts as known from this true P(correct) on a typical item. */
let truthFrom = 0.9;

/** What BENCH_TRACE collects over our plans' sessions. */
interface Trace {
  sessions: number;
  /** Items per activity kind, and how many of them were answered right. */
  kinds: Map<string, number>;
  rightByKind: Map<string, number>;
  items: number;
  /** Items on a concept the simulator says is mastered at the start of the session. */
  onKnown: number;
  /** Items on a concept whose prerequisites are not all truly mastered. */
  onNotReady: number;
  /** Correct answers, and the summed predicted P(correct) of the concept, over practised items. */
  correct: number;
  predicted: number;
  /** Analysis status × truth at the start of each session, over every concept. */
  saysKnownTrulyKnown: number;
  saysKnownTrulyNot: number;
  saysNotTrulyKnown: number;
  saysNotTrulyNot: number;
  /** Mean absolute gap between the model's P(known) and the simulator's true P(correct on a typical item). */
  gapSum: number;
  gapN: number;
}

function newTrace(): Trace {
  return { sessions: 0, kinds: new Map(), rightByKind: new Map(), items: 0, onKnown: 0, onNotReady: 0, correct: 0, predicted: 0, saysKnownTrulyKnown: 0, saysKnownTrulyNot: 0, saysNotTrulyKnown: 0, saysNotTrulyNot: 0, gapSum: 0, gapN: 0 };
}

function run(makeLearner: (seed: number) => SimulatedLearner, policy: Policy, seed: number, trace?: Trace): Outcome {
  const learner = makeLearner(seed);
  const o: Observed = { states: new Map(), recent: [], lastSession: new Set(), now: START, seenLessons: new Set(), cursor: 0, itemCursor: new Map() };
  let answered = 0;
  let minutes = 0;
  const out: Outcome = { itemsToK: null, minutesToK: null, itemsToAll: null, minutesToAll: null, masteredAfterBudget: 0, retention30: 0 };
  let lastDay = 0;
  const masteredShare = (set: Set<string>, day: number) => [...set].filter((c) => learner.masteredNow(c, day)).length / set.size;
  for (let session = 0; session < MAX_SESSIONS; session++) {
    const day = session;
    o.now = new Date(START.getTime() + day * DAY);
    // The trace covers the sessions until grades K–1 are first mastered (what the items-to-mastery figures count).
    const tracing = out.itemsToAll === null ? trace : undefined;
    let sessionKinds: ActivityKind[] = [];
    const onTrace =
      tracing &&
      ((analysis: Analysis, kinds: ActivityKind[]) => {
        tracing.sessions++;
        for (const f of analysis.concepts) {
          const truly = learner.trueMastery(f.conceptId, day) >= truthFrom;
          const says = f.status === 'mastered';
          if (says && truly) tracing.saysKnownTrulyKnown++;
          else if (says) tracing.saysKnownTrulyNot++;
          else if (truly) tracing.saysNotTrulyKnown++;
          else tracing.saysNotTrulyNot++;
          if (f.evidence.attempts > 0) {
            tracing.gapSum += Math.abs((f.evidence.pKnown ?? 0) - learner.trueMastery(f.conceptId, day));
            tracing.gapN++;
          }
        }
        for (const k of kinds) tracing.kinds.set(k, (tracing.kinds.get(k) ?? 0) + 1);
        sessionKinds = kinds;
      });
    const s = policy(o, onTrace);
    if (tracing) {
      for (const item of s.items) {
        tracing.items++;
        if (learner.trueMastery(item.conceptId, day) >= truthFrom) tracing.onKnown++;
        const pre = concepts.find((c) => c.id === item.conceptId)!.prerequisites;
        if (!pre.every((p) => learner.trueMastery(p, day) >= truthFrom)) tracing.onNotReady++;
        tracing.predicted += predict({ pKnown: o.states.get(item.conceptId)?.pKnown ?? DEFAULT_BKT_PARAMS.pInit }, DEFAULT_BKT_PARAMS);
      }
    }
    o.lastSession = new Set();
    s.items.forEach((item, k) => {
      const at = new Date(o.now.getTime() + k * ITEM_MS);
      const correct = learner.answer(item, day + (k * ITEM_MS) / DAY);
      if (tracing && correct) {
        tracing.correct++;
        const kind = sessionKinds[k];
        if (kind) tracing.rightByKind.set(kind, (tracing.rightByKind.get(kind) ?? 0) + 1);
      }
      const answer = { conceptId: item.conceptId, correct, durationMs: ITEM_MS, answeredAt: at };
      o.states.set(item.conceptId, applyAnswer(o.states.get(item.conceptId) ?? newConceptState(DEFAULT_BKT_PARAMS, at), DEFAULT_BKT_PARAMS, answer));
      o.recent.push(answer);
      o.lastSession.add(item.id);
      o.seenLessons.add(lessonOf.get(item.id)!.id);
      answered++;
    });
    minutes += s.minutes;
    if (o.recent.length > 400) o.recent = o.recent.slice(-200);
    const end = day + 0.5;
    lastDay = end;
    if (out.itemsToK === null && masteredShare(gradeK, end) === 1) {
      out.itemsToK = answered;
      out.minutesToK = Math.round(minutes);
    }
    if (session + 1 === BUDGET_SESSIONS) out.masteredAfterBudget = masteredShare(target, end);
    if (out.itemsToAll === null && masteredShare(target, end) === 1) {
      out.itemsToAll = answered;
      out.minutesToAll = Math.round(minutes);
    }
  }
  // Retention: the expected share of typical items answered right 30 days after the last session.
  out.retention30 = [...target].reduce((n, c) => n + learner.trueMastery(c, lastDay + 30), 0) / target.size;
  return out;
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
}
/** Median (p10–p90) over every learner; one who never got there counts as more than the cap (shown as >cap). */
const spread = (values: (number | null)[], cap: number) => {
  const all = values.map((v) => v ?? Infinity);
  const show = (x: number) => (Number.isFinite(x) ? String(x) : `>${cap}`);
  return `${show(quantile(all, 0.5))} (${show(quantile(all, 0.1))}–${show(quantile(all, 0.9))})`;
};
const percentSpread = (values: number[]) => {
  const p = (x: number) => `${Math.round(100 * x)}%`;
  return `${p(quantile(values, 0.5))} (${p(quantile(values, 0.1))}–${p(quantile(values, 0.9))})`;
};
const mean = (values: number[]) => values.reduce((n, v) => n + v, 0) / Math.max(1, values.length);
/** How (c)'s median compares with another policy's, in words. */
const fewer = (ours: number, theirs: number, unit: string) =>
  !Number.isFinite(theirs)
    ? Number.isFinite(ours)
      ? `reached in ${ours} ${unit}, where the other's median learner never gets there`
      : 'neither median learner gets there'
    : !Number.isFinite(ours)
      ? `not reached by the median learner (the other: ${theirs} ${unit})`
      : `${(100 * (1 - ours / theirs)).toFixed(0)}% fewer ${unit} (${ours} vs ${theirs})`;

const ITEM_CAP = (MAX_SESSIONS * SESSION_MINUTES) / ITEM_MINUTES;
const MINUTE_CAP = MAX_SESSIONS * SESSION_MINUTES;
console.log(`kidslearn bench:plan — ${new Date().toISOString()} — ${machine()}`);
console.log(
  `mathkids grades K–1: ${concepts.length} concepts (${gradeK.size} of grade K), ${lessons.length} lessons, ${items.length} items; ${LEARNERS} learners per simulator and policy (seeds 1000–${1000 + LEARNERS - 1}); one ${SESSION_MINUTES}-minute session a day, at most ${MAX_SESSIONS} days\n`,
);
console.log('Medians (10th–90th percentile) over learners; a learner who never got there counts as more than the cap.\n');
console.log('| simulator | policy | items to master grade K | minutes to master grade K | items to master K–1 | minutes to master K–1 | reached K–1 | K–1 mastered after 10 days | right 30 days after the last session |');
console.log('|---|---|---|---|---|---|---|---|---|');
/** Each simulator, and (for the trace only, which must not draw the learner's random numbers) the true P(correct) from which a concept counts as known. */
const simulators: [string, (seed: number) => SimulatedLearner, number][] = [
  ['BKT graph', (seed) => new BktGraphLearner(concepts, seed), 0.5],
  ['IRT structure', (seed) => new IrtStructureLearner(concepts, items, seed), 0.9],
];
const ONLY = process.env.BENCH_POLICIES?.split(',');
const policies = ([
  ['(a) fixed order', fixed],
  ['(b) heuristic', heuristic],
  ['(c) our plans', planned],
] as [string, Policy][]).filter(([name]) => !ONLY || ONLY.includes(name.slice(1, 2)));
const started = performance.now();
const summaries: string[] = [];
const traces: [string, Trace][] = [];
for (const [simName, make, knownFrom] of simulators) {
  truthFrom = knownFrom;
  const medians = new Map<string, { k: number; kMin: number; all: number; retention: number }>();
  for (const [name, policy] of policies) {
    const trace = TRACE && policy === planned ? newTrace() : undefined;
    const outcomes = Array.from({ length: LEARNERS }, (_, i) => run(make, policy, 1000 + i, trace));
    if (trace) traces.push([simName, trace]);
    const inf = (v: number | null) => v ?? Infinity;
    medians.set(name, {
      k: quantile(outcomes.map((o) => inf(o.itemsToK)), 0.5),
      kMin: quantile(outcomes.map((o) => inf(o.minutesToK)), 0.5),
      all: quantile(outcomes.map((o) => inf(o.itemsToAll)), 0.5),
      retention: mean(outcomes.map((o) => o.retention30)),
    });
    console.log(
      `| ${simName} | ${name} | ${spread(outcomes.map((o) => o.itemsToK), ITEM_CAP)} | ${spread(outcomes.map((o) => o.minutesToK), MINUTE_CAP)} | ${spread(outcomes.map((o) => o.itemsToAll), ITEM_CAP)} | ${spread(outcomes.map((o) => o.minutesToAll), MINUTE_CAP)} | ${outcomes.filter((o) => o.itemsToAll !== null).length}/${LEARNERS} | ${percentSpread(outcomes.map((o) => o.masteredAfterBudget))}, mean ${(100 * mean(outcomes.map((o) => o.masteredAfterBudget))).toFixed(0)}% | ${percentSpread(outcomes.map((o) => o.retention30))}, mean ${(100 * mean(outcomes.map((o) => o.retention30))).toFixed(0)}% |`,
    );
  }
  const a = medians.get('(a) fixed order');
  const b = medians.get('(b) heuristic');
  const c = medians.get('(c) our plans');
  if (a && b && c) summaries.push(
    `${simName}, (c) vs (a): grade K ${fewer(c.k, a.k, 'items')}, ${fewer(c.kMin, a.kMin, 'minutes')}; K–1 ${fewer(c.all, a.all, 'items')}; retention ${(100 * c.retention).toFixed(0)}% vs ${(100 * a.retention).toFixed(0)}%.\n` +
      `${simName}, (c) vs (b): grade K ${fewer(c.k, b.k, 'items')}; K–1 ${fewer(c.all, b.all, 'items')}; retention ${(100 * c.retention).toFixed(0)}% vs ${(100 * b.retention).toFixed(0)}%.`,
  );
}
console.log(`\n${summaries.join('\n')}`);
for (const [simName, t] of traces) {
  const share = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(0)}%`;
  console.log(`\nTrace, our plans on ${simName}: ${t.sessions} sessions, ${t.items} items`);
  console.log(`  items by activity: ${[...t.kinds].map(([k, n]) => `${k} ${share(n, t.items)} (right ${share(t.rightByKind.get(k) ?? 0, n)})`).join(', ')}`);
  console.log(`  items on concepts already truly mastered: ${share(t.onKnown, t.items)}; on concepts whose prerequisites are not truly mastered: ${share(t.onNotReady, t.items)}`);
  console.log(`  answered right ${share(t.correct, t.items)}, predicted ${share(t.predicted, t.items)}`);
  const says = t.saysKnownTrulyKnown + t.saysKnownTrulyNot;
  const truly = t.saysKnownTrulyKnown + t.saysNotTrulyKnown;
  console.log(`  analysis "mastered" that truly is: ${share(t.saysKnownTrulyKnown, says)}; truly mastered that the analysis calls mastered: ${share(t.saysKnownTrulyKnown, truly)}`);
  console.log(`  mean |P(known) − true P(correct)| over practised concepts: ${(t.gapSum / Math.max(1, t.gapN)).toFixed(2)}`);
}
console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
