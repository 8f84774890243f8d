import type { ServerType } from '@hono/node-server';
import { closeServer, listen } from '../../src/runtimes/process-lifecycle.ts';
import { createTestApp, type TestApp } from './app-fixture.ts';
import { stacks } from './servers.ts';
import { writeLakeEvents, type TestEvent } from './lake-files.ts';
import { insertEvents, testEvent } from './lake.ts';

/**
 * The admin dashboard over a real HTTP server: the real app (sign-in, the
 * dashboard's page and files, the /admin sign-in check) on the embedded
 * stack, an app with one admin account, and the analytics reports the page
 * draws.
 */

const DAY_MS = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);

/** One analytics event of the seeded dataset (the fields the reports read). */
export interface SeedEvent {
  type: 'session_start' | 'session_end' | 'answer_recorded' | 'lesson_start' | 'lesson_complete' | 'lesson_recorded' | 'app_error';
  /** UTC day, YYYY-MM-DD. */
  day: string;
  learner: string;
  conceptId?: string;
  lessonId?: string;
  correct?: boolean;
  mastery?: number;
  durationSeconds?: number;
  code?: string;
  fatal?: boolean;
}

/** MASTERY_THRESHOLD's default: the reports count mastery at or above it as mastered. */
export const MASTERY_THRESHOLD = 0.95;
const CONCEPTS = ['counting', 'adding', 'reading'] as const;
/** Out of ten answers, how many are right per concept: counting is easy, reading hard (so the chart has three colours). */
const RIGHT_OUT_OF_TEN: Record<string, number> = { counting: 9, adding: 7, reading: 5 };
const LESSONS = ['count-k', 'shared-lesson', 'read-1'] as const;

/**
 * A small, deterministic dataset placed 1–20 days before `today` (well
 * inside the dashboard's default 30-day range): six learners with sessions
 * on every third day, answers on three concepts, three lessons started and
 * completed by fewer and fewer learners, and a few app errors.
 */
export function seedEvents(today = Date.now()): SeedEvent[] {
  const events: SeedEvent[] = [];
  const answered = new Map<string, number>();
  for (let i = 0; i < 6; i++) {
    const learner = `l_learner${i}`;
    let first: string | undefined;
    for (let d = 20; d >= 1; d--) {
      if ((d + i) % 3 !== 0) continue;
      const day = isoDay(today - d * DAY_MS);
      first ??= day;
      events.push({ type: 'session_start', day, learner });
      for (let k = 0; k < 4; k++) {
        const c = (d + i + k) % 3;
        const conceptId = CONCEPTS[c]!;
        const n = (answered.get(`${learner}:${conceptId}`) ?? 0) + 1;
        answered.set(`${learner}:${conceptId}`, n);
        const mastery = Math.min(0.99, 0.02 + (i * 3 + c) * 0.058 + (n % 3) * 0.004);
        events.push({ type: 'answer_recorded', day, learner, conceptId, correct: (d + i * 3 + k) % 10 < RIGHT_OUT_OF_TEN[conceptId]!, mastery });
      }
      events.push({ type: 'session_end', day, learner, durationSeconds: 300 + 60 * i + 30 * (d % 4) });
    }
    const day = first!;
    // Lesson i: learners 0–5 start count-k, 0–4 shared-lesson, 0–2 read-1; fewer complete.
    const starts = [true, i < 5, i < 3];
    const completes = [i < 5, i < 3, i < 1];
    LESSONS.forEach((lessonId, l) => {
      if (starts[l]) events.push({ type: 'lesson_start', day, learner, lessonId });
      // lesson_recorded (the server's record of a completion) counts as completed too.
      if (completes[l]) events.push({ type: i % 2 ? 'lesson_recorded' : 'lesson_complete', day, learner, lessonId });
    });
  }
  const errorDay = isoDay(today - 4 * DAY_MS);
  const error = (code: string, learner: string, fatal: boolean) => events.push({ type: 'app_error', day: errorDay, learner, code, fatal });
  for (const l of [0, 1, 2, 0, 1]) error('audio_load_failed', `l_learner${l}`, false);
  for (const [l, fatal] of [[3, false], [3, true], [4, false]] as const) error('sync_timeout', `l_learner${l}`, fatal);
  error('render_crash', 'l_learner5', true);
  return events;
}

