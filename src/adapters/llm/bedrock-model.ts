import { BedrockRuntimeClient, ConverseCommand, type ContentBlock } from '@aws-sdk/client-bedrock-runtime';
import { callWithRetries, LlmAttemptError, type CallPolicy, type LanguageModel } from './language-model.ts';
import { classifyBedrockError } from '../aws/bedrock-errors.ts';
import { instrumentAwsClient } from '../../observability/aws-clients.ts';

/** Options of the Bedrock adapter. */
export interface BedrockModelOptions {
  /** A client you pass in (tests pass one mocked with aws-sdk-client-mock); otherwise one for `region` with the SDK's default credentials. */
  client?: BedrockRuntimeClient;
  region?: string | undefined;
  /** A Converse model id or inference profile, e.g. `amazon.nova-lite-v1:0` or `anthropic.claude-3-5-haiku-20241022-v1:0`. */
  model: string;
  policy: CallPolicy;
}

/**
 * The `bedrock` adapter: Amazon Bedrock's Converse API (one API for Nova,
 * Claude, Llama, Mistral…). The output schema is given as the only tool, and
 * the model is made to call it (`toolChoice: {tool}`), which is how Converse
 * gets structured output from every model family that supports tools; the
 * tool's input is the answer. A model that answers in text instead has its
 * text returned (the checks judge it). The SDK's own retries are off: ours
 * apply, with the timeout on each attempt.
 */
export function createBedrockModel(options: BedrockModelOptions): LanguageModel {
  const client = options.client ?? instrumentAwsClient(new BedrockRuntimeClient({ ...(options.region ? { region: options.region } : {}), maxAttempts: 1 }));
  const ownsClient = !options.client;
  return {
    provider: 'bedrock',
    model: options.model,
    async generate(request, opts = {}) {
      const { value, attempts } = await callWithRetries(
        'bedrock',
        options.policy,
        async (signal) => {
          const command = new ConverseCommand({
            modelId: options.model,
            system: [{ text: request.system }],
            messages: [{ role: 'user', content: [{ text: request.user }] }],
            inferenceConfig: { maxTokens: request.maxOutputTokens, temperature: 0.7 },
            toolConfig: {
              tools: [{ toolSpec: { name: request.schemaName, description: 'Return the practice items', inputSchema: { json: request.schema as never /* a JSON Schema object is a Smithy document */ } } }],
              toolChoice: { tool: { name: request.schemaName } },
            },
          });
          let output;
          try {
            // The abort races the send: a mocked or stuck client still gives up at the timeout.
            output = await Promise.race([
              client.send(command, { abortSignal: signal }),
              new Promise<never>((_, reject) => {
                if (signal.aborted) reject(signal.reason as Error);
                signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
              }),
            ]);
          } catch (error) {
            if (signal.aborted) throw error;
            throw classify(error);
          }
          const content: ContentBlock[] = output.output?.message?.content ?? [];
          const tool = content.find((c) => c.toolUse !== undefined)?.toolUse;
          const text = tool ? JSON.stringify(tool.input ?? null) : content.map((c) => c.text ?? '').join('');
          if (!text) throw new LlmAttemptError('bad_response', `the model answered no content (stop reason ${output.stopReason ?? 'unknown'})`, { retryable: false });
          return { text, usage: { inputTokens: output.usage?.inputTokens ?? 0, outputTokens: output.usage?.outputTokens ?? 0 } };
        },
        opts.signal,
      );
      return { ...value, model: options.model, attempts };
    },
    async close() {
      if (ownsClient) client.destroy();
    },
  };
}

/** An SDK error as an attempt failure (see classifyBedrockError). */
function classify(error: unknown): LlmAttemptError {
  const { reason, message, ...options } = classifyBedrockError(error);
  return new LlmAttemptError(reason, message, { ...options, cause: error });
}
