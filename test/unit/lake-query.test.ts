import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from '../../src/adapters/blobs/blob-store.ts';
import { liveEventFiles, listingPrefixes, monthsBetween, parseManifest } from '../../src/analytics/lake-files.ts';
import { eventObjectKey, lakeRow, partitionPrefix } from '../../src/analytics/lake-layout.ts';
import { cacheKey, LakeQueryEngine, rowObjects, type LakeQueryResult } from '../../src/analytics/lake-query.ts';
import { cellText, csvField, formatCsv, formatJson, formatTable, jsonValue } from '../../src/analytics/result-format.ts';
import { partitionFilter } from '../../src/analytics/reports.ts';
import { AppError } from '../../src/domain/errors.ts';
import { createTestDirBlobStore } from '../support/dir-blob-store.ts';
import { lakeEvent, tempLakeDir, writeLakeEvents, writeLakeFile, type TestEvent } from '../support/lake-files.ts';

/**
 * The lake's query side over real Parquet files written as the writer
 * writes them: the `events` view and the typed views, partition pruning
 * (shown by DuckDB's profile and by a corrupt file that only an unpruned
 * query touches), compaction manifests, the S3 download path, read-only
 * and timeout rules, and the output formats.
 */

const answer = (at: string, learner: string, conceptId: string, correct: boolean, mastery: number): TestEvent => ({
  type: 'answer_recorded',
  at,
  learner,
  properties: { itemId: `${conceptId}-q`, lessonId: 'les-1', conceptId, correct, durationMs: 1500, mastery },
});

const ALPHA: TestEvent[] = [
  answer('2026-11-01T08:00:00Z', 'l_a', 'adding', true, 0.4),
  answer('2026-11-02T08:00:00Z', 'l_a', 'adding', false, 0.3),
  answer('2026-11-02T09:00:00Z', 'l_b', 'counting', true, 0.9),
  { type: 'session_start', at: '2026-11-02T07:00:00Z', learner: 'l_b', sessionId: 's-1', properties: { platform: 'android', appVersion: '2.4.1', locale: 'en-GB' } },
  { type: 'session_end', at: '2026-11-02T07:20:00Z', learner: 'l_b', sessionId: 's-1', properties: { durationSeconds: 1200, screens: 4 } },
  { type: 'app_error', at: '2026-11-03T10:00:00Z', learner: 'l_b', properties: { code: 'net.timeout', screen: 'lesson', fatal: false } },
  { type: 'screen_view', at: '2026-11-03T10:00:00Z', learner: 'l_b', properties: { screen: 'home', previousScreen: 'lesson' } },
  { type: 'hint_used', at: '2026-11-03T10:01:00Z', learner: 'l_b', properties: { itemId: 'i-9', lessonId: 'les-1', hintLevel: 2 } },
  { type: 'item_shown', at: '2026-11-03T10:02:00Z', learner: 'l_b', properties: { itemId: 'i-9', lessonId: 'les-1', position: 3 } },
  { type: 'lesson_start', at: '2026-11-03T10:00:00Z', learner: 'l_b', properties: { lessonId: 'les-1' } },
  { type: 'lesson_complete', at: '2026-11-03T10:09:00Z', learner: 'l_b', properties: { lessonId: 'les-1', durationSeconds: 540, score: 0.75 } },
  { type: 'plan_ready', at: '2026-11-03T10:10:00Z', learner: 'l_b', properties: { planId: 'p-1', activities: 6, minutes: 12 } },
];

