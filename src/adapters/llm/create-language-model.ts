import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { Config } from '../../config/config.ts';
import { MATHKIDS_TEMPLATES } from '../../seed/mathkids.ts';
import { WORDKIDS_TEMPLATES } from '../../seed/wordkids.ts';
import { createBedrockModel } from './bedrock-model.ts';
import type { LanguageModel } from './language-model.ts';
import { createOfflineModel } from './offline-model.ts';
import { createOpenAiModel } from './openai-model.ts';

export type { LanguageModel } from './language-model.ts';

/** Injected for tests: a mocked Bedrock client, a fixed offline seed. */
export interface LanguageModelOverrides {
  bedrockClient?: BedrockRuntimeClient;
  offlineSeed?: number;
}

/**
 * The models `config.llm` asks for: `model` (the configured one) and
 * `offline` (always there: the fallback when the model fails, the budget is
 * spent, or too few of its items pass the checks). When the provider is
 * `offline` both are the same adapter. Only the wiring module calls this.
 */
export function createLanguageModel(config: Pick<Config, 'llm'>, overrides: LanguageModelOverrides = {}): { model: LanguageModel; offline: LanguageModel } {
  const offline = createOfflineModel({ templates: [...MATHKIDS_TEMPLATES, ...WORDKIDS_TEMPLATES], ...(overrides.offlineSeed === undefined ? {} : { seed: overrides.offlineSeed }) });
  const l = config.llm;
  const policy = { timeoutMs: l.timeoutMs, retries: l.retries };
  switch (l.provider) {
    case 'offline':
      return { model: offline, offline };
    case 'openai':
      return { model: createOpenAiModel({ url: l.url, model: l.model, apiKey: l.apiKey, policy }), offline };
    case 'bedrock':
      return { model: createBedrockModel({ region: l.region, model: l.model, policy, ...(overrides.bedrockClient ? { client: overrides.bedrockClient } : {}) }), offline };
  }
}
