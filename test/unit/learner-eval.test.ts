import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { initialBktState, predict, update, type BktState } from '../../src/domain/learner/bkt.ts';
import { auc } from '../../src/domain/learner/metrics.ts';
import { fitModel, LearnerModel } from '../../src/domain/learner/model.ts';
import { randomSkillParams, simulate, type SimulatedAnswer } from '../../src/domain/learner/simulate.ts';
import { runCliProcess } from '../support/cli.ts';
import { answersToCsv, CsvError, parseAnswersCsv } from '../../src/features/model-eval/csv.ts';
import { evaluate, formatEvaluation } from '../../src/features/model-eval/evaluate.ts';

const skills = randomSkillParams(8, 2024);
const train = simulate({ students: 300, skills, attempts: 20, seed: 1, studentPrefix: 'train' });
const test = simulate({ students: 300, skills, attempts: 20, seed: 2, studentPrefix: 'test' });

/** AUC on `rows` of BKT with the parameters the simulator used. */
function trueParamAuc(rows: readonly SimulatedAnswer[]): number {
  const states = new Map<string, BktState>();
  const predictions: number[] = [];
  const outcomes: number[] = [];
  for (const r of rows) {
    const key = `${r.student}\u0000${r.skill}`;
    const p = skills[r.skill]!;
    const s = states.get(key) ?? initialBktState(p);
    predictions.push(predict(s, p));
    outcomes.push(r.correct ? 1 : 0);
    states.set(key, update(s, p, r.correct));
  }
  return auc(predictions, outcomes);
}

describe('learner: evaluation on simulated learners', () => {
  const result = evaluate(train, test);
  const truth = trueParamAuc(test);

  it('the fitted BKT and our model reach the AUC of the true parameters within 0.01', () => {
    assert.ok(Math.abs(result.baselines.bkt.auc - truth) <= 0.01, `bkt ${result.baselines.bkt.auc} vs true ${truth}`);
    assert.ok(Math.abs(result.model.auc - truth) <= 0.01, `model ${result.model.auc} vs true ${truth}`);
  });

  it('our model beats the global and per-skill means', () => {
    assert.ok(result.model.auc > result.baselines.global_mean.auc + 0.05);
    assert.ok(result.model.auc > result.baselines.skill_mean.auc + 0.05);
    assert.ok(result.model.logloss < result.baselines.skill_mean.logloss);
    assert.equal(result.baselines.global_mean.auc, 0.5);
    for (const m of [result.model, ...Object.values(result.baselines)]) assert.equal(m.n, test.length);
  });

  it('beats per-skill BKT when items differ in difficulty and students in ability, as in real classrooms', () => {
    const skills = randomSkillParams(8, 11);
    const common = { skills, attempts: 20, itemsPerSkill: 12, itemEaseSd: 1, abilitySd: 0.8, itemSeed: 5 };
    const train = simulate({ ...common, students: 300, seed: 1, studentPrefix: 'tr' });
    const test = simulate({ ...common, students: 300, seed: 2, studentPrefix: 'te' });
    const r = evaluate(train, test);
    assert.ok(r.model.auc >= r.baselines.bkt!.auc + 0.02, `model ${r.model.auc.toFixed(4)} vs BKT ${r.baselines.bkt!.auc.toFixed(4)}`);
    assert.ok(r.model.logloss < r.baselines.bkt!.logloss);
  });

  it('prints a table naming the model and every baseline', () => {
    const table = formatEvaluation(result);
    for (const name of ['model', 'global_mean', 'skill_mean', 'bkt', 'AUC', 'logloss']) assert.match(table, new RegExp(name));
  });

  it('model parameters survive JSON and give the same predictions', () => {
    const params = fitModel(train.slice(0, 4000));
    const a = new LearnerModel(params);
    const b = new LearnerModel(JSON.parse(JSON.stringify(params)));
    let sa = { student: a.initialStudentState(), skill: a.initialSkillState('s1') };
    for (const correct of [true, false, true, true]) {
      assert.equal(a.predict(sa.student, sa.skill, 's1', 's1-i0'), b.predict(sa.student, sa.skill, 's1', 's1-i0'));
      const p = a.predict(sa.student, sa.skill, 's1');
      assert.ok(p > 0 && p < 1);
      sa = a.update(sa.student, sa.skill, 's1', correct);
    }
    assert.equal(sa.skill.successes, 3);
    assert.equal(sa.skill.failures, 1);
    assert.equal(sa.student.answers, 4);
  });
});