describe('lake query engine', () => {
  const lake = tempLakeDir();
  const store = createTestDirBlobStore(lake.dir);
  let engine: LakeQueryEngine;
  const q = (sql: string, scope = {}) => engine.query(sql, { freeForm: true, scope }).then(rowObjects);

  before(async () => {
    await writeLakeEvents(lake.dir, 'alpha', ALPHA);
    await writeLakeEvents(lake.dir, 'beta', [answer('2026-11-02T08:00:00Z', 'l_z', 'adding', true, 0.5)]);
    engine = new LakeQueryEngine({ store, cacheDir: path.join(lake.dir, '..', `${path.basename(lake.dir)}-cache`), timeoutMs: 10_000 });
  });
  after(async () => {
    await engine.close();
    lake.dispose();
  });

  it('the events view has every column, app after event_id, and typed partition columns from the path', async () => {
    const result = await engine.query('SELECT * FROM events LIMIT 1', { freeForm: true });
    assert.deepEqual(
      result.columns.map((c) => `${c.name} ${c.type}`),
      [
        'seq BIGINT', 'event_id VARCHAR', 'app VARCHAR', 'type VARCHAR', 'source VARCHAR', 'occurred_at TIMESTAMP', 'received_at TIMESTAMP',
        'learner VARCHAR', 'session_id VARCHAR', 'lesson_id VARCHAR', 'concept_id VARCHAR', 'item_id VARCHAR', 'correct BOOLEAN',
        'duration_ms INTEGER', 'mastery DOUBLE', 'properties VARCHAR', 'year INTEGER', 'month INTEGER', 'day INTEGER',
      ],
    );
    const counts = await q("SELECT app, year, month, day, count(*) AS n FROM events GROUP BY ALL ORDER BY app, day");
    assert.deepEqual(counts, [
      { app: 'alpha', year: 2026, month: 11, day: 1, n: 1n },
      { app: 'alpha', year: 2026, month: 11, day: 2, n: 4n },
      { app: 'alpha', year: 2026, month: 11, day: 3, n: 7n },
      { app: 'beta', year: 2026, month: 11, day: 2, n: 1n },
    ]);
  });

  it('typed views per event type carry the typed columns and the properties they need', async () => {
    assert.deepEqual(await q("SELECT learner, concept_id, correct, duration_ms, mastery, item_id, lesson_id FROM answers WHERE app = 'alpha' ORDER BY occurred_at"), [
      { learner: 'l_a', concept_id: 'adding', correct: true, duration_ms: 1500, mastery: 0.4, item_id: 'adding-q', lesson_id: 'les-1' },
      { learner: 'l_a', concept_id: 'adding', correct: false, duration_ms: 1500, mastery: 0.3, item_id: 'adding-q', lesson_id: 'les-1' },
      { learner: 'l_b', concept_id: 'counting', correct: true, duration_ms: 1500, mastery: 0.9, item_id: 'counting-q', lesson_id: 'les-1' },
    ]);
    assert.deepEqual(await q("SELECT event, session_id, platform, app_version, locale, duration_ms, screens FROM sessions WHERE app = 'alpha' ORDER BY occurred_at"), [
      { event: 'start', session_id: 's-1', platform: 'android', app_version: '2.4.1', locale: 'en-GB', duration_ms: null, screens: null },
      { event: 'end', session_id: 's-1', platform: null, app_version: null, locale: null, duration_ms: 1_200_000, screens: 4 },
    ]);
    assert.deepEqual(await q('SELECT code, screen, fatal FROM app_errors'), [{ code: 'net.timeout', screen: 'lesson', fatal: false }]);
    assert.deepEqual(await q('SELECT screen, previous_screen FROM screen_views'), [{ screen: 'home', previous_screen: 'lesson' }]);
    assert.deepEqual(await q('SELECT item_id, lesson_id, hint_level FROM hints'), [{ item_id: 'i-9', lesson_id: 'les-1', hint_level: 2 }]);
    assert.deepEqual(await q('SELECT item_id, position FROM items_shown'), [{ item_id: 'i-9', position: 3 }]);
    assert.deepEqual(await q('SELECT lesson_id FROM lessons_started'), [{ lesson_id: 'les-1' }]);
    assert.deepEqual(await q('SELECT type, lesson_id, duration_ms, score FROM lessons_completed'), [{ type: 'lesson_complete', lesson_id: 'les-1', duration_ms: 540_000, score: 0.75 }]);
    assert.deepEqual(await q('SELECT plan_id, status, minutes, activities, code FROM plans'), [{ plan_id: 'p-1', status: 'ready', minutes: 12, activities: 6, code: null }]);
  });

  it('a scope narrows the files the views cover', async () => {
    const result = await engine.query('SELECT count(*) AS n FROM events', { freeForm: true, scope: { app: 'alpha', fromDay: '2026-11-02', toDay: '2026-11-02' } });
    assert.equal(result.files, 1);
    assert.deepEqual(rowObjects(result), [{ n: 4n }]);
    const none = await engine.query('SELECT count(*) AS n FROM answers', { freeForm: true, scope: { app: 'gamma' } });
    assert.equal(none.files, 0);
    assert.deepEqual(rowObjects(none), [{ n: 0n }]);
  });

  it('runs read-only: one SELECT or EXPLAIN, nothing else, and no file outside the lake', async () => {
    const refused = async (sql: string, pattern: RegExp) =>
      assert.rejects(engine.query(sql, { freeForm: true }), (e: unknown) => e instanceof AppError && e.code === 'invalid_lake_query' && pattern.test(e.message));
    await refused(`COPY (SELECT 1) TO '${path.join(lake.dir, 'out.csv')}'`, /Only SELECT/);
    await refused('CREATE TABLE t AS SELECT 1', /Only SELECT/);
    await refused('SELECT 1; SELECT 2', /exactly one SQL statement, got 2/);
    await refused("SELECT * FROM read_csv('/etc/passwd')", /Permission|disabled/);
    await refused('SET threads = 1', /Only SELECT/);
    await refused('SELECT nope FROM events', /nope/);
    assert.equal(existsSync(path.join(lake.dir, 'out.csv')), false);
  });

  it('limits the rows it returns and says so', async () => {
    const result = await engine.query('SELECT * FROM range(10) t(i)', { freeForm: true, maxRows: 3 });
    assert.deepEqual(result.rows, [[0n], [1n], [2n]]);
    assert.equal(result.truncated, true);
    assert.equal((await engine.query('SELECT * FROM range(3) t(i)', { freeForm: true, maxRows: 3 })).truncated, false);
  });

  it('interrupts a query past its deadline with lake_query_timeout, and the engine still answers afterwards', { timeout: 60_000 }, async () => {
    await assert.rejects(
      engine.query('SELECT count(*) FROM range(1000000000000) a', { freeForm: true, timeoutMs: 300 }),
      (e: unknown) => e instanceof AppError && e.code === 'lake_query_timeout' && e.kind === 'unavailable',
    );
    assert.deepEqual(rowObjects(await engine.query('SELECT 41 + 1 AS x', { freeForm: true })), [{ x: 42 }]);
  });

  it('on S3 copies the needed files into the cache once (keyed by key and version) and answers the same', async () => {
    const s3 = createTestDirBlobStore(lake.dir, { as: 's3' });
    const cacheDir = path.join(lake.dir, '..', `${path.basename(lake.dir)}-s3cache`);
    const remote = new LakeQueryEngine({ store: s3, cacheDir, timeoutMs: 10_000 });
    try {
      const sql = "SELECT day, count(*) AS n FROM answers WHERE app = 'alpha' GROUP BY day ORDER BY day";
      const first = rowObjects(await remote.query(sql, { scope: { app: 'alpha' } }));
      assert.deepEqual(first, [{ day: 1, n: 1n }, { day: 2, n: 2n }]);
      assert.equal(s3.gets.length, 3, 'three alpha files fetched');
      assert.deepEqual(rowObjects(await remote.query(sql, { scope: { app: 'alpha' } })), first);
      assert.equal(s3.gets.length, 3, 'the second query read the cache');
      const cached = readdirSync(path.join(cacheDir, ...partitionPrefix('alpha', '2026-11-02').split('/')));
      assert.equal(cached.length, 1);
      assert.match(cached[0]!, /^\d{20}-\d{20}\.[0-9a-z-]+\.parquet$/, 'cached under the key and a version tag');
    } finally {
      await remote.close();
    }
  });
});

