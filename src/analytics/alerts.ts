import type { Counter } from 'prom-client';
import type { Logger } from '../observability/logger.ts';
import type { NewDeadLetters } from './lake-batches.repo.ts';

/** At most one webhook POST per app in this window; the ones held back are counted in the next. */
export const ALERT_INTERVAL_MS = 60_000;

/**
 * Reports new dead letters: `kidslearn_lake_dead_letters_total{reason}`, one
 * warning log line per (app, reason), and, when `ALERT_WEBHOOK_URL` is set, a
 * JSON POST `{alert: 'lake_dead_letters', app, count, reason, firstEventId,
 * at}` — at most one per app per minute; letters held back meanwhile are
 * added to the next alert's count. The POST has a timeout and never throws:
 * an unreachable webhook is logged, the writer goes on.
 */
export class DeadLetterAlerts {
  readonly #url: string | undefined;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #counter: Counter<'reason'>;
  readonly #now: () => number;
  readonly #lastSent = new Map<string, number>();
  readonly #held = new Map<string, number>();

  constructor(options: { url: string | undefined; timeoutMs: number; logger: Logger; counter: Counter<'reason'>; now?: () => number }) {
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
    this.#logger = options.logger;
    this.#counter = options.counter;
    this.#now = options.now ?? Date.now;
  }

  /** Counts, logs and (maybe) posts one group of new dead letters. */
  async report(letters: NewDeadLetters): Promise<void> {
    if (letters.count <= 0) return;
    this.#counter.inc({ reason: letters.reason }, letters.count);
    this.#logger.warn({ app: letters.app, count: letters.count, reason: letters.reason, firstEventId: letters.firstEventId }, 'lake: events moved to the dead letters');
    if (!this.#url) return;
    const now = this.#now();
    const last = this.#lastSent.get(letters.app);
    if (last !== undefined && now - last < ALERT_INTERVAL_MS) {
      this.#held.set(letters.app, (this.#held.get(letters.app) ?? 0) + letters.count);
      return;
    }
    const count = letters.count + (this.#held.get(letters.app) ?? 0);
    this.#held.delete(letters.app);
    this.#lastSent.set(letters.app, now);
    const body = { alert: 'lake_dead_letters', app: letters.app, count, reason: letters.reason, firstEventId: letters.firstEventId, at: new Date(now).toISOString() };
    try {
      const response = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) this.#logger.warn({ status: response.status, app: letters.app }, 'lake: the alert webhook refused the dead-letter alert');
    } catch (error) {
      this.#logger.warn({ err: error, app: letters.app }, 'lake: the alert webhook could not be reached');
    }
  }
}
