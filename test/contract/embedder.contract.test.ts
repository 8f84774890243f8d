import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AccessDeniedException, InvokeModelCommand, ThrottlingException } from '@aws-sdk/client-bedrock-runtime';
import { createBedrockEmbedder } from '../../src/adapters/embeddings/bedrock-embedder.ts';
import { createEmbedder } from '../../src/adapters/embeddings/create-embedder.ts';
import { dot, type Embedder } from '../../src/adapters/embeddings/embedder.ts';
import { createLocalEmbedder } from '../../src/adapters/embeddings/local-embedder.ts';
import { createOpenAiEmbedder } from '../../src/adapters/embeddings/openai-embedder.ts';
import { AppError } from '../../src/domain/errors.ts';
import { mockedTitan, TEST_EMBEDDINGS_CACHE, titanVector } from '../support/embeddings.ts';
import { startFakeEmbeddingsServer } from '../support/openai-embeddings-server.ts';

const FAST_RETRY = { attempts: 4, baseDelayMs: 2, maxDelayMs: 10 };

/** An adapter under test, and what it sent to its provider (for the checks only a remote adapter can be asked). */
interface EmbedderBackend {
  name: string;
  model: string;
  dimension: number;
  open(): Promise<{ embedder: Embedder; calls(): number; dispose(): Promise<void> }>;
}

const backends: EmbedderBackend[] = [
  {
    name: 'local (wink GloVe 100-d, SIF-weighted)',
    model: 'local-wink-sg100-tfidf-v1',
    dimension: 100,
    async open() {
      const embedder = createLocalEmbedder({ cacheDir: TEST_EMBEDDINGS_CACHE });
      return { embedder, calls: () => 0, dispose: () => embedder.close() };
    },
  },
  {
    name: 'openai (real HTTP server in the test)',
    model: 'fake-embed-48',
    dimension: 48,
    async open() {
      const server = await startFakeEmbeddingsServer({ dimension: 48 });
      const embedder = createOpenAiEmbedder({ url: server.url, model: 'fake-embed-48', apiKey: server.apiKey, timeoutMs: 2000, batchSize: 8, retry: FAST_RETRY });
      return { embedder, calls: () => server.requests.length, dispose: () => server.close() };
    },
  },
  {
    name: 'bedrock (Titan v2 through aws-sdk-client-mock)',
    model: 'amazon.titan-embed-text-v2:0',
    dimension: 256,
    async open() {
      const titan = mockedTitan();
      const embedder = createBedrockEmbedder({ client: titan.client, dimensions: 256, timeoutMs: 2000, retry: FAST_RETRY });
      return {
        embedder,
        calls: () => titan.bodies().length,
        async dispose() {
          await embedder.close();
          titan.mock.restore();
        },
      };
    },
  },
];

const SENTENCES = ['Add two numbers with a total of up to 10.', 'What is 7 + 5?', 'Spell the plural of mouse.', 'Name the shape with three sides.', 'Which word rhymes with cat?', ''];

const unitLength = (v: Float32Array) => Math.hypot(...v);

