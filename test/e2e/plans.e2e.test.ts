import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { listOutbox } from '../../src/adapters/mail/outbox-mailer.ts';
import { codeIn } from '../support/mail.ts';
import { startEngineProcess, startServer } from '../support/server-process.ts';
import { createThrowawayDatabase, databaseBackends } from '../support/servers.ts';

/**
 * A lesson plan end to end, as a family's app and the real processes do it:
 * `npm start` alone on embedded defaults (the engine inline), and the API
 * and `npm run engine` as separate processes on a PostgreSQL server (where
 * the API alone only queues). A guardian signs up, adds a child, the child
 * answers a few questions, the app asks for a plan, polls it until ready,
 * shows the fresh generated question from the plan and the child answers
 * it: the server grades it against the key it stored.
 */
const run = promisify(execFile);
const PASSWORD = 'correct horse battery';
const [, postgres] = await databaseBackends();

/** "What is 20 + 60?" → 80; "What number comes right after 1?" → 2; "Count the stars: ★ ★ ★. …" → 3. */
function solve(prompt: string): number | undefined {
  const after = /^What number comes right (after|before) (\d+)\?$/.exec(prompt);
  if (after) return Number(after[2]) + (after[1] === 'after' ? 1 : -1);
  const things = /^Count the \w+: ([●★♥ ]+)\./u.exec(prompt);
  if (things) return things[1]!.replace(/ /g, '').length;
  const m = /^What is (\d+) ([+\-−×÷]) (\d+)\?$/.exec(prompt);
  if (!m) return undefined;
  const [a, b] = [Number(m[1]), Number(m[3])];
  return { '+': a + b, '-': a - b, '−': a - b, '×': a * b, '÷': a / b }[m[2] as '+'];
}

interface PlanView {
  planId: string;
  status: string;
  error?: unknown;
  plan?: { activities: { kind: string; conceptId: string; itemIds: string[]; fresh?: { itemId: string; replaces: string; type: string; prompt: string }[] }[] };
}

