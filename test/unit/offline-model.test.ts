import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLanguageModel } from '../../src/adapters/llm/create-language-model.ts';
import type { GenerationTask } from '../../src/adapters/llm/language-model.ts';
import { createOfflineModel } from '../../src/adapters/llm/offline-model.ts';
import { isCorrect } from '../../src/domain/curriculum.ts';
import { checkCandidate, parseModelOutput } from '../../src/domain/generated-item-checks.ts';
import { solveQuestion } from '../../src/domain/item-solver.ts';
import { buildGenerationRequest } from '../../src/engine/item-generator.ts';
import { loadDemoPack } from '../../src/seed/demo-packs.ts';

const offline = (seed: number) => createLanguageModel({ llm: { provider: 'offline', timeoutMs: 1000, retries: 0, dailyTokenBudget: 0 } }, { offlineSeed: seed }).offline;

function task(over: Partial<GenerationTask>): GenerationTask {
  return { conceptId: 'x', conceptName: 'x', conceptDescription: '', subject: 'math', grade: 1, lessonTitle: 'x', lessonText: '', examples: [], count: 5, ...over };
}

async function generate(model: ReturnType<typeof offline>, t: GenerationTask) {
  const response = await model.generate(buildGenerationRequest(t));
  const output = parseModelOutput(response.text);
  assert.ok(output.ok, response.text);
  return output.items.map((raw) => ({ raw: raw as { prompt: string; type: string }, checked: checkCandidate(raw, { conceptId: t.conceptId, grade: t.grade, existing: [], difficulty: 0 }) }));
}

describe('offline generator', () => {
  it('writes fresh, checked items for every concept of Math Kids and Word Kids from their templates', async () => {
    const model = offline(1);
    for (const app of ['mathkids', 'wordkids']) {
      const pack = await loadDemoPack(app);
      const authored = new Set(pack.units.flatMap((u) => u.lessons.flatMap((l) => l.items.map((i) => i.prompt))));
      let fresh = 0;
      let total = 0;
      for (const c of pack.concepts) {
        const items = await generate(model, task({ conceptId: c.id, conceptName: c.name, subject: c.subject, grade: c.grade, count: 4 }));
        assert.equal(items.length, 4, `${app}/${c.id}`);
        for (const { raw, checked } of items) {
          // Template items carry answers computed and verified by the template; the checks either confirm them or cannot read the question.
          assert.ok(checked.ok || checked.reason === 'answer_unverifiable', `${c.id}: ${raw.prompt}: ${JSON.stringify(checked)}`);
          total++;
          if (!authored.has(raw.prompt)) fresh++;
        }
      }
      assert.ok(fresh / total > 0.5, `${app}: ${fresh}/${total} questions not already in the pack`);
    }
  });

  it('differs from call to call (fresh seed each time) and is reproducible with a fixed seed', async () => {
    const t = task({ conceptId: 'add-within-20', subject: 'math', grade: 1, count: 6 });
    const a = (await generate(offline(5), t)).map((i) => i.raw.prompt);
    const b = (await generate(offline(5), t)).map((i) => i.raw.prompt);
    const model = createOfflineModel({ templates: [] });
    const c1 = await model.generate(buildGenerationRequest(task({ examples: [{ type: 'numeric', prompt: 'What is 23 + 14?' }] })));
    const c2 = await model.generate(buildGenerationRequest(task({ examples: [{ type: 'numeric', prompt: 'What is 23 + 14?' }] })));
    assert.deepEqual(a, b);
    assert.notEqual(c1.text, c2.text);
  });

  it('varies the numbers of a concept without a template and computes the new answers', async () => {
    const model = createOfflineModel({ templates: [], seed: 3 });
    const items = await generate(model, task({ conceptId: 'custom-add', grade: 2, examples: [{ type: 'numeric', prompt: 'What is 23 + 14?' }, { type: 'short_text', prompt: 'Spell "cat".' }] }));
    assert.ok(items.length >= 3, JSON.stringify(items));
    for (const { raw, checked } of items) {
      assert.match(raw.prompt, /^What is \d+ \+ \d+\?$/);
      assert.notEqual(raw.prompt, 'What is 23 + 14?');
      assert.ok(checked.ok, JSON.stringify(checked));
      const solved = solveQuestion(raw.prompt);
      assert.ok(solved?.kind === 'number');
      assert.ok(isCorrect(checked.item.answer, checked.item.type === 'multiple_choice' ? checked.item.answer.type === 'multiple_choice' && checked.item.answer.choiceId : String(solved.value)));
    }
  });

  it('asks shape questions for geometry concepts about sides, corners, faces, edges and vertices', async () => {
    const items = await generate(offline(2), task({ conceptId: 'polygons', conceptName: 'Shapes with many sides', conceptDescription: 'Name pentagons, hexagons and octagons by counting their sides.', subject: 'geometry', grade: 1, count: 5 }));
    assert.ok(items.length >= 4);
    for (const { raw, checked } of items) {
      assert.match(raw.prompt, /^How many (sides|corners) does an? \w+ have\?$/);
      assert.ok(checked.ok, JSON.stringify(checked));
    }
  });

  it('returns no items for a concept it has nothing to build from (the generator then returns fewer)', async () => {
    const items = await generate(offline(1), task({ conceptId: 'symmetry', subject: 'geometry', conceptName: 'Lines of symmetry', grade: 2, examples: [{ type: 'short_text', prompt: 'Fold a heart: do the halves match?' }] }));
    assert.deepEqual(items, []);
  });
});