describe('S3 cache pruning', () => {
  it('drops cached copies of objects rewritten or deleted in the scope (erasure leaves no copy behind), keeps the rest', async () => {
    const lake = tempLakeDir();
    const cacheDir = `${lake.dir}-cache`;
    const s3 = createTestDirBlobStore(lake.dir, { as: 's3' });
    const engine = new LakeQueryEngine({ store: s3, cacheDir, timeoutMs: 10_000 });
    const cachedIn = (day: string) => readdirSync(path.join(cacheDir, ...partitionPrefix('alpha', day).split('/'))).sort();
    try {
      const [day1, day2] = await writeLakeEvents(lake.dir, 'alpha', [answer('2026-11-01T08:00:00Z', 'l_a', 'adding', true, 0.4), answer('2026-11-02T08:00:00Z', 'l_a', 'adding', true, 0.4)]);
      const [day3] = await writeLakeEvents(lake.dir, 'alpha', [answer('2026-11-03T08:00:00Z', 'l_a', 'adding', true, 0.4)]);
      await engine.query('SELECT count(*) FROM events', { scope: { app: 'alpha' } });
      const before1 = cachedIn('2026-11-01');
      assert.equal(before1.length, 1);
      // Day 1's file rewritten with other rows (as erasure does), day 2's deleted.
      const rows = [1, 2].map((i) => lakeRow(500 + i, lakeEvent('alpha', answer(`2026-11-01T1${i}:00:00Z`, 'l_b', 'counting', false, 0.1))));
      await writeLakeFile(lake.dir, day1!, rows);
      await s3.delete([day2!]);
      // A query of days 1–2 only: day 3's copy is outside its scope and stays.
      assert.deepEqual(rowObjects(await engine.query("SELECT learner, count(*) AS n FROM events GROUP BY ALL", { scope: { app: 'alpha', fromDay: '2026-11-01', toDay: '2026-11-02' } })), [{ learner: 'l_b', n: 2n }]);
      const after1 = cachedIn('2026-11-01');
      assert.equal(after1.length, 1, 'only the new version of day 1');
      assert.notDeepEqual(after1, before1);
      assert.deepEqual(cachedIn('2026-11-02'), []);
      assert.equal(cachedIn('2026-11-03').length, 1);
      assert.ok(day3);
    } finally {
      await engine.close();
      lake.dispose();
    }
  });
});

