import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startOfWeek, streakDays } from '../../src/domain/progress-summary.ts';

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
});
