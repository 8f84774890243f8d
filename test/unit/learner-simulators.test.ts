import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BktGraphLearner, IrtStructureLearner, type SimConcept, type SimItem, type SimulatedLearner } from '../../src/domain/learner/learner-simulators.ts';

/** The properties each simulator claims in its documentation, checked over many seeded learners. */

const concepts: SimConcept[] = [
  { id: 'a', prerequisites: [] },
  { id: 'b', prerequisites: ['a'] },
];
const items: SimItem[] = [
  ...Array.from({ length: 10 }, (_, i) => ({ id: `a${i}`, conceptId: 'a', difficulty: (i - 5) / 5 })),
  ...Array.from({ length: 10 }, (_, i) => ({ id: `b${i}`, conceptId: 'b', difficulty: (i - 5) / 5 })),
];
const of = (c: string) => items.filter((i) => i.conceptId === c);

/** Practises `concept` with `n` items on `day`, spread over the day's first minutes. */
function practise(l: SimulatedLearner, concept: string, n: number, day: number): number {
  let right = 0;
  for (let k = 0; k < n; k++) right += l.answer(of(concept)[k % 10]!, day + k / 2880) ? 1 : 0;
  return right;
}

const mean = (xs: number[]) => xs.reduce((n, x) => n + x, 0) / xs.length;

for (const [name, make] of [
  ['BKT graph', (seed: number) => new BktGraphLearner(concepts, seed)],
  ['IRT knowledge structure', (seed: number) => new IrtStructureLearner(concepts, items, seed)],
] as const) {
  describe(`${name} simulator`, () => {
    it('is deterministic for a seed', () => {
      const run = () => {
        const l = make(7);
        return Array.from({ length: 40 }, (_, k) => l.answer(items[k % 20]!, k / 100));
      };
      assert.deepEqual(run(), run());
    });

    it('learns with practice: mastery rises from where it started', () => {
      const gains = Array.from({ length: 200 }, (_, s) => {
        const l = make(s);
        const before = l.trueMastery('a', 0);
        practise(l, 'a', 30, 0);
        return l.trueMastery('a', 0.1) - before;
      });
      assert.ok(mean(gains) > 0.3, `mean gain ${mean(gains)}`);
    });

    it('learns a concept much more slowly while its prerequisite is not learned', () => {
      const after = (withPrerequisite: boolean) =>
        mean(
          Array.from({ length: 200 }, (_, s) => {
            const l = make(1000 + s);
            if (withPrerequisite) practise(l, 'a', 40, 0);
            practise(l, 'b', 10, 0.2);
            return l.trueMastery('b', 0.3);
          }),
        );
      const ready = after(true);
      const notReady = after(false);
      assert.ok(ready > notReady + 0.15, `with the prerequisite ${ready}, without ${notReady}`);
    });

    it('forgets with time, and more slowly after practice spread over several days', () => {
      const retained = (spaced: boolean) =>
        mean(
          Array.from({ length: 200 }, (_, s) => {
            const l = make(2000 + s);
            if (spaced) for (let d = 0; d < 4; d++) practise(l, 'a', 10, d * 3);
            else practise(l, 'a', 40, 9);
            const fresh = l.trueMastery('a', 9.1);
            const later = l.trueMastery('a', 39);
            assert.ok(later <= fresh + 1e-9);
            return later;
          }),
        );
      const spaced = retained(true);
      const massed = retained(false);
      assert.ok(spaced > massed, `spaced ${spaced} vs massed ${massed}`);
    });
  });
}
