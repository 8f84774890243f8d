import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCandidate, parseModelOutput, questionFingerprint, readingGrade, type CheckContext, type RejectionReason } from '../../src/domain/generated-item-checks.ts';
import { solveQuestion } from '../../src/domain/item-solver.ts';
import { isCorrect } from '../../src/domain/curriculum.ts';
import { judge, loadLlmFixtures } from '../support/llm-fixtures.ts';

const CONTEXT: CheckContext = { conceptId: 'add-within-20', grade: 1, existing: [], difficulty: -1.5 };
const numeric = (prompt: string, answer: string) => ({ type: 'numeric', prompt, choices: [], answer, alsoAccept: [] });
const choice = (prompt: string, texts: string[], answer: string) => ({ type: 'multiple_choice', prompt, choices: texts.map((text, i) => ({ id: 'abcd'[i]!, text })), answer, alsoAccept: [] });
const reason = (raw: unknown, context: CheckContext = CONTEXT) => {
  const r = checkCandidate(raw, context);
  return r.ok ? 'ok' : r.reason;
};

describe('the fixture set of model outputs', () => {
  const fixtures = loadLlmFixtures();
  const faulty = fixtures.filter((f) => f.expect !== 'ok');
  const correct = fixtures.filter((f) => f.expect === 'ok');

  it('holds at least 200 outputs for the three curricula, with every kind of injected fault', () => {
    assert.ok(fixtures.length >= 200, `${fixtures.length} fixtures`);
    assert.deepEqual(new Set(fixtures.map((f) => f.app)), new Set(['mathkids', 'wordkids', 'shapekids']));
    for (const kind of ['answer_mismatch', 'multiple_correct_choices', 'key_not_in_choices', 'unsafe_word', 'unsafe_topic', 'off_grade_numbers', 'malformed_output']) {
      assert.ok(faulty.filter((f) => f.expect === kind).length >= 10, `at least 10 fixtures with fault ${kind}`);
    }
    assert.ok(correct.length >= 100);
  });

  it('catches 100% of the faulty outputs, each by the reason of its fault', () => {
    const missed = faulty.map(judge).filter((v) => !v.reasons.includes(v.fixture.expect as RejectionReason));
    assert.deepEqual(
      missed.map((v) => `${v.fixture.id} expected ${v.fixture.expect}, got ${v.ok ? 'ok' : v.reasons.join(',')}`),
      [],
    );
  });

  it('reports the false rejections of correct outputs (only ever "cannot verify", never a wrong verdict)', (t) => {
    const rejected = correct.map(judge).filter((v) => !v.ok);
    const rate = rejected.length / correct.length;
    t.diagnostic(`false rejections: ${rejected.length}/${correct.length} (${(100 * rate).toFixed(1)}%)`);
    // A correct item may be dropped because its answer cannot be recomputed; it must never be called wrong or unsafe.
    assert.deepEqual([...new Set(rejected.flatMap((v) => v.reasons))].filter((r) => r !== 'answer_unverifiable'), []);
    assert.ok(rate < 0.15, `false-rejection rate ${rate}`);
  });
});

