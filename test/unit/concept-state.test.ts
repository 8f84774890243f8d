import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rating, State } from 'ts-fsrs';
import { DEFAULT_BKT_PARAMS } from '../../src/domain/learner/bkt.ts';
import { applyAnswer, newConceptState, ratingFor, ratingForCard, viewOf } from '../../src/domain/learner/concept-state.ts';

describe('concept state (BKT + FSRS per child and concept)', () => {
  const t0 = new Date('2026-11-02T09:00:00Z');
  const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

  it('maps answers to FSRS ratings from correctness and time', () => {
    assert.equal(ratingFor(false, 1000), Rating.Again);
    assert.equal(ratingFor(true, 2000), Rating.Easy);
    assert.equal(ratingFor(true, 8000), Rating.Good);
    assert.equal(ratingFor(true, 30_000), Rating.Hard);
    assert.equal(ratingFor(true, 0), Rating.Good, 'no timing: Good');
  });

  it('a slow child who answers right graduates from the learning steps: slow right answers are Hard only on review cards', () => {
    assert.equal(ratingForCard({ state: State.Learning }, true, 30_000), Rating.Good);
    assert.equal(ratingForCard({ state: State.New }, true, 30_000), Rating.Good);
    assert.equal(ratingForCard({ state: State.Review }, true, 30_000), Rating.Hard);
    assert.equal(ratingForCard({ state: State.Learning }, false, 30_000), Rating.Again);
    // Six right answers at 30 s each, in one sitting: known, and next due days later, not minutes.
    let s = newConceptState(DEFAULT_BKT_PARAMS, t0);
    for (let i = 0; i < 6; i++) s = applyAnswer(s, DEFAULT_BKT_PARAMS, { correct: true, durationMs: 30_000, answeredAt: at(i / 2) });
    assert.equal(s.fsrs.state, State.Review);
    assert.ok(new Date(s.fsrs.due).getTime() - at(3).getTime() >= 86_400_000, `due ${s.fsrs.due}`);
    const nextDay = viewOf(s, DEFAULT_BKT_PARAMS, 0.95, undefined, at(24 * 60));
    assert.deepEqual({ mastered: nextDay.mastered, reviewDue: nextDay.reviewDue }, { mastered: true, reviewDue: false });
  });

  it('counts answers, moves P(known) with the evidence and schedules the next review', () => {
    let s = newConceptState(DEFAULT_BKT_PARAMS, t0);
    assert.equal(s.pKnown, DEFAULT_BKT_PARAMS.pInit);
    s = applyAnswer(s, DEFAULT_BKT_PARAMS, { correct: true, durationMs: 6000, answeredAt: at(1) });
    const afterRight = s.pKnown;
    assert.ok(afterRight > DEFAULT_BKT_PARAMS.pInit);
    s = applyAnswer(s, DEFAULT_BKT_PARAMS, { correct: false, durationMs: 6000, answeredAt: at(2) });
    assert.ok(s.pKnown < afterRight);
    assert.deepEqual({ attempts: s.attempts, correct: s.correct }, { attempts: 2, correct: 1 });
    assert.ok(new Date(s.fsrs.due) > at(2), 'due after the last answer');
    assert.equal(s.fsrs.reps, 2);
  });

  it('reaches mastery after a run of right answers, and reviews move further out', () => {
    let s = newConceptState(DEFAULT_BKT_PARAMS, t0);
    const dues: number[] = [];
    for (let i = 0; i < 12; i++) {
      s = applyAnswer(s, DEFAULT_BKT_PARAMS, { correct: true, durationMs: 6000, answeredAt: new Date(Math.max(at(i * 60 * 24).getTime(), s.fsrs.due ? new Date(s.fsrs.due).getTime() : 0)) });
      dues.push(new Date(s.fsrs.due).getTime() - new Date(s.fsrs.last_review!).getTime());
    }
    const view = viewOf(s, DEFAULT_BKT_PARAMS, 0.95);
    assert.equal(view.mastered, true);
    assert.ok(view.pCorrectNext > 0.8);
    assert.ok(dues.at(-1)! > dues[2]!, 'intervals grow');
    assert.equal(viewOf(s, DEFAULT_BKT_PARAMS, 0.9999).mastered, false, 'the threshold is configurable');
  });

  it('accepts a late-synced answer dated before the last review without going back in time', () => {
    let s = newConceptState(DEFAULT_BKT_PARAMS, t0);
    s = applyAnswer(s, DEFAULT_BKT_PARAMS, { correct: true, durationMs: 6000, answeredAt: at(60) });
    const last = s.fsrs.last_review;
    s = applyAnswer(s, DEFAULT_BKT_PARAMS, { correct: true, durationMs: 6000, answeredAt: at(30) });
    assert.ok(new Date(s.fsrs.last_review!) >= new Date(last!));
    assert.equal(s.attempts, 2);
  });
});
