import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Activity, Plan } from '../../src/domain/learner/planner.ts';
import type { ItemGenerator } from '../../src/engine/item-generator.ts';
import { freshPracticeEnricher, withoutFreshItems } from '../../src/engine/plan-enricher.ts';
import { createLogger } from '../../src/observability/logger.ts';

const why = { code: 'keep_practising', child: 'c', adult: 'a', evidence: { pKnown: 0.5, recall: null, nextReviewAt: null, lastPractisedAt: null, attempts: 3, recentErrors: 1, recentAnswers: 3, missingPrerequisites: [] } } as Activity['why'];
const act = (kind: Activity['kind'], conceptId: string, itemIds: string[], lessonId: string | null = `${conceptId}-lesson`): Activity => ({ kind, conceptId, lessonId, itemIds, minutes: itemIds.length / 2, targetSuccess: 0.7, why });
const plan: Plan = {
  minutes: 5,
  activities: [act('review', 'a', ['a1', 'a2']), act('learn', 'b', ['b1', 'b2']), act('practice', 'c', ['c1', 'c2', 'c3']), act('challenge', 'd', ['d1', 'd2']), act('practice', 'e', ['e1'])],
};
const logger = createLogger({ level: 'silent' });

function generator(behaviour: (concept: string) => string | null | Error): { generator: ItemGenerator; calls: { concept: string; lesson: string; forChildId: string; count: number }[] } {
  const calls: { concept: string; lesson: string; forChildId: string; count: number }[] = [];
  const g = {
    generate: async (input: { concept: string; lesson: string; forChildId: string; count: number }) => {
      calls.push({ concept: input.concept, lesson: input.lesson, forChildId: input.forChildId, count: input.count });
      const r = behaviour(input.concept);
      if (r instanceof Error) throw r;
      return { items: r ? [{ id: r, type: 'numeric', prompt: `What is 2 + ${r.length}?` }] : [] };
    },
  } as unknown as ItemGenerator;
  return { generator: g, calls };
}

describe('fresh practice enricher', () => {
  const context = { app: 'alpha', childId: 'kid-1', planId: 'p-1', signal: new AbortController().signal };

  it('replaces the last item of practice and challenge activities (two items or more) with one generated for the child; minutes unchanged', async () => {
    const { generator: g, calls } = generator((concept) => `gen-${concept}`);
    const out = await freshPracticeEnricher({ generator: g, logger })(plan, context);
    assert.deepEqual(calls, [
      { concept: 'c', lesson: 'c-lesson', forChildId: 'kid-1', count: 1 },
      { concept: 'd', lesson: 'd-lesson', forChildId: 'kid-1', count: 1 },
    ]);
    assert.deepEqual(out.activities.map((a) => a.itemIds), [['a1', 'a2'], ['b1', 'b2'], ['c1', 'c2', 'gen-c'], ['d1', 'gen-d'], ['e1']]);
    assert.deepEqual(out.activities.map((a) => a.fresh), [
      undefined,
      undefined,
      [{ itemId: 'gen-c', replaces: 'c3', type: 'numeric', prompt: 'What is 2 + 5?' }],
      [{ itemId: 'gen-d', replaces: 'd2', type: 'numeric', prompt: 'What is 2 + 5?' }],
      undefined,
    ]);
    assert.deepEqual(out.activities.map((a) => a.minutes), plan.activities.map((a) => a.minutes));
    assert.deepEqual(withoutFreshItems(out), plan, 'the planner’s plan comes back');
  });

  it('keeps the authored item where generation fails or yields nothing; never fails the plan', async () => {
    const { generator: g } = generator((concept) => (concept === 'c' ? new Error('model down') : null));
    const out = await freshPracticeEnricher({ generator: g, logger })(plan, context);
    assert.deepEqual(out, plan);
  });

  it('an aborted attempt (timeout) stops: the error propagates so the job retries', async () => {
    const controller = new AbortController();
    controller.abort(new Error('attempt timed out'));
    const { generator: g } = generator(() => new Error('aborted'));
    await assert.rejects(freshPracticeEnricher({ generator: g, logger })(plan, { ...context, signal: controller.signal }), /aborted/);
  });

  it('a model slower than the deadline costs the fresh questions, not the plan', async () => {
    const slow = {
      generate: (_input: unknown, options: { signal: AbortSignal }) =>
        new Promise((_resolve, reject) => options.signal.addEventListener('abort', () => reject(options.signal.reason as Error))),
    } as unknown as ItemGenerator;
    const out = await freshPracticeEnricher({ generator: slow, logger, deadlineMs: 50 })(plan, context);
    assert.deepEqual(out, plan);
  });
});