describe('S3 cache keys', () => {
  it('an object rewritten under the same key with the same size is cached apart (ETag, else modification time)', () => {
    const key = 'rollups/app=alpha/year=2026/month=11/day=02/funnel-ab12.parquet';
    const at = new Date('2026-11-02T10:00:00Z');
    const before = cacheKey({ key, size: 900, modifiedAt: at, etag: '0123456789abcdef0123456789abcdef' });
    const after = cacheKey({ key, size: 900, modifiedAt: at, etag: 'fedcba9876543210fedcba9876543210' });
    assert.notEqual(before, after);
    assert.equal(before, 'rollups/app=alpha/year=2026/month=11/day=02/funnel-ab12.0123456789abcdef0123456789abcdef.parquet');
    // A multipart upload's ETag ("<md5>-<parts>") is kept as it is; a store without ETags falls back to size and time.
    assert.match(cacheKey({ key, size: 900, modifiedAt: at, etag: 'ABCDEF0123-3' }), /funnel-ab12\.abcdef0123-3\.parquet$/);
    assert.notEqual(cacheKey({ key, size: 900, modifiedAt: at }), cacheKey({ key, size: 900, modifiedAt: new Date(at.getTime() + 1) }));
  });
});

describe('partition pruning', () => {
  const lake = tempLakeDir();
  let engine: LakeQueryEngine;
  before(async () => {
    await writeLakeEvents(lake.dir, 'alpha', [answer('2026-11-01T08:00:00Z', 'l_a', 'adding', true, 0.4), answer('2026-11-02T08:00:00Z', 'l_a', 'adding', true, 0.5)]);
    // A file that is not Parquet, in another day's partition of the same app.
    const bad = path.join(lake.dir, ...eventObjectKey('alpha', '2026-11-03', 900, 901).split('/'));
    mkdirSync(path.dirname(bad), { recursive: true });
    writeFileSync(bad, 'this is not parquet');
    engine = new LakeQueryEngine({ store: createTestDirBlobStore(lake.dir), cacheDir: `${lake.dir}-cache`, timeoutMs: 10_000 });
  });
  after(async () => {
    await engine.close();
    lake.dispose();
  });

  it('a query filtered to one app and day reads only that day’s file, even over the whole lake’s file list', async () => {
    const one = await engine.query("SELECT count(*) AS n FROM events WHERE app = 'alpha' AND year = 2026 AND month = 11 AND day = 2", { freeForm: true });
    assert.equal(one.files, 3, 'the view lists every file of the lake');
    assert.deepEqual(rowObjects(one), [{ n: 1n }]);
    // The same through a typed view.
    assert.deepEqual(rowObjects(await engine.query("SELECT count(*) AS n FROM answers WHERE app = 'alpha' AND year = 2026 AND month = 11 AND day = 1", { freeForm: true })), [{ n: 1n }]);
    // Unfiltered, DuckDB reaches the corrupt file and fails.
    await assert.rejects(engine.query('SELECT count(*) FROM events', { freeForm: true }), (e: unknown) => e instanceof AppError && /day=03/.test(e.message));
  });

  it('DuckDB’s profile shows one file read out of three', async () => {
    const plan = await engine.query("EXPLAIN ANALYZE SELECT count(*) FROM events WHERE app = 'alpha' AND year = 2026 AND month = 11 AND day = 2", { freeForm: true });
    const text = plan.rows.map((r) => String(r[1])).join('\n');
    assert.match(text, /Scanning Files: 1\/3/);
    assert.match(text, /Total Files Read: 1\b/);
  });
});

