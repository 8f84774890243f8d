import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openPgliteDatabase } from '../src/adapters/db/pglite.ts';
import { openPostgresDatabase } from '../src/adapters/db/postgres.ts';
import { createMemoryCache } from '../src/adapters/cache/memory-cache.ts';
import type { Database } from '../src/adapters/db/database.ts';
import { loadConfig } from '../src/config/config.ts';
import { packItems } from '../src/domain/content-pack.ts';
import { readPackFile } from '../src/features/content/pack-file.ts';
import { generatePrivateJwk, importSigningKey } from '../src/features/auth/signing-keys.ts';
import { createLogger } from '../src/observability/logger.ts';
import { DEMO_APPS, demoPackPath } from '../src/seed/demo-packs.ts';
import { seedPack } from '../src/seed/seed-demo-apps.ts';
import { createContainer } from '../src/wiring/container.ts';
import { BENCH_POSTGRES_URL, machine, median } from './support.ts';
import pg from 'pg';

/**
 * `npm run bench:seed`: what filling an app from its content pack costs.
 *
 * 1. Reading each committed pack (file read, parse, schema and whole-pack checks), best and
 *    median of several rounds.
 * 2. Importing mathkids into a fresh app, on PGlite and on the PostgreSQL server: the import
 *    (load what is stored, plan, write, in one transaction) against a baseline measured in the
 *    same run on the same database: writing the same concepts and lessons straight to the
 *    tables with no plan and no identity checks (what seeding did before packs). Then
 *    re-importing the unchanged pack (a plan that writes nothing).
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const quiet = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

console.log(`kidslearn bench:seed — ${new Date().toISOString()} — ${machine()}`);

console.log('\nreading packs (parse + schema + whole-pack checks):');
for (const demo of DEMO_APPS) {
  const times: number[] = [];
  let summary = '';
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    const result = await readPackFile(demoPackPath(demo.id));
    times.push(performance.now() - start);
    if (!result.pack) throw new Error(`${demo.id}: invalid pack`);
    const lessons = result.pack.units.flatMap((u) => u.lessons);
    summary = `${result.pack.concepts.length} concepts, ${lessons.length} lessons, ${lessons.reduce((n, l) => n + l.items.length, 0)} items`;
  }
  console.log(`  ${demo.packFile} (${summary}): first ${times[0]!.toFixed(0)} ms, best ${Math.min(...times).toFixed(0)} ms, median ${median(times).toFixed(0)} ms`);
}

const pack = (await readPackFile(demoPackPath('mathkids'))).pack!;
const lessons = pack.units.flatMap((u) => u.lessons).map((l) => ({ ...l, items: packItems(l) }));
const curriculum = { concepts: pack.concepts, lessons };

async function measure(label: string, open: () => Promise<{ database: Database; dispose: () => Promise<void> }>): Promise<void> {
  const imports: number[] = [];
  const baselines: number[] = [];
  const noops: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const { database, dispose } = await open();
    try {
      const config = loadConfig({ KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-seed-')), SEED_DEMO_APPS: 'false', LOG_LEVEL: 'error' }, { envFile: null });
      const c = await createContainer(config, { database, cache: createMemoryCache({ maxEntries: 1000 }), logger: quiet, signingKey: await importSigningKey(await generatePrivateJwk()) });
      await c.apps.create(`imp${round}`, 'import');
      await c.apps.create(`raw${round}`, 'baseline');
      // Alternate which goes first, so neither always runs on a warmer database.
      const runImport = async () => {
        const start = performance.now();
        await c.content.importPack(`imp${round}`, pack);
        imports.push(performance.now() - start);
      };
      const runBaseline = async () => {
        const start = performance.now();
        await seedPack(c, `raw${round}`, curriculum);
        baselines.push(performance.now() - start);
      };
      if (round % 2 === 0) {
        await runImport();
        await runBaseline();
      } else {
        await runBaseline();
        await runImport();
      }
      const start = performance.now();
      const again = await c.content.importPack(`imp${round}`, pack);
      noops.push(performance.now() - start);
      if (again.changed) throw new Error('re-import of the same pack changed something');
    } finally {
      await dispose();
    }
  }
  const m = median(imports);
  const b = median(baselines);
  console.log(
    `  ${label}: import median ${m.toFixed(0)} ms (best ${Math.min(...imports).toFixed(0)}), baseline (plain writes) median ${b.toFixed(0)} ms (best ${Math.min(...baselines).toFixed(0)}), import/baseline ${(m / b).toFixed(2)}×; unchanged re-import median ${median(noops).toFixed(0)} ms — ${ROUNDS} rounds`,
  );
}

console.log(`\nimporting mathkids (${pack.concepts.length} concepts, ${lessons.length} lessons, ${lessons.reduce((n, l) => n + l.items.length, 0)} items) into a fresh app:`);
await measure('PGlite (in memory)', async () => {
  const database = await openPgliteDatabase({ dataDir: null, acquireTimeoutMs: 60_000 });
  return { database, dispose: () => database.close() };
});
const name = `kidslearn_bench_seed_${process.pid}`;
const admin = new pg.Client({ connectionString: BENCH_POSTGRES_URL, connectionTimeoutMillis: 5000 });
try {
  await admin.connect();
} catch (error) {
  console.log(`  PostgreSQL: not reachable at ${BENCH_POSTGRES_URL} (${(error as Error).message}); skipped`);
  process.exit(0);
}
let n = 0;
await measure('PostgreSQL server', async () => {
  const db = `${name}_${n++}`;
  await admin.query(`create database ${db}`);
  const url = new URL(BENCH_POSTGRES_URL);
  url.pathname = `/${db}`;
  const database = await openPostgresDatabase({ url: url.toString(), poolSize: 5, connectTimeoutMs: 5000, statementTimeoutMs: 60_000 });
  return {
    database,
    dispose: async () => {
      await database.close();
      await admin.query(`drop database if exists ${db} with (force)`);
    },
  };
});
await admin.end();
