import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { eventObjectKey, LAKE_COLUMNS } from '../src/analytics/lake-layout.ts';

/**
 * A synthetic lake for the report benchmark: `events` rows over `days` days
 * for one app, one compacted-size file per day, in the layout and with the
 * columns the writer produces. The mix of event types, learners (a key per
 * learner, as pseudonymised), concepts, lessons and accuracy is shaped like
 * the demo's, so the reports do the work they do on real data.
 */
export async function writeSyntheticLake(root: string, options: { app: string; events: number; days: number; learners: number; endDay: string }): Promise<{ files: string[] }> {
  const instance = await DuckDBInstance.create(':memory:');
  const duck = await instance.connect();
  const files: string[] = [];
  try {
    const perDay = Math.ceil(options.events / options.days);
    const end = Date.parse(`${options.endDay}T00:00:00Z`);
    for (let d = 0; d < options.days; d++) {
      const dayStart = new Date(end - (options.days - 1 - d) * 86_400_000);
      const day = dayStart.toISOString().slice(0, 10);
      const n = Math.min(perDay, options.events - d * perDay);
      if (n <= 0) break;
      const first = BigInt(d * perDay + 1);
      const key = eventObjectKey(options.app, day, first, first + BigInt(n - 1));
      const file = path.join(root, key);
      await mkdir(path.dirname(file), { recursive: true });
      await duck.run(`
        copy (
          with r as (select range as i, random() as t, random() as u, hash(range * 2654435761 + ${d}) as h from range(${n}))
          select ${first}::bigint + i as seq,
                 uuid()::varchar as event_id,
                 case when t < 0.55 then 'answer_recorded' when t < 0.65 then 'item_shown' when t < 0.72 then 'lesson_start'
                      when t < 0.78 then 'lesson_recorded' when t < 0.84 then 'session_start' when t < 0.90 then 'session_end'
                      when t < 0.97 then 'screen_view' when t < 0.985 then 'hint_used' else 'app_error' end as type,
                 case when t < 0.55 or (t >= 0.72 and t < 0.78) then 'server' else 'app' end as source,
                 (timestamp '${day} 00:00:00' + to_seconds((u * 86399)::bigint)) as occurred_at,
                 (timestamp '${day} 00:00:00' + to_seconds((u * 86399)::bigint + 2)) as received_at,
                 'l_' || lpad((h % ${options.learners})::varchar, 22, '0') as learner,
                 null::varchar as session_id,
                 case when t >= 0.55 and t < 0.65 or t < 0.55 or (t >= 0.65 and t < 0.78) then 'lesson-' || (h % 120)::varchar end as lesson_id,
                 case when t < 0.55 then 'concept-' || ((h >> 8) % 200)::varchar end as concept_id,
                 case when t < 0.65 then 'item-' || ((h >> 16) % 2000)::varchar end as item_id,
                 case when t < 0.55 then ((h >> 24) % 100) < 72 end as correct,
                 case when t < 0.55 then 2000 + ((h >> 32) % 9000)::integer when t >= 0.84 and t < 0.90 then 60000 + ((h >> 32) % 900000)::integer end as duration_ms,
                 case when t < 0.55 then ((h >> 40) % 1000) / 1000.0 end as mastery,
                 case when t >= 0.985 then '{"code":"network_timeout","fatal":false}' else '{}' end as properties
          from r order by seq
        ) to '${file.replaceAll("'", "''")}' (format parquet, compression zstd)`);
      files.push(key);
    }
    // The generated columns must be the lake's, in its order.
    const described = await duck.runAndReadAll(`select column_name from (describe select * from read_parquet('${path.join(root, files[0]!).replaceAll("'", "''")}', hive_partitioning = false))`);
    const names = described.getRows().map((r) => String(r[0]));
    if (names.join(',') !== LAKE_COLUMNS.map((c) => c[0]).join(',')) throw new Error(`synthetic lake columns ${names.join(',')} differ from the lake's`);
    return { files };
  } finally {
    duck.closeSync();
    instance.closeSync();
  }
}

/** {@link writeSyntheticLake} once per set of options: later runs reuse the files (generating 10M rows takes a minute or two). */
export async function syntheticLakeOnce(root: string, options: { app: string; events: number; days: number; learners: number; endDay: string }): Promise<{ files: string[]; reused: boolean }> {
  const { readFile, writeFile, rm } = await import('node:fs/promises');
  const marker = path.join(root, '.synthetic.json');
  const wanted = JSON.stringify(options);
  const existing = await readFile(marker, 'utf8').catch(() => undefined);
  if (existing) {
    const saved = JSON.parse(existing) as { options: string; files: string[] };
    if (saved.options === wanted) return { files: saved.files, reused: true };
  }
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const { files } = await writeSyntheticLake(root, options);
  await writeFile(marker, JSON.stringify({ options: wanted, files }));
  return { files, reused: false };
}
