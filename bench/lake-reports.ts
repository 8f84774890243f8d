import path from 'node:path';
import { createBlobStore } from '../src/adapters/blobs/create-blob-store.ts';
import { LakeQueryEngine } from '../src/analytics/lake-query.ts';
import { buildRollups, listRollups } from '../src/analytics/lake-rollups.ts';
import { addDays, REPORT_NAMES, runReport, type ReportName } from '../src/analytics/reports.ts';
import { syntheticLakeOnce } from './lake-synthetic.ts';
import { median } from './support.ts';

/** One report's timings over the synthetic lake. */
export interface ReportTiming {
  report: ReportName;
  /** Which days had rollups: all but the range's last (as deployed: today is read raw), or all. */
  scenario: 'last day raw' | 'all rolled up';
  coldMs: number;
  medianMs: number;
  maxMs: number;
  rows: number;
  /** One run from the raw events only (rollups ignored), for comparison. */
  rawMs: number;
  /** The report with rollups equals the report from the raw events. */
  same: boolean;
}

/**
 * The canned reports over a synthetic lake of `events` events (generated
 * once and cached under `root`): for a `rangeDays` range ending on the
 * lake's last day, each report's first run on a fresh query engine (cold:
 * DuckDB instance, listing, Parquet metadata; the OS file cache is warm),
 * then the median of `runs` runs after one warm-up. The lake's daily rollups
 * are built first (as `lake compact` does; cached with the lake), and each
 * report is also run once from the raw events only: time and equality.
 */
export async function benchReports(
  root: string,
  options: { events: number; days: number; learners: number; endDay: string; rangeDays: number; runs: number; masteryThreshold: number; log: (line: string) => void },
): Promise<{ timings: ReportTiming[]; generatedSec: number; reused: boolean; files: number; builds: { through: string; seconds: number; written: number }[] }> {
  const app = 'benchlake';
  const started = performance.now();
  const { files, reused } = await syntheticLakeOnce(root, { app, events: options.events, days: options.days, learners: options.learners, endDay: options.endDay });
  const generatedSec = (performance.now() - started) / 1000;
  options.log(`    synthetic lake: ${options.events} events in ${files.length} files ${reused ? '(cached)' : `generated in ${generatedSec.toFixed(0)} s`}`);
  const range = { app, from: addDays(options.endDay, -(options.rangeDays - 1)), to: options.endDay };
  const timings: ReportTiming[] = [];
  const builds: { through: string; seconds: number; written: number }[] = [];
  // As deployed, `lake compact` rolls up the closed days and today is read raw; then every day rolled up.
  const scenarios = [
    { name: 'last day raw' as const, through: addDays(options.endDay, -1) },
    { name: 'all rolled up' as const, through: options.endDay },
  ];
  const lakeStore = createBlobStore({ kind: 'directory', dir: root });
  try {
    // A run before left the last day rolled up: its rollups go, so the first scenario reads that day raw.
    const lastDay = (await listRollups(lakeStore, { app, fromDay: options.endDay, toDay: options.endDay })).map((b) => b.key);
    await lakeStore.delete(lastDay);
    for (const scenario of scenarios) {
      const t0 = performance.now();
      const built = await buildRollups(lakeStore, app, { throughDay: scenario.through });
      builds.push({ through: scenario.through, seconds: (performance.now() - t0) / 1000, written: built.written });
      options.log(`    rollups through ${scenario.through}: ${built.written} files written, ${built.upToDate} days already up to date, in ${builds.at(-1)!.seconds.toFixed(1)} s`);
      for (const report of REPORT_NAMES) timings.push(await timeReport(root, report, range, scenario.name, options));
    }
  } finally {
    await lakeStore.close();
  }
  return { timings, generatedSec, reused, files: files.length, builds };
}

async function timeReport(
  root: string,
  report: ReportName,
  range: { app: string; from: string; to: string },
  scenario: ReportTiming['scenario'],
  options: { runs: number; masteryThreshold: number; log: (line: string) => void },
): Promise<ReportTiming> {
  const store = createBlobStore({ kind: 'directory', dir: root });
  const engine = new LakeQueryEngine({ store, cacheDir: path.join(root, '..', 'lake-cache'), timeoutMs: 120_000 });
  try {
    const time = async (rollups = true) => {
      const t0 = performance.now();
      const body = await runReport(engine, report, range, { masteryThreshold: options.masteryThreshold, timeoutMs: 120_000, now: () => new Date(0), rollups });
      return { ms: performance.now() - t0, rows: body.rows.length, body };
    };
    const cold = await time();
    await time();
    const runs: number[] = [];
    for (let i = 0; i < options.runs; i++) runs.push((await time()).ms);
    const raw = await time(false);
    const same = JSON.stringify(raw.body) === JSON.stringify(cold.body);
    options.log(
      `    ${scenario}, ${report}: cold ${cold.ms.toFixed(0)} ms, median ${median(runs).toFixed(0)} ms (max ${Math.max(...runs).toFixed(0)}), ${cold.rows} rows; ` +
        `from the raw events ${raw.ms.toFixed(0)} ms, ${same ? 'the same result' : 'A DIFFERENT RESULT'}`,
    );
    return { report, scenario, coldMs: cold.ms, medianMs: median(runs), maxMs: Math.max(...runs), rows: cold.rows, rawMs: raw.ms, same };
  } finally {
    await engine.close();
    await store.close();
  }
}
