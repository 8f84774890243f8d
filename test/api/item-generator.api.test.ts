import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createLanguageModel } from '../../src/adapters/llm/create-language-model.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { ItemGenerator, PROMPT_VERSION, type GenerateResult } from '../../src/engine/item-generator.ts';
import { curriculumDocuments } from '../../src/engine/curriculum-index.ts';
import { createFixtureApp, createTestApp, type TestApp } from '../support/app-fixture.ts';
import { startFakeChatServer, type FakeChatServer } from '../support/openai-chat-server.ts';
import { stacks } from '../support/servers.ts';

type StoredRow = { id: string; lesson_id: string; concept_id: string; prompt: string; answer: { type: string; value?: number; choiceId?: string }; generated: Record<string, unknown>; generated_for: string; released_at: Date | null };

for (const stack of await stacks()) {
  describe(`item generator on ${stack.name} (openai adapter against a real local chat server)`, { skip: stack.skip }, () => {
    let t: TestApp;
    let dispose: () => Promise<void>;
    let server: FakeChatServer;
    let guardian: Principal;
    let guardianToken: string;
    let childId: string;
    let childToken: string;
    let otherChildId: string;
    let otherChildToken: string;

    const generate = (count = 3, forChildId = childId) => t.container.generator.generate({ app: 'alpha', concept: 'adding', lesson: 'shared-lesson', count, forChildId });
    const stored = async (ids: readonly string[]) =>
      ids.length === 0
        ? []
        : (await sql<StoredRow>`select id, lesson_id, concept_id, prompt, answer, generated, generated_for, released_at from app_alpha.practice_items where id in (${sql.join(ids)}) order by position`.execute(t.container.database.db)).rows;
    const answer = async (token: string, child: string, itemId: string, response: unknown, event: string) => {
      const res = await t.request('/api/progress', { method: 'POST', token, body: JSON.stringify({ answers: [{ childId: child, clientEventId: event, itemId, response, durationMs: 4000, answeredAt: new Date().toISOString() }] }) });
      return { status: res.status, body: (await res.json()) as { results: { correct: boolean; concept: { conceptId: string } }[]; error?: { code: string } } };
    };

    before(async () => {
      const opened = await stack.open();
      dispose = opened.dispose;
      server = await startFakeChatServer();
      t = await createTestApp({
        database: opened.database,
        cache: opened.cache,
        env: { LLM_PROVIDER: 'openai', LLM_URL: server.url, LLM_MODEL: 'fake-chat-1', LLM_API_KEY: server.apiKey, LLM_TIMEOUT_MS: '300', LLM_RETRIES: '1', LLM_DAILY_TOKEN_BUDGET: '1000000' },
      });
      await createFixtureApp(t.container, 'alpha');
      const c = t.container;
      const ann = await c.accounts.register('alpha', { email: 'ann@example.com', password: 'correct horse battery', role: 'guardian' });
      guardian = { sub: ann.id, app: 'alpha', role: 'guardian', exp: Math.floor(Date.now() / 1000) + 3600 };
      guardianToken = (await c.accounts.login('alpha', { email: 'ann@example.com', password: 'correct horse battery' })).accessToken;
    });
    beforeEach(async () => {
      const c = t.container;
      childId = (await c.children.create(guardian, { nickname: 'Zephyrine', grade: 1 })).id;
      childToken = (await c.children.startDeviceSession(guardian, childId)).accessToken;
      otherChildId = (await c.children.create(guardian, { nickname: 'Quillon', grade: 1 })).id;
      otherChildToken = (await c.children.startDeviceSession(guardian, otherChildId)).accessToken;
    });
    after(async () => {
      await dispose();
      await server.close();
    });

    it('asks the model with curriculum text, grade and concept only: never the child’s nickname or id', async () => {
      const before = server.requests.length;
      await generate();
      assert.equal(server.requests.length - before, 1);
      const sent = server.requests.at(-1)!;
      assert.match(sent.text, /Concept: Adding\./);
      assert.match(sent.text, /Grade: grade 1\./);
      assert.match(sent.text, /Lesson: alpha shared-lesson\./);
      assert.match(sent.text, /Welcome to shared-lesson/, 'the lesson’s own text');
      assert.match(sent.text, /What is 2 \+ 3\?/, 'existing items as examples');
      for (const secret of ['Zephyrine', childId, 'Quillon', otherChildId, guardian.sub, 'ann@example.com']) assert.ok(!sent.text.includes(secret), `the prompt holds ${secret}`);
      assert.ok(!JSON.stringify(sent.body).includes(childId));
    });

    it('stores checked model items with provenance for the child, records the tokens, and grades answers to them through POST /api/progress', async () => {
      const result = await generate(3);
      assert.deepEqual({ requested: result.requested, fromModel: result.fromModel, fromOffline: result.fromOffline, fallback: result.fallback, rejected: result.rejected }, { requested: 3, fromModel: 3, fromOffline: 0, fallback: undefined, rejected: {} });
      assert.deepEqual(result.usage, { inputTokens: server.usage.prompt_tokens, outputTokens: server.usage.completion_tokens });
      const rows = await stored(result.items.map((i) => i.id));
      assert.equal(rows.length, 3);
      for (const row of rows) {
        assert.equal(row.lesson_id, 'shared-lesson');
        assert.equal(row.concept_id, 'adding');
        assert.equal(row.generated_for, childId);
        assert.ok(row.released_at);
        assert.deepEqual(Object.keys(row.generated).sort(), ['adapter', 'checks', 'generatedAt', 'model', 'promptVersion']);
        assert.deepEqual({ ...row.generated, generatedAt: undefined }, { adapter: 'openai', model: 'fake-chat-1', promptVersion: PROMPT_VERSION, checks: ['schema', 'safety', 'grade', 'answer', 'novelty'], generatedAt: undefined });
      }
      assert.ok(!('answer' in result.items[0]!), 'the result carries no answer key');
      const usage = (await sql<{ tokens: string | number; calls: number }>`select input_tokens + output_tokens as tokens, calls from app_alpha.llm_usage where day = current_date at time zone 'UTC'`.execute(t.container.database.db)).rows;
      assert.ok(Number(usage[0]?.tokens) >= server.usage.prompt_tokens + server.usage.completion_tokens, JSON.stringify(usage));

      const item = rows[0]!;
      const right = await answer(childToken, childId, item.id, String(item.answer.value), 'gen-right');
      assert.equal(right.status, 200, JSON.stringify(right.body));
      assert.equal(right.body.results[0]!.correct, true);
      assert.equal(right.body.results[0]!.concept.conceptId, 'adding');
      const wrong = await answer(childToken, childId, rows[1]!.id, String(Number(rows[1]!.answer.value) + 1), 'gen-wrong');
      assert.equal(wrong.body.results[0]!.correct, false);
    });

    it('never lists a generated item in GET /api/lessons, and it does not exist for another child', async () => {
      const { items } = await generate(2);
      for (const token of [childToken, otherChildToken]) {
        const res = await t.request('/api/lessons/shared-lesson', { token });
        const lesson = (await res.json()) as { items: { id: string }[] };
        assert.deepEqual(lesson.items.map((i) => i.id), ['shared-lesson-q1', 'shared-lesson-q2', 'shared-lesson-q3']);
      }
      const other = await answer(otherChildToken, otherChildId, items[0]!.id, '1', 'other-child');
      assert.equal(other.status, 404);
      assert.equal(other.body.error?.code, 'item_not_found');
      // Nor is it part of the curriculum vector search indexes (what GET /api/adaptive/similar finds).
      const documents = await curriculumDocuments(t.container.database, 'alpha');
      assert.ok(documents.some((d) => d.id === 'shared-lesson-q1'));
      assert.ok(!documents.some((d) => items.some((i) => i.id === d.id)), 'no generated item is indexed');
    });

    it('deletes the items made for a child when the child is erased, and only those', async () => {
      const mine = await generate(2);
      const theirs = await generate(2, otherChildId);
      const res = await t.request(`/api/children/${childId}`, { method: 'DELETE', token: guardianToken });
      assert.equal(res.status, 204, await res.text());
      assert.deepEqual(await stored(mine.items.map((i) => i.id)), []);
      assert.equal((await stored(theirs.items.map((i) => i.id))).length, 2);
    });

    it('exports the items made for the child, without their answer keys', async () => {
      const { items } = await generate(1);
      const res = await t.request(`/api/children/${childId}/export`, { token: guardianToken });
      const body = (await res.json()) as { generatedItems: Record<string, unknown>[] };
      assert.deepEqual(body.generatedItems.map((i) => i.id), [items[0]!.id]);
      assert.equal(body.generatedItems[0]!.answer, undefined);
      assert.equal((body.generatedItems[0]!.generated as { adapter: string }).adapter, 'openai');
    });

    const faults: { fault: Parameters<FakeChatServer['next']>[0]; reason?: string; fallback: GenerateResult['fallback'] }[] = [
      { fault: 'malformed_content', reason: 'malformed_output', fallback: 'too_few_passed' },
      { fault: 'wrong_key', reason: 'answer_mismatch', fallback: 'too_few_passed' },
      { fault: 'unsafe_word', reason: 'unsafe_word', fallback: 'too_few_passed' },
      { fault: 'two_correct', reason: 'multiple_correct_choices', fallback: 'too_few_passed' },
      { fault: 'key_outside', reason: 'key_not_in_choices', fallback: 'too_few_passed' },
      { fault: 'hang', fallback: 'llm_unavailable' },
    ];
    for (const { fault, reason, fallback } of faults) {
      it(`drops the model’s items and fills from the offline generator when the model answers "${fault}"`, async () => {
        server.next(fault);
        const result = await generate(3);
        assert.equal(result.fallback, fallback);
        assert.equal(result.fromModel, 0);
        assert.equal(result.items.length, 3, 'a plan never gets fewer items because a model failed');
        assert.ok(result.items.every((i) => i.provenance.adapter === 'offline' && i.provenance.model === 'offline-templates-v1'));
        if (reason) assert.equal(result.rejected[reason as keyof GenerateResult['rejected']], reason === 'malformed_output' ? 1 : 3, JSON.stringify(result.rejected));
        else assert.deepEqual(result.rejected, {});
        // The offline items are real items of the app: answers to them are graded.
        const [row] = await stored([result.items[0]!.id]);
        const key = row!.answer.type === 'numeric' ? String(row!.answer.value) : row!.answer.choiceId;
        const graded = await answer(childToken, childId, row!.id, key, `fallback-${fault}`);
        assert.equal(graded.body.results[0]!.correct, true);
      });
    }

    it('counts calls, tokens, fallbacks and rejections in the metrics', async () => {
      server.next('wrong_key');
      await generate(3);
      const text = await t.container.metrics.registry.metrics();
      assert.match(text, /kidslearn_llm_calls_total\{provider="openai",outcome="ok"\} [1-9]/);
      assert.match(text, /kidslearn_llm_tokens_total\{provider="openai",kind="input"\} [1-9]/);
      assert.match(text, /kidslearn_llm_fallbacks_total\{reason="too_few_passed"\} [1-9]/);
      assert.match(text, /kidslearn_generated_items_rejected_total\{source="openai",reason="answer_mismatch"\} [1-9]/);
      assert.match(text, /kidslearn_llm_call_duration_seconds_count\{provider="openai"\} [1-9]/);
    });

    it('stops calling the model for the day once the app’s token budget is spent, and generates offline', async () => {
      const { model, offline } = createLanguageModel(t.container.config);
      const spent = (await sql<{ tokens: string | number }>`select coalesce(sum(input_tokens + output_tokens), 0) as tokens from app_alpha.llm_usage`.execute(t.container.database.db)).rows[0]!.tokens;
      const budget = Number(spent) + 1; // one more call fits
      const generator = new ItemGenerator({ db: t.container.database, model, offline, metrics: t.container.metrics.llm, logger: t.container.logger, dailyTokenBudget: budget });
      const before = server.requests.length;
      const first = await generator.generate({ app: 'alpha', concept: 'adding', lesson: 'shared-lesson', count: 2, forChildId: childId });
      assert.equal(first.fallback, undefined);
      const second = await generator.generate({ app: 'alpha', concept: 'adding', lesson: 'shared-lesson', count: 2, forChildId: childId });
      assert.equal(second.fallback, 'over_budget');
      assert.equal(second.items.length, 2);
      assert.equal(server.requests.length - before, 1, 'no model call over budget');
    });

    it('refuses an unknown concept, a lesson not teaching it, and an unknown child', async () => {
      await assert.rejects(t.container.generator.generate({ app: 'alpha', concept: 'nope', lesson: 'shared-lesson', count: 1, forChildId: childId }), { code: 'concept_not_found' });
      await assert.rejects(t.container.generator.generate({ app: 'alpha', concept: 'reading', lesson: 'shared-lesson', count: 1, forChildId: childId }), { code: 'lesson_not_found' });
      await assert.rejects(t.container.generator.generate({ app: 'alpha', concept: 'adding', lesson: 'shared-lesson', count: 1, forChildId: 'no-such-child' }), { code: 'child_not_found' });
      await assert.rejects(t.container.generator.generate({ app: 'alpha', concept: 'adding', lesson: 'shared-lesson', count: 0, forChildId: childId }), { code: 'validation_failed' });
    });
  });
}
