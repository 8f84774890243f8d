import { tmpdir } from 'node:os';
import path from 'node:path';
import { BedrockRuntimeClient, InvokeModelCommand, ValidationException } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { fakeVector } from './openai-embeddings-server.ts';

/**
 * Where the tests keep the local embedder's prepared word vectors: one
 * directory per machine shared by every test process, so the ~10 s build from
 * the package's JSON happens once, not in each test file.
 */
export const TEST_EMBEDDINGS_CACHE = path.join(tmpdir(), 'kidslearn-test-embeddings-cache');

/** A unit vector for `text`, as Titan v2 with `normalize: true` answers. */
export function titanVector(text: string, dimension: number): number[] {
  const v = fakeVector(text, dimension);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/**
 * A Bedrock runtime client whose InvokeModel is mocked with
 * aws-sdk-client-mock (no Bedrock emulator exists): Titan v2's request and
 * answer shapes, a ValidationException for input over 50,000 characters (the
 * model's limit), and the calls recorded.
 */
export function mockedTitan(dimension = 1024) {
  const client = new BedrockRuntimeClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const mock = mockClient(client);
  const answer = (input: { body?: unknown }) => {
    const body = JSON.parse(typeof input.body === 'string' ? input.body : new TextDecoder().decode(input.body as Uint8Array)) as { inputText: string; dimensions: number; normalize: boolean };
    if (body.inputText.length > 50_000) throw new ValidationException({ message: 'Too many input characters', $metadata: { httpStatusCode: 400 } });
    return { body: new TextEncoder().encode(JSON.stringify({ embedding: titanVector(body.inputText, body.dimensions), inputTextTokenCount: body.inputText.split(/\s+/).length })), contentType: 'application/json' };
  };
  mock.on(InvokeModelCommand).callsFake(answer);
  const bodies = () => mock.commandCalls(InvokeModelCommand).map((c) => JSON.parse(String(c.args[0].input.body)) as { inputText: string; dimensions: number; normalize: boolean });
  return { client, mock, answer, bodies, dimension };
}
