import { randomInt } from 'node:crypto';
import type { GeneratedCandidate } from '../../domain/generated-item-checks.ts';
import { numbersIn, solveQuestion } from '../../domain/item-solver.ts';
import type { PracticeItem } from '../../domain/curriculum.ts';
import { chooseType, makeRng, toItem, type ConceptSpec, type Rng } from '../../seed/generator.ts';
import type { GenerationTask, LanguageModel } from './language-model.ts';

/** The model id recorded for items written by the offline generator. */
export const OFFLINE_MODEL_ID = 'offline-templates-v1';

/** Options of the offline generator. */
export interface OfflineModelOptions {
  /** Concept templates (the demo curricula's generators, see src/seed), matched by concept id, subject and grade. */
  templates?: readonly ConceptSpec[];
  /** Seed of the random stream (tests); otherwise every call draws a fresh seed, so items differ from call to call. */
  seed?: number;
}

/** Flat and solid shapes with facts a question can ask; the item solver holds the same facts to check the answers. */
const POLYGONS = [
  ['triangle', 3], ['square', 4], ['rectangle', 4], ['pentagon', 5], ['hexagon', 6], ['octagon', 8], ['rhombus', 4], ['trapezoid', 4],
] as const;
const SOLIDS = [
  ['cube', { faces: 6, edges: 12, vertices: 8 }],
  ['rectangular prism', { faces: 6, edges: 12, vertices: 8 }],
  ['square pyramid', { faces: 5, edges: 8, vertices: 5 }],
  ['triangular prism', { faces: 5, edges: 9, vertices: 6 }],
] as const;

/** Shape questions for the geometry concepts that count sides, corners, faces, edges and vertices. */
function shapeQuestion(task: GenerationTask, rng: Rng): GeneratedCandidate | undefined {
  const text = `${task.conceptId} ${task.conceptName} ${task.conceptDescription}`.toLowerCase();
  if (task.subject !== 'geometry') return undefined;
  if (/faces|edges|vertices/.test(text)) {
    const [name, facts] = rng.pick(SOLIDS);
    const what = rng.pick(['faces', 'edges', 'vertices'] as const);
    return numeric(`How many ${what} does a ${name} have?`, facts[what], rng, 0.4);
  }
  if (/sides|corners|polygon|pentagon|hexagon/.test(text)) {
    const [name, sides] = rng.pick(POLYGONS);
    const what = rng.pick(['sides', 'corners'] as const);
    return numeric(`How many ${what} does ${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name} have?`, sides, rng, 0.4);
  }
  return undefined;
}

/** A numeric question as a numeric item, or (with probability `mcShare`) as multiple choice with nearby distractors. */
function numeric(prompt: string, value: number, rng: Rng, mcShare: number): GeneratedCandidate {
  if (rng.next() >= mcShare) return { type: 'numeric', prompt, choices: [], answer: String(value), alsoAccept: [] };
  const wrong = [...new Set([value + 1, value + 2, value - 1, value - 2, value + 10].filter((v) => v >= 0 && v !== value))];
  const texts = rng.shuffle([value, ...rng.sample(wrong, 3)]).map(String);
  const choices = texts.map((text, i) => ({ id: 'abcd'[i]!, text }));
  return { type: 'multiple_choice', prompt, choices, answer: choices.find((c) => c.text === String(value))!.id, alsoAccept: [] };
}

/**
 * A new version of an existing numeric question: every whole number replaced
 * by a nearby one of at most the same number of digits, the answer computed
 * by the question solver (a question it cannot read is not varied).
 */
function varyNumbers(example: GenerationTask['examples'][number], rng: Rng): GeneratedCandidate | undefined {
  if (/\d\s*\/\s*\d|\d\.\d/.test(example.prompt)) return undefined;
  const original = solveQuestion(example.prompt);
  if (original?.kind !== 'number' || numbersIn(example.prompt).length === 0) return undefined;
  const prompt = example.prompt.replace(/\d{1,3}(?:,\d{3})+|\d+/g, (m) => {
    const n = Number(m.replaceAll(',', ''));
    // Small numbers vary the most (2 + 3 becomes anything up to 7 + 8); larger ones keep their size.
    const spread = Math.max(5, Math.round(n * 0.5));
    const next = Math.max(n < 2 ? 0 : 1, Math.min(Math.max(9, 10 ** String(n).length - 1), n + rng.int(-spread, spread)));
    return next.toLocaleString('en-US');
  });
  const solved = solveQuestion(prompt);
  if (solved?.kind !== 'number' || solved.value < 0 || !Number.isInteger(solved.value) || prompt === example.prompt) return undefined;
  return numeric(prompt, solved.value, rng, example.type === 'multiple_choice' ? 1 : 0);
}

/** A checked template item as a model-output candidate. */
function fromItem(item: PracticeItem): GeneratedCandidate {
  const answer = item.answer;
  if (answer.type === 'numeric') return { type: 'numeric', prompt: item.prompt, choices: [], answer: String(answer.value), alsoAccept: [] };
  if (answer.type === 'multiple_choice') return { type: 'multiple_choice', prompt: item.prompt, choices: item.choices ?? [], answer: answer.choiceId, alsoAccept: [] };
  return { type: 'short_text', prompt: item.prompt, choices: [], answer: answer.accepted[0]!, alsoAccept: answer.accepted.slice(1) };
}

/**
 * The `offline` adapter (the default): writes fresh items with no model,
 * from the curriculum's own material: the concept's template when the app
 * runs a demo curriculum (new numbers, words and wordings, answers computed
 * and verified by the template), shape-fact questions for geometry, and
 * otherwise new numbers in the concept's existing numeric questions with the
 * answer recomputed. It answers in the same JSON as a remote model, so its
 * items go through the same checks. A concept it has nothing for gets `[]`.
 */
export function createOfflineModel(options: OfflineModelOptions = {}): LanguageModel {
  const templates = new Map((options.templates ?? []).map((t) => [t.id, t]));
  let calls = 0;
  return {
    provider: 'offline',
    model: OFFLINE_MODEL_ID,
    async generate(request, opts = {}) {
      opts.signal?.throwIfAborted();
      const task = request.task;
      const rng = makeRng(options.seed === undefined ? randomInt(2 ** 31) : options.seed + calls++);
      const out: GeneratedCandidate[] = [];
      const seen = new Set<string>();
      const push = (c: GeneratedCandidate | undefined) => {
        if (c && !seen.has(c.prompt)) {
          seen.add(c.prompt);
          out.push(c);
        }
      };
      const spec = templates.get(task.conceptId);
      const attempts = task.count * 6;
      for (let i = 0; i < attempts && out.length < task.count; i++) {
        if (spec && spec.subject === task.subject && spec.grade === task.grade) {
          try {
            const problem = spec.make(rng, 1);
            push(fromItem(toItem(problem, `offline-${i}`, task.conceptId, chooseType(problem, i), rng)));
          } catch {
            // The template's own checks refused this draw (too few distinct distractors…): draw again.
          }
          continue;
        }
        const shape = shapeQuestion(task, rng);
        if (shape) {
          push(shape);
          continue;
        }
        const numericExamples = task.examples.filter((e) => e.type !== 'short_text');
        if (numericExamples.length === 0) break;
        push(varyNumbers(rng.pick(numericExamples), rng));
      }
      return { text: JSON.stringify({ items: out }), model: OFFLINE_MODEL_ID, usage: { inputTokens: 0, outputTokens: 0 }, attempts: 1 };
    },
    async close() {},
  };
}
