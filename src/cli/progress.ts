/**
 * Progress bars for long `kidslearn` work (seeding, model fitting, imports).
 * They go to stderr and only when stderr is a terminal, so piped output, logs
 * and tests stay clean:
 *
 *   const progress = startProgress('seed', totalItems, { stream: ctx.io.progressStream });
 *   try {
 *     for (const x of work) { await doOne(x); progress.tick(); }
 *   } finally {
 *     progress.done();
 *   }
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Adds `n` (default 1) units of work done. */
  tick(n?: number): void;
  /** Sets how much is done so far (for work that reports a running count). */
  update(done: number): void;
  /** Changes the total when it becomes known or grows. */
  setTotal(total: number): void;
  /** Stops the bar (leaving its last state on its own line); safe to call twice. */
  done(): void;
  /** False when nothing is drawn (stderr is not a TTY). */
  readonly visible: boolean;
}

const NO_PROGRESS: Progress = { tick() {}, update() {}, setTotal() {}, done() {}, visible: false };

export interface ProgressOptions {
  /** Where to draw; default process.stderr. Nothing is drawn unless `stream.isTTY`. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Name of the unit shown after the counts, e.g. `items`. */
  unit?: string;
}

/** Starts a bar `label [=====-----] 50% 500/1000 items, ETA 3s`; a no-op when the stream is not a terminal. */
export function startProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY) return NO_PROGRESS;
  const unit = options.unit ? ` ${options.unit}` : '';
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      format: `${label} [{bar}] {percentage}% {value}/{total}${unit}, ETA {eta_formatted}`,
      hideCursor: false,
      clearOnComplete: false,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.legacy,
  );
  bar.start(Math.max(0, total), 0);
  let stopped = false;
  return {
    visible: true,
    tick: (n = 1) => {
      if (!stopped) bar.increment(n);
    },
    update: (value) => {
      if (!stopped) bar.update(value);
    },
    setTotal: (value) => {
      if (!stopped) bar.setTotal(value);
    },
    done: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