/** The embedder port's contract, run on every adapter. */
for (const backend of backends) {
  describe(`embedder contract: ${backend.name}`, () => {
    let opened: Awaited<ReturnType<EmbedderBackend['open']>>;
    before(async () => {
      opened = await backend.open();
    });
    after(async () => opened.dispose());

    it('declares its model and dimension, and ready() confirms them', async () => {
      assert.deepEqual(await opened.embedder.ready(), { model: backend.model, dimension: backend.dimension });
      assert.equal(opened.embedder.model, backend.model);
      assert.equal(opened.embedder.dimension, backend.dimension);
    });

    it('gives one unit-length vector of the declared dimension per text, empty text included', async () => {
      const vectors = await opened.embedder.embed(SENTENCES);
      assert.equal(vectors.length, SENTENCES.length);
      for (const v of vectors) {
        assert.ok(v instanceof Float32Array);
        assert.equal(v.length, backend.dimension);
        assert.ok(v.every(Number.isFinite), 'no NaN or infinity');
        assert.ok(Math.abs(unitLength(v) - 1) < 1e-4, `unit length, got ${unitLength(v)}`);
      }
    });

    it('gives the same text the same vector, in one call and across calls', async () => {
      const [a, b] = await opened.embedder.embed(['Count the dots: ● ● ●.', 'Count the dots: ● ● ●.']);
      const [c] = await opened.embedder.embed(['Count the dots: ● ● ●.']);
      assert.deepEqual(a, b);
      assert.deepEqual(a, c);
      const [other] = await opened.embedder.embed(['Put words in alphabetical order.']);
      assert.notDeepEqual(a, other);
    });

    it('keeps the order of a batch, across the adapter’s own batches', async () => {
      const texts = Array.from({ length: 21 }, (_, i) => `Lesson ${i}: ${SENTENCES[i % 5]} (${['tens', 'ones', 'words', 'shapes'][i % 4]})`);
      const together = await opened.embedder.embed(texts);
      const oneByOne = await Promise.all(texts.map(async (t) => (await opened.embedder.embed([t]))[0]!));
      assert.deepEqual(together, oneByOne);
    });

    it('answers [] for no texts, without calling the provider', async () => {
      const before = opened.calls();
      assert.deepEqual(await opened.embedder.embed([]), []);
      assert.equal(opened.calls(), before);
    });

    it('cuts a very long text to the provider’s limit instead of failing', async () => {
      const long = 'The children count apples and pears in the school garden. '.repeat(2000); // 118,000 characters
      const [v, prefix] = await opened.embedder.embed([long, long.slice(0, 5000)]);
      assert.equal(v!.length, backend.dimension);
      assert.ok(Math.abs(unitLength(v!) - 1) < 1e-4);
      assert.ok(prefix);
    });

    it('stops when the caller aborts', async () => {
      const controller = new AbortController();
      controller.abort(new Error('caller gave up'));
      await assert.rejects(opened.embedder.embed(['Add 2 and 3.'], { signal: controller.signal }), /caller gave up/);
    });
  });
}

describe('createEmbedder', () => {
  it('picks the adapter the configuration names', async () => {
    const local = createEmbedder({ embeddings: { provider: 'local', cacheDir: TEST_EMBEDDINGS_CACHE } });
    assert.equal(local.provider, 'local');
    const openai = createEmbedder({ embeddings: { provider: 'openai', url: 'http://127.0.0.1:9', model: 'm', apiKey: undefined, dimensions: 384, timeoutMs: 100 } });
    assert.deepEqual([openai.provider, openai.model, openai.dimension], ['openai', 'm', 384]);
    const bedrock = createEmbedder({ embeddings: { provider: 'bedrock', region: 'eu-west-1', model: 'amazon.titan-embed-text-v2:0', dimensions: 512, timeoutMs: 100 } });
    assert.deepEqual([bedrock.provider, bedrock.model, bedrock.dimension], ['bedrock', 'amazon.titan-embed-text-v2:0', 512]);
    await bedrock.close();
  });
});

/** The AppError the port promises, with the reason the adapter found. */
function unavailable(reason: string, extra: (details: Record<string, unknown>) => void = () => {}) {
  return (error: unknown) => {
    assert.ok(error instanceof AppError, `an AppError, got ${String(error)}`);
    assert.equal(error.kind, 'unavailable');
    assert.equal(error.code, 'embeddings_unavailable');
    const details = error.details as Record<string, unknown>;
    assert.equal(details.reason, reason);
    extra(details);
    return true;
  };
}

