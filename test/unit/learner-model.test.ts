import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitModel, studentFolds, type LearnerRow } from '../../src/domain/learner/model.ts';
import { randomSkillParams, simulate } from '../../src/domain/learner/simulate.ts';
import { evaluateDetailed } from '../../src/features/model-eval/evaluate.ts';

/** The model as it was fitted before cross-fitting: BKT input and item eases in-sample, item penalty fixed at 10. */
const IN_SAMPLE = { crossFitFolds: 1, itemPenalty: 10 };

describe('learner model: cross-fitting', () => {
  it('the BKT input is cross-fitted: in-sample its weight is inflated, cross-fitted it is not, and new students are predicted better', () => {
    // Many skills with few answers each: BKT fitted on the same answers is overconfident on them.
    const skills = randomSkillParams(60, 3);
    const noItems = (rows: readonly LearnerRow[]) => rows.map(({ student, skill, correct }) => ({ student, skill, correct }));
    const train = noItems(simulate({ skills, students: 30, attempts: 6, seed: 1, studentPrefix: 'tr' }));
    const test = noItems(simulate({ skills, students: 300, attempts: 6, seed: 2, studentPrefix: 'te' }));
    const inSample = evaluateDetailed(train, test, IN_SAMPLE);
    const crossFitted = evaluateDetailed(train, test);
    // The data are pure BKT, so a calibrated layer would weigh BKT about 1.
    assert.ok(inSample.params.weights.bkt > 1, `in-sample BKT weight ${inSample.params.weights.bkt}`);
    assert.ok(crossFitted.params.weights.bkt < inSample.params.weights.bkt - 0.2, `cross-fitted ${crossFitted.params.weights.bkt} vs in-sample ${inSample.params.weights.bkt}`);
    assert.ok(crossFitted.result.model.logloss < inSample.result.model.logloss - 0.003, `logloss ${crossFitted.result.model.logloss} vs ${inSample.result.model.logloss}`);
    assert.ok(crossFitted.result.model.auc > inSample.result.model.auc);
    // The BKT parameters served are fitted on all the answers either way.
    assert.deepEqual(crossFitted.params.bkt, inSample.params.bkt);
    assert.deepEqual(fitModel(train), crossFitted.params, 'deterministic');
  });

  it('item eases are cross-fitted too: noise eases shrink to about 0, sparse real ones help new students more', () => {
    const skills = randomSkillParams(8, 11);
    const noEffect = simulate({ skills, students: 300, attempts: 20, itemsPerSkill: 12, seed: 1, studentPrefix: 'tr' });
    const rms = (items: Record<string, number>) => {
      const v = Object.values(items);
      return Math.sqrt(v.reduce((s, e) => s + e * e, 0) / v.length);
    };
    const noiseBefore = rms(fitModel(noEffect, IN_SAMPLE).items);
    const noiseAfter = rms(fitModel(noEffect).items);
    assert.ok(noiseBefore > 0.05 && noiseAfter < 0.03, `rms ease without an item effect: ${noiseBefore} in-sample, ${noiseAfter} cross-fitted`);

    const common = { skills, attempts: 20, itemsPerSkill: 100, itemEaseSd: 1, itemSeed: 5 };
    const train = simulate({ ...common, students: 40, seed: 1, studentPrefix: 'tr' });
    const test = simulate({ ...common, students: 300, seed: 2, studentPrefix: 'te' });
    const before = evaluateDetailed(train, test, IN_SAMPLE).result.model;
    const after = evaluateDetailed(train, test).result.model;
    assert.ok(after.logloss < before.logloss - 0.005, `logloss ${after.logloss} vs ${before.logloss}`);
    assert.ok(after.auc > before.auc + 0.005, `AUC ${after.auc} vs ${before.auc}`);
  });

  it('student folds are deterministic, independent of order, balanced, and never more than the students', () => {
    const ids = Array.from({ length: 23 }, (_, i) => `child-${i}`);
    const folds = studentFolds(ids, 5);
    assert.deepEqual(studentFolds([...ids].reverse().concat(ids), 5), folds);
    const sizes = [0, 0, 0, 0, 0];
    for (const f of folds.values()) sizes[f]!++;
    assert.deepEqual(sizes.sort((a, b) => a - b), [4, 4, 5, 5, 5]);
    assert.deepEqual(new Set(studentFolds(['a', 'b', 'c'], 5).values()), new Set([0, 1, 2]));
    assert.deepEqual([...studentFolds(['a'], 5).values()], [0]);
  });

  it('fits small data: one student (in-sample), and skills that only some folds have', () => {
    const one = [true, false, true, true].map((correct) => ({ student: 'a', skill: 's', correct }));
    const fitted = fitModel(one);
    assert.deepEqual(fitModel(one, { crossFitFolds: 1 }), fitted);
    // Two students, each with a skill of their own: each fold's BKT lacks it and uses its global parameters.
    const two = [
      ...Array.from({ length: 40 }, (_, i) => ({ student: 'a', skill: i % 2 ? 'shared' : 'only-a', correct: i % 3 !== 0, item: `q${i % 4}` })),
      ...Array.from({ length: 40 }, (_, i) => ({ student: 'b', skill: i % 2 ? 'shared' : 'only-b', correct: i % 4 !== 0, item: `q${i % 4}` })),
    ];
    for (const params of [fitted, fitModel(two)]) {
      for (const v of Object.values(params.weights)) assert.ok(Number.isFinite(v));
      for (const v of Object.values(params.items)) assert.ok(Number.isFinite(v));
    }
    // With little evidence, the L2 penalty keeps the layer near plain BKT (weight 1, the rest 0).
    assert.ok(Math.abs(fitted.weights.bkt - 1) < 0.1 && Math.abs(fitted.weights.bias) < 0.1, JSON.stringify(fitted.weights));
  });
});
