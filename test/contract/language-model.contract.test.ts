import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AccessDeniedException, BedrockRuntimeClient, ConverseCommand, ThrottlingException } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { createBedrockModel } from '../../src/adapters/llm/bedrock-model.ts';
import { createLanguageModel } from '../../src/adapters/llm/create-language-model.ts';
import type { GenerationTask, LanguageModel } from '../../src/adapters/llm/language-model.ts';
import { createOpenAiModel } from '../../src/adapters/llm/openai-model.ts';
import { AppError } from '../../src/domain/errors.ts';
import { CANDIDATE_OUTPUT_JSON_SCHEMA, checkCandidate, parseModelOutput } from '../../src/domain/generated-item-checks.ts';
import { buildGenerationRequest } from '../../src/engine/item-generator.ts';
import { goodItems, startFakeChatServer } from '../support/openai-chat-server.ts';

const TASK: GenerationTask = {
  conceptId: 'add-within-20',
  conceptName: 'Adding within 20',
  conceptDescription: 'Add two numbers with a total up to 20.',
  subject: 'math',
  grade: 1,
  lessonTitle: 'Adding within 20',
  lessonText: 'Count on from the bigger number.',
  examples: [{ type: 'numeric', prompt: 'What is 8 + 3?' }],
  count: 3,
};
const REQUEST = buildGenerationRequest(TASK);
const POLICY = { timeoutMs: 1000, retries: 2, baseDelayMs: 1 };

/** A Bedrock client mocked with aws-sdk-client-mock whose Converse answers by calling the tool with correct items. */
function mockedConverse() {
  const client = new BedrockRuntimeClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const mock = mockClient(client);
  mock.on(ConverseCommand).callsFake(() => ({
    output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'practice_items', input: { items: goodItems(3) } } }] } },
    stopReason: 'tool_use',
    usage: { inputTokens: 350, outputTokens: 150, totalTokens: 500 },
    metrics: { latencyMs: 10 },
  }));
  return { client, mock };
}

interface Backend {
  name: string;
  provider: string;
  model: string;
  remote: boolean;
  open(): Promise<{ model: LanguageModel; dispose(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'offline (curriculum templates)',
    provider: 'offline',
    model: 'offline-templates-v1',
    remote: false,
    async open() {
      const { model } = createLanguageModel({ llm: { provider: 'offline', timeoutMs: 1000, retries: 0, dailyTokenBudget: 0 } }, { offlineSeed: 7 });
      return { model, dispose: () => model.close() };
    },
  },
  {
    name: 'openai (real HTTP chat server in the test)',
    provider: 'openai',
    model: 'fake-chat-1',
    remote: true,
    async open() {
      const server = await startFakeChatServer();
      const model = createOpenAiModel({ url: server.url, model: 'fake-chat-1', apiKey: server.apiKey, policy: POLICY });
      return { model, dispose: () => server.close() };
    },
  },
  {
    name: 'bedrock (Converse through aws-sdk-client-mock)',
    provider: 'bedrock',
    model: 'amazon.nova-lite-v1:0',
    remote: true,
    async open() {
      const { client, mock } = mockedConverse();
      const model = createBedrockModel({ client, model: 'amazon.nova-lite-v1:0', policy: POLICY });
      return {
        model,
        async dispose() {
          await model.close();
          mock.restore();
        },
      };
    },
  },
];

/** The language-model port's contract, run on every adapter. */
for (const backend of backends) {
  describe(`language model contract: ${backend.name}`, () => {
    let opened: Awaited<ReturnType<Backend['open']>>;
    before(async () => {
      opened = await backend.open();
    });
    after(async () => opened.dispose());

    it('declares its provider and model', () => {
      assert.equal(opened.model.provider, backend.provider);
      assert.equal(opened.model.model, backend.model);
    });

    it('answers with JSON of the output schema whose items pass every check', async () => {
      const response = await opened.model.generate(REQUEST);
      assert.equal(response.model, backend.model);
      assert.equal(response.attempts, 1);
      const output = parseModelOutput(response.text);
      assert.ok(output.ok, response.text);
      assert.equal(output.items.length, 3);
      for (const raw of output.items) {
        const checked = checkCandidate(raw, { conceptId: TASK.conceptId, grade: TASK.grade, existing: [], difficulty: -1 });
        assert.ok(checked.ok, JSON.stringify({ raw, checked }));
        assert.equal(checked.item.conceptId, 'add-within-20');
      }
    });

    it('reports token usage (zero offline, the provider’s count otherwise)', async () => {
      const { usage } = await opened.model.generate(REQUEST);
      if (backend.remote) {
        assert.ok(usage.inputTokens > 0 && usage.outputTokens > 0, JSON.stringify(usage));
      } else {
        assert.deepEqual(usage, { inputTokens: 0, outputTokens: 0 });
      }
    });

    it('stops at once when the caller aborts', async () => {
      const controller = new AbortController();
      controller.abort(new Error('plan cancelled'));
      await assert.rejects(opened.model.generate(REQUEST, { signal: controller.signal }), /plan cancelled/);
    });
  });
}

const unavailable =
  (reason: string, more: (details: Record<string, unknown>) => void = () => {}) =>
  (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, 'llm_unavailable');
    assert.equal(error.kind, 'unavailable');
    const details = error.details as Record<string, unknown>;
    assert.equal(details.reason, reason);
    more(details);
    return true;
  };

