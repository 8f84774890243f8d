import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planDemoActivity, type DemoLesson } from '../../src/analytics/demo-activity.ts';
import { CLIENT_EVENT_PROPERTIES, type ClientEventType } from '../../src/domain/analytics/event-types.ts';

const lessons: DemoLesson[] = Array.from({ length: 6 }, (_, l) => ({
  id: `lesson-${l}`,
  items: Array.from({ length: 6 }, (_, i) => ({ id: `item-${l}-${i}`, conceptId: `concept-${l % 3}`, difficulty: -1 + (i % 3) * 0.5 })),
}));
const now = new Date('2026-11-30T12:00:00Z');
const plan = (seed = 7, learners = 30, days = 30) => planDemoActivity({ seed, learners, days, now, lessons });

test('the same seed gives the same activity; another seed another', () => {
  assert.deepEqual(plan(), plan());
  assert.notDeepEqual(plan(1).sessions.map((s) => s.startedAt.getTime()), plan(2).sessions.map((s) => s.startedAt.getTime()));
});

test('sessions are in time order, inside the period and before now; each session’s steps too', () => {
  const { sessions } = plan();
  assert.ok(sessions.length > 200, `only ${sessions.length} sessions`);
  const first = Date.parse('2026-11-01T00:00:00Z');
  for (const [i, s] of sessions.entries()) {
    if (i > 0) assert.ok(s.startedAt >= sessions[i - 1]!.startedAt);
    assert.ok(s.startedAt.getTime() >= first && s.startedAt.getTime() < now.getTime(), s.startedAt.toISOString());
    const times = s.steps.map((x) => (x.kind === 'event' ? x.occurredAt : x.kind === 'answer' ? x.answeredAt : x.completedAt).getTime());
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    assert.ok(times.at(-1)! < now.getTime());
  }
});

test('every simulated event passes the ingest schema of its type, with unique uuids', () => {
  const ids = new Set<string>();
  for (const s of plan().sessions) {
    for (const step of s.steps) {
      if (step.kind !== 'event') continue;
      assert.ok(step.type in CLIENT_EVENT_PROPERTIES, step.type);
      const parsed = CLIENT_EVENT_PROPERTIES[step.type as ClientEventType].safeParse(step.properties);
      assert.ok(parsed.success, `${step.type}: ${JSON.stringify(step.properties)} ${parsed.error?.message}`);
      assert.match(step.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.ok(!ids.has(step.eventId));
      ids.add(step.eventId);
    }
  }
});

test('learners get better with practice: accuracy of later answers exceeds that of first answers', () => {
  const byLearner = new Map<number, boolean[]>();
  for (const s of plan(3, 60, 30).sessions) for (const x of s.steps) if (x.kind === 'answer') byLearner.set(s.learner, [...(byLearner.get(s.learner) ?? []), x.correct]);
  let early = 0, earlyN = 0, late = 0, lateN = 0;
  for (const answers of byLearner.values()) {
    if (answers.length < 40) continue;
    const head = answers.slice(0, 15), tail = answers.slice(-15);
    early += head.filter(Boolean).length; earlyN += head.length;
    late += tail.filter(Boolean).length; lateN += tail.length;
  }
  assert.ok(earlyN > 100);
  assert.ok(late / lateN > early / earlyN + 0.05, `early ${early / earlyN}, late ${late / lateN}`);
});

test('the funnel has a drop-off, completions follow starts, and school days are busier than weekends', () => {
  const { sessions } = plan(5, 60, 28);
  const steps = sessions.flatMap((s) => s.steps);
  const starts = steps.filter((x) => x.kind === 'event' && x.type === 'lesson_start').length;
  const completes = steps.filter((x) => x.kind === 'complete').length;
  assert.ok(completes < starts && completes > starts * 0.6, `${completes} of ${starts}`);
  const perDay = (weekend: boolean) => sessions.filter((s) => [0, 6].includes(s.startedAt.getUTCDay()) === weekend).length / (weekend ? 8 : 20);
  assert.ok(perDay(false) > perDay(true) * 1.3, `school ${perDay(false)}, weekend ${perDay(true)}`);
});

test('refuses an app with nothing to practise', () => {
  assert.throws(() => planDemoActivity({ seed: 1, learners: 2, days: 2, now, lessons: [] }), /no published lessons/);
});
