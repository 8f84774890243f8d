import { packItems } from '../src/domain/content-pack.ts';
import { analyse, type RecentAnswer } from '../src/domain/learner/analysis.ts';
import { DEFAULT_BKT_PARAMS, predict } from '../src/domain/learner/bkt.ts';
import { applyAnswer, newConceptState, type ConceptState } from '../src/domain/learner/concept-state.ts';
import { BktGraphLearner, IrtStructureLearner, type SimItem, type SimulatedLearner } from '../src/domain/learner/learner-simulators.ts';
import { planLesson, type CatalogueLesson } from '../src/domain/learner/planner.ts';
import { loadDemoPack } from '../src/seed/demo-packs.ts';
import { machine } from './support.ts';

/**
 * `npm run bench:plan`: how many items simulated children of the mathkids
 * curriculum need to master grades K and 1 under three teaching policies,
 * on two simulators that model learning differently (see
 * src/domain/learner/learner-simulators.ts and docs/engine.md):
 *
 * (a) the fixed curriculum: the app's lessons in teaching order, every item,
 *     then round again;
 * (b) a heuristic: the unmastered concept with the lowest P(known) whose
 *     prerequisites are mastered, five items at a time;
 * (c) our plans (analysis + planner), one 15-minute plan a day.
 *
 * Every policy sees only the answers (through the same BKT + FSRS states the
 * API keeps), never the simulator's truth. One session of 30 items (15
 * minutes at 30 s an item) a day, at most 60 days. The same seeds for every
 * policy. Mastered (truth): the simulator says the concept is mastered at
 * the time (known, for the BKT learner; a typical item right ≥ 90% of the
 * time, for the IRT learner). Retained: the expected share of typical items
 * of grades K–1 answered right 30 days after the last session.
 */

const LEARNERS = Number(process.env.BENCH_LEARNERS ?? 200);
const MAX_SESSIONS = Number(process.env.BENCH_SESSIONS ?? 60);
const ITEMS_PER_SESSION = 30;
const ITEM_MS = 30_000;
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

/** What a policy sees: the observed states, the answers so far, the last session's items. */
interface Observed {
  states: Map<string, ConceptState>;
  recent: RecentAnswer[];
  lastSession: Set<string>;
  now: Date;
  /** Per-policy memory (e.g. the fixed policy's place in the curriculum). */
  cursor: number;
}
type Policy = (o: Observed) => SimItem[];

const learnedObs = (o: Observed, id: string) => (o.states.get(id)?.pKnown ?? 0) >= 0.95;

const fixed: Policy = (o) => {
  const all = lessons.flatMap((l) => l.items);
  const out: SimItem[] = [];
  for (let k = 0; k < ITEMS_PER_SESSION; k++) out.push(byId.get(all[(o.cursor + k) % all.length]!.id)!);
  o.cursor += ITEMS_PER_SESSION;
  return out;
};

const heuristic: Policy = (o) => {
  const out: SimItem[] = [];
  const seen = new Map<string, number>();
  while (out.length < ITEMS_PER_SESSION) {
    const ready = concepts.filter((c) => !learnedObs(o, c.id) && c.prerequisites.every((p) => learnedObs(o, p)));
    const pool = ready.length ? ready : concepts;
    const next = [...pool].sort((a, b) => (o.states.get(a.id)?.pKnown ?? 0) - (o.states.get(b.id)?.pKnown ?? 0) || a.id.localeCompare(b.id))[0]!;
    const list = itemsOf.get(next.id)!;
    for (let k = 0; k < 5 && out.length < ITEMS_PER_SESSION; k++) {
      const n = seen.get(next.id) ?? o.cursor;
      seen.set(next.id, n + 1);
      out.push(list[n % list.length]!);
    }
    // The heuristic sees answers only after the session (as a whole session is planned up front).
    if (ready.length === 0) break;
  }
  o.cursor++;
  return out;
};

const planned: Policy = (o) => {
  const analysis = analyse(concepts, o.states, o.recent.slice(-200), o.now);
  const plan = planLesson({
    analysis,
    catalogue: lessons,
    pCorrect: (id) => predict({ pKnown: o.states.get(id)?.pKnown ?? DEFAULT_BKT_PARAMS.pInit }, DEFAULT_BKT_PARAMS),
    lastSessionItems: o.lastSession,
    request: { minutes: (ITEMS_PER_SESSION * ITEM_MS) / 60_000 },
    now: o.now,
  });
  const out = plan.activities.flatMap((a) => a.itemIds).map((id) => byId.get(id)!);
  // A plan shorter than the session (the curriculum exhausted) is topped up with the fixed order.
  return out.concat(fixed({ ...o }).slice(0, Math.max(0, ITEMS_PER_SESSION - out.length)));
};

interface Outcome {
  itemsToK: number | null;
  itemsToAll: number | null;
  masteredAfterBudget: number;
  retention30: number;
}