describe('openai language model over HTTP', () => {
  let server: Awaited<ReturnType<typeof startFakeChatServer>>;
  let model: LanguageModel;
  before(async () => {
    server = await startFakeChatServer();
    model = createOpenAiModel({ url: `${server.url}/v1/`, model: 'fake-chat-1', apiKey: server.apiKey, policy: { timeoutMs: 300, retries: 2, baseDelayMs: 1 } });
  });
  after(async () => server.close());

  it('sends the system and user prompts, max_tokens and a strict json_schema response format, with the key as a bearer token', async () => {
    const before = server.requests.length;
    await model.generate(REQUEST);
    const sent = server.requests[before]!;
    assert.equal(sent.authorization, `Bearer ${server.apiKey}`);
    assert.equal(sent.body.model, 'fake-chat-1');
    assert.deepEqual(sent.body.messages, [
      { role: 'system', content: REQUEST.system },
      { role: 'user', content: REQUEST.user },
    ]);
    assert.equal(sent.body.max_tokens, REQUEST.maxOutputTokens);
    assert.deepEqual(sent.body.response_format, { type: 'json_schema', json_schema: { name: 'practice_items', strict: true, schema: CANDIDATE_OUTPUT_JSON_SCHEMA } });
  });

  it('retries 429 and 500 a bounded number of times, then succeeds', async () => {
    server.next('429', '500');
    const before = server.requests.length;
    const response = await model.generate(REQUEST);
    assert.equal(response.attempts, 3);
    assert.equal(server.requests.length - before, 3);
  });

  it('gives up after 1 + LLM_RETRIES attempts', async () => {
    server.next('500', '500', '500');
    const before = server.requests.length;
    await assert.rejects(model.generate(REQUEST), unavailable('server_error', (d) => assert.equal(d.attempts, 3)));
    assert.equal(server.requests.length - before, 3);
  });

  it('times out a model that does not answer (not retried: a hung model would multiply the wait)', async () => {
    server.next('hang');
    const before = server.requests.length;
    await assert.rejects(model.generate(REQUEST), unavailable('timeout', (d) => assert.equal(d.attempts, 1)));
    assert.equal(server.requests.length - before, 1);
  });

  it('does not retry a 400 (the request itself is wrong)', async () => {
    server.next('400');
    await assert.rejects(model.generate(REQUEST), unavailable('rejected', (d) => assert.equal(d.status, 400)));
  });

  it('retries a dropped connection', async () => {
    server.next('drop');
    const response = await model.generate(REQUEST);
    assert.equal(response.attempts, 2);
  });

  it('fails with bad_response for an answer that is not JSON or has no content (a refusal)', async () => {
    server.next('not_json');
    await assert.rejects(model.generate(REQUEST), unavailable('bad_response'));
    server.next('refusal');
    await assert.rejects(model.generate(REQUEST), unavailable('bad_response'));
  });

  it('returns malformed message content as it is: judging it is the checks’ job', async () => {
    server.next('malformed_content');
    const response = await model.generate(REQUEST);
    assert.match(response.text, /^Here you go!/);
    assert.equal(parseModelOutput(response.text).ok, false);
  });

  it('never puts the API key in an error', async () => {
    const wrongKey = createOpenAiModel({ url: server.url, model: 'm', apiKey: 'sk-wrong-secret', policy: { timeoutMs: 300, retries: 0 } });
    await assert.rejects(wrongKey.generate(REQUEST), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.doesNotMatch(JSON.stringify({ message: error.message, details: error.details }), /sk-wrong-secret/);
      return unavailable('rejected')(error);
    });
  });

  it('is unreachable (after its retries) when nothing listens', async () => {
    const nobody = createOpenAiModel({ url: 'http://127.0.0.1:9', model: 'm', policy: { timeoutMs: 300, retries: 1, baseDelayMs: 1 } });
    await assert.rejects(nobody.generate(REQUEST), unavailable('unreachable', (d) => assert.equal(d.attempts, 2)));
  });
});

