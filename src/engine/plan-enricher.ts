import type { Activity, Plan } from '../domain/learner/planner.ts';
import type { Logger } from '../observability/logger.ts';
import type { ItemGenerator } from './item-generator.ts';
import type { PlanEnricher } from './plan-job.ts';

/**
 * Longest wait for the fresh questions of one plan (all activities at once):
 * well under the plan job's 60 s attempt, so a slow model costs the fresh
 * questions (the authored items stay), never the plan.
 */
export const ENRICH_DEADLINE_MS = 25_000;

/** Activities that get a fresh question: practice and challenge with at least this many items. */
const MIN_ITEMS_FOR_FRESH = 2;

/**
 * Fresh practice: in every `practice` and `challenge` activity of a plan
 * with a lesson and at least two items, the last item becomes a new question
 * generated for this child on the same concept and lesson (new numbers and
 * wording; its answer checked before it is stored; the configured model, or
 * the offline generator when the model fails or the budget is spent). The
 * count of items, and so the minutes, do not change. Authored items chosen
 * for desirable difficulty keep their places; the generated one adds
 * variety and never repeats a question the child has (the generator
 * de-duplicates against the app's and the child's items).
 *
 * It never fails a plan: an activity whose generation fails or yields
 * nothing keeps its authored item, and the failure is logged. A job run
 * again generates again; the earlier items stay stored for the child (and
 * are erased with it) but are not in the plan.
 */
export function freshPracticeEnricher(deps: { generator: ItemGenerator; logger: Logger; deadlineMs?: number }): PlanEnricher {
  return async (plan, context) => {
    const signal = AbortSignal.any([context.signal, AbortSignal.timeout(deps.deadlineMs ?? ENRICH_DEADLINE_MS)]);
    const activities = await Promise.all(
      plan.activities.map(async (activity): Promise<Activity> => {
        if ((activity.kind !== 'practice' && activity.kind !== 'challenge') || !activity.lessonId || activity.itemIds.length < MIN_ITEMS_FOR_FRESH) return activity;
        try {
          const result = await deps.generator.generate(
            { app: context.app, concept: activity.conceptId, lesson: activity.lessonId, count: 1, forChildId: context.childId },
            { signal },
          );
          const fresh = result.items[0];
          if (!fresh) return activity;
          const replaces = activity.itemIds.at(-1)!;
          const shown = { itemId: fresh.id, replaces, type: fresh.type, prompt: fresh.prompt, ...(fresh.choices ? { choices: fresh.choices.map((c) => ({ id: c.id, text: c.text })) } : {}) };
          return { ...activity, itemIds: [...activity.itemIds.slice(0, -1), fresh.id], fresh: [shown] };
        } catch (error) {
          if (context.signal.aborted) throw error;
          deps.logger.warn({ err: error, planId: context.planId, conceptId: activity.conceptId }, 'plan: no fresh item for an activity; keeping its authored items');
          return activity;
        }
      }),
    );
    return { ...plan, activities };
  };
}

/** The plan as the planner made it: every fresh item back to the item it replaced (what a replay of the stored inputs gives). */
export function withoutFreshItems(plan: Plan): Plan {
  return {
    ...plan,
    activities: plan.activities.map(({ fresh, ...activity }) => {
      if (!fresh?.length) return activity;
      const back = new Map(fresh.map((f) => [f.itemId, f.replaces]));
      return { ...activity, itemIds: activity.itemIds.map((id) => back.get(id) ?? id) };
    }),
  };
}
