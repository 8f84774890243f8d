import path from 'node:path';
import type { BlobStore } from '../../adapters/blobs/blob-store.ts';
import { LakeQueryEngine } from '../../analytics/lake-query.ts';
import type { Config } from '../../config/config.ts';
import type { Cache } from '../../adapters/cache/cache.ts';
import { resolveReportRange, runReport, type ReportName, type ReportQueries } from '../../analytics/reports.ts';
import { utcDay } from '../../analytics/lake-layout.ts';

export interface ReportsServiceDeps {
  /** The lake's query engine; throws 503 `lake_unavailable` when no lake is configured. */
  engine(): ReportQueries;
  /** In-process cache of report bodies (reports can be large: they are not shipped to Redis). */
  cache: Cache;
  /** How long a report is served from the cache (`LAKE_REPORT_CACHE_SECONDS`; 0 = never cached). */
  cacheSeconds: number;
  masteryThreshold: number;
  /** Deadline of a report's query (`LAKE_TIMEOUT_MS`). */
  timeoutMs: number;
  now?: () => Date;
}

/**
 * The lake's reports for admins: the range resolved and checked, the report
 * computed from the lake, and the serialised body kept briefly, keyed by
 * app, report and range, so a dashboard that redraws does not rescan files.
 */
export class ReportsService {
  readonly #deps: ReportsServiceDeps;
  readonly #now: () => Date;

  constructor(deps: ReportsServiceDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
  }

  /** The report's JSON body and whether it came from the cache. */
  async report(app: string, name: ReportName, query: { from?: string; to?: string }): Promise<{ json: string; cache: 'HIT' | 'MISS' }> {
    const { from, to } = resolveReportRange(query, utcDay(this.#now()));
    const key = `lake-report:${app}:${name}:${from}:${to}`;
    const { cache, cacheSeconds } = this.#deps;
    if (cacheSeconds > 0) {
      const hit = await cache.get(key);
      if (hit !== undefined) return { json: hit, cache: 'HIT' };
    }
    const body = await runReport(this.#deps.engine(), name, { app, from, to }, { masteryThreshold: this.#deps.masteryThreshold, timeoutMs: this.#deps.timeoutMs, now: this.#now });
    const json = JSON.stringify(body);
    if (cacheSeconds > 0) await cache.set(key, json, cacheSeconds);
    return { json, cache: 'MISS' };
  }
}

/** What the container holds for the lake's query side. */
export interface LakeReports {
  reports: ReportsService;
  /** The lake's query engine (one DuckDB instance), opened on first use. */
  lakeQuery(): LakeQueryEngine;
  close(): Promise<void>;
}

/**
 * The container's one call for the reports feature: a query engine over the
 * lake store (opened on first use: most processes never query the lake) and
 * the service over the given report cache.
 */
export function createLakeReports(config: Config, lakeStore: () => BlobStore, cache: Cache): LakeReports {
  let engine: LakeQueryEngine | undefined;
  const lakeQuery = () =>
    (engine ??= new LakeQueryEngine({ store: lakeStore(), cacheDir: path.join(config.dataDir, 'lake-cache'), timeoutMs: config.lake.timeoutMs }));
  const reports = new ReportsService({
    engine: lakeQuery,
    cache,
    cacheSeconds: config.lake.reportCacheSeconds,
    masteryThreshold: config.masteryThreshold,
    timeoutMs: config.lake.timeoutMs,
  });
  return {
    reports,
    lakeQuery,
    async close() {
      await Promise.allSettled([engine?.close(), cache.close()]);
    },
  };
}
