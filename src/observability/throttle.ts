/**
 * A log call that runs at most once per `intervalMs`: a dependency that is
 * down fails on every request, and one line per request would bury the log
 * (and cost the CPU the requests need). The next line that gets through says
 * how many were left out since the last one.
 */
export function throttledLog<A extends unknown[]>(intervalMs: number, log: (suppressed: number, ...args: A) => void): (...args: A) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (...args: A) => {
    const now = performance.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    const count = suppressed;
    suppressed = 0;
    log(count, ...args);
  };
}
