import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConceptWrite, dependentsOf, learningOrder, type OrderedNode } from '../../src/domain/concept-graph.ts';

const node = (id: string, prerequisites: string[] = [], grade = 1, subject = 'math'): OrderedNode => ({ id, subject, grade, prerequisites });

describe('checkConceptWrite', () => {
  // counting <- adding <- carrying; reading alone.
  const graph = [node('counting'), node('adding', ['counting']), node('carrying', ['adding']), node('reading')];

  it('accepts a new concept on known prerequisites, and one without any', () => {
    assert.equal(checkConceptWrite(graph, { id: 'subtracting', prerequisites: ['counting', 'adding'] }), undefined);
    assert.equal(checkConceptWrite(graph, { id: 'shapes', prerequisites: [] }), undefined);
  });

  it('accepts replacing a concept’s prerequisites when no cycle results (its old edges do not count)', () => {
    assert.equal(checkConceptWrite(graph, { id: 'adding', prerequisites: ['reading'] }), undefined);
    assert.equal(checkConceptWrite(graph, { id: 'counting', prerequisites: ['reading'] }), undefined);
  });

  it('names every unknown prerequisite, sorted and once', () => {
    assert.deepEqual(checkConceptWrite(graph, { id: 'x', prerequisites: ['zeta', 'counting', 'alpha', 'zeta'] }), { code: 'unknown_concept', conceptIds: ['alpha', 'zeta'] });
  });

  it('refuses a concept as its own prerequisite, new or stored', () => {
    assert.deepEqual(checkConceptWrite(graph, { id: 'x', prerequisites: ['x'] }), { code: 'prerequisite_cycle', cycle: ['x', 'x'] });
    assert.deepEqual(checkConceptWrite(graph, { id: 'adding', prerequisites: ['counting', 'adding'] }), { code: 'prerequisite_cycle', cycle: ['adding', 'adding'] });
  });

  it('refuses an edge that closes a cycle and gives its path', () => {
    assert.deepEqual(checkConceptWrite(graph, { id: 'counting', prerequisites: ['carrying'] }), { code: 'prerequisite_cycle', cycle: ['counting', 'carrying', 'adding', 'counting'] });
    assert.deepEqual(checkConceptWrite(graph, { id: 'counting', prerequisites: ['adding'] }), { code: 'prerequisite_cycle', cycle: ['counting', 'adding', 'counting'] });
  });

  it('gives the shortest way round when there are several', () => {
    const g = [node('a'), node('b', ['a']), node('c', ['b']), node('d', ['c', 'a'])];
    assert.deepEqual(checkConceptWrite(g, { id: 'a', prerequisites: ['d'] }), { code: 'prerequisite_cycle', cycle: ['a', 'd', 'a'] });
  });

  it('does not mistake a diamond for a cycle', () => {
    const g = [node('a'), node('b', ['a']), node('c', ['a']), node('d', ['b', 'c'])];
    assert.equal(checkConceptWrite(g, { id: 'e', prerequisites: ['d', 'b', 'a'] }), undefined);
  });

  it('runs over a long chain without recursion', () => {
    const chain = Array.from({ length: 20_000 }, (_, i) => node(`c${i}`, i ? [`c${i - 1}`] : []));
    const refusal = checkConceptWrite(chain, { id: 'c0', prerequisites: ['c19999'] });
    assert.equal(refusal?.code, 'prerequisite_cycle');
    assert.equal(refusal.code === 'prerequisite_cycle' && refusal.cycle.length, 20_001);
  });
});

describe('dependentsOf', () => {
  it('lists the concepts that need one, sorted', () => {
    const g = [node('a'), node('c', ['a']), node('b', ['a']), node('d', ['b'])];
    assert.deepEqual(dependentsOf(g, 'a'), ['b', 'c']);
    assert.deepEqual(dependentsOf(g, 'd'), []);
  });
});

describe('learningOrder', () => {
  const ids = (nodes: OrderedNode[]) => nodes.map((c) => c.id);

  it('puts prerequisites first, ties by grade, then subject, then id', () => {
    const concepts = [
      node('fractions', ['dividing'], 3),
      node('dividing', ['multiplying'], 3),
      node('multiplying', ['adding'], 2),
      node('adding', ['counting'], 1),
      node('counting', [], 0),
      node('phonics', [], 0, 'reading'),
      node('shapes', [], 0),
      node('words', ['phonics'], 1, 'reading'),
      // Grade 0 but needs a grade 2 concept: it waits for it.
      node('late', ['multiplying'], 0),
    ];
    assert.deepEqual(ids(learningOrder(concepts)), ['counting', 'shapes', 'phonics', 'adding', 'words', 'multiplying', 'late', 'dividing', 'fractions']);
  });

  it('every concept comes after all its prerequisites', () => {
    const concepts = Array.from({ length: 300 }, (_, i) => node(`k${i}`, [i > 2 ? `k${(i * 7) % i}` : '', i > 5 ? `k${i - 5}` : ''].filter(Boolean), i % 9, i % 2 ? 'math' : 'reading'));
    const order = ids(learningOrder(concepts));
    assert.equal(order.length, 300);
    const at = new Map(order.map((id, i) => [id, i]));
    for (const c of concepts) for (const p of c.prerequisites) assert.ok(at.get(p)! < at.get(c.id)!, `${p} before ${c.id}`);
  });

  it('ignores prerequisites outside the list and keeps cyclic leftovers at the end instead of throwing', () => {
    assert.deepEqual(ids(learningOrder([node('b', ['gone']), node('a', ['b'])])), ['b', 'a']);
    assert.deepEqual(ids(learningOrder([node('x', ['y'], 0), node('y', ['x'], 0), node('z', [], 5)])), ['z', 'x', 'y']);
  });
});