/** A report body as `GET /admin/reports/{report}` answers it (lake-spec shapes). */
export interface ReportBody {
  report: string;
  app: string;
  from: string;
  to: string;
  generatedAt: string;
  rows: Record<string, unknown>[];
  [extra: string]: unknown;
}

/** The names `GET /admin/reports/{report}` knows. */
export const REPORTS = ['active-learners', 'sessions', 'accuracy', 'funnel', 'mastery', 'errors'] as const;
export type ReportName = (typeof REPORTS)[number];

const distinct = (values: string[]) => new Set(values).size;
const round2 = (n: number) => Math.round(n * 100) / 100;

/** Computes one report over `events` for the inclusive UTC days `from`..`to`, in the documented shapes. */
export function computeReport(events: SeedEvent[], app: string, report: ReportName, from: string, to: string): ReportBody {
  const inRange = events.filter((e) => e.day >= from && e.day <= to);
  const base = { report, app, from, to, generatedAt: new Date().toISOString() };
  switch (report) {
    case 'active-learners': {
      const rows = [];
      for (let t = dayMs(from); t <= dayMs(to); t += DAY_MS) {
        const day = isoDay(t);
        const weekStart = isoDay(t - 6 * DAY_MS);
        rows.push({
          day,
          daily: distinct(events.filter((e) => e.day === day).map((e) => e.learner)),
          weekly: distinct(events.filter((e) => e.day >= weekStart && e.day <= day).map((e) => e.learner)),
        });
      }
      return { ...base, rows };
    }
    case 'sessions': {
      const days = [...new Set(inRange.filter((e) => e.type === 'session_start').map((e) => e.day))].sort();
      const rows = days.map((day) => {
        const starts = inRange.filter((e) => e.day === day && e.type === 'session_start');
        const learners = distinct(starts.map((e) => e.learner));
        const minutes = round2(inRange.filter((e) => e.day === day && e.type === 'session_end').reduce((s, e) => s + e.durationSeconds! / 60, 0));
        return { day, sessions: starts.length, learners, minutes, sessionsPerLearner: round2(starts.length / learners), minutesPerLearner: round2(minutes / learners) };
      });
      return { ...base, rows };
    }
    case 'accuracy': {
      const groups = new Map<string, { day: string; conceptId: string; answers: number; correct: number }>();
      for (const e of inRange.filter((x) => x.type === 'answer_recorded')) {
        const key = `${e.day}|${e.conceptId}`;
        const g = groups.get(key) ?? { day: e.day, conceptId: e.conceptId!, answers: 0, correct: 0 };
        g.answers++;
        if (e.correct) g.correct++;
        groups.set(key, g);
      }
      const rows = [...groups.values()].sort((a, b) => a.day.localeCompare(b.day) || a.conceptId.localeCompare(b.conceptId)).map((g) => ({ ...g, accuracy: g.correct / g.answers }));
      return { ...base, rows };
    }
    case 'funnel': {
      const lessons = [...new Set(inRange.filter((e) => e.lessonId).map((e) => e.lessonId!))].sort();
      const rows = lessons.map((lessonId) => {
        const started = distinct(inRange.filter((e) => e.lessonId === lessonId && e.type === 'lesson_start').map((e) => e.learner));
        const completed = distinct(inRange.filter((e) => e.lessonId === lessonId && (e.type === 'lesson_complete' || e.type === 'lesson_recorded')).map((e) => e.learner));
        return { lessonId, started, completed, completionRate: started ? completed / started : 0 };
      });
      // Totals: distinct learners over all lessons (who started any; of them, who completed one they started).
      const startedBy = new Set(inRange.filter((e) => e.type === 'lesson_start').map((e) => `${e.learner}|${e.lessonId}`));
      const started = distinct([...startedBy].map((k) => k.split('|')[0]!));
      const completed = distinct(
        inRange.filter((e) => (e.type === 'lesson_complete' || e.type === 'lesson_recorded') && startedBy.has(`${e.learner}|${e.lessonId}`)).map((e) => e.learner),
      );
      return { ...base, rows, totals: { started, completed, completionRate: started ? completed / started : 0 } };
    }
    case 'mastery': {
      // Each (learner, concept)'s latest mastery up to `to` (events are in time order).
      const latest = new Map<string, number>();
      for (const e of events) if (e.type === 'answer_recorded' && e.day <= to) latest.set(`${e.learner}|${e.conceptId}`, e.mastery!);
      const rows = Array.from({ length: 10 }, (_, b) => ({ from: b / 10, to: (b + 1) / 10, count: 0 }));
      for (const m of latest.values()) rows[Math.min(9, Math.floor(m * 10))]!.count++;
      return { ...base, rows, mastered: [...latest.values()].filter((m) => m >= MASTERY_THRESHOLD).length, threshold: MASTERY_THRESHOLD };
    }
    case 'errors': {
      const codes = [...new Set(inRange.filter((e) => e.type === 'app_error').map((e) => e.code!))];
      const rows = codes
        .map((code) => {
          const of = inRange.filter((e) => e.type === 'app_error' && e.code === code);
          return { code, events: of.length, learners: distinct(of.map((e) => e.learner)), fatal: of.filter((e) => e.fatal).length };
        })
        .sort((a, b) => b.events - a.events || a.code.localeCompare(b.code))
        .slice(0, 20);
      return { ...base, rows };
    }
  }
}

