import { Counter, Histogram, type Registry } from 'prom-client';
import type { Embedder } from './embedder.ts';

/** Upper bounds (seconds) of the embedding latency histogram: local calls take microseconds, remote ones up to the timeout. */
const BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The embedding metrics of one registry, created once (several embedders may share them). */
function embeddingMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    calls: get(
      'kidslearn_embedding_calls_total',
      () => new Counter({ name: 'kidslearn_embedding_calls_total', help: 'Embedding calls by provider and outcome (ok, error)', labelNames: ['provider', 'outcome'], registers: [registry] }),
    ),
    texts: get('kidslearn_embedding_texts_total', () => new Counter({ name: 'kidslearn_embedding_texts_total', help: 'Texts embedded, by provider', labelNames: ['provider'], registers: [registry] })),
    seconds: get(
      'kidslearn_embedding_call_seconds',
      () => new Histogram({ name: 'kidslearn_embedding_call_seconds', help: 'Latency of one embedding call (a batch of texts), by provider', labelNames: ['provider'], buckets: BUCKETS, registers: [registry] }),
    ),
  };
}

/**
 * The same embedder, counted: calls (ok or error), texts and latency per
 * provider in `registry` (the process's `/metrics`). The wiring module wraps
 * the configured embedder in it, so every user is counted alike.
 */
export function instrumentEmbedder(embedder: Embedder, registry: Registry): Embedder {
  const m = embeddingMetrics(registry);
  const provider = embedder.provider;
  return {
    provider,
    get model() {
      return embedder.model;
    },
    get dimension() {
      return embedder.dimension;
    },
    ready: (options) => embedder.ready(options),
    async embed(texts, options) {
      if (!texts.length) return embedder.embed(texts, options);
      const started = performance.now();
      try {
        const vectors = await embedder.embed(texts, options);
        m.calls.inc({ provider, outcome: 'ok' });
        m.texts.inc({ provider }, texts.length);
        return vectors;
      } catch (error) {
        m.calls.inc({ provider, outcome: 'error' });
        throw error;
      } finally {
        m.seconds.observe({ provider }, (performance.now() - started) / 1000);
      }
    },
    close: () => embedder.close(),
  };
}
