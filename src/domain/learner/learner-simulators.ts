import { seededRandom } from '../seeded-random.ts';

/**
 * Simulated learners of a whole curriculum (a concept graph with items),
 * for measuring how fast a teaching policy gets children to mastery and how
 * much they keep. Two simulators that model learning differently, so a
 * planner is not judged only on the simulator its rules resemble:
 *
 * - {@link BktGraphLearner}: each concept is known or not (BKT). Practising
 *   an item may teach it, with a chance set per learner and concept, ten
 *   times smaller while a prerequisite is unknown. A known concept is
 *   forgotten with an exponential hazard over days (time constant τ, 4 days
 *   when first learned); each successful recall multiplies τ by
 *   1.05 + 2·(1 − e^(−gap/τ)), so spaced recalls strengthen memory and
 *   massed ones barely do. Answers: 1 − slip if known, guess if not.
 *
 * - {@link IrtStructureLearner}: each concept has a continuous mastery in
 *   [0, 1]. Practice raises it by a share of what is left, scaled by the
 *   mean mastery of its prerequisites squared (knowledge-space: you build on
 *   what you have). Answers follow an IRT model: P = σ(θ + 6·(m − 0.5) −
 *   (b − b̄)), with the learner's ability θ and the item's difficulty b.
 *   Mastery decays by a power law of the days since the concept was last
 *   practised, m · (1 + t / s)^−0.5, where the memory scale s = 2·d^1.5
 *   grows with the number d of distinct days it was practised on.
 *
 * Both are deterministic for a seed. Neither is the planner's own learner
 * model (BKT observed through answers, FSRS for memory).
 */

export interface SimConcept {
  id: string;
  prerequisites: readonly string[];
}

export interface SimItem {
  id: string;
  conceptId: string;
  difficulty: number;
}

