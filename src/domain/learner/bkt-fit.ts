/**
 * Fitting BKT parameters by expectation–maximisation (Baum–Welch on the
 * two-state hidden Markov model), per skill over every student's sequence of
 * answers on that skill. Pure: the caller supplies the answers.
 *
 * The M-step adds Beta pseudo-counts (a weak prior) so that skills with few
 * answers stay sensible; skills with fewer than `minAnswers` answers use the
 * global parameters (fitted on all skills' sequences pooled). Per-skill fits
 * are shrunk towards the global fit by the same prior.
 */
import { clampBktParams, DEFAULT_BKT_PARAMS, type BktParams } from './bkt.ts';

export interface BktFitOptions {
  /** Stop after this many EM iterations. */
  maxIterations?: number;
  /** Stop when the log-likelihood gains less than this per answer. */
  tolerance?: number;
  /** Skills with fewer answers use the global parameters. */
  minAnswers?: number;
  /** Pseudo-answers of the Beta prior behind each probability. */
  priorStrength?: number;
}

export interface BktFit {
  params: BktParams;
  logLikelihood: number;
  iterations: number;
  answers: number;
}

/** Per-skill BKT parameters, JSON-serialisable. */
export interface BktModelParams {
  global: BktParams;
  skills: Record<string, BktParams>;
}

export interface AnswerRow {
  student: string;
  skill: string;
  correct: boolean;
}

const DEFAULTS = { maxIterations: 200, tolerance: 1e-7, minAnswers: 30, priorStrength: 2 } as const;

/** Groups answers into one 0/1 sequence per (student, skill), kept in row order. */
export function sequencesBySkill(rows: Iterable<AnswerRow>): Map<string, Uint8Array[]> {
  const building = new Map<string, Map<string, number[]>>();
  for (const r of rows) {
    let bySkill = building.get(r.skill);
    if (!bySkill) building.set(r.skill, (bySkill = new Map()));
    let seq = bySkill.get(r.student);
    if (!seq) bySkill.set(r.student, (seq = []));
    seq.push(r.correct ? 1 : 0);
  }
  const out = new Map<string, Uint8Array[]>();
  for (const [skill, bySkill] of building) out.set(skill, [...bySkill.values()].map((s) => Uint8Array.from(s)));
  return out;
}

/**
 * One E-step over all sequences: expected counts and the log-likelihood.
 * Scaled forward–backward; state 0 = unknown, 1 = known.
 */
function expectation(seqs: readonly Uint8Array[], p: BktParams, buf: { a0: Float64Array; a1: Float64Array; c: Float64Array }) {
  const acc = { init: 0, seqs: 0, learnNum: 0, learnDen: 0, forgetNum: 0, forgetDen: 0, guessNum: 0, guessDen: 0, slipNum: 0, slipDen: 0, ll: 0 };
  const { pInit, pLearn, pGuess, pSlip, pForget } = p;
  const { a0, a1, c } = buf;
  for (const seq of seqs) {
    const T = seq.length;
    if (T === 0) continue;
    // forward
    let b0 = seq[0] ? pGuess : 1 - pGuess;
    let b1 = seq[0] ? 1 - pSlip : pSlip;
    let x0 = (1 - pInit) * b0;
    let x1 = pInit * b1;
    let s = x0 + x1;
    a0[0] = x0 / s;
    a1[0] = x1 / s;
    c[0] = s;
    acc.ll += Math.log(s);
    for (let t = 1; t < T; t++) {
      b0 = seq[t] ? pGuess : 1 - pGuess;
      b1 = seq[t] ? 1 - pSlip : pSlip;
      const p0 = a0[t - 1]!;
      const p1 = a1[t - 1]!;
      x0 = (p0 * (1 - pLearn) + p1 * pForget) * b0;
      x1 = (p0 * pLearn + p1 * (1 - pForget)) * b1;
      s = x0 + x1;
      a0[t] = x0 / s;
      a1[t] = x1 / s;
      c[t] = s;
      acc.ll += Math.log(s);
    }
    // backward, accumulating as we go
    let be0 = 1;
    let be1 = 1;
    for (let t = T - 1; t >= 0; t--) {
      const g0 = a0[t]! * be0;
      const g1 = a1[t]! * be1;
      const gs = g0 + g1;
      const n0 = g0 / gs;
      const n1 = g1 / gs;
      acc.guessDen += n0;
      acc.slipDen += n1;
      if (seq[t]) acc.guessNum += n0;
      else acc.slipNum += n1;
      if (t === 0) {
        acc.init += n1;
        acc.seqs += 1;
        break;
      }
      // transition t-1 → t
      const e0 = seq[t] ? pGuess : 1 - pGuess;
      const e1 = seq[t] ? 1 - pSlip : pSlip;
      const ct = c[t]!;
      const p0 = a0[t - 1]!;
      const p1 = a1[t - 1]!;
      const xi01 = (p0 * pLearn * e1 * be1) / ct;
      const xi00 = (p0 * (1 - pLearn) * e0 * be0) / ct;
      const xi10 = (p1 * pForget * e0 * be0) / ct;
      const xi11 = (p1 * (1 - pForget) * e1 * be1) / ct;
      acc.learnNum += xi01;
      acc.learnDen += xi00 + xi01;
      acc.forgetNum += xi10;
      acc.forgetDen += xi10 + xi11;
      const nb0 = ((1 - pLearn) * e0 * be0 + pLearn * e1 * be1) / ct;
      const nb1 = (pForget * e0 * be0 + (1 - pForget) * e1 * be1) / ct;
      be0 = nb0;
      be1 = nb1;
    }
  }
  return acc;
}

