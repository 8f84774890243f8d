import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyse, knownNow, type AnalysisConcept, type RecentAnswer } from '../../src/domain/learner/analysis.ts';
import { DEFAULT_BKT_PARAMS } from '../../src/domain/learner/bkt.ts';
import { applyAnswer, newConceptState, recallNow, viewOf, type ConceptState } from '../../src/domain/learner/concept-state.ts';

const DAY = 86_400_000;
const start = new Date('2026-09-01T09:00:00Z');

const graph: AnalysisConcept[] = [
  { id: 'counting', name: 'Counting', prerequisites: [] },
  { id: 'adding', name: 'Adding', prerequisites: ['counting'] },
  { id: 'subtracting', name: 'Subtracting', prerequisites: ['adding'] },
  { id: 'multiplying', name: 'Multiplying', prerequisites: ['adding'] },
  { id: 'reading', name: 'Reading', prerequisites: [] },
  { id: 'spelling', name: 'Spelling', prerequisites: ['reading'] },
];

/** Answers a concept `pattern` (1 right, 0 wrong) a minute apart from `at`; returns the state and the answers. */
function practise(pattern: string, at: Date, conceptId: string, state = newConceptState(DEFAULT_BKT_PARAMS, at)): { state: ConceptState; answers: RecentAnswer[] } {
  const answers: RecentAnswer[] = [];
  [...pattern].forEach((c, i) => {
    const answer = { conceptId, correct: c === '1', durationMs: 6_000, answeredAt: new Date(at.getTime() + i * 60_000) };
    state = applyAnswer(state, DEFAULT_BKT_PARAMS, answer);
    answers.push(answer);
  });
  return { state, answers };
}

describe('history analysis', () => {
  const counting = practise('1111111', start, 'counting');
  const adding = practise('0101010100', new Date(start.getTime() + 3_600_000), 'adding');
  const reading = practise('11', new Date(start.getTime() + 7_200_000), 'reading');
  const states = new Map([
    ['counting', counting.state],
    ['adding', adding.state],
    ['reading', reading.state],
  ]);
  const recent = [...counting.answers, ...adding.answers, ...reading.answers];

  it('counts a freshly learned concept as mastered, and the same concept months later as due for review', () => {
    const soon = new Date(start.getTime() + 3 * 3_600_000);
    const fresh = analyse(graph, states, recent, soon);
    assert.ok(fresh.mastered.includes('counting'), JSON.stringify(fresh.concepts[0]));
    assert.match(fresh.concepts[0]!.reason, /^Known: P\(known\) 0\.9\d, recall about \d+%, next review in \d+ days\.$/);

    const later = new Date(start.getTime() + 120 * DAY);
    const decayed = analyse(graph, states, recent, later);
    assert.deepEqual([decayed.mastered.includes('counting'), decayed.dueForReview], [false, ['counting']]);
    const finding = decayed.concepts.find((c) => c.conceptId === 'counting')!;
    assert.equal(finding.status, 'review_due');
    assert.ok(finding.evidence.recall! < 0.9, `recall ${finding.evidence.recall}`);
    assert.match(finding.reason, /^Due for review: learned, but last practised 119 days ago; recall now about \d+%\.$/);
    assert.equal(knownNow(counting.state, later), false);
    assert.equal(knownNow(counting.state, soon), true);
  });

  it('finds the struggling concept and the prerequisite to repair, the frontier, and what is not ready', () => {
    // Adding struggles (many wrong after 10 attempts) although counting is learned: nothing to repair.
    const now = new Date(start.getTime() + 4 * 3_600_000);
    const a = analyse(graph, states, recent, now);
    const byId = new Map(a.concepts.map((c) => [c.conceptId, c]));
    assert.deepEqual(a.struggling, ['adding']);
    assert.equal(byId.get('adding')!.repair, undefined);
    assert.match(byId.get('adding')!.reason, /^Struggling: \d of the last 5 answers wrong after 10 attempts/);
    assert.equal(byId.get('adding')!.evidence.recentAnswers, 5);
    // Subtracting and multiplying need adding; spelling needs reading, which is still being learned.
    assert.deepEqual(['subtracting', 'multiplying', 'spelling'].map((id) => byId.get(id)!.status), ['not_ready', 'not_ready', 'not_ready']);
    assert.match(byId.get('subtracting')!.reason, /^Not ready yet: first learn Adding\.$/);
    assert.deepEqual(a.frontier, ['reading'], 'started, prerequisites (none) learned, not struggling');

    // A child who struggles with subtracting while adding is not learned: repair adding first.
    const sub = practise('00000000', now, 'subtracting');
    const withSub = new Map(states).set('subtracting', sub.state);
    const b = analyse(graph, withSub, [...recent, ...sub.answers], new Date(now.getTime() + 600_000));
    const finding = b.concepts.find((c) => c.conceptId === 'subtracting')!;
    assert.equal(finding.status, 'struggling');
    assert.deepEqual(finding.repair?.conceptId, 'adding');
    assert.match(finding.reason, /practise Adding first\.$/);
    assert.deepEqual(finding.evidence.missingPrerequisites, ['adding']);
  });

  it('puts a never-practised concept whose prerequisites are learned on the frontier, and measures pace as answers per minute on task', () => {
    const now = new Date(start.getTime() + 4 * 3_600_000);
    const learnedAdding = practise('11111111', now, 'adding');
    const s = new Map(states).set('adding', learnedAdding.state);
    const a = analyse(graph, s, recent, new Date(now.getTime() + 3_600_000));
    assert.ok(a.frontier.includes('subtracting') && a.frontier.includes('multiplying'), JSON.stringify(a.frontier));
    assert.match(a.concepts.find((c) => c.conceptId === 'multiplying')!.reason, /^Ready to learn: its prerequisites \(Adding\) are learned\.$/);
    // 19 answers of 6 s each: 114 s on task, 10 answers a minute.
    assert.deepEqual(a.pace, { itemsPerMinute: 10, answers: 19, minutesOnTask: 1.9 });
    assert.equal(analyse(graph, new Map(), [], now).pace, null);
  });

  it('runs in microseconds per child on a curriculum-sized graph', () => {
    // Not a timing assertion (see bench:engine later): a sanity check that the work is linear.
    const big: AnalysisConcept[] = Array.from({ length: 60 }, (_, i) => ({ id: `c${i}`, name: `C${i}`, prerequisites: i ? [`c${i - 1}`] : [] }));
    const a = analyse(big, new Map(), [], start);
    assert.equal(a.concepts.length, 60);
    assert.deepEqual(a.frontier, ['c0']);
  });
});

describe('progress view: mastered means known now', () => {
  it('shows a learned concept as mastered right after practice and as learned but review due once recall decays', () => {
    const { state } = practise('1111111', start, 'counting');
    const fresh = viewOf(state, DEFAULT_BKT_PARAMS, 0.95, undefined, new Date(start.getTime() + 3_600_000));
    assert.deepEqual([fresh.mastered, fresh.learned, fresh.reviewDue], [true, true, false]);
    assert.ok(fresh.recall > 0.9);
    const later = viewOf(state, DEFAULT_BKT_PARAMS, 0.95, undefined, new Date(start.getTime() + 120 * DAY));
    assert.deepEqual([later.mastered, later.learned, later.reviewDue], [false, true, true]);
    assert.ok(later.recall < 0.9 && later.recall > 0, `recall ${later.recall}`);
    assert.equal(recallNow(newConceptState(), start), 0, 'no review yet: nothing to recall');
  });
});
