import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCorrect, LessonInput, NewLessonInput, PracticeItem, toPublicItem, topologicalOrder } from '../../src/domain/curriculum.ts';
import { assertValidAppId, isValidAppId, tenantSchema } from '../../src/domain/tenancy.ts';

describe('isCorrect', () => {
  it('checks multiple choice by choice id', () => {
    assert.equal(isCorrect({ type: 'multiple_choice', choiceId: 'b' }, 'b'), true);
    assert.equal(isCorrect({ type: 'multiple_choice', choiceId: 'b' }, 'a'), false);
    assert.equal(isCorrect({ type: 'multiple_choice', choiceId: 'b' }, ['b']), false);
  });
  it('checks numbers with tolerance, accepting numeric strings in plain decimal only', () => {
    assert.equal(isCorrect({ type: 'numeric', value: 12, tolerance: 0 }, 12), true);
    assert.equal(isCorrect({ type: 'numeric', value: 12, tolerance: 0 }, '12'), true);
    assert.equal(isCorrect({ type: 'numeric', value: -2.5, tolerance: 0 }, '-2.5'), true);
    // Number() reads all of these as 11; a child typed none of them.
    for (const text of ['0x0B', '0xb', '1.1e1', '11e0', ' 11 ', '11 ', '+11', '0b1011', '0o13', '11.', '.11e2', '1_1', 'Infinity']) {
      assert.equal(isCorrect({ type: 'numeric', value: 11, tolerance: 0 }, text), false, JSON.stringify(text));
    }
    assert.equal(isCorrect({ type: 'numeric', value: 0.5, tolerance: 0.01 }, 0.505), true);
    assert.equal(isCorrect({ type: 'numeric', value: 12, tolerance: 0 }, 13), false);
    assert.equal(isCorrect({ type: 'numeric', value: 0, tolerance: 0 }, ''), false);
    assert.equal(isCorrect({ type: 'numeric', value: 12, tolerance: 0 }, 'twelve'), false);
  });
  it('checks short text ignoring case and extra spaces unless case-sensitive', () => {
    const key = { type: 'short_text' as const, accepted: ['forty-five', 'forty five'], caseSensitive: false };
    assert.equal(isCorrect(key, ' Forty  Five '), true);
    assert.equal(isCorrect(key, 'forty-six'), false);
    assert.equal(isCorrect({ ...key, caseSensitive: true }, 'Forty five'), false);
  });
});

describe('curriculum schemas', () => {
  const item = { id: 'q1', conceptId: 'c', type: 'numeric', prompt: '1+1', answer: { type: 'numeric', value: 2 }, difficulty: 0 };
  const lesson = { subject: 'math', grade: 1, title: 't', summary: '', blocks: [], conceptIds: ['c'], estimatedMinutes: 3, items: [item] };

  it('accepts a valid lesson and fills defaults', () => {
    const parsed = LessonInput.parse(lesson);
    assert.equal(parsed.published, false);
    assert.deepEqual(parsed.media, []);
    assert.deepEqual(parsed.items[0]!.answer, { type: 'numeric', value: 2, tolerance: 0 });
  });

  it('rejects unknown fields, mismatched answer types and duplicate items', () => {
    assert.equal(LessonInput.safeParse({ ...lesson, owner: 'x' }).success, false);
    assert.equal(PracticeItem.safeParse({ ...item, answer: { type: 'short_text', accepted: ['2'] } }).success, false);
    assert.equal(PracticeItem.safeParse({ ...item, choices: [{ id: 'a', text: '1' }, { id: 'b', text: '2' }] }).success, false);
    assert.equal(LessonInput.safeParse({ ...lesson, items: [item, item] }).success, false);
    assert.equal(LessonInput.safeParse({ ...lesson, items: [{ ...item, conceptId: 'other' }] }).success, false);
    assert.equal(LessonInput.safeParse({ ...lesson, blocks: [{ type: 'media', mediaId: 'm1' }] }).success, false);
    assert.equal(NewLessonInput.safeParse({ ...lesson, id: 'Bad Id' }).success, false);
    assert.equal(LessonInput.safeParse({ ...lesson, grade: 9 }).success, false);
  });

  it('toPublicItem never carries the answer key', () => {
    const pub = toPublicItem(PracticeItem.parse(item));
    assert.equal('answer' in pub, false);
    assert.deepEqual(Object.keys(pub).sort(), ['conceptId', 'difficulty', 'id', 'prompt', 'type']);
  });
});

describe('topologicalOrder', () => {
  it('orders prerequisites first', () => {
    const order = topologicalOrder([
      { id: 'c', prerequisites: ['b'] },
      { id: 'b', prerequisites: ['a'] },
      { id: 'a', prerequisites: [] },
    ]);
    assert.deepEqual(order, ['a', 'b', 'c']);
  });
  it('rejects cycles, self-loops and unknown prerequisites', () => {
    assert.throws(() => topologicalOrder([{ id: 'a', prerequisites: ['b'] }, { id: 'b', prerequisites: ['a'] }]), /cycle/);
    assert.throws(() => topologicalOrder([{ id: 'a', prerequisites: ['a'] }]), /own prerequisite/);
    assert.throws(() => topologicalOrder([{ id: 'a', prerequisites: ['x'] }]), /unknown prerequisite/);
  });
});

describe('app ids', () => {
  it('accept only ^[a-z][a-z0-9_]{1,30}$', () => {
    for (const ok of ['mathkids', 'a1', 'app_2', 'a'.repeat(31)]) assert.equal(isValidAppId(ok), true, ok);
    for (const bad of ['a', 'A1', '1abc', 'a-b', 'a'.repeat(32), 'x;drop', 'app"', '']) assert.equal(isValidAppId(bad), false, bad);
    assert.equal(tenantSchema('mathkids'), 'app_mathkids');
    assert.throws(() => assertValidAppId('bad id'), /must match/);
  });
});