for (const variant of [
  { name: 'npm start on embedded defaults (engine inline)', separate: false, skip: false as string | false },
  { name: 'the API and npm run engine as separate processes on PostgreSQL', separate: true, skip: postgres!.skip },
]) {
  describe(`end to end: a lesson plan with ${variant.name}`, { skip: variant.skip }, () => {
    const env: Record<string, string> = { KIDSLEARN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kidslearn-plans-e2e-')), LOG_LEVEL: 'warn', REDIS_URL: '' };
    let api: Awaited<ReturnType<typeof startServer>>;
    let engine: Awaited<ReturnType<typeof startEngineProcess>> | undefined;
    let dropDb: (() => Promise<void>) | undefined;
    const call = async (method: string, pathname: string, token: string | undefined, body?: unknown) => {
      const headers: Record<string, string> = { 'x-app-id': 'mathkids' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${api.url}${pathname}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    before(async () => {
      if (variant.separate) {
        const db = await createThrowawayDatabase();
        dropDb = db.drop;
        env.DATABASE_URL = db.url;
      }
      api = await startServer(env);
    });
    after(async () => {
      for (const p of [api?.child, engine?.child]) if (p && p.exitCode === null) p.kill('SIGKILL');
      await dropDb?.();
    });

    it('a guardian’s child gets a plan with a fresh question, and answers it', async () => {
      const email = 'parent@example.com';
      assert.equal((await call('POST', '/auth/register', undefined, { email, password: PASSWORD, role: 'guardian' })).status, 202);
      const code = codeIn(listOutbox(path.join(env.KIDSLEARN_DATA_DIR!, 'outbox'), { to: email }).at(-1));
      assert.equal((await call('POST', '/auth/email/verify', undefined, { token: code, password: PASSWORD })).status, 201);
      const guardian = String((await call('POST', '/auth/login', undefined, { email, password: PASSWORD })).body.accessToken);
      const child = String((await call('POST', '/api/children', guardian, { nickname: 'Ava', grade: 1 })).body.id);

      // Yesterday Ava counted to 10 without a slip and made a start on adding within 5 (three right, two wrong).
      const answers: unknown[] = [];
      const yesterday = Date.now() - 26 * 3600_000;
      const answerLesson = async (lessonId: string, rightness: boolean[]) => {
        const lesson = (await call('GET', `/api/lessons/${lessonId}`, guardian)).body as { items: { id: string; type: string; prompt: string }[] };
        const numeric = lesson.items.filter((i) => i.type === 'numeric' && solve(i.prompt) !== undefined);
        assert.ok(numeric.length >= rightness.length, `${lessonId}: ${lesson.items.map((i) => i.prompt).join(' | ')}`);
        rightness.forEach((right, k) => {
          const item = numeric[k]!;
          answers.push({ childId: child, itemId: item.id, response: solve(item.prompt)! + (right ? 0 : 1), durationMs: 8000, answeredAt: new Date(yesterday + answers.length * 20_000).toISOString(), clientEventId: `ava-${answers.length}` });
        });
      };
      await answerLesson('count-to-10-learn', [true, true, true, true, true, true]);
      await answerLesson('add-within-5-learn', [true, true, false, true, false]);
      assert.ok(answers.length >= 6, `answers: ${answers.length}`);
      assert.equal((await call('POST', '/api/progress', guardian, { answers })).status, 200);

      const requested = await call('POST', '/api/adaptive/plans', guardian, { childId: child, minutes: 15 });
      assert.equal(requested.status, 202, JSON.stringify(requested.body));
      const planId = String(requested.body.planId);
      if (variant.separate) {
        // The API alone only queues: no engine, no plan.
        await sleep(2500);
        assert.equal((await call('GET', `/api/adaptive/plans/${planId}`, guardian)).body.status, 'queued');
        engine = await startEngineProcess(env);
      }
      let view: PlanView | undefined;
      for (let i = 0; i < 600 && view?.status !== 'ready' && view?.status !== 'failed'; i++) {
        if (i) await sleep(50);
        view = (await call('GET', `/api/adaptive/plans/${planId}`, guardian)).body as unknown as PlanView;
      }
      assert.equal(view?.status, 'ready', JSON.stringify(view));
      const fresh = view.plan!.activities.flatMap((a) => a.fresh ?? []);
      // On failure, say why: the process that ran the plan logs each activity left without a fresh item.
      const why = () => [api.output(), engine?.output() ?? ''].join('\n').split('\n').filter((l) => /fresh|generat|embedd/i.test(l)).slice(-5).join('\n');
      assert.ok(fresh.length > 0, `${JSON.stringify(view.plan)}\n${why()}`);
      const question = fresh[0]!;
      assert.ok(question.prompt.length > 0);
      // The generated question is not one of the app's authored items.
      assert.equal((await call('GET', `/api/lessons/${question.itemId}`, guardian)).status, 404);

      // The admin's view of the item holds its stored key; Ava answers right, and then wrong.
      const { stdout } = await run(process.execPath, ['src/cli/main.ts', 'token', '--app', 'mathkids', '--role', 'admin'], { env: { ...process.env, ...env } });
      const item = (await call('GET', `/admin/items/${question.itemId}`, stdout.trim())).body as { answer: { type: string; value?: number; choiceId?: string; accepted?: string[] } };
      const right = item.answer.type === 'numeric' ? item.answer.value : item.answer.type === 'multiple_choice' ? item.answer.choiceId : item.answer.accepted?.[0];
      assert.notEqual(right, undefined, JSON.stringify(item));
      const wrong = item.answer.type === 'numeric' ? Number(right) + 1 : 'zzz-not-it';
      const graded = await call('POST', '/api/progress', guardian, {
        answers: [
          { childId: child, itemId: question.itemId, response: right, durationMs: 9000, answeredAt: new Date(Date.now() - 2000).toISOString(), clientEventId: 'ava-fresh-1' },
          { childId: child, itemId: question.itemId, response: wrong, durationMs: 9000, answeredAt: new Date().toISOString(), clientEventId: 'ava-fresh-2' },
        ],
      });
      assert.equal(graded.status, 200, JSON.stringify(graded.body));
      assert.deepEqual((graded.body.results as { itemId: string; correct: boolean }[]).map((r) => [r.itemId, r.correct]), [
        [question.itemId, true],
        [question.itemId, false],
      ]);
      // The newest ready plan is the one just made.
      assert.equal((await call('GET', `/api/adaptive/children/${child}/plan`, guardian)).body.planId, planId);
    });
  });
}
