import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { athenaDdl, eventsLocation, locationTemplate } from '../../src/analytics/athena-ddl.ts';
import { LAKE_COLUMNS, partitionPrefix } from '../../src/analytics/lake-layout.ts';

/** The Glue/Athena table generated from the lake's own column list and key layout. */

const EXPECTED_TYPES: Record<string, string> = {
  seq: 'bigint',
  event_id: 'string',
  type: 'string',
  source: 'string',
  occurred_at: 'timestamp',
  received_at: 'timestamp',
  learner: 'string',
  session_id: 'string',
  lesson_id: 'string',
  concept_id: 'string',
  item_id: 'string',
  correct: 'boolean',
  duration_ms: 'int',
  mastery: 'double',
  properties: 'string',
};

describe('athena ddl', () => {
  const ddl = athenaDdl({ bucket: 'kl-lake', prefix: 'analytics-lake/' });
  const columnBlock = ddl.slice(ddl.indexOf('(\n') + 2, ddl.indexOf('\n)\n'));

  it('names every Parquet column, in file order, with its Athena type (and nothing else)', () => {
    const columns = columnBlock.split(',\n').map((l) => /^ {2}`(\w+)` (\w+)$/.exec(l)!.slice(1));
    assert.deepEqual(columns, LAKE_COLUMNS.map(([name]) => [name, EXPECTED_TYPES[name]]));
    assert.equal(columns.length, Object.keys(EXPECTED_TYPES).length);
  });

  it('partitions by app/year/month/day from the path, Parquet, zstd, at <prefix>events/', () => {
    assert.match(ddl, /^CREATE EXTERNAL TABLE IF NOT EXISTS `kidslearn`\.`events` \(/);
    assert.match(ddl, /\nPARTITIONED BY \(`app` string, `year` int, `month` int, `day` int\)\nSTORED AS PARQUET\nLOCATION 's3:\/\/kl-lake\/analytics-lake\/events\/'\n/);
    assert.match(ddl, /'parquet\.compression' = 'ZSTD'/);
  });

  it('projects partitions: app injected, year/month/day integer ranges with 4/2/2 digits', () => {
    const props = Object.fromEntries([...ddl.matchAll(/^ {2}'([^']+)' = '([^']*)'/gm)].map((m) => [m[1], m[2]]));
    assert.deepEqual(props, {
      'parquet.compression': 'ZSTD',
      'projection.enabled': 'true',
      'projection.app.type': 'injected',
      'projection.year.type': 'integer',
      'projection.year.range': '2025,2099',
      'projection.year.digits': '4',
      'projection.month.type': 'integer',
      'projection.month.range': '1,12',
      'projection.month.digits': '2',
      'projection.day.type': 'integer',
      'projection.day.range': '1,31',
      'projection.day.digits': '2',
      'storage.location.template': 's3://kl-lake/analytics-lake/events/app=${app}/year=${year}/month=${month}/day=${day}/',
    });
    assert.match(athenaDdl({ bucket: 'kl-lake', apps: ['alpha', 'beta'] }), /'projection\.app\.type' = 'enum',\n {2}'projection\.app\.values' = 'alpha,beta'/);
  });

  it('the location template, filled in as Athena does (with the digits), is the writer’s partition prefix', () => {
    for (const [app, day] of [['alpha', '2026-03-07'], ['mathkids', '2027-12-31']] as const) {
      const [y, m, d] = day.split('-').map(Number);
      const filled = locationTemplate('kl-lake', 'analytics-lake')
        .replace('${app}', app)
        .replace('${year}', String(y).padStart(4, '0'))
        .replace('${month}', String(m).padStart(2, '0'))
        .replace('${day}', String(d).padStart(2, '0'));
      assert.equal(filled, `s3://kl-lake/analytics-lake/${partitionPrefix(app, day)}`);
    }
    assert.equal(eventsLocation('kl-lake', ''), 's3://kl-lake/events/');
  });

  it('database, table and prefix are options; bad names are refused', () => {
    assert.match(athenaDdl({ bucket: 'kl-lake', prefix: '', database: 'lake_db', table: 'kid_events' }), /`lake_db`\.`kid_events`[\s\S]*LOCATION 's3:\/\/kl-lake\/events\/'/);
    assert.throws(() => athenaDdl({ bucket: 'Bad_Bucket' }), /Invalid bucket/);
    assert.throws(() => athenaDdl({ bucket: 'kl-lake', table: 'x; DROP' }), /Invalid table/);
    assert.throws(() => athenaDdl({ bucket: 'kl-lake', prefix: "a'b" }), /Invalid prefix/);
  });
});