/** Fits one parameter set to the given sequences by EM, from `start`, shrunk towards `prior`. */
export function fitBktSequences(seqs: readonly Uint8Array[], options: BktFitOptions & { start?: BktParams; prior?: BktParams } = {}): BktFit {
  const maxIterations = options.maxIterations ?? DEFAULTS.maxIterations;
  const tolerance = options.tolerance ?? DEFAULTS.tolerance;
  const k = options.priorStrength ?? DEFAULTS.priorStrength;
  const prior = options.prior ?? DEFAULT_BKT_PARAMS;
  let answers = 0;
  let maxLen = 0;
  for (const s of seqs) {
    answers += s.length;
    if (s.length > maxLen) maxLen = s.length;
  }
  const buf = { a0: new Float64Array(maxLen), a1: new Float64Array(maxLen), c: new Float64Array(maxLen) };
  let p = clampBktParams(options.start ?? prior);
  if (answers === 0) return { params: p, logLikelihood: 0, iterations: 0, answers };
  let prevLl = -Infinity;
  let ll = -Infinity;
  let it = 0;
  const beta = (num: number, den: number, mean: number) => (num + k * mean) / (den + k);
  while (it < maxIterations) {
    const acc = expectation(seqs, p, buf);
    ll = acc.ll;
    it++;
    const next = clampBktParams({
      pInit: beta(acc.init, acc.seqs, prior.pInit),
      pLearn: beta(acc.learnNum, acc.learnDen, prior.pLearn),
      pGuess: beta(acc.guessNum, acc.guessDen, prior.pGuess),
      pSlip: beta(acc.slipNum, acc.slipDen, prior.pSlip),
      pForget: beta(acc.forgetNum, acc.forgetDen, prior.pForget),
    });
    p = next;
    if (ll - prevLl < tolerance * answers) break;
    prevLl = ll;
  }
  return { params: p, logLikelihood: ll, iterations: it, answers };
}

/** Starting points for EM (it finds local optima); the best log-likelihood wins. */
const STARTS: readonly BktParams[] = [
  DEFAULT_BKT_PARAMS,
  { pInit: 0.5, pLearn: 0.2, pGuess: 0.3, pSlip: 0.2, pForget: 0.05 },
  { pInit: 0.1, pLearn: 0.05, pGuess: 0.1, pSlip: 0.05, pForget: 0.001 },
];

function bestOf(seqs: readonly Uint8Array[], starts: readonly BktParams[], options: BktFitOptions & { prior?: BktParams }): BktFit {
  let best: BktFit | undefined;
  for (const start of starts) {
    const fit = fitBktSequences(seqs, { ...options, start });
    if (!best || fit.logLikelihood > best.logLikelihood) best = fit;
  }
  return best!;
}

/**
 * Per-skill BKT parameters from answers in chronological order per student.
 * Skills with fewer than `minAnswers` answers get the global parameters.
 */
export function fitBkt(rows: Iterable<AnswerRow>, options: BktFitOptions = {}): BktModelParams {
  const minAnswers = options.minAnswers ?? DEFAULTS.minAnswers;
  const bySkill = sequencesBySkill(rows);
  const all: Uint8Array[] = [];
  for (const seqs of bySkill.values()) for (const s of seqs) all.push(s);
  const global = bestOf(all, STARTS, options).params;
  const skills: Record<string, BktParams> = {};
  for (const [skill, seqs] of bySkill) {
    let n = 0;
    for (const s of seqs) n += s.length;
    skills[skill] = n < minAnswers ? global : bestOf(seqs, [global, ...STARTS], { ...options, prior: global }).params;
  }
  return { global, skills };
}

/** The parameters for a skill, or the global ones for a skill never seen in training. */
export function bktParamsFor(model: BktModelParams, skill: string): BktParams {
  return Object.hasOwn(model.skills, skill) ? model.skills[skill]! : model.global;
}
