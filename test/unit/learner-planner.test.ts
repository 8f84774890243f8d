import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { packItems, type ContentPack } from '../../src/domain/content-pack.ts';
import { analyse, type RecentAnswer } from '../../src/domain/learner/analysis.ts';
import { DEFAULT_BKT_PARAMS, predict } from '../../src/domain/learner/bkt.ts';
import { applyAnswer, newConceptState, type ConceptState } from '../../src/domain/learner/concept-state.ts';
import { planLesson, SUCCESS_BAND, type CatalogueLesson, type Plan } from '../../src/domain/learner/planner.ts';
import { loadDemoPack } from '../../src/seed/demo-packs.ts';

/** Planner rules on the real mathkids curriculum, with children built from answer histories. */

const DAY = 86_400_000;
const now = new Date('2026-10-01T15:00:00Z');

let pack: ContentPack;
let catalogue: CatalogueLesson[];
let concepts: { id: string; name: string; prerequisites: string[] }[];

/** A child's states after answering `pattern` (1 right, 0 wrong) on each concept, `daysAgo` days before now. */
function child(history: Record<string, { pattern: string; daysAgo: number }>): { states: Map<string, ConceptState>; recent: RecentAnswer[]; lastSessionItems: Set<string> } {
  const states = new Map<string, ConceptState>();
  const recent: RecentAnswer[] = [];
  const lastSessionItems = new Set<string>();
  for (const [conceptId, h] of Object.entries(history)) {
    let state = newConceptState(DEFAULT_BKT_PARAMS, new Date(now.getTime() - h.daysAgo * DAY));
    const items = catalogue.flatMap((l) => l.items).filter((i) => i.conceptId === conceptId);
    [...h.pattern].forEach((c, k) => {
      const answer = { conceptId, correct: c === '1', durationMs: 20_000, answeredAt: new Date(now.getTime() - h.daysAgo * DAY - 3_600_000 + k * 30_000) };
      state = applyAnswer(state, DEFAULT_BKT_PARAMS, answer);
      recent.push(answer);
      if (h.daysAgo === 0) lastSessionItems.add(items[k % items.length]!.id);
    });
    states.set(conceptId, state);
  }
  return { states, recent, lastSessionItems };
}

function plan(c: ReturnType<typeof child>, minutes = 15, focusConcepts?: string[]): Plan {
  const analysis = analyse(concepts, c.states, c.recent, now);
  return planLesson({
    analysis,
    catalogue,
    pCorrect: (id) => predict({ pKnown: c.states.get(id)?.pKnown ?? DEFAULT_BKT_PARAMS.pInit }, DEFAULT_BKT_PARAMS),
    lastSessionItems: c.lastSessionItems,
    request: { minutes, ...(focusConcepts ? { focusConcepts } : {}) },
    now,
  });
}

const allItems = () => new Map(catalogue.flatMap((l) => l.items.map((i) => [i.id, i] as const)));

