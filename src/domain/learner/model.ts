/**
 * Our learner model: per-skill BKT, plus a logistic layer over evidence BKT
 * does not use — PFA-style counts of this student's successes and failures on
 * the skill, the student's running accuracy over all skills (ability
 * transfers between skills), and a per-item ease learned in training when
 * items are known. Weights are fitted by Newton's method on the training
 * answers; item eases are L2-regularised towards 0 so items with few answers
 * barely move. Constant work per answer. Pure.
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
  /** L2 penalty on item eases (in answers' worth of Fisher information). Default 10. */
  itemPenalty?: number;
  /** Alternating Newton rounds (weights, then item eases). Default 25. */
  rounds?: number;
}

const FEATURES = 5;
const P_CLIP = 1e-4;
const STUDENT_PRIOR_ANSWERS = 5;

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

/**
 * Fits the model on training answers (chronological per student): BKT per
 * skill by EM, then the logistic layer on the features each answer had just
 * before it was given.
 */
export function fitModel(trainRows: readonly LearnerRow[], options: FitModelOptions = {}): ModelParams {
  const itemPenalty = options.itemPenalty ?? 10;
  const rounds = options.rounds ?? 25;
  const bkt = fitBkt(trainRows, options.bkt);
  let correctTotal = 0;
  for (const r of trainRows) if (r.correct) correctTotal++;
  const n = trainRows.length;
  const globalMean = n ? Math.min(0.99, Math.max(0.01, correctTotal / n)) : 0.5;

  const initial: ModelParams = {
    version: 1,
    bkt,
    weights: { bias: 0, bkt: 1, successes: 0, failures: 0, student: 0 },
    globalMean,
    studentPriorAnswers: STUDENT_PRIOR_ANSWERS,
    items: {},
  };
  if (n === 0) return initial;

  // Replay the training answers to get each answer's features.
  const model = new LearnerModel(initial);
  const x = new Float64Array(n * FEATURES);
  const y = new Uint8Array(n);
  const itemIndex = new Int32Array(n).fill(-1);
  const itemIds = new Map<string, number>();
  const students = new Map<string, { student: StudentState; skills: Map<string, SkillState> }>();
  for (let i = 0; i < n; i++) {
    const r = trainRows[i]!;
    let s = students.get(r.student);
    if (!s) students.set(r.student, (s = { student: model.initialStudentState(), skills: new Map() }));
    const state = s.skills.get(r.skill) ?? model.initialSkillState(r.skill);
    features(x, i * FEATURES, bktPredict(state, bktParamsFor(bkt, r.skill)), state, s.student, globalMean, STUDENT_PRIOR_ANSWERS);
    y[i] = r.correct ? 1 : 0;
    if (r.item !== undefined && r.item !== '') {
      let id = itemIds.get(r.item);
      if (id === undefined) itemIds.set(r.item, (id = itemIds.size));
      itemIndex[i] = id;
    }
    const next = model.update(s.student, state, r.skill, r.correct);
    s.student = next.student;
    s.skills.set(r.skill, next.skill);
  }

  // Alternating Newton: the weights with item eases fixed, then each item's ease.
  const w = new Float64Array(weightsArray(initial.weights));
  const ease = new Float64Array(itemIds.size);
  const gradI = new Float64Array(itemIds.size);
  const hessI = new Float64Array(itemIds.size);
  const ridge = 1e-6 * n;
  for (let round = 0; round < rounds; round++) {
    const g = new Float64Array(FEATURES);
    const h = new Float64Array(FEATURES * FEATURES);
    for (let i = 0; i < n; i++) {
      const o = i * FEATURES;
      let z = itemIndex[i]! >= 0 ? ease[itemIndex[i]!]! : 0;
      for (let f = 0; f < FEATURES; f++) z += w[f]! * x[o + f]!;
      const p = sigmoid(z);
      const r = y[i]! - p;
      const v = p * (1 - p);
      for (let a = 0; a < FEATURES; a++) {
        const xa = x[o + a]!;
        g[a] = g[a]! + r * xa;
        for (let b = a; b < FEATURES; b++) h[a * FEATURES + b] = h[a * FEATURES + b]! + v * xa * x[o + b]!;
      }
    }
    for (let a = 0; a < FEATURES; a++) {
      h[a * FEATURES + a] = h[a * FEATURES + a]! + ridge;
      for (let b = 0; b < a; b++) h[a * FEATURES + b] = h[b * FEATURES + a]!;
    }
    const step = solve(h, g, FEATURES);
    let change = 0;
    for (let f = 0; f < FEATURES; f++) {
      w[f] = w[f]! + step[f]!;
      change = Math.max(change, Math.abs(step[f]!));
    }
    if (ease.length) {
      gradI.fill(0);
      hessI.fill(0);
      for (let i = 0; i < n; i++) {
        const it = itemIndex[i]!;
        if (it < 0) continue;
        const o = i * FEATURES;
        let z = ease[it]!;
        for (let f = 0; f < FEATURES; f++) z += w[f]! * x[o + f]!;
        const p = sigmoid(z);
        gradI[it] = gradI[it]! + y[i]! - p;
        hessI[it] = hessI[it]! + p * (1 - p);
      }
      for (let it = 0; it < ease.length; it++) {
        const d = (gradI[it]! - itemPenalty * ease[it]!) / (hessI[it]! + itemPenalty);
        ease[it] = ease[it]! + d;
        change = Math.max(change, Math.abs(d));
      }
    }
    if (change < 1e-6) break;
  }

  const items: Record<string, number> = {};
  for (const [item, id] of itemIds) if (ease[id] !== 0) items[item] = ease[id]!;
  return {
    ...initial,
    weights: { bias: w[0]!, bkt: w[1]!, successes: w[2]!, failures: w[3]!, student: w[4]! },
    items,
  };
}
