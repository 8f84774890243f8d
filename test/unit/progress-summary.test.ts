import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionsOf, startOfWeek, streakDays } from '../../src/domain/progress-summary.ts';

describe('progress summary rules', () => {
  it('weeks start on Monday 00:00 UTC', () => {
    assert.equal(startOfWeek(new Date('2026-11-22T23:59:00Z')).toISOString(), '2026-11-16T00:00:00.000Z', 'a Sunday');
    assert.equal(startOfWeek(new Date('2026-11-16T00:00:00Z')).toISOString(), '2026-11-16T00:00:00.000Z', 'a Monday');
    assert.equal(startOfWeek(new Date('2026-11-18T12:00:00Z')).toISOString(), '2026-11-16T00:00:00.000Z');
  });

  it('counts consecutive active days ending today, or yesterday when today has no activity yet', () => {
    const now = new Date('2026-11-22T10:00:00Z');
    assert.equal(streakDays(['2026-11-22', '2026-11-21', '2026-11-20', '2026-11-18'], now), 3);
    assert.equal(streakDays(['2026-11-21', '2026-11-20'], now), 2, 'not broken before the day is over');
    assert.equal(streakDays(['2026-11-20'], now), 0, 'a missed day breaks it');
    assert.equal(streakDays([], now), 0);
  });

  it('groups answers into sessions split by pauses longer than 30 minutes, newest first', () => {
    const at = (hhmm: string, correct: boolean, lessonId = 'l1', durationMs = 10_000) => ({ answeredAt: new Date(`2026-11-22T${hhmm}:00Z`), correct, durationMs, lessonId });
    // Given out of order, as an offline device may sync them.
    const sessions = sessionsOf([at('09:10', false), at('09:00', true), at('09:40', true, 'l2', 4_400), at('10:11', true, 'l2'), at('15:00', true, 'l3')]);
    assert.deepEqual(sessions, [
      { startedAt: '2026-11-22T15:00:00.000Z', endedAt: '2026-11-22T15:00:00.000Z', answers: 1, correct: 1, activeSeconds: 10, lessonIds: ['l3'] },
      { startedAt: '2026-11-22T10:11:00.000Z', endedAt: '2026-11-22T10:11:00.000Z', answers: 1, correct: 1, activeSeconds: 10, lessonIds: ['l2'] },
      { startedAt: '2026-11-22T09:00:00.000Z', endedAt: '2026-11-22T09:40:00.000Z', answers: 3, correct: 2, activeSeconds: 24, lessonIds: ['l1', 'l2'] },
    ]);
    assert.equal(sessionsOf([at('09:00', true), at('09:30', true)]).length, 1, 'exactly 30 minutes apart is still one session');
    assert.deepEqual(sessionsOf([]), []);
  });
});
