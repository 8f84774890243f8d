import type { Config } from '../../config/config.ts';
import { createBedrockEmbedder } from './bedrock-embedder.ts';
import type { Embedder } from './embedder.ts';
import { createLocalEmbedder } from './local-embedder.ts';
import { createOpenAiEmbedder } from './openai-embedder.ts';

/**
 * The embedder `config.embeddings` asks for. Only the wiring module calls
 * this; everything else receives an `Embedder`.
 */
export function createEmbedder(config: Pick<Config, 'embeddings'>): Embedder {
  const e = config.embeddings;
  switch (e.provider) {
    case 'local':
      return createLocalEmbedder({ cacheDir: e.cacheDir });
    case 'openai':
      return createOpenAiEmbedder({ url: e.url, model: e.model, apiKey: e.apiKey, dimensions: e.dimensions, timeoutMs: e.timeoutMs });
    case 'bedrock':
      return createBedrockEmbedder({ region: e.region, model: e.model, dimensions: e.dimensions, timeoutMs: e.timeoutMs });
  }
}
