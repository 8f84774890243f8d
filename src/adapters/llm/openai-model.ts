import { callWithRetries, llmUnavailable, LlmAttemptError, type CallPolicy, type LanguageModel } from './language-model.ts';

/** Options of the OpenAI-compatible chat adapter. */
export interface OpenAiModelOptions {
  /** Server base URL, e.g. `http://127.0.0.1:11434` (Ollama) or `https://api.openai.com`; `/v1/chat/completions` is appended. */
  url: string;
  model: string;
  /** Sent as `Authorization: Bearer …` when set; never logged or put in an error. */
  apiKey?: string | undefined;
  policy: CallPolicy;
}

const isRetryableStatus = (status: number) => status === 429 || status === 408 || status >= 500;

/**
 * The `openai` adapter: any server speaking OpenAI's chat completions API
 * (OpenAI, Ollama, vLLM, llama.cpp…): `POST {url}/v1/chat/completions` with a
 * system and a user message and `response_format: {type: "json_schema",
 * json_schema: {name, strict: true, schema}}`, so a model that supports
 * structured output answers in the item schema. The answer's
 * `choices[0].message.content` is returned as it is (the checks judge it);
 * `usage.prompt_tokens`/`completion_tokens` are the token usage. Every
 * attempt has the timeout; 408/429/5xx and dropped connections are retried.
 */
export function createOpenAiModel(options: OpenAiModelOptions): LanguageModel {
  if (!/^https?:\/\//.test(options.url)) throw llmUnavailable('openai', 'rejected', 'LLM_URL must be an http(s) URL');
  const endpoint = `${options.url.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1/chat/completions`;
  return {
    provider: 'openai',
    model: options.model,
    async generate(request, opts = {}) {
      const { value, attempts } = await callWithRetries(
        'openai',
        options.policy,
        async (signal) => {
          const response = await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
            body: JSON.stringify({
              model: options.model,
              messages: [
                { role: 'system', content: request.system },
                { role: 'user', content: request.user },
              ],
              temperature: 0.7,
              max_tokens: request.maxOutputTokens,
              response_format: { type: 'json_schema', json_schema: { name: request.schemaName, strict: true, schema: request.schema } },
            }),
            signal,
          });
          if (!response.ok) {
            await response.body?.cancel().catch(() => {});
            throw new LlmAttemptError(response.status === 429 ? 'rate_limited' : response.status >= 500 ? 'server_error' : 'rejected', `the server answered HTTP ${response.status}`, {
              retryable: isRetryableStatus(response.status),
              status: response.status,
            });
          }
          let body: unknown;
          try {
            body = JSON.parse(await response.text());
          } catch (error) {
            if (signal.aborted) throw error;
            throw new LlmAttemptError('bad_response', 'the server’s answer is not JSON', { retryable: false, status: response.status, cause: error });
          }
          const b = body as { choices?: { message?: { content?: unknown; refusal?: unknown } }[]; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown }; model?: unknown } | null;
          const content = b?.choices?.[0]?.message?.content;
          if (typeof content !== 'string') throw new LlmAttemptError('bad_response', 'the answer has no message content (a refusal?)', { retryable: false, status: response.status });
          const count = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? Math.round(x) : 0);
          return { text: content, usage: { inputTokens: count(b?.usage?.prompt_tokens), outputTokens: count(b?.usage?.completion_tokens) } };
        },
        opts.signal,
      );
      return { ...value, model: options.model, attempts };
    },
    async close() {},
  };
}