describe('compaction manifests', () => {
  const lake = tempLakeDir();
  const store = createTestDirBlobStore(lake.dir);
  let engine: LakeQueryEngine;
  const day = '2026-11-05';
  const events = [1, 2, 3, 4].map((i) => lakeRow(100 + i, lakeEvent('alpha', answer(`${day}T0${i}:00:00Z`, `l_${i}`, 'adding', true, 0.5))));
  const a = eventObjectKey('alpha', day, 101, 102);
  const b = eventObjectKey('alpha', day, 103, 104);
  const target = eventObjectKey('alpha', day, 101, 104).replace(/\.parquet$/, '.c.parquet');
  const manifest = `${partitionPrefix('alpha', day)}_compaction-${'101'.padStart(20, '0')}-${'104'.padStart(20, '0')}.json`;
  const count = async () => rowObjects(await engine.query('SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events', { scope: { app: 'alpha' } }))[0];
  const live = async () => (await liveEventFiles(store, { app: 'alpha', fromDay: day, toDay: day })).map((f) => f.key);

  before(async () => {
    await writeLakeFile(lake.dir, a, events.slice(0, 2));
    await writeLakeFile(lake.dir, b, events.slice(2));
    engine = new LakeQueryEngine({ store, cacheDir: `${lake.dir}-cache`, timeoutMs: 10_000 });
  });
  after(async () => {
    await engine.close();
    lake.dispose();
  });

  it('every event counts once at every step of a compaction', async () => {
    assert.deepEqual(await count(), { n: 4n, ids: 4n });
    // (1) the manifest, no target yet: the sources are the truth.
    await store.putBytes(manifest, new TextEncoder().encode(JSON.stringify({ target, sources: [a, b] })));
    assert.deepEqual(await live(), [a, b]);
    assert.deepEqual(await count(), { n: 4n, ids: 4n });
    // (2) the target is stored beside its sources: only the target is read.
    await writeLakeFile(lake.dir, target, events);
    assert.deepEqual(await live(), [target]);
    assert.deepEqual(await count(), { n: 4n, ids: 4n });
    // (3) one source deleted (a crash half way through the deletes), then the other.
    await store.delete([a]);
    assert.deepEqual(await count(), { n: 4n, ids: 4n });
    await store.delete([b]);
    assert.deepEqual(await count(), { n: 4n, ids: 4n });
    // (4) the manifest deleted: the target alone.
    await store.delete([manifest]);
    assert.deepEqual(await live(), [target]);
    assert.deepEqual(await count(), { n: 4n, ids: 4n });
  });

  it('a manifest that cannot be parsed still hides the files its name covers once its target exists', async () => {
    const dir = tempLakeDir();
    const s = createTestDirBlobStore(dir.dir);
    try {
      await writeLakeFile(dir.dir, a, events.slice(0, 2));
      await writeLakeFile(dir.dir, b, events.slice(2));
      await writeLakeFile(dir.dir, target, events);
      await s.putBytes(manifest, new TextEncoder().encode('{"target": '));
      assert.deepEqual((await liveEventFiles(s, { app: 'alpha' })).map((f) => f.key), [target]);
    } finally {
      dir.dispose();
    }
  });
});

