/** Prediction metrics over binary outcomes. Pure. */

export interface Metrics {
  auc: number;
  rmse: number;
  logloss: number;
  accuracy: number;
  n: number;
}

const LOG_CLIP = 1e-15;

/**
 * Area under the ROC curve from ranks (Mann–Whitney U), tied predictions
 * getting their average rank. NaN when only one class is present.
 */
export function auc(predictions: ArrayLike<number>, outcomes: ArrayLike<number | boolean>): number {
  const n = predictions.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => predictions[a]! - predictions[b]!);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    const v = predictions[order[i]!]!;
    while (j + 1 < n && predictions[order[j + 1]!]! === v) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (outcomes[order[k]!]) {
        positives++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function rmse(predictions: ArrayLike<number>, outcomes: ArrayLike<number | boolean>): number {
  let s = 0;
  for (let i = 0; i < predictions.length; i++) {
    const d = predictions[i]! - (outcomes[i] ? 1 : 0);
    s += d * d;
  }
  return predictions.length ? Math.sqrt(s / predictions.length) : Number.NaN;
}

/** Mean negative log-likelihood, predictions clipped to [1e-15, 1 − 1e-15]. */
export function logLoss(predictions: ArrayLike<number>, outcomes: ArrayLike<number | boolean>): number {
  let s = 0;
  for (let i = 0; i < predictions.length; i++) {
    const p = Math.min(1 - LOG_CLIP, Math.max(LOG_CLIP, predictions[i]!));
    s -= outcomes[i] ? Math.log(p) : Math.log(1 - p);
  }
  return predictions.length ? s / predictions.length : Number.NaN;
}

/** Share of answers where (prediction ≥ 0.5) equals the outcome. */
export function accuracy(predictions: ArrayLike<number>, outcomes: ArrayLike<number | boolean>): number {
  let hits = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i]! >= 0.5 === Boolean(outcomes[i])) hits++;
  return predictions.length ? hits / predictions.length : Number.NaN;
}

export function metrics(predictions: ArrayLike<number>, outcomes: ArrayLike<number | boolean>): Metrics {
  if (predictions.length !== outcomes.length) throw new RangeError('predictions and outcomes differ in length');
  return {
    auc: auc(predictions, outcomes),
    rmse: rmse(predictions, outcomes),
    logloss: logLoss(predictions, outcomes),
    accuracy: accuracy(predictions, outcomes),
    n: predictions.length,
  };
}
