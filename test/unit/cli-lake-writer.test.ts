import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { createContainer } from '../../src/wiring/container.ts';
import { runCliProcess } from '../support/cli.ts';
import { insertEvents, LakeReader, testEvent } from '../support/lake.ts';
import { createDirectoryBlobStore } from '../../src/adapters/blobs/directory-blob-store.ts';

/**
 * `kidslearn lake flush | status | dead-letters list|redrive|purge | compact`
 * against the embedded database and the directory store under the data dir:
 * what each command did is read back from the database and the files.
 */
describe('cli: lake', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cli-lake-'));
  const env = { ...process.env, KIDSLEARN_DATA_DIR: dataDir, JWT_PRIVATE_KEY: '', DATABASE_URL: '', REDIS_URL: '', SEED_DEMO_APPS: 'false', LAKE_DIR: '', LAKE_S3_BUCKET: '' };
  const config = loadConfig({ KIDSLEARN_DATA_DIR: dataDir }, { envFile: null });
  const store = createDirectoryBlobStore({ dir: path.join(dataDir, 'lake') });
  const reader = new LakeReader();
  let good: Awaited<ReturnType<typeof insertEvents>> = [];
  let bad: Awaited<ReturnType<typeof insertEvents>> = [];
  const day = '2026-11-20';

  before(async () => {
    const container = await createContainer(config);
    try {
      await container.apps.create('lakeapp', 'Lake app');
      good = await insertEvents(container.database, [testEvent('lakeapp', new Date(`${day}T09:00:00Z`)), testEvent('lakeapp', new Date(`${day}T10:00:00Z`))]);
      bad = await insertEvents(container.database, [testEvent('lakeapp', new Date(`${day}T11:00:00Z`), { properties: { itemId: 'broken' } })]);
    } finally {
      await container.close();
    }
  });
  after(() => reader.close());

  const cli = async (...args: string[]) => {
    const r = await runCliProcess(args, env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  it('flush writes pending events, rejects the invalid one; status, list, redrive (once), purge and compact work on what it left', async () => {
    assert.equal(await cli('lake', 'flush'), 'flushed 2 events in 1 batches (1 files); 0 failed attempts; 1 new dead letters');
    assert.deepEqual((await reader.rows(store)).map((r) => r.event_id), good.map((e) => e.eventId));

    const status = JSON.parse(await cli('lake', 'status', '--app', 'lakeapp', '--json')) as Record<string, unknown>;
    assert.equal(status.app, 'lakeapp');
    assert.equal(status.backlog, 0);
    assert.equal(status.lastFlushEvents, 2);
    assert.equal(status.deadLetters, 1);
    assert.equal(status.files, 1);

    const letters = (await cli('lake', 'dead-letters', 'list', '--app', 'lakeapp', '--json')).split('\n').map((l) => JSON.parse(l) as { id: number; eventId: string; reason: string; redrivenAt: string | null });
    assert.deepEqual(letters.map((l) => [l.eventId, l.reason, l.redrivenAt]), [[bad[0]!.eventId, 'rejected', null]]);
    const table = await cli('lake', 'dead-letters', 'list');
    assert.match(table.split('\n')[0]!, /^ID\s+APP\s+EVENT\s+TYPE\s+REASON\s+ATTEMPTS\s+CREATED\s+REDRIVEN\s+DETAIL$/);

    const id = String(letters[0]!.id);
    assert.equal(await cli('lake', 'dead-letters', 'redrive', '--id', id), `redriven 1: ${id} → ${bad[0]!.eventId}`);
    assert.equal(await cli('lake', 'dead-letters', 'redrive', '--id', id), 'nothing to redrive');
    // Still invalid: the next flush rejects it again (a new letter), nothing else changes.
    assert.equal(await cli('lake', 'flush'), 'flushed 0 events in 1 batches (0 files); 0 failed attempts; 1 new dead letters');

    const refused = await runCliProcess(['lake', 'dead-letters', 'purge'], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /name the dead letters/);
    assert.equal(await cli('lake', 'dead-letters', 'purge', '--app', 'lakeapp'), 'purged 2 dead letters');
    assert.equal(await cli('lake', 'dead-letters', 'list', '--app', 'lakeapp'), 'no dead letters');

    // A second file in the same day, then compaction merges both; the rows are the same.
    const container = await createContainer(config);
    let more: typeof good;
    try {
      more = await insertEvents(container.database, [testEvent('lakeapp', new Date(`${day}T12:00:00Z`))]);
    } finally {
      await container.close();
    }
    await cli('lake', 'flush');
    const before = (await reader.rows(store)).map((r) => r.event_id);
    assert.deepEqual(before, [...good, ...more].map((e) => e.eventId));
    const compacted = await cli('lake', 'compact', '--app', 'lakeapp', '--day', day);
    assert.match(compacted, /^lakeapp 2026-11-20: 2 files → events\/app=lakeapp\/year=2026\/month=11\/day=20\/\d{20}-\d{20}\.c\.parquet/);
    // Then the day's rollups (one file per kind), for the reports.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    assert.match(compacted, new RegExp(`\nrollups of lakeapp through ${yesterday}: 6 files written, 0 days up to date, 0 out-of-date files deleted$`));
    assert.equal((await store.list('events/')).length, 1);
    assert.deepEqual(
      (await store.list('rollups/')).map((b) => b.key.replace(/-[0-9a-f]{32}\.parquet$/, '')).sort(),
      ['accuracy', 'errors', 'funnel', 'learners', 'mastery', 'sessions'].map((k) => `rollups/app=lakeapp/year=2026/month=11/day=20/${k}`),
    );
    assert.deepEqual((await reader.rows(store)).map((r) => r.event_id), before);
    assert.equal(
      await cli('lake', 'compact'),
      `nothing to compact (1 partitions checked)\nrollups of lakeapp through ${yesterday}: 0 files written, 1 days up to date, 0 out-of-date files deleted`,
    );
    assert.equal(await cli('lake', 'compact', '--no-rollups'), 'nothing to compact (1 partitions checked)');
  });
});