describe('listing', () => {
  it('lists one prefix per month in range, the app folder for open ranges, everything without an app', () => {
    assert.deepEqual(listingPrefixes({ app: 'alpha', fromDay: '2026-11-20', toDay: '2027-01-03' }), [
      'events/app=alpha/year=2026/month=11/',
      'events/app=alpha/year=2026/month=12/',
      'events/app=alpha/year=2027/month=01/',
    ]);
    assert.deepEqual(listingPrefixes({ app: 'alpha', toDay: '2026-11-02' }), ['events/app=alpha/']);
    assert.deepEqual(listingPrefixes({}), ['events/']);
    assert.equal(monthsBetween('2020-01-01', '2026-12-31').length, 84);
    assert.deepEqual(listingPrefixes({ app: 'alpha', fromDay: '2020-01-01', toDay: '2026-12-31' }), ['events/app=alpha/']);
  });

  it('asks the store only for the months in range and keeps only the days in range', async () => {
    const lake = tempLakeDir();
    try {
      await writeLakeEvents(lake.dir, 'alpha', [answer('2026-10-31T08:00:00Z', 'l_a', 'c', true, 0.1), answer('2026-11-01T08:00:00Z', 'l_a', 'c', true, 0.1), answer('2026-11-02T08:00:00Z', 'l_a', 'c', true, 0.1)]);
      const inner = createTestDirBlobStore(lake.dir);
      const prefixes: string[] = [];
      const spy: BlobStore = { ...inner, list: (p) => (prefixes.push(p), inner.list(p)) };
      const files = await liveEventFiles(spy, { app: 'alpha', fromDay: '2026-11-01', toDay: '2026-11-01' });
      assert.deepEqual(prefixes, ['events/app=alpha/year=2026/month=11/']);
      assert.deepEqual(files.map((f) => f.key.split('/')[4]), ['day=01']);
    } finally {
      lake.dispose();
    }
  });

  it('parses manifests strictly', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    assert.deepEqual(parseManifest(enc('{"target":"t","sources":["a","b"]}')), { target: 't', sources: ['a', 'b'] });
    assert.equal(parseManifest(enc('{"target":"t"}')), undefined);
    assert.equal(parseManifest(enc('{"target":"t","sources":[1]}')), undefined);
    assert.equal(parseManifest(enc('nope')), undefined);
  });
});

