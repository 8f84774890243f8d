/**
 * `npm run bench:checks`: how well the generated-item checks separate good
 * model outputs from bad ones. Runs the fixture set
 * (test/fixtures/llm-outputs/outputs.json, built by
 * scripts/build-llm-fixtures.ts) and, as a larger corpus of correct items,
 * every item of the three demo curricula, and prints: faulty outputs caught
 * (and by the expected reason), the false-rejection rate of correct ones with
 * the reasons, and the time per check. Figures go to docs/engine.md.
 */
import { checkCandidate, type RejectionReason } from '../src/domain/generated-item-checks.ts';
import { itemConceptId, lessonsInOrder } from '../src/domain/content-pack.ts';
import { loadDemoPack } from '../src/seed/demo-packs.ts';
import { judge, loadLlmFixtures } from '../test/support/llm-fixtures.ts';

const fixtures = loadLlmFixtures();
const verdicts = fixtures.map(judge);
const faulty = verdicts.filter((v) => v.fixture.expect !== 'ok');
const correct = verdicts.filter((v) => v.fixture.expect === 'ok');
const caught = faulty.filter((v) => !v.ok);
const byExpected = faulty.filter((v) => v.reasons.includes(v.fixture.expect as RejectionReason));
const falseRejected = correct.filter((v) => !v.ok);
const pct = (a: number, b: number) => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`;

console.log(`Fixture outputs: ${fixtures.length} (${correct.length} correct, ${faulty.length} with an injected fault)`);
console.log(`Faulty caught: ${caught.length}/${faulty.length} (${pct(caught.length, faulty.length)}); by the expected reason: ${byExpected.length}/${faulty.length} (${pct(byExpected.length, faulty.length)})`);
const faults = new Map<string, { n: number; caught: number }>();
for (const v of faulty) {
  const f = faults.get(v.fixture.expect) ?? { n: 0, caught: 0 };
  f.n++;
  if (v.reasons.includes(v.fixture.expect as RejectionReason)) f.caught++;
  faults.set(v.fixture.expect, f);
}
for (const [reason, f] of [...faults].sort()) console.log(`  ${reason.padEnd(26)} ${f.caught}/${f.n}`);
console.log(`Correct outputs falsely rejected: ${falseRejected.length}/${correct.length} (${pct(falseRejected.length, correct.length)})`);
for (const v of falseRejected) console.log(`  ${v.fixture.id} ${v.reasons.join(',')}: ${JSON.parse(v.fixture.output.replace(/^```json\n|\n```$/g, '')).items[0].prompt}`);

// Every item of the demo curricula, as if a model had written it.
let items = 0;
let rejected = 0;
const reasons = new Map<string, number>();
let checking = 0;
for (const app of ['mathkids', 'wordkids', 'shapekids']) {
  const pack = await loadDemoPack(app);
  const grades = new Map(pack.concepts.map((c) => [c.id, c.grade]));
  for (const { lesson } of lessonsInOrder(pack)) {
    for (const item of lesson.items) {
      if (item.mediaId !== undefined) continue;
      const conceptId = itemConceptId(lesson, item)!;
      const a = item.answer;
      const candidate = {
        type: item.type,
        prompt: item.prompt,
        choices: item.choices ?? [],
        answer: a.type === 'numeric' ? String(a.value) : a.type === 'multiple_choice' ? a.choiceId : a.accepted[0]!,
        alsoAccept: a.type === 'short_text' ? a.accepted.slice(1) : [],
      };
      const t0 = performance.now();
      const r = checkCandidate(candidate, { conceptId, grade: grades.get(conceptId)!, existing: [], difficulty: 0 });
      checking += performance.now() - t0;
      items++;
      if (!r.ok) {
        rejected++;
        reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
      }
    }
  }
}
const micros = (checking * 1000) / items;
console.log(`Demo curricula items (all correct, pictures excluded): ${items}; falsely rejected ${rejected} (${pct(rejected, items)}): ${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ')}`);
console.log(`Check time: ${micros.toFixed(0)} µs per item`);
