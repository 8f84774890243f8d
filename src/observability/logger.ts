import pino from 'pino';

/** The structured logger used everywhere (pino). */
export type Logger = pino.Logger;

/**
 * Collects the lines logged during one turn of the event loop and hands them
 * to sonic-boom as one string. sonic-boom measures its whole pending buffer on
 * every write, so one write per request line cost ~5 µs at load; one write
 * per loop turn costs a fraction of that.
 */
type SonicBoomStream = pino.DestinationStream & { flush(cb?: (err?: Error) => void): void; flushSync(): void };

class TickBatchedDestination {
  #pending: string[] = [];
  #scheduled = false;
  readonly #inner: SonicBoomStream;

  constructor(inner: SonicBoomStream) {
    this.#inner = inner;
  }

  write(line: string): boolean {
    this.#pending.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
    return true;
  }

  #drain = (): void => {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const chunk = this.#pending.join('');
    this.#pending = [];
    this.#inner.write(chunk);
  };

  /** Asynchronous flush, used by `logger.flush()`. */
  flush(cb?: (err?: Error) => void): void {
    this.#drain();
    this.#inner.flush(cb);
  }

  /** Writes everything out before the process exits. */
  flushSync(): void {
    this.#drain();
    this.#inner.flushSync();
  }
}

const exitFlushers = new WeakMap<Logger, () => void>();

/**
 * JSON lines to stdout (or `destination`), epoch-millisecond `time`. Writes to
 * stdout are buffered and asynchronous so one line per request does not stall
 * the event loop; call {@link flushLogger} before exit.
 */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  const options_: pino.LoggerOptions = {
    level: options.level,
    base: { service: 'kidslearn' },
    // No redaction pass: it costs on every line. Instead nothing that logs
    // takes headers or bodies; a test asserts tokens never appear in logs.
  };
  if (options.destination) return pino(options_, options.destination);
  const stdout = new TickBatchedDestination(pino.destination({ dest: 1, sync: false, minLength: 4096 }));
  const logger = pino(options_, stdout);
  exitFlushers.set(logger, () => stdout.flushSync());
  return logger;
}

/** Writes out buffered log lines synchronously (best effort); call before `process.exit`. */
export function flushLogger(logger: Logger): void {
  try {
    const flushSync = exitFlushers.get(logger);
    if (flushSync) flushSync();
    else logger.flush();
  } catch {
    // Destination may already be closed, or not open yet.
  }
}
