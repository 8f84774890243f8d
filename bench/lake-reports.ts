import path from 'node:path';
import { createBlobStore } from '../src/adapters/blobs/create-blob-store.ts';
import { LakeQueryEngine } from '../src/analytics/lake-query.ts';
import { addDays, REPORT_NAMES, runReport, type ReportName } from '../src/analytics/reports.ts';
import { syntheticLakeOnce } from './lake-synthetic.ts';
import { median } from './support.ts';

/** One report's timings over the synthetic lake. */
export interface ReportTiming {
  report: ReportName;
  coldMs: number;
  medianMs: number;
  maxMs: number;
  rows: number;
}

/**
 * The canned reports over a synthetic lake of `events` events (generated
 * once and cached under `root`): for a `rangeDays` range ending on the
 * lake's last day, each report's first run on a fresh query engine (cold:
 * DuckDB instance, listing, Parquet metadata; the OS file cache is warm),
 * then the median of `runs` runs after one warm-up.
 */
export async function benchReports(
  root: string,
  options: { events: number; days: number; learners: number; endDay: string; rangeDays: number; runs: number; masteryThreshold: number; log: (line: string) => void },
): Promise<{ timings: ReportTiming[]; generatedSec: number; reused: boolean; files: number }> {
  const app = 'benchlake';
  const started = performance.now();
  const { files, reused } = await syntheticLakeOnce(root, { app, events: options.events, days: options.days, learners: options.learners, endDay: options.endDay });
  const generatedSec = (performance.now() - started) / 1000;
  options.log(`    synthetic lake: ${options.events} events in ${files.length} files ${reused ? '(cached)' : `generated in ${generatedSec.toFixed(0)} s`}`);
  const range = { app, from: addDays(options.endDay, -(options.rangeDays - 1)), to: options.endDay };
  const timings: ReportTiming[] = [];
  for (const report of REPORT_NAMES) {
    const store = createBlobStore({ kind: 'directory', dir: root });
    const engine = new LakeQueryEngine({ store, cacheDir: path.join(root, '..', 'lake-cache'), timeoutMs: 120_000 });
    try {
      const time = async () => {
        const t0 = performance.now();
        const body = await runReport(engine, report, range, { masteryThreshold: options.masteryThreshold, timeoutMs: 120_000 });
        return { ms: performance.now() - t0, rows: body.rows.length };
      };
      const cold = await time();
      await time();
      const runs: number[] = [];
      for (let i = 0; i < options.runs; i++) runs.push((await time()).ms);
      timings.push({ report, coldMs: cold.ms, medianMs: median(runs), maxMs: Math.max(...runs), rows: cold.rows });
      options.log(`    ${report}: cold ${cold.ms.toFixed(0)} ms, median ${median(runs).toFixed(0)} ms (max ${Math.max(...runs).toFixed(0)}), ${cold.rows} rows`);
    } finally {
      await engine.close();
      await store.close();
    }
  }
  return { timings, generatedSec, reused, files: files.length };
}