/** `GET /admin/lake/status`'s body. */
export interface LakeStatus {
  backlog: number;
  oldestPendingAt: string | null;
  lastFlushAt: string | null;
  lastFlushEvents: number | null;
  deadLetters: number;
  files: number;
  bytes: number;
}

/**
 * A lake in trouble, made for real in the database so the real
 * `GET /admin/lake/status` reports it: `backlog` events acknowledged 25
 * minutes ago and never written (no writer runs), `deadLetters` dead
 * letters, and a last flush 30 minutes ago.
 */
export interface LakeTrouble {
  backlog: number;
  deadLetters: number;
}

async function makeTrouble(t: TestApp, app: string, trouble: LakeTrouble): Promise<void> {
  const now = Date.now();
  const db = t.container.database.db;
  const pending = Array.from({ length: trouble.backlog }, (_, i) => testEvent(app, new Date(now - 26 * 60_000 + i), { type: 'screen_view' }));
  await insertEvents(t.container.database, pending, new Date(now - 25 * 60_000));
  for (let i = 0; i < trouble.deadLetters; i++) {
    const e = testEvent(app, new Date(now - 40 * 60_000));
    await db
      .insertInto('kidslearn.lake_dead_letters')
      .values({ app, event_id: e.eventId, type: e.type, learner: e.learner, reason: 'max_attempts', detail: 'the store refused the batch', attempts: 5, event: JSON.stringify(e) })
      .execute();
  }
  await db.updateTable('kidslearn.lake_writer_state').set({ last_flush_at: new Date(now - 30 * 60_000), last_flush_events: 4800 }).execute();
}

/** The seeded events as lake events: one second apart in their order, so "latest" means the same to the lake as to {@link computeReport}. */
function lakeEventsOf(events: SeedEvent[]): TestEvent[] {
  return events.map((e, i) => {
    const at = new Date(dayMs(e.day) + i * 1000);
    const properties: Record<string, unknown> =
      e.type === 'answer_recorded' ? { itemId: `${e.conceptId}-q`, lessonId: 'lesson', conceptId: e.conceptId, correct: e.correct, durationMs: 1000, mastery: e.mastery }
      : e.type === 'session_start' ? { platform: 'web', appVersion: '1.0.0' }
      : e.type === 'session_end' ? { durationSeconds: e.durationSeconds }
      : e.type === 'lesson_start' ? { lessonId: e.lessonId }
      : e.type === 'lesson_complete' ? { lessonId: e.lessonId, durationSeconds: 300 }
      : e.type === 'lesson_recorded' ? { lessonId: e.lessonId, secondsSpent: 300 }
      : { code: e.code, fatal: e.fatal };
    return { type: e.type, at, learner: e.learner, properties };
  });
}