describe('independent answer check', () => {
  it('recomputes the curriculum’s question shapes from the text alone', () => {
    const cases: [string, number][] = [
      ['What is 9 + 6 × 3?', 27],
      ['What is 672 ÷ 6?', 112],
      ['What is 3.95 − 2.4?', 1.55],
      ['What number comes right before 40?', 39],
      ['Fill in the missing number: 13, 14, __, 16.', 15],
      ['Count by fives: 15, 20, 25, __. What number comes next?', 30],
      ['Which number is the smallest: 62, 25, 20, 55?', 20],
      ['__ + 9 = 11. What number goes in the blank?', 2],
      ['Fill in the blank: 3/4 = __/16.', 12],
      ['What is 10 less than 72?', 62],
      ['What digit is in the hundreds place of 4,382?', 3],
      ['What is the value of the 6 in 2,629?', 600],
      ['Round 84 to the nearest ten.', 80],
      ['What is 2/3 of 6?', 4],
      ['Count the dots: ● ● ●. How many dots are there?', 3],
      ['You have 1 dime, 2 nickels and 1 penny. How many cents do you have in all?', 21],
      ['A poster is 5 inches long and 2 inches wide. What is its area in square inches?', 10],
      ['There are 4 vases with 4 flowers in each. How many flowers are there in all?', 16],
      ['Kai has 8 cookies. Mia has 2 cookies. How many more cookies does Kai have than Mia?', 6],
      ['How many syllables are in the word "banana"?', 3],
      ['How many edges does a cube have?', 12],
    ];
    for (const [question, value] of cases) assert.deepEqual(solveQuestion(question), { kind: 'number', value }, question);
    assert.equal(solveQuestion('Why is the sky blue?'), undefined);
  });

  it('rejects a wrong numeric key, and accepts the right one', () => {
    assert.equal(reason(numeric('What is 8 + 5?', '14')), 'answer_mismatch');
    assert.equal(reason(numeric('What is 8 + 5?', '13')), 'ok');
  });

  it('rejects a numeric question it cannot recompute (a key it cannot check is not trusted)', () => {
    assert.equal(reason(numeric('How many legs does a spider have?', '8')), 'answer_unverifiable');
  });

  it('multiple choice: exactly one correct choice, the key among the choices and on it', () => {
    assert.equal(reason(choice('What is 7 + 5?', ['11', '12', '13', '14'], 'b')), 'ok');
    assert.equal(reason(choice('What is 7 + 5?', ['11', '12', '13', '14'], 'a')), 'answer_mismatch');
    assert.equal(reason(choice('What is 7 + 5?', ['11', '12', '13', '14'], 'e')), 'key_not_in_choices');
    assert.equal(reason(choice('What is 7 + 5?', ['11', '12', '12.0', '14'], 'b')), 'multiple_correct_choices');
    assert.equal(reason(choice('What is 7 + 5?', ['11', '10', '13', '14'], 'b')), 'no_correct_choice');
    assert.equal(reason(choice('What is 7 + 5?', ['12', ' 12 ', '13', '14'], 'a')), 'duplicate_choices');
    assert.equal(reason(choice('Which number is a factor of 42?', ['7', '6', '5', '9'], 'a')), 'multiple_correct_choices');
    assert.equal(reason(choice('Which word means almost the same as "big"?', ['huge', 'tiny', 'slow', 'cold'], 'a')), 'ok');
  });

  it('normalises short-text keys (spaces, curly apostrophes) so a child’s typing is accepted', () => {
    const r = checkCandidate({ type: 'short_text', prompt: 'Write the contraction for "it is".', choices: [], answer: '  it’s ', alsoAccept: ['its  '] }, { ...CONTEXT, grade: 2 });
    assert.ok(r.ok);
    assert.equal(r.item.answer.type, 'short_text');
    assert.ok(isCorrect(r.item.answer, "it's"));
    assert.ok(isCorrect(r.item.answer, 'it’s'));
    assert.ok(isCorrect(r.item.answer, 'IT’S'));
    assert.equal(reason({ type: 'short_text', prompt: 'What is the opposite of "up"?', choices: [], answer: '  ', alsoAccept: [] }), 'key_not_normalised');
    assert.equal(reason({ type: 'short_text', prompt: 'What is 1/4 + 1/4?', choices: [], answer: '2/4', alsoAccept: ['1/2'] }, { ...CONTEXT, grade: 4 }), 'ok');
    assert.equal(reason({ type: 'short_text', prompt: 'What is 1/4 + 1/4?', choices: [], answer: '2/8', alsoAccept: [] }, { ...CONTEXT, grade: 4 }), 'answer_mismatch');
  });
});

