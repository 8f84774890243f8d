import pino from 'pino';

/** The structured logger used everywhere (pino). */
export type Logger = pino.Logger;

/**
 * JSON lines to stdout (or `destination`). Writes are buffered asynchronously
 * so logging one line per request does not stall the event loop; call
 * `flushLogger` before exit.
 */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return pino(
    {
      level: options.level,
      base: { service: 'kidslearn' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // No redaction pass: it costs on every line. Instead nothing that logs
      // takes headers or bodies; a test asserts tokens never appear in logs.
    },
    destination,
  );
}

/** Flushes buffered log lines (best effort). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // Destination may already be closed.
  }
}
