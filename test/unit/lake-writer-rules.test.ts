import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { derivedEventId } from '../../src/analytics/dead-letters.repo.ts';
import { backoffDelayMs, invalidEvent } from '../../src/analytics/lake-writer.ts';

/** The lake writer's pure rules: backoff with full jitter, which outbox rows are rejected, derived ids of redriven conflicts. */
describe('lake writer rules', () => {
  it('backoff: full jitter in [0, min(cap, base·2^(attempt−1))), capped', () => {
    assert.equal(backoffDelayMs(1, 1000, 300_000, () => 0), 0);
    assert.equal(backoffDelayMs(1, 1000, 300_000, () => 0.999), 999);
    assert.equal(backoffDelayMs(3, 1000, 300_000, () => 0.5), 2000);
    assert.equal(backoffDelayMs(10, 1000, 300_000, () => 0.5), 150_000);
    assert.equal(backoffDelayMs(1000, 1000, 300_000, () => 0.5), 150_000);
  });

  it('rejects unknown types and properties outside the schema; accepts valid events', () => {
    const at = new Date('2026-11-20T10:00:00Z');
    const row = (type: string, source: 'app' | 'server', properties: Record<string, unknown>) => ({
      seq: 1n,
      payloadHash: 'h',
      event: { eventId: 'e', app: 'a', type: type as 'lesson_start', source, occurredAt: at, receivedAt: at, learner: null, sessionId: null, properties },
    });
    assert.equal(invalidEvent(row('lesson_start', 'app', { lessonId: 'add-1' })), undefined);
    assert.equal(invalidEvent(row('plan_ready', 'server', { planId: 'p1', activities: 3, minutes: 10 })), undefined);
    assert.match(invalidEvent(row('telemetry', 'app', {}))!, /unknown app event type "telemetry"/);
    assert.match(invalidEvent(row('answer_recorded', 'app', {}))!, /unknown app event type/, 'a server type sent as app');
    assert.match(invalidEvent(row('lesson_start', 'app', { lessonId: 'add-1', childName: 'Mia' }))!, /properties of lesson_start/);
  });

  it('a redriven conflict gets a stable UUID that is never the original id', () => {
    const id = derivedEventId('8d3b0a3e-6c1f-4d7e-9a51-2f0c4b7e9d10', 7);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(derivedEventId('8d3b0a3e-6c1f-4d7e-9a51-2f0c4b7e9d10', 7), id);
    assert.notEqual(derivedEventId('8d3b0a3e-6c1f-4d7e-9a51-2f0c4b7e9d10', 8), id);
  });
});