describe('child-safety and grade checks', () => {
  it('rejects blocked words and topics as whole words, not inside other words', () => {
    assert.equal(reason(numeric('Sam has 5 stupid apples. He gets 3 more. How many apples does he have now?', '8')), 'unsafe_word');
    assert.equal(reason(numeric('A soldier has 5 guns. He gets 3 more. How many guns does he have now?', '8')), 'unsafe_topic');
    assert.equal(reason(numeric('What is your phone number plus 3 + 4? What is 3 + 4?', '7')), 'unsafe_topic');
    // "shell" holds "hell", "skill" holds "kill", "class" holds "ass": none is blocked.
    assert.equal(reason(numeric('Ana finds 5 shells. She finds 3 more. How many shells does she have now?', '8')), 'ok');
    assert.equal(reason(choice('Which word means almost the same as "skill"?', ['talent', 'class', 'hat', 'dog'], 'a'), { ...CONTEXT, grade: 3 }), 'ok');
  });

  it('rejects numbers beyond the grade, decimals before grade 4 and negative answers', () => {
    assert.equal(reason(numeric('What is 4,582 + 3,917?', '8499'), { ...CONTEXT, grade: 0 }), 'off_grade_numbers');
    assert.equal(reason(numeric('What is 4,582 + 3,917?', '8499'), { ...CONTEXT, grade: 4 }), 'ok');
    assert.equal(reason(numeric('What is 2.5 + 1.5?', '4'), { ...CONTEXT, grade: 2 }), 'off_grade_numbers');
    assert.equal(reason(numeric('What is 3 − 8?', '-5'), { ...CONTEXT, grade: 2 }), 'off_grade_numbers');
  });

  it('rejects questions too long or too hard to read for the grade', () => {
    assert.equal(reason(numeric(`${'Tom and his friends walk to the park. '.repeat(5)}What is 2 + 3?`, '5'), { ...CONTEXT, grade: 0 }), 'too_long');
    assert.ok(readingGrade('Considering the aforementioned multiplicative relationship, determine the cumulative quantity.') > 12);
    assert.ok(readingGrade('What is 3 + 4?') < 2);
  });
});

describe('shape and novelty', () => {
  it('rejects outputs that are not JSON or not {items: [...]} as malformed, and unwraps a ```json fence', () => {
    assert.equal(parseModelOutput('{"items": [').ok, false);
    assert.equal(parseModelOutput('{"questions": []}').ok, false);
    assert.deepEqual(parseModelOutput('```json\n{"items": [1]}\n```'), { ok: true, items: [1] });
  });

  it('rejects items that are not the item schema', () => {
    assert.equal(reason({ type: 'true_false', prompt: 'x', choices: [], answer: 'true', alsoAccept: [] }), 'schema_invalid');
    assert.equal(reason({ ...numeric('What is 2 + 3?', '5'), choices: [{ id: 'a', text: '5' }] }), 'schema_invalid');
    assert.equal(reason({ prompt: 'What is 2 + 3?', answer: 5 }), 'schema_invalid');
  });

  it('rejects a question the app already has, whatever its case, spacing and punctuation', () => {
    const context = { ...CONTEXT, existing: [{ prompt: 'What is 8 + 5?' }] };
    const copy = checkCandidate(numeric('  WHAT is 8 + 5?? ', '13'), context);
    assert.ok(!copy.ok && copy.reasons.includes('duplicate_item'), JSON.stringify(copy));
    assert.equal(reason(numeric('what is 8+5', '13'), context), 'duplicate_item');
    assert.equal(reason(numeric('What is 8 − 5?', '3'), context), 'ok');
    assert.equal(reason(numeric('What is 8 + 6?', '14'), context), 'ok');
    assert.equal(questionFingerprint('What is 8 + 5?'), questionFingerprint('what IS 8 + 5 ?'));
  });

  it('gives back an accepted item ready to store: the concept, the difficulty, the key', () => {
    const r = checkCandidate(numeric('What is 8 + 5?', '13'), CONTEXT);
    assert.ok(r.ok);
    assert.deepEqual(r.item, { conceptId: 'add-within-20', type: 'numeric', prompt: 'What is 8 + 5?', answer: { type: 'numeric', value: 13, tolerance: 0 }, difficulty: -1.5 });
    assert.deepEqual(r.checks, ['schema', 'safety', 'grade', 'answer', 'novelty']);
  });
});
