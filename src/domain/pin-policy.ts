/**
 * How PIN sign-in answers wrong PINs: with a growing wait instead of a lock,
 * so nobody can shut a child out for good, and guessing stays slow. Pure
 * numbers; the repository applies them in one statement.
 */

/** Wrong PINs in a row that cost nothing (a child mistyping). */
export const PIN_FREE_FAILURES = 4;

/** The wait after the first wrong PIN past the free ones, in seconds; it doubles with each further one. */
export const PIN_BASE_DELAY_SECONDS = 30;

/** The longest wait, in seconds (15 minutes): at most ~100 guesses a day, even for the family's own device. */
export const PIN_MAX_DELAY_SECONDS = 15 * 60;

/**
 * Seconds PIN sign-in waits after the `failures`-th wrong PIN in a row:
 * 0 for the first {@link PIN_FREE_FAILURES}, then 30 s, 60 s, 2 min … up
 * to {@link PIN_MAX_DELAY_SECONDS}.
 */
export function pinDelaySeconds(failures: number): number {
  if (failures <= PIN_FREE_FAILURES) return 0;
  const doublings = Math.min(failures - PIN_FREE_FAILURES - 1, 10);
  return Math.min(PIN_MAX_DELAY_SECONDS, PIN_BASE_DELAY_SECONDS * 2 ** doublings);
}
