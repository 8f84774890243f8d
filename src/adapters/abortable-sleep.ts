/**
 * Waits `ms`, or rejects with the signal's own reason as soon as it aborts
 * (a retry's backoff must not outlive the caller's deadline). Unlike
 * `timers/promises`' setTimeout, the rejection is the reason the caller
 * aborted with (a timeout error), not a generic AbortError.
 */
export function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
