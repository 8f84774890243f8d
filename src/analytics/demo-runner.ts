import { randomBytes } from 'node:crypto';
import { scoped } from '../adapters/db/scoped.ts';
import type { AnswerKey } from '../domain/curriculum.ts';
import { teachingCatalogue } from '../engine/plan-builder.ts';
import { createHttpApp } from '../http/app.ts';
import type { Container } from '../wiring/container.ts';
import { planDemoActivity, type DemoSession } from './demo-activity.ts';

/**
 * Runs {@link planDemoActivity} through the real API of an in-process app:
 * a demo family with its children (most with product analytics on), then
 * each session in time order as the apps would send it: its device events
 * (`POST /api/events`), its answers (`POST /api/progress`, which writes
 * `answer_recorded` events in the same statement) and its lesson completion
 * (which writes `lesson_recorded`). Nothing is written around the API.
 */

export interface DemoRunOptions {
  app: string;
  days: number;
  learners: number;
  seed: number;
  now?: Date;
  /** Called after each session is sent (progress display). */
  onSession?: (done: number, total: number) => void;
}

export interface DemoRunResult {
  guardianEmail: string;
  children: number;
  sessions: number;
  events: { sent: number; accepted: number; dropped: number };
  answers: number;
  completions: number;
}

type Api = ReturnType<typeof createHttpApp>;

export async function runDemo(container: Container, options: DemoRunOptions): Promise<DemoRunResult> {
  const { app } = options;
  await container.apps.require(app);
  const catalogue = await teachingCatalogue(container.database, app);
  const itemIds = catalogue.flatMap((l) => l.items.map((i) => i.id));
  const keys = await answerKeys(container, app, itemIds);
  const plan = planDemoActivity({
    seed: options.seed,
    learners: options.learners,
    days: options.days,
    now: options.now ?? new Date(),
    lessons: catalogue.map((l) => ({ id: l.id, items: l.items.filter((i) => keys.has(i.id)) })),
  });
  const api = createHttpApp(container);
  const guardianEmail = `demo-${Date.now().toString(36)}@demo.kidslearn.invalid`;
  const guardian = await container.accounts.register(app, { email: guardianEmail, password: randomBytes(18).toString('base64url'), role: 'guardian' });
  const guardianToken = await container.tokens.issue({ sub: guardian.id, app, role: 'guardian' }, 3600);

  const childIds: string[] = [];
  const childTokens: string[] = [];
  for (const learner of plan.learners) {
    const created = await call<{ id: string }>(api, guardianToken, 'POST', '/api/children', { nickname: learner.nickname, grade: learner.grade });
    if (learner.productAnalytics) await call(api, guardianToken, 'PATCH', `/api/children/${created.id}`, { settings: { productAnalytics: true } });
    childIds.push(created.id);
    childTokens.push(await container.tokens.issue({ sub: created.id, app, role: 'child' }, 3600));
  }

  const result: DemoRunResult = { guardianEmail, children: childIds.length, sessions: plan.sessions.length, events: { sent: 0, accepted: 0, dropped: 0 }, answers: 0, completions: 0 };
  for (const [n, session] of plan.sessions.entries()) {
    await sendSession(api, session, childIds[session.learner]!, childTokens[session.learner]!, keys, result);
    options.onSession?.(n + 1, plan.sessions.length);
  }
  return result;
}

async function sendSession(api: Api, session: DemoSession, childId: string, token: string, keys: Map<string, ItemAnswer>, result: DemoRunResult): Promise<void> {
  const events = session.steps.flatMap((s) =>
    s.kind === 'event' ? [{ eventId: s.eventId, type: s.type, occurredAt: s.occurredAt.toISOString(), childId, sessionId: session.sessionId, properties: s.properties }] : [],
  );
  if (events.length) {
    const body = await call<{ accepted: number; dropped: { count: number } }>(api, token, 'POST', '/api/events', { events });
    result.events.sent += events.length;
    result.events.accepted += body.accepted;
    result.events.dropped += body.dropped.count;
  }
  const answers = session.steps.flatMap((s) =>
    s.kind === 'answer'
      ? [{ childId, itemId: s.itemId, response: responseFor(keys.get(s.itemId)!, s.correct), durationMs: s.durationMs, answeredAt: s.answeredAt.toISOString(), clientEventId: s.clientEventId }]
      : [],
  );
  if (answers.length) {
    await call(api, token, 'POST', '/api/progress', { answers });
    result.answers += answers.length;
  }
  for (const s of session.steps) {
    if (s.kind !== 'complete') continue;
    await call(api, token, 'POST', `/api/progress/lessons/${s.lessonId}/complete`, { childId, secondsSpent: s.secondsSpent, score: s.score, completedAt: s.completedAt.toISOString(), clientEventId: s.clientEventId });
    result.completions++;
  }
}

/** One request through the whole HTTP stack; anything but 2xx stops the demo with the API's own error. */
async function call<T = unknown>(api: Api, token: string, method: string, path: string, body: unknown): Promise<T> {
  const response = await api.request(path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

interface ItemAnswer {
  key: AnswerKey;
  choiceIds: string[];
}

async function answerKeys(container: Container, app: string, ids: readonly string[]): Promise<Map<string, ItemAnswer>> {
  const out = new Map<string, ItemAnswer>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await scoped(container.database.db, app).selectFrom('practice_items').select(['id', 'answer', 'choices']).where('id', 'in', ids.slice(i, i + 500)).execute();
    for (const r of rows) {
      const choices = (Array.isArray(r.choices) ? r.choices : []) as { id: string }[];
      out.set(r.id, { key: r.answer as AnswerKey, choiceIds: choices.map((c) => c.id) });
    }
  }
  return out;
}

/** A response the server will mark as the simulation decided. */
function responseFor(item: ItemAnswer, correct: boolean): string | number {
  const key = item.key;
  switch (key.type) {
    case 'multiple_choice':
      return correct ? key.choiceId : (item.choiceIds.find((c) => c !== key.choiceId) ?? 'zzzzzzzz');
    case 'numeric':
      return correct ? key.value : key.value + Math.max(1, key.tolerance * 2 + 1);
    case 'short_text':
      return correct ? key.accepted[0]! : 'not sure';
  }
}
