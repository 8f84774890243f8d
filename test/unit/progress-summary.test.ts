import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTimeZone, localDay, sessionsOf, startOfWeek, streakDays } from '../../src/domain/progress-summary.ts';

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

  it('weeks and days follow the caller’s time zone, across DST changes', () => {
    // Sunday 22 Nov, 03:00 UTC is still Saturday evening in Los Angeles (UTC−8).
    const now = new Date('2026-11-22T03:00:00Z');
    assert.equal(localDay(now, 'America/Los_Angeles'), '2026-11-21');
    assert.equal(localDay(now, 'Asia/Kolkata'), '2026-11-22');
    assert.equal(startOfWeek(now, 'America/Los_Angeles').toISOString(), '2026-11-16T08:00:00.000Z', 'Monday 16 Nov 00:00 PST');
    assert.equal(startOfWeek(now, 'Asia/Kolkata').toISOString(), '2026-11-15T18:30:00.000Z', 'Monday 16 Nov 00:00 IST');
    assert.equal(startOfWeek(now, 'Pacific/Kiritimati').toISOString(), '2026-11-15T10:00:00.000Z', 'Monday 16 Nov 00:00 at UTC+14 (there it is Sunday 17:00)');
    // The US left DST on Sunday 1 Nov 2026: that week began on Monday 26 Oct, 00:00 PDT (UTC−7).
    assert.equal(startOfWeek(new Date('2026-11-01T20:00:00Z'), 'America/Los_Angeles').toISOString(), '2026-10-26T07:00:00.000Z');
    // Where DST skips midnight (Chile, first Sunday of September 2026: 00:00 → 01:00), the day starts at 01:00.
    assert.equal(startOfWeek(new Date('2026-09-09T12:00:00Z'), 'America/Santiago').toISOString(), '2026-09-07T03:00:00.000Z', 'a normal Monday, UTC−3');
    assert.equal(streakDays(['2026-11-21', '2026-11-20'], now, 'America/Los_Angeles'), 2, 'today (the 21st) counts in Los Angeles');
    assert.equal(streakDays(['2026-11-21', '2026-11-20'], now, 'Asia/Kolkata'), 2, 'not broken before the local day is over');
    assert.equal(streakDays(['2026-11-20'], now, 'Asia/Kolkata'), 0);
  });

  it('knows IANA time-zone names, and nothing else', () => {
    for (const tz of ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata']) assert.equal(isTimeZone(tz), true, tz);
    for (const tz of ['', 'Mars/Olympus', 'PST8PDT;drop table', 'utc+2', '+02:00', 'UTC+2', 'Europe/../etc']) assert.equal(isTimeZone(tz), false, tz);
  });
});