function run(makeLearner: (seed: number) => SimulatedLearner, policy: Policy, seed: number): Outcome {
  const learner = makeLearner(seed);
  const o: Observed = { states: new Map(), recent: [], lastSession: new Set(), now: START, cursor: 0 };
  let answered = 0;
  let itemsToK: number | null = null;
  let itemsToAll: number | null = null;
  let masteredAfterBudget = 0;
  let lastDay = 0;
  const masteredShare = (set: Set<string>, day: number) => [...set].filter((c) => learner.masteredNow(c, day)).length / set.size;
  for (let session = 0; session < MAX_SESSIONS; session++) {
    const day = session;
    o.now = new Date(START.getTime() + day * DAY);
    const session_items = policy(o);
    o.lastSession = new Set();
    session_items.forEach((item, k) => {
      const at = new Date(o.now.getTime() + k * ITEM_MS);
      const correct = learner.answer(item, day + (k * ITEM_MS) / DAY);
      const answer = { conceptId: item.conceptId, correct, durationMs: ITEM_MS, answeredAt: at };
      o.states.set(item.conceptId, applyAnswer(o.states.get(item.conceptId) ?? newConceptState(DEFAULT_BKT_PARAMS, at), DEFAULT_BKT_PARAMS, answer));
      o.recent.push(answer);
      o.lastSession.add(item.id);
      answered++;
    });
    if (o.recent.length > 400) o.recent = o.recent.slice(-200);
    const end = day + 0.5;
    lastDay = end;
    if (itemsToK === null && masteredShare(gradeK, end) === 1) itemsToK = answered;
    if (session + 1 === BUDGET_SESSIONS) masteredAfterBudget = masteredShare(target, end);
    if (masteredShare(target, end) === 1) {
      itemsToAll = answered;
      if (session + 1 < BUDGET_SESSIONS) masteredAfterBudget = 1;
      break;
    }
  }
  // Retention: the expected share of typical items answered right 30 days after the last session.
  return { itemsToK, itemsToAll, masteredAfterBudget, retention30: [...target].reduce((n, c) => n + learner.trueMastery(c, lastDay + 30), 0) / target.size };
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
}
/** Median (p10–p90) over every learner; one who never got there counts as more than the cap (shown as >cap). */
const spread = (values: (number | null)[]) => {
  const cap = MAX_SESSIONS * ITEMS_PER_SESSION;
  const all = values.map((v) => v ?? Infinity);
  const show = (x: number) => (Number.isFinite(x) ? String(x) : `>${cap}`);
  return `${show(quantile(all, 0.5))} (${show(quantile(all, 0.1))}–${show(quantile(all, 0.9))})`;
};
const mean = (values: number[]) => values.reduce((n, v) => n + v, 0) / Math.max(1, values.length);

console.log(`kidslearn bench:plan — ${new Date().toISOString()} — ${machine()}`);
console.log(`mathkids grades K–1: ${concepts.length} concepts, ${lessons.length} lessons, ${items.length} items; ${LEARNERS} learners per simulator and policy; ${ITEMS_PER_SESSION} items a day, at most ${MAX_SESSIONS} days\n`);
console.log('| simulator | policy | items to master grade K, median (p10–p90) | items to master K–1 | reached K–1 | mastered after 10 days | answered right 30 days later |');
console.log('|---|---|---|---|---|---|---|');
const simulators: [string, (seed: number) => SimulatedLearner][] = [
  ['BKT graph, exponential forgetting', (seed) => new BktGraphLearner(concepts, seed)],
  ['IRT knowledge structure, power-law forgetting', (seed) => new IrtStructureLearner(concepts, items, seed)],
];
const policies: [string, Policy][] = [
  ['(a) fixed curriculum order', fixed],
  ['(b) lowest P(known) ready concept', heuristic],
  ['(c) our plans', planned],
];
const started = performance.now();
for (const [simName, make] of simulators) {
  const medians = new Map<string, number>();
  for (const [name, policy] of policies) {
    const outcomes = Array.from({ length: LEARNERS }, (_, i) => run(make, policy, 1000 + i));
    const toK = outcomes.map((o) => o.itemsToK);
    const toAll = outcomes.map((o) => o.itemsToAll);
    medians.set(name, quantile(toAll.map((v) => v ?? Infinity), 0.5));
    console.log(
      `| ${simName} | ${name} | ${spread(toK)} | ${spread(toAll)} | ${toAll.filter((v) => v !== null).length}/${LEARNERS} | ${(100 * mean(outcomes.map((o) => o.masteredAfterBudget))).toFixed(0)}% | ${(100 * mean(outcomes.map((o) => o.retention30))).toFixed(0)}% |`,
    );
  }
  const a = medians.get('(a) fixed curriculum order')!;
  const c = medians.get('(c) our plans')!;
  console.log(`|  | (c) vs (a), median items to K–1 | ${Number.isFinite(a) && Number.isFinite(c) ? `${(100 * (1 - c / a)).toFixed(0)}% fewer` : 'n/a'} | | | | |`);
}
console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
