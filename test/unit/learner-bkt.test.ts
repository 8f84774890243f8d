import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clampBktParams, initialBktState, predict, update, type BktParams } from '../../src/domain/learner/bkt.ts';
import { bktParamsFor, fitBkt, fitBktSequences, sequencesBySkill } from '../../src/domain/learner/bkt-fit.ts';
import { accuracy, auc, logLoss, metrics, rmse } from '../../src/domain/learner/metrics.ts';
import { simulate } from '../../src/domain/learner/simulate.ts';

const close = (actual: number, expected: number, eps = 1e-9) => assert.ok(Math.abs(actual - expected) <= eps, `${actual} ≉ ${expected}`);

describe('learner: BKT', () => {
  const p: BktParams = { pInit: 0.3, pLearn: 0.1, pGuess: 0.2, pSlip: 0.1, pForget: 0.05 };

  it('predicts and updates as computed by hand', () => {
    const s0 = initialBktState(p);
    close(predict(s0, p), 0.3 * 0.9 + 0.7 * 0.2); // 0.41
    // correct: posterior 0.27 / 0.41, then learn/forget
    const post = 0.27 / 0.41;
    close(update(s0, p, true).pKnown, post * 0.95 + (1 - post) * 0.1);
    close(update(s0, p, true).pKnown, 0.659756097560976, 1e-12);
    // wrong: posterior 0.03 / 0.59
    close(update(s0, p, false).pKnown, 0.143220338983051, 1e-12);
    // two steps compose
    const s2 = update(update(s0, p, true), p, true);
    const k = 0.659756097560976;
    const post2 = (k * 0.9) / (k * 0.9 + (1 - k) * 0.2);
    close(s2.pKnown, post2 * 0.95 + (1 - post2) * 0.1, 1e-12);
  });

  it('clamps guess and slip below 0.5', () => {
    const c = clampBktParams({ pInit: 2, pLearn: -1, pGuess: 0.9, pSlip: 0.7, pForget: 0.9 });
    assert.ok(c.pGuess < 0.5 && c.pSlip < 0.5 && c.pInit < 1 && c.pLearn > 0 && c.pForget <= 0.5);
  });
});

describe('learner: metrics', () => {
  it('AUC is 1 for a perfect ranking, 0 for a reversed one, 0.5 when every prediction ties', () => {
    assert.equal(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.equal(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
    // partial ties: positives 0.8 and 0.5; negatives 0.5 and 0.1 → pairs (1 + 1 + 0.5 + 1) / 4
    assert.equal(auc([0.8, 0.5, 0.5, 0.1], [1, 1, 0, 0]), 0.875);
    assert.ok(Number.isNaN(auc([0.2, 0.4], [1, 1])));
  });

  it('RMSE, log loss and accuracy on small vectors', () => {
    close(rmse([1, 0, 0.5], [1, 0, 1]), Math.sqrt(0.25 / 3));
    close(logLoss([0.5, 0.5], [1, 0]), Math.log(2));
    close(logLoss([0, 1], [1, 0]), -Math.log(1e-15), 1e-3); // clipped, finite
    assert.equal(accuracy([0.5, 0.49, 0.9, 0.1], [1, 1, 0, 0]), 0.5);
    assert.deepEqual(metrics([0.9, 0.1], [true, false]), { auc: 1, rmse: rmse([0.9, 0.1], [1, 0]), logloss: logLoss([0.9, 0.1], [1, 0]), accuracy: 1, n: 2 });
  });
});

describe('learner: EM fitting', () => {
  it('recovers the parameters of simulated learners', () => {
    const truth: Record<string, BktParams> = {
      a: { pInit: 0.3, pLearn: 0.15, pGuess: 0.2, pSlip: 0.1, pForget: 0 },
      b: { pInit: 0.5, pLearn: 0.08, pGuess: 0.25, pSlip: 0.08, pForget: 0.01 },
    };
    const rows = simulate({ students: 500, skills: truth, attempts: 20, seed: 11 });
    const fitted = fitBkt(rows);
    for (const [skill, t] of Object.entries(truth)) {
      const f = bktParamsFor(fitted, skill);
      for (const key of ['pInit', 'pLearn', 'pGuess', 'pSlip', 'pForget'] as const) {
        assert.ok(Math.abs(f[key] - t[key]) < 0.1, `${skill}.${key}: fitted ${f[key]}, true ${t[key]}`);
      }
      assert.ok(Math.abs(f.pLearn - t.pLearn) < 0.05, `${skill}.pLearn: fitted ${f.pLearn}, true ${t.pLearn}`);
    }
  });

  it('EM never lowers the likelihood and stops within its iteration limit', () => {
    const rows = simulate({ students: 100, skills: { a: { pInit: 0.3, pLearn: 0.2, pGuess: 0.2, pSlip: 0.1, pForget: 0 } }, attempts: 10, seed: 3 });
    const seqs = sequencesBySkill(rows).get('a')!;
    let last = -Infinity;
    for (const iterations of [1, 2, 5, 20]) {
      const fit = fitBktSequences(seqs, { maxIterations: iterations, tolerance: 0 });
      assert.ok(fit.iterations <= iterations);
      assert.ok(fit.logLikelihood >= last - 1e-6, `${fit.logLikelihood} < ${last}`);
      last = fit.logLikelihood;
    }
  });

  it('skills with little data use the global parameters; unknown skills too', () => {
    const rows = [
      ...simulate({ students: 100, skills: { big: { pInit: 0.3, pLearn: 0.2, pGuess: 0.2, pSlip: 0.1, pForget: 0 } }, attempts: 10, seed: 5 }),
      ...simulate({ students: 2, skills: { small: { pInit: 0.9, pLearn: 0.2, pGuess: 0.2, pSlip: 0.1, pForget: 0 } }, attempts: 10, seed: 6 }),
    ];
    const fitted = fitBkt(rows);
    assert.deepEqual(fitted.skills.small, fitted.global);
    assert.notDeepEqual(fitted.skills.big, fitted.global);
    assert.deepEqual(bktParamsFor(fitted, 'never-seen'), fitted.global);
    assert.deepEqual(JSON.parse(JSON.stringify(fitted)), fitted);
  });
});
