import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { BENCH_APP, call, CHILDREN_PER_GUARDIAN, signUpOverHttp, type BenchChild, type BenchItem } from './support.ts';

/**
 * Load for bench:lake: children with productAnalytics on, realistic client
 * events (pre-generated request bodies), and answer writes.
 */

/** Like createChildren (bench/support.ts), but every child has productAnalytics on, so its usage events are kept. */
export async function createLakeChildren(base: string, dataDir: string, count: number, label = 'lake'): Promise<BenchChild[]> {
  const families = Math.ceil(count / CHILDREN_PER_GUARDIAN);
  const perFamily = await Promise.all(
    Array.from({ length: families }, async (_, g) => {
      const credentials = { email: `bench-${label}-guardian-${g}@example.com`, password: 'bench password 123' };
      await signUpOverHttp(base, dataDir, BENCH_APP, credentials, 'guardian');
      const { accessToken: guardian } = await call<{ accessToken: string }>(base, 'POST', '/auth/login', { body: credentials });
      const children: BenchChild[] = [];
      for (let i = g * CHILDREN_PER_GUARDIAN; i < Math.min(count, (g + 1) * CHILDREN_PER_GUARDIAN); i++) {
        const { id } = await call<{ id: string }>(base, 'POST', '/api/children', { token: guardian, body: { nickname: `Kid ${i + 1}`, grade: 2 } });
        await patch(base, guardian, id);
        const { accessToken } = await call<{ accessToken: string }>(base, 'POST', `/api/children/${id}/sessions`, { token: guardian });
        children.push({ id, token: accessToken, next: i * 3 });
      }
      return children;
    }),
  );
  return perFamily.flat();
}

async function patch(base: string, token: string, childId: string): Promise<void> {
  const res = await fetch(`${base}/api/children/${childId}`, {
    method: 'PATCH',
    headers: { 'x-app-id': BENCH_APP, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ settings: { productAnalytics: true } }),
  });
  if (!res.ok) throw new Error(`PATCH child settings → ${res.status}: ${await res.text()}`);
}

const SCREENS = ['home', 'lesson', 'map', 'rewards', 'settings', 'practice'];
const LESSONS = Array.from({ length: 40 }, (_, i) => `lesson-${i + 1}`);

/**
 * One realistic client event (no childId: a child token's events are about
 * the child). The mix roughly follows a session: many item_shown and
 * screen_view, some lesson_start/complete and hints, few session and error
 * events.
 */
export function clientEvent(n: number, sessionId: string, at: Date): Record<string, unknown> {
  const r = n % 20;
  const lessonId = LESSONS[n % LESSONS.length]!;
  const base = { eventId: randomUUID(), occurredAt: at.toISOString(), sessionId };
  if (r < 7) return { ...base, type: 'item_shown', properties: { itemId: `${lessonId}-q${n % 12}`, lessonId, position: n % 12 } };
  if (r < 11) return { ...base, type: 'screen_view', properties: { screen: SCREENS[n % SCREENS.length]!, previousScreen: SCREENS[(n + 1) % SCREENS.length]! } };
  if (r < 13) return { ...base, type: 'lesson_start', properties: { lessonId } };
  if (r < 15) return { ...base, type: 'lesson_complete', properties: { lessonId, durationSeconds: 60 + (n % 600), score: (n % 10) / 10 } };
  if (r < 17) return { ...base, type: 'hint_used', properties: { itemId: `${lessonId}-q${n % 12}`, lessonId, hintLevel: 1 + (n % 3) } };
  if (r === 17) return { ...base, type: 'session_start', properties: { platform: 'ios', appVersion: '2.4.1', deviceClass: 'tablet', locale: 'en-GB' } };
  if (r === 18) return { ...base, type: 'session_end', properties: { durationSeconds: 300 + (n % 900), screens: 5 + (n % 20) } };
  return { ...base, type: 'app_error', properties: { code: 'network_timeout', screen: 'lesson', fatal: false } };
}

/** A request body of `size` events and its event ids. */
export function eventBody(size: number, counter: { n: number }): { body: string; ids: string[] } {
  const sessionId = randomUUID();
  const start = Date.now() - 60_000;
  const events = Array.from({ length: size }, (_, i) => clientEvent(counter.n++, sessionId, new Date(start + i * 100)));
  return { body: JSON.stringify({ events }), ids: events.map((e) => e.eventId as string) };
}

/** One request of an ingest run: its body and what became of it. */
interface Posted {
  body: string;
  ids: string[];
  status?: number;
  /** accepted + duplicates as the 202 body said. */
  acknowledged?: number;
  dropped?: number;
}

/** Figures of one ingest run. */
export interface IngestResult {
  batch: number;
  durationSec: number;
  eventsPerSec: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Events acknowledged (202) in the run. */
  acknowledgedInRun: number;
  /** Event ids acknowledged in the run or when the requests in flight at stop were retried. */
  acknowledgedIds: string[];
  non2xx: number;
  errors: number;
  /** 202 bodies whose accepted + duplicates ≠ the events sent, or that dropped any. */
  badBodies: number;
  /** Bodies generated but never sent (the pool ran out: raise BENCH_LAKE_INGEST_POOL). */
  exhausted: boolean;
}

