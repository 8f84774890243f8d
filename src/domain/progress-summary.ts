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
