import type { SESv2Client } from '@aws-sdk/client-sesv2';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Cache } from '../../src/adapters/cache/cache.ts';
import type { Database } from '../../src/adapters/db/database.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Concept, NewLessonInput } from '../../src/domain/curriculum.ts';
import type { Role } from '../../src/domain/principal.ts';
import { generatePrivateJwk, importSigningKey, type SigningKey } from '../../src/features/auth/signing-keys.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { seedPack } from '../../src/seed/seed-demo-apps.ts';
import { createContainer, type Container } from '../../src/wiring/container.ts';
import type { Embedder } from '../../src/adapters/embeddings/embedder.ts';
import { createLocalEmbedder } from '../../src/adapters/embeddings/local-embedder.ts';
import { TEST_EMBEDDINGS_CACHE } from './embeddings.ts';
import type { BlobStore } from '../../src/adapters/blobs/blob-store.ts';

let sharedEmbedder: Embedder | undefined;
/**
 * The local embedder, one per test process, reading its word vectors from
 * the machine's test cache (built once, then loaded in about a second)
 * instead of building them in each app's fresh data dir.
 */
export const testEmbedder = (): Embedder => (sharedEmbedder ??= createLocalEmbedder({ cacheDir: TEST_EMBEDDINGS_CACHE }));

/** An in-process app over given adapters, with helpers to mint tokens and read the log. */
export interface TestApp {
  container: Container;
  app: ReturnType<typeof createHttpApp>;
  logLines: () => Record<string, unknown>[];
  signingKey: SigningKey;
  token(appId: string, role: Role, options?: { sub?: string; ttlSeconds?: number }): Promise<string>;
  request(pathname: string, init?: RequestInit & { token?: string }): Promise<Response>;
}

/** Builds the app exactly as the server does, but over the given database and cache. */
export async function createTestApp(options: {
  database: Database;
  cache: Cache;
  env?: Record<string, string>;
  signingKey?: SigningKey;
  embedder?: Embedder;
  /** The analytics lake's store; default the configured one (a directory at `<dataDir>/lake`). */
  lakeStore?: BlobStore;
  /** The SQS client for `EVENT_QUEUE=sqs` / `JOB_QUEUE=sqs` (a mocked one: test/support/sqs-fake.ts). */
  sqsClient?: SQSClient;
  /** The SES client for `MAIL_TRANSPORT=ses` (one mocked with aws-sdk-client-mock). */
  sesClient?: SESv2Client;
}): Promise<TestApp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-test-'));
  const config = loadConfig(
    {
      KIDSLEARN_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      SEED_DEMO_APPS: 'false',
      // Cheap hashing and generous limits keep tests fast; tests of those features set their own.
      PASSWORD_SCRYPT_LOG_N: '12',
      PASSWORD_SCRYPT_P: '1',
      RATE_LIMIT_AUTH_PER_MINUTE: '100000',
      RATE_LIMIT_AUTH_IP_PER_MINUTE: '100000',
      RATE_LIMIT_AUTH_HASH_IP_PER_MINUTE: '100000',
      RATE_LIMIT_API_PER_MINUTE: '100000',
      ...options.env,
    },
    { envFile: null },
  );
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const signingKey = options.signingKey ?? (await importSigningKey(await generatePrivateJwk()));
  // The configured embedder when a test asks for a provider; otherwise the shared local one.
  const embedder = options.embedder ?? (options.env?.EMBEDDINGS_PROVIDER ? undefined : testEmbedder());
  const container = await createContainer(config, {
    database: options.database,
    cache: options.cache,
    logger,
    signingKey,
    ...(options.lakeStore ? { lakeStore: options.lakeStore } : {}),
    ...(options.sqsClient ? { sqsClient: options.sqsClient } : {}),
    ...(options.sesClient ? { sesClient: options.sesClient } : {}),
    ...(embedder ? { embedder } : {}),
  });
  const app = createHttpApp(container);
  return {
    container,
    app,
    signingKey,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    token: (appId, role, o = {}) => container.tokens.issue({ sub: o.sub ?? `${role}-1`, app: appId, role }, o.ttlSeconds ?? 900),
    request(pathname, init = {}) {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      if (typeof rest.body === 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
      return Promise.resolve(app.request(pathname, { ...rest, headers }));
    },
  };
}

/**
 * A small curriculum whose titles carry the app id, so a test can tell
 * whose row it got. Lesson `shared-lesson` exists in every app seeded with it.
 */
export function fixturePack(appId: string): { concepts: Concept[]; lessons: NewLessonInput[] } {
  const concepts: Concept[] = [
    { id: 'counting', subject: 'math', grade: 0, name: 'Counting', description: '', prerequisites: [] },
    { id: 'adding', subject: 'math', grade: 1, name: 'Adding', description: '', prerequisites: ['counting'] },
    { id: 'reading', subject: 'reading', grade: 1, name: 'Reading', description: '', prerequisites: [] },
  ];
  const lesson = (id: string, grade: number, subject: string, published: boolean, conceptId: string): NewLessonInput => ({
    id,
    subject,
    grade,
    title: `${appId} ${id}`,
    summary: `Lesson ${id} of ${appId}`,
    blocks: [{ type: 'text', text: `Welcome to ${id}` }],
    conceptIds: [conceptId],
    media: [],
    estimatedMinutes: 5,
    published,
    items: [
      { id: `${id}-q1`, conceptId, type: 'numeric', prompt: 'What is 2 + 3?', answer: { type: 'numeric', value: 5, tolerance: 0 }, difficulty: -1 },
      {
        id: `${id}-q2`,
        conceptId,
        type: 'multiple_choice',
        prompt: 'Which is bigger?',
        choices: [
          { id: 'a', text: '7' },
          { id: 'b', text: '3' },
        ],
        answer: { type: 'multiple_choice', choiceId: 'a' },
        difficulty: 0,
      },
      { id: `${id}-q3`, conceptId, type: 'short_text', prompt: 'Spell 2', answer: { type: 'short_text', accepted: ['two'], caseSensitive: false }, difficulty: 0.5 },
    ],
  });
  return {
    concepts,
    lessons: [
      lesson('shared-lesson', 1, 'math', true, 'adding'),
      lesson(`${appId}-only`, 2, 'math', true, 'adding'),
      lesson('count-k', 0, 'math', true, 'counting'),
      lesson('read-1', 1, 'reading', true, 'reading'),
      lesson('draft', 2, 'math', false, 'adding'),
    ],
  };
}

/** Registers `appId` and writes {@link fixturePack} into it. */
export async function createFixtureApp(container: Container, appId: string): Promise<void> {
  await container.apps.create(appId, `App ${appId}`);
  await seedPack(container, appId, fixturePack(appId));
}

/**
 * The fixture app `appId` with one guardian (ann@example.com) and her two
 * children Mia and Leo (grade 1): their ids and the guardian's access token.
 */
export async function createFixtureFamily(container: Container, appId: string): Promise<{ token: string; kids: Record<'mia' | 'leo', string> }> {
  await createFixtureApp(container, appId);
  const password = 'correct horse battery';
  const ann = await container.accounts.register(appId, { email: 'ann@example.com', password, role: 'guardian' });
  const principal = { sub: ann.id, app: appId, role: 'guardian' as const, exp: Math.floor(Date.now() / 1000) + 3600 };
  const kids = {
    mia: (await container.children.create(principal, { nickname: 'Mia', grade: 1 })).id,
    leo: (await container.children.create(principal, { nickname: 'Leo', grade: 1 })).id,
  };
  return { token: (await container.accounts.login(appId, { email: 'ann@example.com', password })).accessToken, kids };
}
