import { sql } from 'kysely';
import { loadConfig } from '../src/config/config.ts';
import type { Database } from '../src/adapters/db/database.ts';
import { countBacklog } from '../src/analytics/event-outbox.ts';
import { createContainer } from '../src/wiring/container.ts';
import { BENCH_APP } from './support.ts';

/**
 * Fills the outbox directly (one `insert … select from generate_series`
 * per chunk): valid rows of a realistic mix (answer_recorded from the
 * server, item_shown, screen_view, lesson_start from the app) over the last
 * three days, 5,000 learners. Returns the seconds it took.
 */
export async function fillOutbox(database: Database, events: number, chunk = 100_000): Promise<number> {
  const started = performance.now();
  for (let from = 0; from < events; from += chunk) {
    const to = Math.min(events, from + chunk) - 1;
    await sql`
      insert into kidslearn.lake_events (app, event_id, type, source, occurred_at, received_at, learner, session_id, properties, payload_hash)
      select ${BENCH_APP}, gen_random_uuid(),
             (array['answer_recorded', 'item_shown', 'screen_view', 'lesson_start'])[i % 4 + 1],
             case when i % 4 = 0 then 'server' else 'app' end,
             now() - make_interval(secs => (i % 259200)::double precision) - interval '1 minute',
             now(),
             'l_' || lpad((i % 5000)::text, 22, '0'),
             case when i % 4 = 0 then null else 's-' || (i / 50)::text end,
             case i % 4
               when 0 then jsonb_build_object('itemId', 'item-' || (i % 2000), 'lessonId', 'lesson-' || (i % 120), 'conceptId', 'concept-' || (i % 200),
                                              'correct', i % 3 <> 0, 'durationMs', 2000 + i % 9000, 'mastery', (i % 1000) / 1000.0)
               when 1 then jsonb_build_object('itemId', 'item-' || (i % 2000), 'lessonId', 'lesson-' || (i % 120), 'position', i % 12)
               when 2 then jsonb_build_object('screen', 'screen-' || (i % 6))
               else jsonb_build_object('lessonId', 'lesson-' || (i % 120))
             end,
             md5(i::text)
      from generate_series(${from}::int, ${to}::int) as i`.execute(database.db);
  }
  return (performance.now() - started) / 1000;
}

/** Events waiting for the writer (not yet exported): outbox rows and events in packs. */
export function backlog(database: Database): Promise<number> {
  return countBacklog(database.db);
}

/**
 * The lake writer in this process over the stack's environment: flushes
 * until nothing is pending and returns events written and seconds taken
 * (claim, read, Parquet encoding, store, mark exported).
 */
export async function drainWithWriter(env: Record<string, string>): Promise<{ events: number; batches: number; files: number; seconds: number; pendingBefore: number; pendingAfter: number }> {
  const container = await createContainer(loadConfig({ ...process.env, ...env, LOG_LEVEL: 'warn' }, { envFile: null }));
  try {
    const pendingBefore = await backlog(container.database);
    const writer = container.lakeWriter();
    const started = performance.now();
    let events = 0;
    let batches = 0;
    let files = 0;
    try {
      for (let round = 0; round < 1000; round++) {
        const r = await writer.flushNow();
        if (r.locked) throw new Error('another lake writer holds the lock');
        if (r.failed || r.deadLetters) throw new Error(`writer: ${r.failed} failed attempts, ${r.deadLetters} dead letters`);
        events += r.events;
        batches += r.batches;
        files += r.files;
        if (r.events === 0) break;
      }
    } finally {
      await writer.stop(30_000);
    }
    const seconds = (performance.now() - started) / 1000;
    return { events, batches, files, seconds, pendingBefore, pendingAfter: await backlog(container.database) };
  } finally {
    await container.close();
  }
}