describe('output formats', () => {
  const result: LakeQueryResult = {
    columns: [
      { name: 'name', type: 'VARCHAR' },
      { name: 'n', type: 'BIGINT' },
      { name: 'at', type: 'TIMESTAMP' },
      { name: 'd', type: 'DATE' },
    ],
    rows: [
      ['plain', 7n, new Date('2026-11-02T08:00:00Z'), new Date('2026-11-02T00:00:00Z')],
      ['has, comma and "quotes"\nand a line', 9_007_199_254_740_993n, null, null],
    ],
    truncated: false,
    files: 0,
  };

  it('csv quotes per RFC 4180 with CRLF line ends', () => {
    assert.equal(
      formatCsv(result),
      'name,n,at,d\r\nplain,7,2026-11-02T08:00:00.000Z,2026-11-02\r\n"has, comma and ""quotes""\nand a line",9007199254740993,,\r\n',
    );
    assert.equal(csvField('a\rb'), '"a\rb"');
    assert.equal(csvField('plain'), 'plain');
  });

  it('json: an array of objects, bigint as a number when exact, else as a string', () => {
    assert.deepEqual(JSON.parse(formatJson(result)), [
      { name: 'plain', n: 7, at: '2026-11-02T08:00:00.000Z', d: '2026-11-02' },
      { name: 'has, comma and "quotes"\nand a line', n: '9007199254740993', at: null, d: null },
    ]);
    assert.equal(jsonValue(2n ** 53n - 1n), 9007199254740991);
    assert.equal(jsonValue(2n ** 53n), '9007199254740992');
    assert.equal(jsonValue(-(2n ** 60n)), '-1152921504606846976');
    assert.deepEqual(jsonValue([1n, { a: 2n }]), [1, { a: 2 }]);
    assert.equal(cellText({ a: 1n }), '{"a":1}');
  });

  it('table: aligned columns, numbers right-aligned, NULL shown, a row count', () => {
    const table = formatTable({ columns: result.columns.slice(0, 2), rows: [['a', 7n], ['longer', 12345n], [null, null]], truncated: true });
    assert.equal(
      table,
      ['name        n', '------  -----', 'a           7', 'longer  12345', 'NULL     NULL', '(3 rows; more rows were left out, raise --max-rows or narrow the query)'].join('\n'),
    );
  });

  it('the engine’s own BIGINT and HUGEINT values print exactly', async () => {
    const lake = tempLakeDir();
    const engine = new LakeQueryEngine({ store: createTestDirBlobStore(lake.dir), cacheDir: `${lake.dir}-cache`, timeoutMs: 10_000 });
    try {
      const r = await engine.query('SELECT 9007199254740993::BIGINT AS big, 170141183460469231731687303715884105727::HUGEINT AS huge, 3::BIGINT AS small', { freeForm: true });
      assert.deepEqual(JSON.parse(formatJson(r)), [{ big: '9007199254740993', huge: '170141183460469231731687303715884105727', small: 3 }]);
    } finally {
      await engine.close();
      lake.dispose();
    }
  });
});


describe('report partition filters', () => {
  const lake = tempLakeDir();
  let engine: LakeQueryEngine;
  before(async () => {
    for (const day of ['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02', '2026-12-01']) {
      await writeLakeEvents(lake.dir, 'alpha', [answer(`${day}T08:00:00Z`, 'l_a', 'adding', true, 0.5)]);
    }
    engine = new LakeQueryEngine({ store: createTestDirBlobStore(lake.dir), cacheDir: `${lake.dir}-cache`, timeoutMs: 10_000 });
  });
  after(async () => {
    await engine.close();
    lake.dispose();
  });

  it('prune files by themselves, across a month boundary, even when the view lists the whole lake', async () => {
    const plan = await engine.query(`EXPLAIN ANALYZE SELECT count(*) FROM events WHERE ${partitionFilter('alpha', '2026-10-31', '2026-11-01')}`, { freeForm: true });
    const text = plan.rows.map((r) => String(r[1])).join('\n');
    assert.match(text, /Scanning Files: 2\/5/);
    assert.match(text, /Total Files Read: 2\b/);
    const open = await engine.query(`EXPLAIN ANALYZE SELECT count(*) FROM events WHERE ${partitionFilter('alpha', undefined, '2026-11-01')}`, { freeForm: true });
    assert.match(open.rows.map((r) => String(r[1])).join('\n'), /Total Files Read: 3\b/);
    assert.deepEqual(rowObjects(await engine.query(`SELECT count(*) AS n FROM answers WHERE ${partitionFilter('alpha', '2026-10-31', '2026-11-02')}`)), [{ n: 3n }]);
  });
});