describe('bedrock language model (aws-sdk-client-mock)', () => {
  it('sends the model id, the prompts, maxTokens and the output schema as the one tool the model must call', async () => {
    const { client, mock } = mockedConverse();
    try {
      const model = createBedrockModel({ client, model: 'anthropic.claude-3-5-haiku-20241022-v1:0', policy: POLICY });
      await model.generate(REQUEST);
      const input = mock.commandCalls(ConverseCommand)[0]!.args[0].input;
      assert.equal(input.modelId, 'anthropic.claude-3-5-haiku-20241022-v1:0');
      assert.deepEqual(input.system, [{ text: REQUEST.system }]);
      assert.deepEqual(input.messages, [{ role: 'user', content: [{ text: REQUEST.user }] }]);
      assert.equal(input.inferenceConfig?.maxTokens, REQUEST.maxOutputTokens);
      assert.deepEqual(input.toolConfig?.toolChoice, { tool: { name: 'practice_items' } });
      assert.deepEqual(input.toolConfig?.tools?.[0]?.toolSpec?.inputSchema, { json: CANDIDATE_OUTPUT_JSON_SCHEMA });
    } finally {
      mock.restore();
    }
  });

  it('takes a text answer when the model writes text instead of calling the tool', async () => {
    const { client, mock } = mockedConverse();
    try {
      mock.on(ConverseCommand).resolves({ output: { message: { role: 'assistant', content: [{ text: '{"items": []}' }] } }, stopReason: 'end_turn', usage: { inputTokens: 5, outputTokens: 3, totalTokens: 8 }, metrics: { latencyMs: 1 } });
      const response = await createBedrockModel({ client, model: 'm', policy: POLICY }).generate(REQUEST);
      assert.equal(response.text, '{"items": []}');
      assert.deepEqual(response.usage, { inputTokens: 5, outputTokens: 3 });
    } finally {
      mock.restore();
    }
  });

  it('retries throttling, bounded, and does not retry access denied', async () => {
    const throttled = () => new ThrottlingException({ message: 'slow down', $metadata: { httpStatusCode: 429 } });
    const { client, mock } = mockedConverse();
    try {
      const model = createBedrockModel({ client, model: 'm', policy: POLICY });
      mock.on(ConverseCommand).rejectsOnce(throttled()).callsFake(() => ({ output: { message: { role: 'assistant', content: [{ text: '{"items":[]}' }] } }, stopReason: 'end_turn', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }, metrics: { latencyMs: 1 } }));
      assert.equal((await model.generate(REQUEST)).attempts, 2);
      mock.reset();
      mock.on(ConverseCommand).rejects(throttled());
      await assert.rejects(model.generate(REQUEST), unavailable('rate_limited', (d) => assert.equal(d.attempts, 3)));
      assert.equal(mock.commandCalls(ConverseCommand).length, 3);
      mock.reset();
      mock.on(ConverseCommand).rejects(new AccessDeniedException({ message: 'no access to the model', $metadata: { httpStatusCode: 403 } }));
      await assert.rejects(model.generate(REQUEST), unavailable('rejected', (d) => assert.equal(d.attempts, 1)));
    } finally {
      mock.restore();
    }
  });

  it('times out a call that does not come back', async () => {
    const { client, mock } = mockedConverse();
    try {
      mock.on(ConverseCommand).callsFake(() => new Promise(() => {}));
      const model = createBedrockModel({ client, model: 'm', policy: { timeoutMs: 100, retries: 2 } });
      await assert.rejects(model.generate(REQUEST), unavailable('timeout', (d) => assert.equal(d.attempts, 1)));
    } finally {
      mock.restore();
    }
  });

  it('fails with bad_response when the model answers no content', async () => {
    const { client, mock } = mockedConverse();
    try {
      mock.on(ConverseCommand).resolves({ output: { message: { role: 'assistant', content: [] } }, stopReason: 'max_tokens', usage: { inputTokens: 1, outputTokens: 0, totalTokens: 1 }, metrics: { latencyMs: 1 } });
      await assert.rejects(createBedrockModel({ client, model: 'm', policy: POLICY }).generate(REQUEST), unavailable('bad_response'));
    } finally {
      mock.restore();
    }
  });
});
