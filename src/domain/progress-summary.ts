/**
 * Pure helpers for the progress summary families and teachers see. Days are
 * UTC calendar days (`YYYY-MM-DD`); the week starts on Monday 00:00 UTC.
 */

/** Monday 00:00 UTC of the week `now` falls in. */
export function startOfWeek(now: Date): Date {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const sinceMonday = (d.getUTCDay() + 6) % 7;
  return new Date(d.getTime() - sinceMonday * 86_400_000);
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Consecutive active days ending today, or ending yesterday when the child
 * has not played yet today (the streak is not broken until the day is over).
 */
export function streakDays(activeDays: readonly string[], now: Date): number {
  const days = new Set(activeDays);
  let cursor = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (!days.has(dayOf(cursor))) cursor = new Date(cursor.getTime() - 86_400_000);
  let streak = 0;
  while (days.has(dayOf(cursor))) {
    streak++;
    cursor = new Date(cursor.getTime() - 86_400_000);
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