/** The app's lake folder (the configured directory store). */
function lakeDirOf(t: TestApp): string {
  const store = t.container.config.lake.store;
  if (store.kind !== 'directory') throw new Error('the dashboard fixture writes a directory lake');
  return store.dir;
}

/** A running dashboard server and what it serves. */
export interface DashboardServer {
  url: string;
  appId: string;
  email: string;
  password: string;
  events: SeedEvent[];
  /** What the real `GET /admin/lake/status` answered after the trouble was made. */
  lake: LakeStatus;
  /** What the report routes answer for this range (what the page must show). */
  report(name: ReportName, from: string, to: string): ReportBody;
  /** Every request the report routes answered, in order (path and query). */
  reportRequests: string[];
  /** Reports (`errors`, `lake-status`…) that answer 503 `blob_store_unavailable` while named here. */
  failing: Set<string>;
  /** From now on, the first access token that asks for a report answers 401 `token_expired` on every report, as a token past its lifetime would. */
  expireFirstToken(): void;
  testApp: TestApp;
  close(): Promise<void>;
}


/**
 * Starts the real HTTP app on 127.0.0.1 and a free port over the embedded
 * stack (PGlite + memory cache), with app `dashapp` and an admin account.
 * `failing` names reports that answer 503 instead (to test the page's error
 * text).
 */
export async function startDashboardServer(options: { failing?: string[]; trouble?: LakeTrouble } = {}): Promise<DashboardServer> {
  const [embedded] = await stacks();
  const opened = await embedded!.open();
  const t = await createTestApp({ database: opened.database, cache: opened.cache });
  const appId = 'dashapp';
  const email = 'admin@dashapp.example';
  const password = 'correct horse battery';
  await t.container.apps.create(appId, 'Dashboard test app');
  await t.container.accounts.createAdmin(appId, email, password);

  const events = seedEvents();
  const failing = new Set(options.failing ?? []);
  const reportRequests: string[] = [];
  let expiring: { token?: string } | undefined;

  // The reports and the lake status are the real routes: the seeded events are written to the
  // app's lake as the writer writes them, and the pipeline's trouble is made in the database.
  await writeLakeEvents(lakeDirOf(t), appId, lakeEventsOf(events));
  await makeTrouble(t, appId, options.trouble ?? { backlog: 40, deadLetters: 3 });
  const lake = await t.container.lakeStatus.status(appId);

  // In front of the app: record what the page asked for, and answer the failures a test orders.
  const refusal = (name: string, token: string): Response | undefined => {
    const error = (status: number, code: string, message: string) => Response.json({ error: { code, message, requestId: 'dashboard-fixture' } }, { status });
    if (expiring) {
      expiring.token ??= token;
      if (expiring.token === token) return error(401, 'token_expired', 'The access token has expired');
    }
    if (failing.has(name)) return error(503, 'blob_store_unavailable', 'The lake’s blob store did not answer in time');
    return undefined;
  };
  const fetch = (request: Request): Response | Promise<Response> => {
    const url = new URL(request.url);
    const report = /^\/admin\/reports\/([^/]+)$/.exec(url.pathname)?.[1];
    const name = report ?? (url.pathname === '/admin/lake/status' ? 'lake-status' : undefined);
    if (name !== undefined) {
      reportRequests.push(`${url.pathname}${url.search}`);
      const refused = refusal(name, request.headers.get('authorization') ?? '');
      if (refused) return refused;
    }
    return t.app.fetch(request);
  };

  const { server, port } = await listen(fetch, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    appId,
    email,
    password,
    events,
    lake,
    report: (name, from, to) => computeReport(events, appId, name, from, to),
    reportRequests,
    failing,
    expireFirstToken: () => {
      expiring = {};
    },
    testApp: t,
    async close() {
      await closeServer(server as ServerType, 5000);
      await t.container.close();
      await opened.dispose();
    },
  };
}
