import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { registerLakeQueryCommands } from '../../src/cli/commands/lake-query.ts';
import { defaultIo, type CliContext } from '../../src/cli/shared.ts';
import { loadConfig } from '../../src/config/config.ts';
import { runCliProcess } from '../support/cli.ts';
import { createTestDirBlobStore } from '../support/dir-blob-store.ts';
import { tempLakeDir, writeLakeEvents } from '../support/lake-files.ts';

/**
 * `kidslearn lake query|report|athena-ddl`: as the real `kidslearn` process
 * over a lake directory (`LAKE_DIR`), and in-process (the store passed in
 * where the real one is opened) for the output formats in detail.
 */

describe('cli: lake athena-ddl (process)', () => {
  const env = { ...process.env, KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-cli-lake-')), DATABASE_URL: '', REDIS_URL: '' };

  it('prints the CREATE EXTERNAL TABLE for the bucket and prefix', async () => {
    const r = await runCliProcess(['lake', 'athena-ddl', '--bucket', 'kl-lake', '--prefix', 'lake/', '--database', 'analytics'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^CREATE EXTERNAL TABLE IF NOT EXISTS `analytics`\.`events` \(\n {2}`seq` bigint,/);
    assert.match(r.stdout, /LOCATION 's3:\/\/kl-lake\/lake\/events\/'/);
    assert.match(r.stdout, /'storage\.location\.template' = 's3:\/\/kl-lake\/lake\/events\/app=\$\{app\}\/year=\$\{year\}\/month=\$\{month\}\/day=\$\{day\}\/'\n\);\n$/);
  });

  it('refuses a missing bucket as a usage error and a bad one as a failure', async () => {
    const missing = await runCliProcess(['lake', 'athena-ddl'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--bucket/);
    const bad = await runCliProcess(['lake', 'athena-ddl', '--bucket', 'Not_A_Bucket'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Invalid bucket "Not_A_Bucket"/);
  });

  it('lake query reads LAKE_DIR without opening the database', async () => {
    const lake = tempLakeDir();
    try {
      await writeLakeEvents(lake.dir, 'alpha', [
        { type: 'lesson_start', at: '2026-11-02T08:00:00Z', learner: 'l_a', properties: { lessonId: 'les-1' } },
        { type: 'lesson_start', at: '2026-11-03T08:00:00Z', learner: 'l_b', properties: { lessonId: 'les-1' } },
      ]);
      const r = await runCliProcess(['lake', 'query', 'SELECT day, learner FROM lessons_started ORDER BY day', '--format', 'csv'], { ...env, LAKE_DIR: lake.dir });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'day,learner\r\n2,l_a\r\n3,l_b\n');
      const bad = await runCliProcess(['lake', 'query', 'DROP VIEW events'], { ...env, LAKE_DIR: lake.dir });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^kidslearn: Only SELECT/);
    } finally {
      lake.dispose();
    }
  });

  it('lake --help lists the query side', async () => {
    const r = await runCliProcess(['lake', '--help'], env);
    assert.equal(r.code, 0, r.stderr);
    for (const c of ['query <sql>', 'report <name>', 'athena-ddl']) assert.ok(r.stdout.includes(c), c);
  });
});

describe('cli: lake query | report (in-process)', () => {
  const lake = tempLakeDir();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cli-lake-data-'));

  /** Runs `kidslearn lake …` with the lake store pointed at the test lake; returns what it printed. */
  const run = async (args: string[]): Promise<string> => {
    const out: string[] = [];
    const ctx: CliContext = { config: () => loadConfig({ KIDSLEARN_DATA_DIR: dataDir }, { envFile: null }), io: defaultIo, print: (t) => out.push(t) };
    const program = new Command('kidslearn').exitOverride();
    registerLakeQueryCommands(program.command('lake'), ctx, { openStore: () => createTestDirBlobStore(lake.dir) });
    await program.parseAsync(['lake', ...args], { from: 'user' });
    return out.join('\n');
  };

  before(async () => {
    await writeLakeEvents(lake.dir, 'alpha', [
      { type: 'answer_recorded', at: '2026-11-02T08:00:00Z', learner: 'l_a', properties: { itemId: 'i1', lessonId: 'les-1', conceptId: 'adding', correct: true, durationMs: 900, mastery: 0.5 } },
      { type: 'answer_recorded', at: '2026-11-02T08:01:00Z', learner: 'l_b', properties: { itemId: 'i2', lessonId: 'les-1', conceptId: 'adding', correct: false, durationMs: 1100, mastery: 0.2 } },
      { type: 'app_error', at: '2026-11-02T08:02:00Z', learner: 'l_b', properties: { code: 'net,"odd"', fatal: false } },
    ]);
  });
  after(() => lake.dispose());

  it('table: aligned columns and a row count', async () => {
    const text = await run(['query', "SELECT learner, correct, duration_ms FROM answers WHERE app = 'alpha' ORDER BY learner"]);
    assert.equal(text, ['learner  correct  duration_ms', '-------  -------  -----------', 'l_a      true             900', 'l_b      false           1100', '(2 rows)'].join('\n'));
  });

  it('csv: RFC 4180 quoting', async () => {
    const text = await run(['query', 'SELECT code, fatal FROM app_errors', '--format', 'csv']);
    assert.equal(text, 'code,fatal\r\n"net,""odd""",false');
  });

  it('json: an array of objects, counts as numbers', async () => {
    const text = await run(['query', 'SELECT concept_id, count(*) AS answers FROM answers GROUP BY ALL', '--format', 'json']);
    assert.deepEqual(JSON.parse(text), [{ concept_id: 'adding', answers: 2 }]);
  });

  it('refuses anything but one SELECT, with DuckDB’s reason', async () => {
    await assert.rejects(run(['query', 'CREATE TABLE copy AS SELECT * FROM events']), /Only SELECT/);
    await assert.rejects(run(['query', 'DELETE FROM events']), /Can only delete from base table/);
    await assert.rejects(run(['query', 'SELECT nope FROM events']), /nope/);
  });

  it('report prints the API’s body as json, and rows with extras as a table', async () => {
    const json = JSON.parse(await run(['report', 'accuracy', '--app', 'alpha', '--from', '2026-11-01', '--to', '2026-11-03', '--format', 'json'])) as Record<string, unknown>;
    assert.deepEqual({ ...json, generatedAt: 'x' }, {
      report: 'accuracy',
      app: 'alpha',
      from: '2026-11-01',
      to: '2026-11-03',
      generatedAt: 'x',
      rows: [{ day: '2026-11-02', conceptId: 'adding', answers: 2, correct: 1, accuracy: 0.5 }],
    });
    const table = await run(['report', 'funnel', '--app', 'alpha', '--from', '2026-11-01', '--to', '2026-11-03']);
    assert.equal(table, ['funnel for alpha, 2026-11-01 to 2026-11-03', '(0 rows)', 'totals: {"started":0,"completed":0,"completionRate":0}'].join('\n'));
    await assert.rejects(run(['report', 'accuracy', '--app', 'alpha', '--from', '2026-11-04', '--to', '2026-11-03']), /"from": must be on or before to/);
  });
});
