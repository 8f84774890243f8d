import { eventBody } from './lake-load.ts';
import { openDuck, parquetFiles } from './lake-files-read.ts';
import type { BenchChild } from './support.ts';

/** Acknowledged → visible in the lake, per event. */
export interface FreshnessResult {
  events: number;
  visible: number;
  p50Sec: number;
  p95Sec: number;
  maxSec: number;
  /** Requests not acknowledged (their events are not expected in the lake). */
  failedRequests: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/**
 * Sends `ratePerSec` events (a batch of `batch` every batch/rate seconds,
 * children in turn) for `durationSec`, noting when each was acknowledged,
 * while polling the lake directory every `pollMs` for new Parquet files and
 * noting when each event id first appears in one. Waits up to `waitSec`
 * after the load for the rest.
 */
export async function measureFreshness(
  base: string,
  lakeDir: string,
  children: BenchChild[],
  options: { ratePerSec: number; batch: number; durationSec: number; pollMs: number; waitSec: number },
): Promise<FreshnessResult> {
  const acked = new Map<string, number>();
  const seen = new Map<string, number>();
  const readFiles = new Set<string>();
  const duck = await openDuck();
  let failedRequests = 0;
  let sending = true;
  const poll = async () => {
    const files = (await parquetFiles(lakeDir)).filter((f) => !readFiles.has(f));
    if (files.length === 0) return;
    const ids = await duck.eventIds(files).catch(() => undefined);
    // A file caught half-written (the directory store renames into place, so rarely): read it next time.
    if (!ids) return;
    const now = performance.now();
    for (const f of files) readFiles.add(f);
    for (const id of ids) if (!seen.has(id)) seen.set(id, now);
  };
  const poller = (async () => {
    let stopAt = 0;
    for (;;) {
      await poll();
      if (!sending) {
        if (stopAt === 0) stopAt = performance.now();
        if ([...acked.keys()].every((id) => seen.has(id)) || performance.now() > stopAt + options.waitSec * 1000) break;
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs));
    }
  })();
  const counter = { n: 0 };
  const interval = (options.batch / options.ratePerSec) * 1000;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; performance.now() - start < options.durationSec * 1000; i++) {
    const child = children[i % children.length]!;
    const { body, ids } = eventBody(options.batch, counter);
    inFlight.push(
      fetch(`${base}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${child.token}` }, body })
        .then(async (res) => {
          await res.text();
          const at = performance.now();
          if (res.status === 202) for (const id of ids) acked.set(id, at);
          else failedRequests++;
        })
        .catch(() => {
          failedRequests++;
        }),
    );
    const next = start + (i + 1) * interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.all(inFlight);
  sending = false;
  await poller;
  duck.close();
  const delays = [...acked].filter(([id]) => seen.has(id)).map(([id, at]) => Math.max(0, seen.get(id)! - at) / 1000).sort((a, b) => a - b);
  return {
    events: acked.size,
    visible: delays.length,
    p50Sec: percentile(delays, 50),
    p95Sec: percentile(delays, 95),
    maxSec: delays.at(-1) ?? NaN,
    failedRequests,
  };
}
