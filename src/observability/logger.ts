import pino from 'pino';

/** The structured logger used everywhere (pino). */
export type Logger = pino.Logger;

/**
 * Collects the lines logged within {@link BATCH_MS} and hands them to
 * sonic-boom as one string. sonic-boom measures its whole pending buffer on
 * every write, so one write per request line cost ~5 µs at load; one write
 * per loop turn cost a fraction of that, and one per batch (hundreds of lines
 * under load, each turn of the loop otherwise paying a write and an `fs.write`)
 * less again. Lines reach stdout at most {@link BATCH_MS} late.
 */
const BATCH_MS = 10;

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
      setTimeout(this.#drain, BATCH_MS);
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

/** Where each logger made by {@link createLogger} writes its lines. */
const destinations = new WeakMap<Logger, pino.DestinationStream>();

/** The `method`, `route` and `status` of access-log lines, serialised once per series (see {@link AccessLog}). */
export interface AccessLogSeries {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  /** `,"method":…,"route":…,"status":…` */
  readonly json: string;
}

/** The per-request access log (see {@link accessLog}). */
export interface AccessLog {
  /** The fields of one (method, route, status); keep it with the series it belongs to. */
  series(method: string, route: string, status: number): AccessLogSeries;
  /** Writes one request's line. */
  write(requestId: string, app: string | undefined, series: AccessLogSeries, ms: number): void;
}

const INFO = 30;

/**
 * The per-request access log: one `info` line `request` with requestId, app
 * (when known), method, route, status and ms. For a logger made by
 * {@link createLogger} the line is composed directly, byte for byte what
 * `logger.info({ requestId, app, method, route, status, ms }, 'request')`
 * writes (level, time, bindings, fields, msg), without pino's generic
 * per-key serialisation (~2 µs per request, measured); any other logger (a
 * child, a test's own) gets exactly that call.
 */
export function accessLog(logger: Logger): AccessLog {
  const series = (method: string, route: string, status: number): AccessLogSeries => ({
    method,
    route,
    status,
    json: `,"method":${JSON.stringify(method)},"route":${JSON.stringify(route)},"status":${status}`,
  });
  const stream = destinations.get(logger);
  if (!stream) {
    return { series, write: (requestId, app, s, ms) => logger.info({ requestId, app, method: s.method, route: s.route, status: s.status, ms }, 'request') };
  }
  const head = `{"level":${INFO},"time":`;
  const bindings = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  let lastApp: string | undefined;
  let lastAppJson = '';
  return {
    series,
    write(requestId, app, s, ms) {
      if (logger.levelVal > INFO) return;
      let appJson = '';
      if (app !== undefined) {
        if (app !== lastApp) {
          lastApp = app;
          lastAppJson = `,"app":${JSON.stringify(app)}`;
        }
        appJson = lastAppJson;
      }
      stream.write(`${head}${Date.now()}${bindings},"requestId":${JSON.stringify(requestId)}${appJson}${s.json},"ms":${Number.isFinite(ms) ? ms : null},"msg":"request"}\n`);
    },
  };
}

/**
 * JSON lines to stdout (or `destination`), epoch-millisecond `time`. Writes to
 * stdout are buffered and asynchronous so one line per request does not stall
 * the event loop; call {@link flushLogger} before exit.
 */
/**
 * Fields of database errors (pg, PGlite) that hold the statement's values
 * or the rows it touched: `params` (bound values, e.g. a child's id),
 * `query`/`where` (the statement) and `detail` (`Key (child_id)=(…)`).
 * They never reach the log; code, message, constraint and stack do.
 */
const DATABASE_ERROR_FIELDS = ['params', 'query', 'detail', 'where', 'internalQuery', 'parameters'] as const;

/** pino's error serializer, without the fields above (also in causes). */
export function serializeError(error: unknown): unknown {
  const out = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown> | undefined;
  const strip = (o: Record<string, unknown> | undefined, depth: number) => {
    if (!o || typeof o !== 'object' || depth > 5) return;
    for (const f of DATABASE_ERROR_FIELDS) delete o[f];
    strip(o.cause as Record<string, unknown> | undefined, depth + 1);
  };
  strip(out, 0);
  return out;
}

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  const options_: pino.LoggerOptions = {
    level: options.level,
    base: { service: 'kidslearn' },
    // No redaction pass: it costs on every line. Instead nothing that logs
    // takes headers or bodies; a test asserts tokens never appear in logs.
    serializers: { err: serializeError },
  };
  if (options.destination) {
    const logger = pino(options_, options.destination);
    destinations.set(logger, options.destination);
    return logger;
  }
  const stdout = new TickBatchedDestination(pino.destination({ dest: 1, sync: false, minLength: 4096 }));
  const logger = pino(options_, stdout);
  destinations.set(logger, stdout);
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
