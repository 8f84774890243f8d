import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { Embedder } from '../../src/adapters/embeddings/embedder.ts';
import { instrumentEmbedder } from '../../src/adapters/embeddings/instrumented-embedder.ts';

function fake(fail: () => boolean): Embedder {
  return {
    provider: 'openai',
    model: 'm-1',
    dimension: 2,
    ready: async () => ({ model: 'm-1', dimension: 2 }),
    embed: async (texts) => {
      if (fail()) throw new Error('down');
      return texts.map(() => new Float32Array([1, 0]));
    },
    close: async () => {},
  };
}

describe('instrumented embedder', () => {
  it('passes vectors through and counts calls, texts, errors and latency per provider', async () => {
    const registry = new Registry();
    let failing = false;
    const embedder = instrumentEmbedder(fake(() => failing), registry);
    assert.equal(embedder.model, 'm-1');
    assert.equal(embedder.dimension, 2);
    const vectors = await embedder.embed(['a', 'b', 'c']);
    assert.deepEqual(vectors.map((v) => [...v]), [[1, 0], [1, 0], [1, 0]]);
    await embedder.embed([]);
    failing = true;
    await assert.rejects(embedder.embed(['d']), /down/);
    // A second wrapper on the same registry shares the series.
    failing = false;
    await instrumentEmbedder(fake(() => false), registry).embed(['e']);
    const text = await registry.metrics();
    assert.match(text, /^kidslearn_embedding_calls_total\{provider="openai",outcome="ok"\} 2$/m);
    assert.match(text, /^kidslearn_embedding_calls_total\{provider="openai",outcome="error"\} 1$/m);
    assert.match(text, /^kidslearn_embedding_texts_total\{provider="openai"\} 4$/m);
    assert.match(text, /^kidslearn_embedding_call_seconds_count\{provider="openai"\} 3$/m);
  });
});