describe('openai embedder under faults (real HTTP server)', () => {
  let server: Awaited<ReturnType<typeof startFakeEmbeddingsServer>>;
  let embedder: Embedder;
  before(async () => {
    server = await startFakeEmbeddingsServer({ dimension: 16 });
    embedder = createOpenAiEmbedder({ url: `${server.url}/v1/`, model: 'fake', apiKey: server.apiKey, timeoutMs: 300, retry: FAST_RETRY });
  });
  after(async () => server.close());

  it('learns the dimension from the first answer and sends model, inputs and the key as a bearer token', async () => {
    assert.equal(embedder.dimension, 0);
    assert.deepEqual(await embedder.ready(), { model: 'fake', dimension: 16 });
    const before = server.requests.length;
    await embedder.embed(['a b', 'c']);
    assert.deepEqual(server.requests.slice(before), [{ input: ['a b', 'c'], model: 'fake', authorization: `Bearer ${server.apiKey}` }]);
  });

  it('retries a 429 (honouring Retry-After) and then succeeds', async () => {
    const before = server.requests.length;
    server.next('429');
    const [v] = await embedder.embed(['seven plus five']);
    assert.equal(v!.length, 16);
    assert.equal(server.requests.length - before, 2);
  });

  it('retries a dropped connection and a 500, then succeeds', async () => {
    const before = server.requests.length;
    server.next('drop', '500');
    await embedder.embed(['ten take away three']);
    assert.equal(server.requests.length - before, 3);
  });

  it('gives up after the policy’s attempts when the server keeps failing with 500', async () => {
    const before = server.requests.length;
    server.next('500', '500', '500', '500');
    await assert.rejects(
      embedder.embed(['x']),
      unavailable('server_error', (d) => {
        assert.equal(d.status, 500);
        assert.equal(d.attempts, 4);
      }),
    );
    assert.equal(server.requests.length - before, 4, 'bounded: 4 attempts, not more');
  });

  it('does not retry an answer that is not JSON', async () => {
    const before = server.requests.length;
    server.next('malformed');
    await assert.rejects(embedder.embed(['x']), unavailable('bad_response'));
    assert.equal(server.requests.length - before, 1);
  });

  it('refuses an answer with fewer vectors than texts', async () => {
    server.next('short');
    await assert.rejects(embedder.embed(['one', 'two']), unavailable('bad_response'));
  });

  it('a server that never answers costs the timeout, then embeddings_unavailable (timeout, not retried)', async () => {
    const before = server.requests.length;
    server.next('hang');
    const started = performance.now();
    await assert.rejects(embedder.embed(['x']), unavailable('timeout'));
    const took = performance.now() - started;
    assert.ok(took >= 250 && took < 1500, `bounded by the 300 ms timeout, took ${Math.round(took)} ms`);
    assert.equal(server.requests.length - before, 1);
  });

  it('a wrong key is rejected at once, and the key appears nowhere in the error', async () => {
    const wrong = createOpenAiEmbedder({ url: server.url, model: 'fake', apiKey: 'sk-wrong-secret', timeoutMs: 300, retry: FAST_RETRY });
    const before = server.requests.length;
    await assert.rejects(wrong.embed(['x']), (error: unknown) => {
      unavailable('rejected', (d) => assert.equal(d.status, 401))(error);
      assert.ok(!JSON.stringify({ m: (error as Error).message, d: (error as AppError).details }).includes('sk-wrong-secret'));
      return true;
    });
    assert.equal(server.requests.length - before, 1);
  });

  it('a server that is not there is unreachable after the retries', async () => {
    const gone = await startFakeEmbeddingsServer();
    await gone.close();
    const orphan = createOpenAiEmbedder({ url: gone.url, model: 'fake', timeoutMs: 300, retry: FAST_RETRY });
    await assert.rejects(orphan.embed(['x']), unavailable('unreachable', (d) => assert.equal(d.attempts, 4)));
  });

  it('refuses vectors whose length changes under a configured dimension (the model was swapped)', async () => {
    const pinned = createOpenAiEmbedder({ url: server.url, model: 'fake', apiKey: server.apiKey, dimensions: 32, timeoutMs: 300, retry: FAST_RETRY });
    await assert.rejects(pinned.embed(['x']), unavailable('bad_response'));
  });
});