describe('lesson planner on the mathkids curriculum', () => {
  before(async () => {
    pack = await loadDemoPack('mathkids');
    catalogue = pack.units.flatMap((u) => u.lessons).map((l) => ({ id: l.id, conceptIds: l.conceptIds, estimatedMinutes: l.estimatedMinutes, items: packItems(l) }));
    concepts = pack.concepts.map((c) => ({ id: c.id, name: c.name, prerequisites: c.prerequisites }));
  });

  it('a new child starts with the first concepts of the teaching order, and the minutes add up to the request within 10%', () => {
    for (const minutes of [5, 15, 30, 60]) {
      const p = plan(child({}), minutes);
      assert.ok(Math.abs(p.minutes - minutes) <= minutes * 0.1, `${p.minutes} for ${minutes}`);
      assert.ok(Math.abs(p.activities.reduce((n, a) => n + a.minutes, 0) - p.minutes) < 0.05);
    }
    const p = plan(child({}));
    assert.equal(p.activities[0]!.kind, 'learn');
    assert.equal(p.activities[0]!.conceptId, catalogue[0]!.conceptIds[0]);
    assert.equal(p.activities[0]!.lessonId, catalogue[0]!.id);
    assert.equal(p.activities[0]!.why.code, 'new_concept');
    // A new child knows nothing: every concept the plan teaches has each prerequisite taught earlier in the same plan.
    const byId = new Map(concepts.map((c) => [c.id, c]));
    const taught = new Set<string>();
    for (const a of p.activities) {
      for (const pre of byId.get(a.conceptId)!.prerequisites) assert.ok(taught.has(pre), `${a.conceptId} before its prerequisite ${pre}`);
      taught.add(a.conceptId);
    }
    assert.ok(p.activities.some((a) => a.why.adult.startsWith('Next in the teaching order once today')), 'the look-ahead says why');
  });

  it('puts due reviews first (lowest recall first, capped), then the frontier; reviews may reuse last session’s items, nothing else does', () => {
    const first = concepts.find((c) => c.prerequisites.length === 0)!.id;
    const second = concepts.find((c) => c.prerequisites.length === 1 && c.prerequisites[0] === first)!.id;
    const c = child({ [first]: { pattern: '11111111', daysAgo: 90 }, [second]: { pattern: '1101', daysAgo: 0 } });
    const p = plan(c);
    assert.equal(p.activities[0]!.kind, 'review');
    assert.equal(p.activities[0]!.conceptId, first);
    assert.match(p.activities[0]!.why.adult, /^Due for review: last practised 90 days ago, recall now about \d+%\.$/);
    assert.ok(p.activities[0]!.why.evidence.recall! < 0.9);
    const reviewMinutes = p.activities.filter((a) => a.kind === 'review').reduce((n, a) => n + a.minutes, 0);
    assert.ok(reviewMinutes <= 15 * 0.3 + 2, `reviews ${reviewMinutes} min`);
    for (const a of p.activities.filter((a) => a.kind !== 'review')) {
      for (const id of a.itemIds) assert.ok(!c.lastSessionItems.has(id), `${id} was answered in the last session`);
    }
    const ids = p.activities.flatMap((a) => a.itemIds);
    assert.equal(new Set(ids).size, ids.length, 'no item twice in a plan');
  });

  it('repairs the missing prerequisite before a struggling concept', () => {
    const first = concepts.find((c) => c.prerequisites.length === 0)!.id;
    const second = concepts.find((c) => c.prerequisites.length === 1 && c.prerequisites[0] === first)!.id;
    // Second attempted many times, mostly wrong; its prerequisite is not learned.
    const c = child({ [first]: { pattern: '10', daysAgo: 1 }, [second]: { pattern: '0000000100', daysAgo: 1 } });
    const p = plan(c);
    const repair = p.activities.find((a) => a.why.code === 'repair_prerequisite');
    assert.ok(repair, JSON.stringify(p.activities.map((a) => a.why.code)));
    assert.equal(repair.conceptId, first);
    assert.ok(p.activities.indexOf(repair) <= p.activities.findIndex((a) => a.conceptId === second) || !p.activities.some((a) => a.conceptId === second));
  });

  it('picks practice items in the desirable-difficulty band when the concept has them, and explains each activity with evidence', () => {
    const first = concepts.find((c) => c.prerequisites.length === 0)!.id;
    const c = child({ [first]: { pattern: '101101', daysAgo: 2 } });
    const p = plan(c, 20);
    const practice = p.activities.filter((a) => a.kind === 'practice' && a.conceptId === first);
    assert.ok(practice.length > 0);
    for (const a of practice) assert.ok(a.targetSuccess >= SUCCESS_BAND.low - 0.1 && a.targetSuccess <= SUCCESS_BAND.high + 0.1, `success ${a.targetSuccess}`);
    const items = allItems();
    for (const a of p.activities) {
      assert.ok(a.why.child.length > 0 && a.why.adult.length > 0);
      assert.ok('pKnown' in a.why.evidence && 'recall' in a.why.evidence && 'missingPrerequisites' in a.why.evidence);
      for (const id of a.itemIds) assert.equal(items.get(id)?.conceptId, a.conceptId, `${id} practises ${a.conceptId}`);
    }
  });

  it('challenges known concepts weakest memory first: the one whose review is soonest', () => {
    // Both known and not yet due; the later one in the teaching order was practised a day earlier, so its review comes sooner.
    const [earlier, later] = [concepts[0]!.id, concepts[1]!.id];
    const c = child({ [earlier]: { pattern: '11111111', daysAgo: 0 }, [later]: { pattern: '11111111', daysAgo: 1 } });
    const analysis = analyse(concepts, c.states, c.recent, now);
    assert.deepEqual([...analysis.mastered].sort(), [earlier, later].sort(), 'both known now');
    assert.ok(c.states.get(later)!.fsrs.due < c.states.get(earlier)!.fsrs.due);
    const p = plan(c, 10, [earlier, later]);
    const challenges = p.activities.filter((a) => a.kind === 'challenge');
    assert.ok(challenges.length >= 2, JSON.stringify(p.activities.map((a) => a.kind)));
    assert.equal(challenges[0]!.conceptId, later);
    assert.equal(challenges[1]!.conceptId, earlier);
  });

  it('keeps to the focus concepts', () => {
    const target = concepts.find((c) => c.prerequisites.length === 0)!.id;
    const p = plan(child({}), 10, [target]);
    assert.ok(p.activities.length > 0);
    assert.ok(p.activities.every((a) => a.conceptId === target));
  });
});
