import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fitModel, LearnerModel } from '../src/domain/learner/model.ts';
import { randomSkillParams, simulate } from '../src/domain/learner/simulate.ts';
import { answersToCsv, parseAnswersCsv } from '../src/features/model-eval/csv.ts';
import { evaluate, formatEvaluation } from '../src/features/model-eval/evaluate.ts';
import { machine, median } from './support.ts';

/**
 * `npm run bench:model`: 300k simulated answers (240k train / 60k test, 20
 * skills, 5 items per skill) written to temp CSVs; (a) read + parse +
 * evaluate in this process, (b) the same through `kidslearn model eval
 * --json` as a user runs it, (c) a micro-benchmark of one model update plus
 * one prediction, minus a same-run empty loop over the same inputs.
 */
const SKILLS = Number(process.env.BENCH_SKILLS ?? 20);
const ATTEMPTS = Number(process.env.BENCH_ATTEMPTS ?? 10);
const TRAIN_STUDENTS = Number(process.env.BENCH_TRAIN_STUDENTS ?? 1200);
const TEST_STUDENTS = Number(process.env.BENCH_TEST_STUDENTS ?? 300);
const MICRO_N = Number(process.env.BENCH_MICRO_N ?? 2_000_000);
const MICRO_ROUNDS = 5;

console.log(`kidslearn bench:model — ${new Date().toISOString()} — ${machine()}`);
const skills = randomSkillParams(SKILLS, 42);
const train = simulate({ students: TRAIN_STUDENTS, skills, attempts: ATTEMPTS, seed: 1, studentPrefix: 'train' });
const test = simulate({ students: TEST_STUDENTS, skills, attempts: ATTEMPTS, seed: 2, studentPrefix: 'test' });
const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-bench-model-'));
const trainFile = path.join(dir, 'train.csv');
const testFile = path.join(dir, 'test.csv');
writeFileSync(trainFile, answersToCsv(train));
writeFileSync(testFile, answersToCsv(test));
const total = train.length + test.length;
console.log(`answers: ${train.length} train + ${test.length} test = ${total} (${SKILLS} skills)`);

// (a) in process
let t0 = performance.now();
const trainRows = parseAnswersCsv(readFileSync(trainFile, 'utf8'));
const testRows = parseAnswersCsv(readFileSync(testFile, 'utf8'));
const parseMs = performance.now() - t0;
t0 = performance.now();
const result = evaluate(trainRows, testRows);
const evalMs = performance.now() - t0;
const wallMs = parseMs + evalMs;
console.log(`\n(a) in process: parse ${(parseMs / 1000).toFixed(2)} s + fit & evaluate ${(evalMs / 1000).toFixed(2)} s = ${(wallMs / 1000).toFixed(2)} s wall, ${Math.round(total / (wallMs / 1000)).toLocaleString('en')} answers/s`);
console.log(formatEvaluation(result));

// (b) the command a user runs
t0 = performance.now();
const run = spawnSync(process.execPath, ['src/cli/main.ts', 'model', 'eval', '--train', trainFile, '--test', testFile, '--json'], { encoding: 'utf8' });
const cliMs = performance.now() - t0;
if (run.status !== 0) throw new Error(`model eval failed: ${run.stderr}`);
JSON.parse(run.stdout);
console.log(`\n(b) kidslearn model eval --json: ${(cliMs / 1000).toFixed(2)} s wall (process start included), ${Math.round(total / (cliMs / 1000)).toLocaleString('en')} answers/s`);

// (c) one update + one prediction, constant work
const model = new LearnerModel(fitModel(train.slice(0, 20_000)));
const skillNames = Object.keys(skills);
const inputs = test.slice(0, 4096).map((r) => ({ skill: r.skill, item: r.item, correct: r.correct }));
const mask = inputs.length - 1;
const empty = (): number => {
  let sink = 0;
  const t = performance.now();
  for (let i = 0; i < MICRO_N; i++) {
    const x = inputs[i & mask]!;
    sink += x.correct ? 1 : 0;
  }
  const ns = ((performance.now() - t) * 1e6) / MICRO_N;
  return sink < 0 ? -1 : ns;
};
const loop = (): number => {
  let student = model.initialStudentState();
  let state = model.initialSkillState(skillNames[0]!);
  let sink = 0;
  const t = performance.now();
  for (let i = 0; i < MICRO_N; i++) {
    const x = inputs[i & mask]!;
    sink += model.predict(student, state, x.skill, x.item);
    const next = model.update(student, state, x.skill, x.correct);
    student = next.student;
    state = next.skill;
  }
  const ns = ((performance.now() - t) * 1e6) / MICRO_N;
  return sink < 0 ? -1 : ns;
};
empty();
loop(); // warm-up
const emptyNs: number[] = [];
const loopNs: number[] = [];
for (let r = 0; r < MICRO_ROUNDS; r++) {
  emptyNs.push(empty());
  loopNs.push(loop());
}
const perUpdateUs = (median(loopNs) - median(emptyNs)) / 1000;
console.log(
  `\n(c) predict + update: ${(median(loopNs) / 1000).toFixed(3)} µs per answer, empty loop ${(median(emptyNs) / 1000).toFixed(3)} µs → ${perUpdateUs.toFixed(3)} µs per model update+predict (median of ${MICRO_ROUNDS} × ${MICRO_N.toLocaleString('en')}; target ≤ 20 µs)`,
);