describe('bedrock embedder under faults (aws-sdk-client-mock)', () => {
  const throttled = () => new ThrottlingException({ message: 'Too many requests, please wait before trying again.', $metadata: { httpStatusCode: 429 } });

  it('sends Titan v2’s body: the text, the dimension and normalize: true, one call per text', async () => {
    const titan = mockedTitan();
    try {
      const embedder = createBedrockEmbedder({ client: titan.client, dimensions: 512, timeoutMs: 500, retry: FAST_RETRY });
      await embedder.embed(['add two numbers', 'sum of 3 and 4']);
      assert.deepEqual(
        titan.bodies().sort((a, b) => a.inputText.localeCompare(b.inputText)),
        [
          { inputText: 'add two numbers', dimensions: 512, normalize: true },
          { inputText: 'sum of 3 and 4', dimensions: 512, normalize: true },
        ],
      );
      assert.equal(titan.mock.commandCalls(InvokeModelCommand)[0]!.args[0].input.modelId, 'amazon.titan-embed-text-v2:0');
    } finally {
      titan.mock.restore();
    }
  });

  it('retries throttling and then succeeds', async () => {
    const titan = mockedTitan();
    try {
      titan.mock.on(InvokeModelCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).callsFake(titan.answer);
      const embedder = createBedrockEmbedder({ client: titan.client, dimensions: 256, timeoutMs: 500, retry: FAST_RETRY });
      const [v] = await embedder.embed(['count to ten']);
      assert.equal(v!.length, 256);
      assert.equal(titan.mock.commandCalls(InvokeModelCommand).length, 3);
    } finally {
      titan.mock.restore();
    }
  });

  it('gives up after the attempts when throttling goes on', async () => {
    const titan = mockedTitan();
    try {
      titan.mock.on(InvokeModelCommand).rejects(throttled());
      const embedder = createBedrockEmbedder({ client: titan.client, timeoutMs: 500, retry: FAST_RETRY });
      await assert.rejects(embedder.embed(['x']), unavailable('rate_limited', (d) => assert.equal(d.attempts, 4)));
      assert.equal(titan.mock.commandCalls(InvokeModelCommand).length, 4);
    } finally {
      titan.mock.restore();
    }
  });

  it('does not retry a validation or access error', async () => {
    const titan = mockedTitan();
    try {
      titan.mock.on(InvokeModelCommand).rejects(new AccessDeniedException({ message: 'You don’t have access to the model', $metadata: { httpStatusCode: 403 } }));
      const embedder = createBedrockEmbedder({ client: titan.client, timeoutMs: 500, retry: FAST_RETRY });
      await assert.rejects(embedder.embed(['x']), unavailable('rejected', (d) => assert.equal(d.status, 403)));
      assert.equal(titan.mock.commandCalls(InvokeModelCommand).length, 1);
    } finally {
      titan.mock.restore();
    }
  });

  it('retries a connection that got no answer, but not missing credentials', async () => {
    const titan = mockedTitan();
    try {
      const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      titan.mock.on(InvokeModelCommand).rejectsOnce(reset).callsFake(titan.answer);
      const embedder = createBedrockEmbedder({ client: titan.client, dimensions: 256, timeoutMs: 500, retry: FAST_RETRY });
      assert.equal((await embedder.embed(['x']))[0]!.length, 256);
      titan.mock.reset();
      titan.mock.on(InvokeModelCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
      await assert.rejects(embedder.embed(['x']), unavailable('rejected', (d) => assert.equal(d.attempts, 1)));
    } finally {
      titan.mock.restore();
    }
  });

  it('refuses an answer without a vector of the asked size', async () => {
    const titan = mockedTitan();
    try {
      titan.mock.on(InvokeModelCommand).callsFake(() => ({ body: new TextEncoder().encode(JSON.stringify({ embedding: [0.1, 0.2] })) }));
      const embedder = createBedrockEmbedder({ client: titan.client, timeoutMs: 500, retry: FAST_RETRY });
      await assert.rejects(embedder.embed(['x']), unavailable('bad_response'));
    } finally {
      titan.mock.restore();
    }
  });

  it('a call that never returns costs the timeout', async () => {
    const titan = mockedTitan();
    try {
      titan.mock.on(InvokeModelCommand).callsFake(() => new Promise(() => {}));
      const embedder = createBedrockEmbedder({ client: titan.client, timeoutMs: 200, retry: FAST_RETRY });
      const started = performance.now();
      await assert.rejects(embedder.embed(['x']), unavailable('timeout'));
      assert.ok(performance.now() - started < 1000);
    } finally {
      titan.mock.restore();
    }
  });

  it('keeps at most `concurrency` calls in flight and the results in order', async () => {
    const titan = mockedTitan();
    try {
      let inFlight = 0;
      let most = 0;
      titan.mock.on(InvokeModelCommand).callsFake(async (input: { body?: unknown }) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5 + (String(input.body).length % 7)));
        inFlight--;
        return titan.answer(input);
      });
      const embedder = createBedrockEmbedder({ client: titan.client, dimensions: 256, timeoutMs: 500, concurrency: 3, retry: FAST_RETRY });
      const texts = Array.from({ length: 20 }, (_, i) => `item ${i}`);
      const vectors = await embedder.embed(texts);
      assert.equal(most, 3);
      const expected = texts.map((t) => Float32Array.from(titanVector(t, 256)));
      vectors.forEach((v, i) => assert.ok(Math.abs(dot(v, expected[i]!) - 1) < 1e-5, `vector ${i} is the one for its text`));
    } finally {
      titan.mock.restore();
    }
  });
});
