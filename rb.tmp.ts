import { writeSyntheticLake } from './bench/lake-synthetic.ts';
import { LakeQueryEngine } from './src/analytics/lake-query.ts';
import { REPORT_NAMES, runReport } from './src/analytics/reports.ts';
import { createTestDirBlobStore } from './test/support/dir-blob-store.ts';
import { tempLakeDir } from './test/support/lake-files.ts';
const lake = tempLakeDir();
await writeSyntheticLake(lake.dir, { app: 'bench', events: 10_000_000, days: 60, learners: 20_000, endDay: '2026-11-30' });
const engine = new LakeQueryEngine({ store: createTestDirBlobStore(lake.dir), cacheDir: lake.dir + 'c', timeoutMs: 120_000 });
for (const range of [{ from: '2026-11-01', to: '2026-11-30' }, { from: '2026-11-30', to: '2026-11-30' }]) {
  for (const name of REPORT_NAMES) {
    const times = [];
    for (let i = 0; i < 3; i++) { const t = Date.now(); await runReport(engine, name, { app: 'bench', ...range }, { masteryThreshold: 0.95 }); times.push(Date.now() - t); }
    times.sort((a, b) => a - b);
    console.log(`| ${name} | ${range.from === range.to ? '1 day' : '30 days'} | ${times[1]} ms |`);
  }
}
await engine.close(); lake.dispose();
