/**
 * Our learner model: per-skill BKT, plus a logistic layer over evidence BKT
 * does not use — PFA-style counts of this student's successes and failures on
 * the skill, the student's running accuracy over all skills (ability
 * transfers between skills), and a per-item ease learned in training when
 * items are known. Weights are fitted by Newton's method on the training
 * answers, L2-regularised towards plain BKT; item eases are L2-regularised
 * towards 0 (the penalty estimated from the data) so items with few answers
 * barely move.
 *
 * The layer's BKT input is cross-fitted: students are split into folds and
 * each answer's BKT prediction comes from parameters fitted without its
 * student's fold, as it will be for a new student. (BKT fitted on the same
 * answers is overconfident on them, and the layer would learn to trust it
 * more than it deserves.) Item eases are cross-fitted the same way, which
 * sets how far the served eases are scaled. The BKT parameters and eases
 * served are fitted on all answers. Constant work per answer. Pure.
 */
import { initialBktState, update as bktUpdate, predict as bktPredict, type BktParams } from './bkt.ts';
import { bktParamsFor, fitBkt, type BktFitOptions, type BktModelParams } from './bkt-fit.ts';

export interface LearnerRow {
  student: string;
  skill: string;
  correct: boolean;
  item?: string | undefined;
}

/** Weights of the logistic layer, one per feature. */
export interface ModelWeights {
  bias: number;
  /** logit of the BKT P(correct). */
  bkt: number;
  /** ln(1 + successes on this skill). */
  successes: number;
  /** ln(1 + failures on this skill). */
  failures: number;
  /** logit of the student's smoothed accuracy over all skills, minus logit of the global mean. */
  student: number;
}

/** Everything the model needs to predict, JSON-serialisable. */
export interface ModelParams {
  version: 1;
  bkt: BktModelParams;
  weights: ModelWeights;
  /** Mean correctness in training: the prior of a student's accuracy. */
  globalMean: number;
  /** Pseudo-answers behind a student's smoothed accuracy. */
  studentPriorAnswers: number;
  /** Per-item ease on the logit scale (positive = easier than its skill predicts). */
  items: Record<string, number>;
}

/** What we know of one student on one skill. */
export interface SkillState {
  pKnown: number;
  successes: number;
  failures: number;
}

/** What we know of one student over all skills. */
export interface StudentState {
  answers: number;
  correct: number;
}

export interface FitModelOptions {
  bkt?: BktFitOptions;
  /**
   * L2 penalty on item eases (in answers' worth of Fisher information).
   * Default: estimated from the data (empirical Bayes, eases ~ Normal(0, 1/penalty)).
   */
  itemPenalty?: number;
  /**
   * L2 penalty on the weights, towards plain BKT (weight 1 on the BKT logit,
   * 0 elsewhere), in answers' worth of Fisher information. Default 10.
   */
  weightPenalty?: number;
  /**
   * Student folds for cross-fitting the layer's BKT input and item eases (at
   * most one per student). Default 5; 1 fits the layer in-sample.
   */
  crossFitFolds?: number;
  /** Alternating Newton rounds (weights, then item eases). Default 25. */
  rounds?: number;
}

const FEATURES = 5;
const P_CLIP = 1e-4;
const STUDENT_PRIOR_ANSWERS = 5;
/** Item-ease penalty: where its estimate starts, and its bounds (prior sd of an ease 2 … 0.01 logits). */
const ITEM_PENALTY_START = 10;
const ITEM_PENALTY_MIN = 0.25;
const ITEM_PENALTY_MAX = 1e4;
/** The weights with no evidence: the BKT prediction as it is. */
const PLAIN_BKT: ModelWeights = Object.freeze({ bias: 0, bkt: 1, successes: 0, failures: 0, student: 0 });

const logit = (p: number) => {
  const q = p < P_CLIP ? P_CLIP : p > 1 - P_CLIP ? 1 - P_CLIP : p;
  return Math.log(q / (1 - q));
};
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Fills `out` with the features of the next answer. */
function features(out: Float64Array, at: number, pBkt: number, skill: SkillState, student: StudentState, globalMean: number, priorAnswers: number) {
  out[at] = 1;
  out[at + 1] = logit(pBkt);
  out[at + 2] = Math.log1p(skill.successes);
  out[at + 3] = Math.log1p(skill.failures);
  out[at + 4] = logit((student.correct + priorAnswers * globalMean) / (student.answers + priorAnswers)) - logit(globalMean);
}