describe('learner: answer CSV', () => {
  it('parses header, 0/1 and true/false, optional columns, CRLF, blank lines and quotes', () => {
    const text = '\ufeffStudent,skill,correct,item,timestamp\r\n"u,1",add,1,i1,2024-01-01\r\n\r\nu2,"say ""hi""",false,,t\nu2,"multi\nline",TRUE,i2,t\n';
    assert.deepEqual(parseAnswersCsv(text), [
      { student: 'u,1', skill: 'add', correct: true, item: 'i1', timestamp: '2024-01-01' },
      { student: 'u2', skill: 'say "hi"', correct: false, timestamp: 't' },
      { student: 'u2', skill: 'multi\nline', correct: true, item: 'i2', timestamp: 't' },
    ]);
  });

  it('keeps CRLF and CR inside quoted fields, in a CRLF file', () => {
    const text = 'student,skill,correct,item\r\nu1,"two\r\nlines",1,"a\rb"\r\nu2,plain,0,\r\n';
    assert.deepEqual(parseAnswersCsv(text), [
      { student: 'u1', skill: 'two\r\nlines', correct: true, item: 'a\rb' },
      { student: 'u2', skill: 'plain', correct: false },
    ]);
  });

  it('round-trips what the simulator writes', () => {
    const rows = test.slice(0, 50);
    assert.deepEqual(parseAnswersCsv(answersToCsv(rows)), rows);
  });

  const lineOf = (text: string) => {
    try {
      parseAnswersCsv(text);
    } catch (error) {
      assert.ok(error instanceof CsvError);
      assert.match(error.message, new RegExp(`^line ${error.line}: `));
      return { line: error.line, message: error.message };
    }
    assert.fail('expected a CsvError');
  };

  it('names the line of a bad row', () => {
    assert.deepEqual(lineOf('student,skill,correct\na,b,1\na,b,yes\n'), { line: 3, message: 'line 3: correct must be 0, 1, true or false (got "yes")' });
    assert.equal(lineOf('student,skill,correct\na,b,1\n\na,b\n').line, 4);
    assert.equal(lineOf('student,skill,correct\na,"b\nc",1\n,b,1\n').line, 4);
    assert.match(lineOf('student,skill,correct\na,,1\n').message, /line 2: skill is empty/);
    assert.match(lineOf('student,correct\na,1\n').message, /line 1: header lacks required column skill/);
    assert.match(lineOf('student,skill,correct\na,"b,1\n').message, /line 2: unterminated quoted field/);
    assert.match(lineOf('student,skill,correct\na,"b"x,1\n').message, /line 2: unexpected character after a closing quote/);
    assert.match(lineOf('').message, /line 1: empty file/);
    // Records that span lines (CRLF inside quotes) and blank lines before the bad one: the line where it starts.
    assert.deepEqual(lineOf('student,skill,correct\r\na,"b\r\nc\r\nd",1\r\n\r\n\r\na,b,1\r\nx,"y\r\nz",maybe\r\n'), {
      line: 8,
      message: 'line 8: correct must be 0, 1, true or false (got "maybe")',
    });
    assert.match(lineOf('student,skill,correct\na,"b\r\nc",1\na,b"c,1\n').message, /^line 4: quote inside an unquoted field$/);
  });
});

function cli(args: string[]) {
  const env = { ...process.env, KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-model-eval-data-')), DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'debug' };
  return runCliProcess(args, env);
}

describe('cli: model eval', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-model-eval-'));
  const trainFile = path.join(dir, 'train.csv');
  const testFile = path.join(dir, 'test.csv');
  writeFileSync(trainFile, answersToCsv(train.slice(0, 6000)));
  writeFileSync(testFile, answersToCsv(test.slice(0, 3000)));

  it('--json prints exactly one JSON object of the documented shape', async () => {
    const r = await cli(['model', 'eval', '--train', trainFile, '--test', testFile, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(out), ['model', 'baselines']);
    assert.deepEqual(Object.keys(out.baselines!).sort(), ['bkt', 'global_mean', 'skill_mean']);
    const metricKeys = ['accuracy', 'auc', 'logloss', 'n', 'rmse'];
    for (const m of [out.model!, ...Object.values(out.baselines!)]) {
      assert.deepEqual(Object.keys(m as object).sort(), metricKeys);
      for (const v of Object.values(m as object)) assert.equal(typeof v, 'number');
      assert.equal((m as { n: number }).n, 3000);
    }
  });

  it('prints a table without --json', async () => {
    const r = await cli(['model', 'eval', '--train', trainFile, '--test', testFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\s+AUC\s+RMSE\s+logloss\s+accuracy\s+n\nmodel /);
  });

  it('names the file and line of a bad row, and the usage when a file is missing', async () => {
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'student,skill,correct\na,b,1\na,b,2\n');
    const r = await cli(['model', 'eval', '--train', trainFile, '--test', bad, '--json']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bad\.csv: line 3: correct must be/);
    const usage = await cli(['model', 'eval', '--train', trainFile]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^kidslearn: required option '--test <file>' not specified\nusage: kidslearn model eval --train <file> --test <file> \[--json\]\n/);
    assert.equal(usage.stdout, '');
  });
});