const ACK = /"accepted":(\d+),"duplicates":(\d+),"conflicts":(\d+),"dropped":\{"count":(\d+)/;

/**
 * `POST /api/events` at full speed for `durationSec`: `connections`
 * connections, each as one child with its own pre-generated bodies of
 * `batch` events (enough for `poolEventsPerSec` events/s), so the load
 * generator only sends. Requests in flight when the load stops are retried
 * with the same body (an app keeps its events until acknowledged).
 */
export async function ingestRun(
  base: string,
  children: BenchChild[],
  options: { batch: number; durationSec: number; connections: number; poolEventsPerSec: number },
): Promise<IngestResult> {
  const counter = { n: 0 };
  const perConnection = Math.ceil((options.poolEventsPerSec * options.durationSec) / options.batch / options.connections) + 2;
  const pools: Posted[][] = Array.from({ length: options.connections }, () => Array.from({ length: perConnection }, () => eventBody(options.batch, counter)));
  const used = new Array<number>(options.connections).fill(0);
  let exhausted = false;
  let connection = 0;
  let badBodies = 0;
  const r = await autocannon({
    url: `${base}/api/events`,
    connections: options.connections,
    duration: options.durationSec,
    method: 'POST',
    setupClient(client) {
      const c = connection++;
      const child = children[c % children.length]!;
      let current: Posted | undefined;
      client.setRequests([
        {
          method: 'POST',
          path: '/api/events',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${child.token}` },
          setupRequest(request) {
            const pool = pools[c]!;
            current = pool[used[c]!++];
            if (!current) {
              // Out of fresh bodies: resend the last one (duplicates, not counted as new) and say so.
              exhausted = true;
              current = undefined;
              return { ...request, body: pool[pool.length - 1]!.body };
            }
            return { ...request, body: current.body };
          },
          onResponse(status, body) {
            if (current) {
              current.status = status;
              if (status === 202) {
                const m = ACK.exec(body);
                current.acknowledged = m ? Number(m[1]) + Number(m[2]) : 0;
                current.dropped = m ? Number(m[4]) + Number(m[3]) : 0;
                if (current.acknowledged !== current.ids.length || current.dropped !== 0) badBodies++;
              }
            }
            current = undefined;
          },
        },
      ]);
    },
  });
  const sent = pools.flatMap((pool, c) => pool.slice(0, used[c]));
  const acknowledgedInRun = sent.reduce((n, p) => n + (p.status === 202 ? p.ids.length : 0), 0);
  // Retry what got no 202 (in flight at stop, or refused) with the same body.
  for (const p of sent.filter((s) => s.status !== 202)) {
    const child = children[pools.findIndex((pool) => pool.includes(p)) % children.length]!;
    for (let attempt = 0; attempt < 5 && p.status !== 202; attempt++) {
      const res = await fetch(`${base}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${child.token}` }, body: p.body }).catch(() => undefined);
      if (!res) continue;
      p.status = res.status;
      const text = await res.text();
      if (res.status === 202) {
        const m = ACK.exec(text);
        if (!m || Number(m[1]) + Number(m[2]) !== p.ids.length) badBodies++;
      } else await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
    }
  }
  return {
    batch: options.batch,
    durationSec: r.duration,
    eventsPerSec: acknowledgedInRun / r.duration,
    requestsPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    acknowledgedInRun,
    acknowledgedIds: sent.filter((p) => p.status === 202).flatMap((p) => p.ids),
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    badBodies,
    exhausted,
  };
}

/** Figures of one answer-write run. */
export interface AnswerResult {
  batch: number;
  answersPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/**
 * `POST /api/progress` as bench:progress does (one child per connection,
 * single answers or offline-sync batches, unique clientEventIds under `tag`),
 * counting answers acknowledged per second.
 */
export async function answerRun(base: string, children: BenchChild[], items: BenchItem[], options: { batch: number; durationSec: number; connections: number; tag: string }): Promise<AnswerResult> {
  let connection = 0;
  let seq = 0;
  let acknowledged = 0;
  const r = await autocannon({
    url: `${base}/api/progress`,
    connections: options.connections,
    duration: options.durationSec,
    method: 'POST',
    setupClient(client) {
      const child = children[connection++ % children.length]!;
      let size = 0;
      client.setRequests([
        {
          method: 'POST',
          path: '/api/progress',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${child.token}` },
          setupRequest(request) {
            const now = Date.now();
            const answers = Array.from({ length: options.batch }, (_, i) => {
              const item = items[child.next++ % items.length]!;
              return {
                childId: child.id,
                itemId: item.id,
                response: Math.random() < 0.75 ? item.answer : item.answer + 1,
                durationMs: 2000 + Math.floor(Math.random() * 13_000),
                answeredAt: new Date(now - (options.batch - i) * 1000).toISOString(),
                clientEventId: `${options.tag}-${seq++}`,
              };
            });
            size = answers.length;
            return { ...request, body: JSON.stringify(options.batch === 1 ? answers[0] : { answers }) };
          },
          onResponse(status) {
            if (status >= 200 && status < 300) acknowledged += size;
          },
        },
      ]);
    },
  });
  return { batch: options.batch, answersPerSec: acknowledged / r.duration, p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}