/** What every simulated learner offers a policy and the metrics. */
export interface SimulatedLearner {
  /** Answers one item at `day` (fractional days since the start); practice changes the learner. */
  answer(item: SimItem, day: number): boolean;
  /** The true probability of answering a typical item of the concept right at `day` (for metrics, never shown to policies). */
  trueMastery(conceptId: string, day: number): number;
  /** Whether the learner has mastered the concept at `day` (for metrics, never shown to policies). */
  masteredNow(conceptId: string, day: number): boolean;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function normal(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

/** Known/unknown concepts, prerequisite-gated learning, exponential forgetting. */
export class BktGraphLearner implements SimulatedLearner {
  readonly #rnd: () => number;
  readonly #concepts: Map<string, SimConcept>;
  readonly #learnRate = new Map<string, number>();
  readonly #known = new Map<string, boolean>();
  /** Forgetting time constant (days), the day of the last practice and of the last forgetting draw, per known concept. */
  readonly #memory = new Map<string, { tau: number; lastPractice: number; lastCheck: number }>();
  readonly #slip = 0.08;
  readonly #guess = 0.15;

  constructor(concepts: readonly SimConcept[], seed: number) {
    this.#rnd = seededRandom(seed);
    this.#concepts = new Map(concepts.map((c) => [c.id, c]));
    const aptitude = Math.exp(0.4 * normal(this.#rnd));
    for (const c of concepts) this.#learnRate.set(c.id, Math.min(0.6, 0.15 * aptitude * Math.exp(0.3 * normal(this.#rnd))));
  }

  /** Draws whether a known concept was forgotten since the last draw (exponential hazard: memoryless). */
  #forget(conceptId: string, day: number): void {
    const m = this.#memory.get(conceptId);
    if (!this.#known.get(conceptId) || !m) return;
    const pForget = 1 - Math.exp(-Math.max(0, day - m.lastCheck) / m.tau);
    if (this.#rnd() < pForget) this.#known.set(conceptId, false);
    m.lastCheck = day;
  }

  #prerequisitesKnown(conceptId: string, day: number): boolean {
    return (this.#concepts.get(conceptId)?.prerequisites ?? []).every((p) => {
      this.#forget(p, day);
      return this.#known.get(p) === true;
    });
  }

  answer(item: SimItem, day: number): boolean {
    const id = item.conceptId;
    this.#forget(id, day);
    const known = this.#known.get(id) === true;
    const correct = this.#rnd() < (known ? 1 - this.#slip : this.#guess);
    const m = this.#memory.get(id);
    if (known && m) {
      // Spacing: a successful recall strengthens memory the more, the longer it had to wait
      // relative to how long memory lasts now; massed repetition adds little.
      const gap = Math.max(0, day - m.lastPractice);
      if (correct) m.tau = Math.min(400, m.tau * (1.05 + 2 * (1 - Math.exp(-gap / m.tau))));
      m.lastPractice = day;
    } else {
      const rate = (this.#learnRate.get(id) ?? 0.1) * (this.#prerequisitesKnown(id, day) ? 1 : 0.1);
      if (this.#rnd() < rate) {
        this.#known.set(id, true);
        this.#memory.set(id, { tau: 4, lastPractice: day, lastCheck: day });
      }
    }
    return correct;
  }

  /** Known at `day` (the forgetting since the last draw is drawn now). */
  masteredNow(conceptId: string, day: number): boolean {
    this.#forget(conceptId, day);
    return this.#known.get(conceptId) === true;
  }

  trueMastery(conceptId: string, day: number): number {
    const m = this.#memory.get(conceptId);
    if (!this.#known.get(conceptId) || !m) return this.#guess;
    const stillKnown = Math.exp(-Math.max(0, day - m.lastCheck) / m.tau);
    return stillKnown * (1 - this.#slip) + (1 - stillKnown) * this.#guess;
  }
}

/** Continuous mastery built on prerequisites, IRT answers, power-law forgetting. */
export class IrtStructureLearner implements SimulatedLearner {
  readonly #rnd: () => number;
  readonly #concepts: Map<string, SimConcept>;
  readonly #ability: number;
  readonly #rate: number;
  readonly #mastery = new Map<string, { m: number; lastDay: number; days: Set<number> }>();
  readonly #meanDifficulty: Map<string, number>;

  constructor(concepts: readonly SimConcept[], items: readonly SimItem[], seed: number) {
    this.#rnd = seededRandom(seed);
    this.#concepts = new Map(concepts.map((c) => [c.id, c]));
    this.#ability = 0.7 * normal(this.#rnd);
    this.#rate = 0.12 * Math.exp(0.35 * normal(this.#rnd));
    const sums = new Map<string, { n: number; total: number }>();
    for (const i of items) {
      const s = sums.get(i.conceptId) ?? { n: 0, total: 0 };
      s.n++;
      s.total += i.difficulty;
      sums.set(i.conceptId, s);
    }
    this.#meanDifficulty = new Map([...sums].map(([c, s]) => [c, s.total / s.n]));
  }

  #current(conceptId: string, day: number): number {
    const s = this.#mastery.get(conceptId);
    if (!s) return 0;
    // The memory scale grows faster than linearly with the days it was practised on (spacing).
    const scale = 2 * s.days.size ** 1.5;
    return s.m * (1 + Math.max(0, day - s.lastDay) / scale) ** -0.5;
  }

  answer(item: SimItem, day: number): boolean {
    const id = item.conceptId;
    const m = this.#current(id, day);
    const p = sigmoid(this.#ability + 6 * (m - 0.5) - (item.difficulty - (this.#meanDifficulty.get(id) ?? 0)));
    const correct = this.#rnd() < p;
    const prerequisites = this.#concepts.get(id)?.prerequisites ?? [];
    const base = prerequisites.length ? prerequisites.reduce((n, pre) => n + this.#current(pre, day), 0) / prerequisites.length : 1;
    // Errors teach too (feedback), a little less than successes.
    const gain = this.#rate * base * base * (correct ? 1 : 0.6);
    const state = this.#mastery.get(id) ?? { m: 0, lastDay: day, days: new Set<number>() };
    state.m = Math.min(1, m + gain * (1 - m));
    state.lastDay = day;
    state.days.add(Math.floor(day));
    this.#mastery.set(id, state);
    return correct;
  }

  trueMastery(conceptId: string, day: number): number {
    return sigmoid(this.#ability + 6 * (this.#current(conceptId, day) - 0.5));
  }

  /** A typical item answered right at least 90% of the time. */
  masteredNow(conceptId: string, day: number): boolean {
    return this.trueMastery(conceptId, day) >= 0.9;
  }
}
