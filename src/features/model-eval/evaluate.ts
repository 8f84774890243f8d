/**
 * `model eval`: fit on the training answers, then replay the test answers —
 * every test student starting fresh, every answer predicted before the model
 * sees it — for our model and three baselines. Pure.
 */
import { initialBktState, predict as bktPredict, update as bktUpdate, type BktState } from '../../domain/learner/bkt.ts';
import { bktParamsFor } from '../../domain/learner/bkt-fit.ts';
import { metrics, type Metrics } from '../../domain/learner/metrics.ts';
import { fitModel, LearnerModel, type FitModelOptions, type LearnerRow, type ModelParams, type SkillState, type StudentState } from '../../domain/learner/model.ts';

export const BASELINES = ['global_mean', 'skill_mean', 'bkt'] as const;
export type BaselineName = (typeof BASELINES)[number];

/**
 * The skill_mean baseline is each skill's training mean shrunk towards the
 * global mean by this many pseudo-answers, so a rare skill never predicts
 * exactly 0 or 1.
 */
export const SKILL_MEAN_PRIOR_ANSWERS = 2;

export interface EvaluationResult {
  model: Metrics;
  baselines: Record<BaselineName, Metrics>;
}

export interface Evaluation {
  result: EvaluationResult;
  params: ModelParams;
}

/** Fits on `train` and scores every answer of `test`; see the module comment. */
export function evaluateDetailed(train: readonly LearnerRow[], test: readonly LearnerRow[], options: FitModelOptions = {}): Evaluation {
  if (!train.length) throw new Error('the training set has no answers');
  if (!test.length) throw new Error('the test set has no answers');
  const params = fitModel(train, options);
  const model = new LearnerModel(params);

  const globalMean = params.globalMean;
  const skillCounts = new Map<string, { n: number; correct: number }>();
  for (const r of train) {
    const c = skillCounts.get(r.skill) ?? { n: 0, correct: 0 };
    c.n++;
    if (r.correct) c.correct++;
    skillCounts.set(r.skill, c);
  }
  const skillMean = new Map<string, number>();
  for (const [skill, c] of skillCounts) skillMean.set(skill, (c.correct + SKILL_MEAN_PRIOR_ANSWERS * globalMean) / (c.n + SKILL_MEAN_PRIOR_ANSWERS));

  const n = test.length;
  const outcomes = new Uint8Array(n);
  const ours = new Float64Array(n);
  const bkt = new Float64Array(n);
  const perSkill = new Float64Array(n);
  const students = new Map<string, { student: StudentState; skills: Map<string, SkillState>; bkt: Map<string, BktState> }>();
  for (let i = 0; i < n; i++) {
    const r = test[i]!;
    let s = students.get(r.student);
    if (!s) students.set(r.student, (s = { student: model.initialStudentState(), skills: new Map(), bkt: new Map() }));
    const bp = bktParamsFor(params.bkt, r.skill);
    const bs = s.bkt.get(r.skill) ?? initialBktState(bp);
    const ms = s.skills.get(r.skill) ?? model.initialSkillState(r.skill);

    outcomes[i] = r.correct ? 1 : 0;
    ours[i] = model.predict(s.student, ms, r.skill, r.item);
    bkt[i] = bktPredict(bs, bp);
    perSkill[i] = skillMean.get(r.skill) ?? globalMean;

    s.bkt.set(r.skill, bktUpdate(bs, bp, r.correct));
    const next = model.update(s.student, ms, r.skill, r.correct);
    s.student = next.student;
    s.skills.set(r.skill, next.skill);
  }
  const constant = new Float64Array(n).fill(globalMean);
  return {
    params,
    result: {
      model: metrics(ours, outcomes),
      baselines: {
        global_mean: metrics(constant, outcomes),
        skill_mean: metrics(perSkill, outcomes),
        bkt: metrics(bkt, outcomes),
      },
    },
  };
}

export function evaluate(train: readonly LearnerRow[], test: readonly LearnerRow[], options: FitModelOptions = {}): EvaluationResult {
  return evaluateDetailed(train, test, options).result;
}

/** A small readable table of the result. */
export function formatEvaluation(result: EvaluationResult): string {
  const rows: [string, Metrics][] = [['model', result.model], ...BASELINES.map((b): [string, Metrics] => [b, result.baselines[b]])];
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
  const header = ['', 'AUC', 'RMSE', 'logloss', 'accuracy', 'n'];
  const body = rows.map(([name, m]) => [name, fmt(m.auc), fmt(m.rmse), fmt(m.logloss), fmt(m.accuracy), String(m.n)]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), ...body.map(line)].join('\n');
}
