import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLIENT_EVENT_PROPERTIES,
  CLIENT_EVENT_TYPES,
  EVENT_CATEGORY,
  SERVER_EVENT_PROPERTIES,
  SERVER_EVENT_TYPES,
  type EventType,
} from '../../src/domain/analytics/event-types.ts';

/** A valid example of every type's properties. */
const VALID: Record<EventType, Record<string, unknown>> = {
  session_start: { platform: 'ios', appVersion: '2.4.1', deviceClass: 'tablet', locale: 'en-GB' },
  session_end: { durationSeconds: 600, screens: 12 },
  screen_view: { screen: 'lesson/intro', previousScreen: 'home' },
  app_error: { code: 'E_NET_TIMEOUT', screen: 'home', fatal: false },
  lesson_start: { lessonId: 'add-within-10' },
  lesson_complete: { lessonId: 'add-within-10', durationSeconds: 300, score: 0.8 },
  item_shown: { itemId: 'add-within-10-q1', lessonId: 'add-within-10', position: 0 },
  hint_used: { itemId: 'add-within-10-q1', lessonId: 'add-within-10', hintLevel: 2 },
  answer_recorded: { itemId: 'q1', lessonId: 'l1', conceptId: 'adding', correct: true, durationMs: 4200, mastery: 0.42 },
  lesson_recorded: { lessonId: 'l1', secondsSpent: 300, score: 1 },
  plan_requested: { planId: '5a0c6f6e-54a7-4b8e-9d2f-7c1b0d7a9e21', minutes: 15 },
  plan_ready: { planId: '5a0c6f6e-54a7-4b8e-9d2f-7c1b0d7a9e21', activities: 4, minutes: 14.5 },
  plan_failed: { planId: '5a0c6f6e-54a7-4b8e-9d2f-7c1b0d7a9e21', code: 'plan_build_failed' },
};

const schemaOf = (type: EventType) =>
  (type in CLIENT_EVENT_PROPERTIES ? CLIENT_EVENT_PROPERTIES[type as keyof typeof CLIENT_EVENT_PROPERTIES] : SERVER_EVENT_PROPERTIES[type as keyof typeof SERVER_EVENT_PROPERTIES]);

/** The dotted paths of a failed parse's issues, with unknown keys named at their place. */
function problems(type: EventType, value: unknown): string[] {
  const r = schemaOf(type).safeParse(value);
  if (r.success) return [];
  return r.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k].join('.')) : [i.path.join('.')]));
}

const ALL = [...CLIENT_EVENT_TYPES, ...SERVER_EVENT_TYPES];

describe('analytics event types', () => {
  it('every type has a category, and the lists are disjoint and complete', () => {
    assert.deepEqual(Object.keys(EVENT_CATEGORY).sort(), [...ALL].sort());
    assert.equal(new Set(ALL).size, ALL.length);
    assert.deepEqual(CLIENT_EVENT_TYPES.filter((t) => EVENT_CATEGORY[t] === 'usage').sort(), ['app_error', 'screen_view', 'session_end', 'session_start']);
    for (const t of SERVER_EVENT_TYPES) assert.equal(EVENT_CATEGORY[t], 'learning', t);
  });

  for (const type of ALL) {
    describe(type, () => {
      it('accepts a valid example', () => assert.deepEqual(problems(type, VALID[type]), []));

      it('refuses an unknown property, naming it', () => assert.deepEqual(problems(type, { ...VALID[type], colour: 'red' }), ['colour']));

      it('refuses each required property missing, naming it', () => {
        const shape = schemaOf(type).shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
        const required = Object.keys(VALID[type]).filter((k) => !shape[k]!.safeParse(undefined).success);
        assert.ok(required.length > 0);
        for (const k of required) {
          const { [k]: _gone, ...rest } = VALID[type];
          assert.deepEqual(problems(type, rest), [k], `${type} without ${k}`);
        }
      });
    });
  }

  it('refuses free text and e-mail addresses in token and id fields', () => {
    const cases: [EventType, string][] = [
      ['screen_view', 'screen'],
      ['screen_view', 'previousScreen'],
      ['app_error', 'code'],
      ['app_error', 'screen'],
      ['lesson_start', 'lessonId'],
      ['item_shown', 'itemId'],
      ['hint_used', 'itemId'],
      ['answer_recorded', 'conceptId'],
      ['plan_failed', 'code'],
    ];
    for (const [type, field] of cases) {
      for (const bad of ['mia@example.com', 'Mia Smith said hello', 'x'.repeat(65), '', 'hello\nworld', '<script>']) {
        assert.deepEqual(problems(type, { ...VALID[type], [field]: bad }), [field], `${type}.${field} = ${JSON.stringify(bad)}`);
      }
    }
    assert.deepEqual(problems('session_start', { ...VALID.session_start, appVersion: 'my great app' }), ['appVersion']);
    assert.deepEqual(problems('session_start', { ...VALID.session_start, locale: 'mia@example.com' }), ['locale']);
    assert.deepEqual(problems('session_start', { ...VALID.session_start, platform: 'symbian' }), ['platform']);
  });

  it('holds numbers to their bounds', () => {
    const cases: [EventType, string, unknown[], unknown[]][] = [
      ['session_end', 'durationSeconds', [0, 86_400], [-1, 86_401, 1.5, '60']],
      ['session_end', 'screens', [0, 10_000], [-1, 10_001]],
      ['lesson_complete', 'score', [0, 1, 0.5], [-0.1, 1.01]],
      ['item_shown', 'position', [0, 1000], [-1, 1001, 2.5]],
      ['hint_used', 'hintLevel', [1, 5], [0, 6]],
      ['answer_recorded', 'mastery', [0, 1], [-0.01, 1.01]],
      ['answer_recorded', 'durationMs', [0, 3_600_000], [-1, 1.5]],
      ['answer_recorded', 'correct', [true, false], ['true', 1]],
      ['app_error', 'fatal', [true], ['yes']],
      ['lesson_recorded', 'secondsSpent', [0, 86_400], [-1, 86_401]],
      ['plan_requested', 'minutes', [1, 600], [0, 601, 1.5]],
      ['plan_ready', 'activities', [0, 1000], [-1, 1001]],
      ['plan_ready', 'minutes', [0, 600, 12.5], [-1, 601]],
    ];
    for (const [type, field, good, bad] of cases) {
      for (const v of good) assert.deepEqual(problems(type, { ...VALID[type], [field]: v }), [], `${type}.${field} = ${String(v)} is valid`);
      for (const v of bad) assert.deepEqual(problems(type, { ...VALID[type], [field]: v }), [field], `${type}.${field} = ${JSON.stringify(v)} is refused`);
    }
  });
});
