/**
 * Pure helpers for the progress summary families and teachers see. Days are
 * calendar days (`YYYY-MM-DD`) in the caller's IANA time zone (UTC unless
 * given); the week starts on Monday 00:00 local time.
 */

import { isAcceptedTimeZone } from './input-rules.ts';

/**
 * Is `tz` an IANA time-zone name (`Area/Location`, or `UTC`) that this
 * runtime and the database both read the same way? Only names from the
 * captured list pass (see input-rules): offsets and POSIX strings are read
 * with the opposite sign by PostgreSQL, and names JavaScript still knows but
 * tzdata dropped (`US/Pacific-New`) make PostgreSQL fail.
 */
export function isTimeZone(tz: string): boolean {
  return isAcceptedTimeZone(tz);
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock time in `tz` at instant `at`, as if it were UTC (milliseconds). */
function wallClock(at: Date, tz: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

/** The calendar day (`YYYY-MM-DD`) it is in `tz` at instant `at`. */
export function localDay(at: Date, tz: string = 'UTC'): string {
  return new Date(wallClock(at, tz)).toISOString().slice(0, 10);
}

/** The first instant of local calendar day `day` (`YYYY-MM-DD`) in `tz`; where DST skips midnight, the first instant that exists. */
function startOfLocalDay(day: string, tz: string): Date {
  const midnight = Date.parse(`${day}T00:00:00Z`);
  // Guess with the offset at UTC midnight, then correct with the offset at the guess.
  let at = midnight - (wallClock(new Date(midnight), tz) - midnight);
  at = midnight - (wallClock(new Date(at), tz) - at);
  // A skipped midnight lands the guess on the previous day: the day starts when its first hour does.
  while (localDay(new Date(at), tz) < day) at += 15 * 60_000;
  return new Date(at);
}

const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** Monday 00:00 (local time in `tz`) of the week `now` falls in. */
export function startOfWeek(now: Date, tz: string = 'UTC'): Date {
  const today = localDay(now, tz);
  const sinceMonday = (new Date(`${today}T00:00:00Z`).getUTCDay() + 6) % 7;
  return startOfLocalDay(addDays(today, -sinceMonday), tz);
}

/**
 * Consecutive active days ending today, or ending yesterday when the child
 * has not played yet today (the streak is not broken until the day is over).
 * `activeDays` are calendar days in the same time zone `tz`.
 */
export function streakDays(activeDays: readonly string[], now: Date, tz: string = 'UTC'): number {
  const days = new Set(activeDays);
  let cursor = localDay(now, tz);
  if (!days.has(cursor)) cursor = addDays(cursor, -1);
  let streak = 0;
  while (days.has(cursor)) {
    streak++;
    cursor = addDays(cursor, -1);
  }
  return streak;
}

/** A stretch of practice without a pause longer than the session gap. */
export interface PracticeSession {
  startedAt: string;
  endedAt: string;
  answers: number;
  correct: number;
  /** Time on task: the sum of the answers' durations, in whole seconds. */
  activeSeconds: number;
  /** Lessons the session's items came from, first seen first. */
  lessonIds: string[];
}

/** A pause longer than this ends a session. */
export const SESSION_GAP_MS = 30 * 60_000;

/**
 * Groups answers into sessions, newest session first: answers (in any
 * order) belong to one session while no two consecutive ones are more than
 * `gapMs` apart.
 */
export function sessionsOf(
  answers: readonly { answeredAt: Date; correct: boolean; durationMs: number; lessonId: string }[],
  gapMs: number = SESSION_GAP_MS,
): PracticeSession[] {
  const ordered = [...answers].sort((a, b) => a.answeredAt.getTime() - b.answeredAt.getTime());
  const sessions: { start: Date; end: Date; answers: number; correct: number; ms: number; lessons: Set<string> }[] = [];
  for (const a of ordered) {
    const current = sessions.at(-1);
    if (current && a.answeredAt.getTime() - current.end.getTime() <= gapMs) {
      current.end = a.answeredAt;
      current.answers++;
      current.correct += a.correct ? 1 : 0;
      current.ms += a.durationMs;
      current.lessons.add(a.lessonId);
    } else {
      sessions.push({ start: a.answeredAt, end: a.answeredAt, answers: 1, correct: a.correct ? 1 : 0, ms: a.durationMs, lessons: new Set([a.lessonId]) });
    }
  }
  return sessions.reverse().map((s) => ({
    startedAt: s.start.toISOString(),
    endedAt: s.end.toISOString(),
    answers: s.answers,
    correct: s.correct,
    activeSeconds: Math.round(s.ms / 1000),
    lessonIds: [...s.lessons],
  }));
}