function weightsArray(w: ModelWeights): number[] {
  return [w.bias, w.bkt, w.successes, w.failures, w.student];
}

export class LearnerModel {
  readonly params: ModelParams;
  readonly #bkt = new Map<string, BktParams>();
  readonly #w: number[];
  readonly #x = new Float64Array(FEATURES);

  constructor(params: ModelParams) {
    this.params = params;
    for (const [skill, p] of Object.entries(params.bkt.skills)) this.#bkt.set(skill, p);
    this.#w = weightsArray(params.weights);
  }

  #bktParams(skill: string): BktParams {
    return this.#bkt.get(skill) ?? this.params.bkt.global;
  }

  initialSkillState(skill: string): SkillState {
    return { pKnown: initialBktState(this.#bktParams(skill)).pKnown, successes: 0, failures: 0 };
  }

  initialStudentState(): StudentState {
    return { answers: 0, correct: 0 };
  }

  /** P(correct) on the next answer of `skill` (optionally on a given item). */
  predict(student: StudentState, state: SkillState, skill: string, item?: string): number {
    const p = this.#bktParams(skill);
    const x = this.#x;
    features(x, 0, bktPredict(state, p), state, student, this.params.globalMean, this.params.studentPriorAnswers);
    let z = 0;
    for (let f = 0; f < FEATURES; f++) z += this.#w[f]! * x[f]!;
    if (item !== undefined && Object.hasOwn(this.params.items, item)) z += this.params.items[item]!;
    return sigmoid(z);
  }

  /** The states after one answer. */
  update(student: StudentState, state: SkillState, skill: string, correct: boolean): { student: StudentState; skill: SkillState } {
    const next = bktUpdate(state, this.#bktParams(skill), correct);
    return {
      student: { answers: student.answers + 1, correct: student.correct + (correct ? 1 : 0) },
      skill: {
        pKnown: next.pKnown,
        successes: state.successes + (correct ? 1 : 0),
        failures: state.failures + (correct ? 0 : 1),
      },
    };
  }
}

/** Solves A x = b in place (A is n×n row-major); Gaussian elimination with partial pivoting. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]!) > Math.abs(a[pivot * n + col]!)) pivot = r;
    if (pivot !== col) {
      for (let c = 0; c < n; c++) {
        const t = a[col * n + c]!;
        a[col * n + c] = a[pivot * n + c]!;
        a[pivot * n + c] = t;
      }
      const t = b[col]!;
      b[col] = b[pivot]!;
      b[pivot] = t;
    }
    const d = a[col * n + col]!;
    if (Math.abs(d) < 1e-12) continue;
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col]! / d;
      if (f === 0) continue;
      for (let c = col; c < n; c++) a[r * n + c] = a[r * n + c]! - f * a[col * n + c]!;
      b[r] = b[r]! - f * b[col]!;
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < n; c++) s -= a[r * n + c]! * x[c]!;
    const d = a[r * n + r]!;
    x[r] = Math.abs(d) < 1e-12 ? 0 : s / d;
  }
  return x;
}

/** FNV-1a hash of a string (unsigned 32-bit). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Deterministic, balanced folds of students: ordered by a hash of their id
 * (then by id), dealt out in turn. Independent of row order; never more folds
 * than students.
 */
export function studentFolds(students: Iterable<string>, folds: number): Map<string, number> {
  const ids = [...new Set(students)].map((id) => ({ id, h: hash(id) }));
  ids.sort((a, b) => a.h - b.h || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const k = Math.max(1, Math.min(Math.floor(folds) || 1, ids.length));
  return new Map(ids.map((s, i) => [s.id, i % k]));
}

/**
 * Fits the model on training answers (chronological per student): BKT per
 * skill by EM on all answers (the parameters served), then the logistic
 * layer on the features each answer had just before it was given, its BKT
 * input cross-fitted (see the module comment). In a fold's BKT fit, a skill
 * the other folds lack (or have too few answers of) gets that fit's global
 * parameters, as a skill unseen in training does when serving.
 */
export function fitModel(trainRows: readonly LearnerRow[], options: FitModelOptions = {}): ModelParams {
  const weightPenalty = options.weightPenalty ?? 10;
  const rounds = options.rounds ?? 25;
  const bkt = fitBkt(trainRows, options.bkt);
  let correctTotal = 0;
  for (const r of trainRows) if (r.correct) correctTotal++;
  const n = trainRows.length;
  const globalMean = n ? Math.min(0.99, Math.max(0.01, correctTotal / n)) : 0.5;

  const initial: ModelParams = {
    version: 1,
    bkt,
    weights: { ...PLAIN_BKT },
    globalMean,
    studentPriorAnswers: STUDENT_PRIOR_ANSWERS,
    items: {},
  };
  if (n === 0) return initial;

  // The layer's BKT input: per fold, BKT fitted on the other folds' students.
  const foldOf = studentFolds(trainRows.map((r) => r.student), options.crossFitFolds ?? 5);
  let folds = 0;
  for (const f of foldOf.values()) folds = Math.max(folds, f + 1);
  const inputBkt: BktModelParams[] = [];
  if (folds < 2) inputBkt.push(bkt);
  else for (let k = 0; k < folds; k++) inputBkt.push(fitBkt(trainRows.filter((r) => foldOf.get(r.student) !== k), options.bkt));

  // Replay the training answers to get each answer's features.
  const x = new Float64Array(n * FEATURES);
  const y = new Uint8Array(n);
  const itemIndex = new Int32Array(n).fill(-1);
  const itemIds = new Map<string, number>();
  const students = new Map<string, { student: StudentState; skills: Map<string, SkillState>; bkt: BktModelParams }>();
  for (let i = 0; i < n; i++) {
    const r = trainRows[i]!;
    let s = students.get(r.student);
    if (!s) students.set(r.student, (s = { student: { answers: 0, correct: 0 }, skills: new Map(), bkt: inputBkt[foldOf.get(r.student)!]! }));
    const p = bktParamsFor(s.bkt, r.skill);
    const state = s.skills.get(r.skill) ?? { pKnown: initialBktState(p).pKnown, successes: 0, failures: 0 };
    features(x, i * FEATURES, bktPredict(state, p), state, s.student, globalMean, STUDENT_PRIOR_ANSWERS);
    y[i] = r.correct ? 1 : 0;
    if (r.item !== undefined && r.item !== '') {
      let id = itemIds.get(r.item);
      if (id === undefined) itemIds.set(r.item, (id = itemIds.size));
      itemIndex[i] = id;
    }
    s.student = { answers: s.student.answers + 1, correct: s.student.correct + y[i]! };
    s.skills.set(r.skill, {
      pKnown: bktUpdate(state, p, r.correct).pKnown,
      successes: state.successes + y[i]!,
      failures: state.failures + 1 - y[i]!,
    });
  }

  // Stage 1, alternating Newton: the weights with item eases fixed, then each
  // item's ease (its penalty re-estimated each round unless given).
  const prior = weightsArray(PLAIN_BKT);
  const w = Float64Array.from(prior);
  const items = itemIds.size;
  const ease = new Float64Array(items);
  const offset = new Float64Array(n);
  const all = () => true;
  let itemPenalty = options.itemPenalty ?? ITEM_PENALTY_START;
  const hessI = new Float64Array(items);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < n; i++) offset[i] = itemIndex[i]! >= 0 ? ease[itemIndex[i]!]! : 0;
    let change = newtonStep(x, FEATURES, y, offset, w, prior, weightPenalty);
    if (items) {
      change = Math.max(change, easeStep(x, FEATURES, y, itemIndex, w, ease, hessI, itemPenalty, all));
      if (options.itemPenalty === undefined) {
        const next = itemPenaltyEstimate(ease, hessI, itemPenalty);
        change = Math.max(change, Math.abs(next - itemPenalty) / itemPenalty);
        itemPenalty = next;
      }
    }
    if (change < 1e-6) break;
  }

  // Stage 2, with items: the eases cross-fitted like the BKT input. Each fold's
  // answers get eases fitted on the other folds (weights held), and the
  // weights are refitted with that out-of-fold ease as a sixth feature; its
  // weight scales the eases served, which are fitted on all answers.
  let itemScale = 1;
  if (items && folds >= 2) {
    const foldRow = new Int32Array(n);
    for (let i = 0; i < n; i++) foldRow[i] = foldOf.get(trainRows[i]!.student)!;
    const F = FEATURES + 1;
    const x6 = new Float64Array(n * F);
    for (let i = 0; i < n; i++) for (let f = 0; f < FEATURES; f++) x6[i * F + f] = x[i * FEATURES + f]!;
    const foldEase = new Float64Array(items);
    for (let k = 0; k < folds; k++) {
      foldEase.fill(0);
      const others = (i: number) => foldRow[i] !== k;
      for (let round = 0; round < rounds; round++) if (easeStep(x, FEATURES, y, itemIndex, w, foldEase, hessI, itemPenalty, others) < 1e-6) break;
      for (let i = 0; i < n; i++) if (foldRow[i] === k && itemIndex[i]! >= 0) x6[i * F + FEATURES] = foldEase[itemIndex[i]!]!;
    }
    const w6 = Float64Array.from([...w, 1]);
    const prior6 = Float64Array.from([...prior, 1]);
    offset.fill(0);
    for (let round = 0; round < rounds; round++) if (newtonStep(x6, F, y, offset, w6, prior6, weightPenalty) < 1e-6) break;
    for (let f = 0; f < FEATURES; f++) w[f] = w6[f]!;
    itemScale = w6[FEATURES]!;
  }

  const itemEase: Record<string, number> = {};
  for (const [item, id] of itemIds) if (ease[id] !== 0) itemEase[item] = itemScale * ease[id]!;
  return {
    ...initial,
    weights: { bias: w[0]!, bkt: w[1]!, successes: w[2]!, failures: w[3]!, student: w[4]! },
    items: itemEase,
  };
}

/**
 * One Newton step of L2-penalised logistic regression on `f` features per row
 * (row-major `x`), with a fixed logit `offset` per row, penalty `penalty`
 * towards `prior`. Updates `w`; returns the largest change.
 */
function newtonStep(x: Float64Array, f: number, y: Uint8Array, offset: Float64Array, w: Float64Array, prior: ArrayLike<number>, penalty: number): number {
  const n = y.length;
  const g = new Float64Array(f);
  const h = new Float64Array(f * f);
  for (let i = 0; i < n; i++) {
    const o = i * f;
    let z = offset[i]!;
    for (let a = 0; a < f; a++) z += w[a]! * x[o + a]!;
    const p = sigmoid(z);
    const r = y[i]! - p;
    const v = p * (1 - p);
    for (let a = 0; a < f; a++) {
      const xa = x[o + a]!;
      g[a] = g[a]! + r * xa;
      for (let b = a; b < f; b++) h[a * f + b] = h[a * f + b]! + v * xa * x[o + b]!;
    }
  }
  const ridge = penalty + 1e-6 * n;
  for (let a = 0; a < f; a++) {
    g[a] = g[a]! - penalty * (w[a]! - prior[a]!);
    h[a * f + a] = h[a * f + a]! + ridge;
    for (let b = 0; b < a; b++) h[a * f + b] = h[b * f + a]!;
  }
  const step = solve(h, g, f);
  let change = 0;
  for (let a = 0; a < f; a++) {
    w[a] = w[a]! + step[a]!;
    change = Math.max(change, Math.abs(step[a]!));
  }
  return change;
}

/**
 * One Newton step on every item's ease (L2 penalty towards 0), the weights
 * held, over the rows `use` accepts. Leaves each item's Fisher information in
 * `hess`; returns the largest change.
 */
function easeStep(
  x: Float64Array,
  f: number,
  y: Uint8Array,
  itemIndex: Int32Array,
  w: ArrayLike<number>,
  ease: Float64Array,
  hess: Float64Array,
  penalty: number,
  use: (row: number) => boolean,
): number {
  const grad = new Float64Array(ease.length);
  hess.fill(0);
  for (let i = 0; i < y.length; i++) {
    const it = itemIndex[i]!;
    if (it < 0 || !use(i)) continue;
    const o = i * f;
    let z = ease[it]!;
    for (let a = 0; a < f; a++) z += w[a]! * x[o + a]!;
    const p = sigmoid(z);
    grad[it] = grad[it]! + y[i]! - p;
    hess[it] = hess[it]! + p * (1 - p);
  }
  let change = 0;
  for (let it = 0; it < ease.length; it++) {
    const d = (grad[it]! - penalty * ease[it]!) / (hess[it]! + penalty);
    ease[it] = ease[it]! + d;
    change = Math.max(change, Math.abs(d));
  }
  return change;
}

/**
 * Empirical Bayes for the item-ease penalty: eases ~ Normal(0, 1/penalty),
 * one EM update of the variance under the Laplace approximation, bounded.
 */
function itemPenaltyEstimate(ease: Float64Array, hess: Float64Array, penalty: number): number {
  let v = 0;
  for (let it = 0; it < ease.length; it++) v += ease[it]! * ease[it]! + 1 / (hess[it]! + penalty);
  const next = ease.length / v;
  return next < ITEM_PENALTY_MIN ? ITEM_PENALTY_MIN : next > ITEM_PENALTY_MAX ? ITEM_PENALTY_MAX : next;
}
