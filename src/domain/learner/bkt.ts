/**
 * Bayesian knowledge tracing for one skill: a two-state hidden Markov model
 * (unknown / known) with guess, slip, learn and forget. Pure, constant work.
 */

export interface BktParams {
  /** P(known) before the first answer. */
  pInit: number;
  /** P(unknown → known) after an answer. */
  pLearn: number;
  /** P(correct | unknown). Kept below 0.5 (identifiability). */
  pGuess: number;
  /** P(wrong | known). Kept below 0.5 (identifiability). */
  pSlip: number;
  /** P(known → unknown) after an answer. */
  pForget: number;
}

export interface BktState {
  /** P(known) given the answers seen so far. */
  pKnown: number;
}

export const BKT_LIMITS = {
  /** Probabilities are kept inside [EPS, 1 − EPS] so logs and ratios stay finite. */
  eps: 1e-4,
  maxGuess: 0.45,
  maxSlip: 0.45,
  maxForget: 0.5,
} as const;

export const DEFAULT_BKT_PARAMS: BktParams = Object.freeze({ pInit: 0.3, pLearn: 0.1, pGuess: 0.2, pSlip: 0.1, pForget: 0.01 });

function clamp(x: number, lo: number, hi: number): number {
  return Number.isNaN(x) ? lo : x < lo ? lo : x > hi ? hi : x;
}

/** Returns parameters inside the valid, identifiable region (guess, slip < 0.5). */
export function clampBktParams(p: BktParams): BktParams {
  const e = BKT_LIMITS.eps;
  return {
    pInit: clamp(p.pInit, e, 1 - e),
    pLearn: clamp(p.pLearn, e, 1 - e),
    pGuess: clamp(p.pGuess, e, BKT_LIMITS.maxGuess),
    pSlip: clamp(p.pSlip, e, BKT_LIMITS.maxSlip),
    pForget: clamp(p.pForget, 0, BKT_LIMITS.maxForget),
  };
}

export function initialBktState(params: BktParams): BktState {
  return { pKnown: params.pInit };
}

/** P(correct on the next answer). */
export function predict(state: BktState, params: BktParams): number {
  return state.pKnown * (1 - params.pSlip) + (1 - state.pKnown) * params.pGuess;
}

/** P(known) after observing one answer (Bayes), before the learn/forget transition. */
export function posterior(state: BktState, params: BktParams, correct: boolean): number {
  const k = state.pKnown;
  if (correct) {
    const num = k * (1 - params.pSlip);
    return num / (num + (1 - k) * params.pGuess);
  }
  const num = k * params.pSlip;
  return num / (num + (1 - k) * (1 - params.pGuess));
}

/** The state after one answer: posterior, then the learn/forget transition. */
export function update(state: BktState, params: BktParams, correct: boolean): BktState {
  const post = posterior(state, params, correct);
  return { pKnown: post * (1 - params.pForget) + (1 - post) * params.pLearn };
}
