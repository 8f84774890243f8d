import { createHash } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import type { Cache } from '../adapters/cache/cache.ts';
import { createMemoryCache } from '../adapters/cache/memory-cache.ts';
import type { Database } from '../adapters/db/database.ts';
import type { JobQueue } from '../adapters/jobs/job-queue.ts';
import type { Embedder } from '../adapters/embeddings/embedder.ts';
import { createEmbedder } from '../adapters/embeddings/create-embedder.ts';
import type { Mailer } from '../adapters/mail/mailer.ts';
import { createPgvectorStore } from '../adapters/vectors/pgvector-store.ts';
import type { VectorStore } from '../adapters/vectors/vector-store.ts';
import { CurriculumIndex } from '../engine/curriculum-index.ts';
import { createOutboxMailer } from '../adapters/mail/outbox-mailer.ts';
import { createSmtpMailer } from '../adapters/mail/smtp-mailer.ts';
import { createSesMailer } from '../adapters/mail/ses-mailer.ts';
import { migrateAll } from '../adapters/db/migrations.ts';
import { openPgliteDatabase } from '../adapters/db/pglite.ts';
import { openPostgresDatabase } from '../adapters/db/postgres.ts';
import type { Config } from '../config/config.ts';
import { AppsService } from '../features/apps/apps.service.ts';
import { ConceptsService } from '../features/concepts/concepts.service.ts';
import { loadSigningKey, loadVerificationKeys, type SigningKey } from '../features/auth/signing-keys.ts';
import { TokenService } from '../features/auth/tokens.ts';
import { jwtKeyRefresher } from './jwt-keys.ts';
import { LessonsService } from '../features/lessons/lessons.service.ts';
import { ContentService } from '../features/content/content.service.ts';
import { AnalysisService } from '../features/adaptive/analysis.service.ts';
import { PlansService } from '../features/plans/plans.service.ts';
import { PlanBuilder } from '../engine/plan-builder.ts';
import type { RateLimiter, RateLimitRule } from '../adapters/rate-limit/rate-limiter.ts';
import { createMemoryRateLimiter } from '../adapters/rate-limit/memory-rate-limiter.ts';
import { AccountsService } from '../features/accounts/accounts.service.ts';
import { PasswordHasher } from '../features/accounts/passwords.ts';
import { OidcVerifier } from '../features/auth/oidc.ts';
import type { Principal } from '../domain/principal.ts';
import { ChildrenService } from '../features/families/children.service.ts';
import { ClassroomsService } from '../features/families/classrooms.service.ts';
import { ModelStore } from '../features/progress/model-store.ts';
import { ProgressService } from '../features/progress/progress.service.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { createEmfSink } from '../observability/emf.ts';
import { throttledLog } from '../observability/throttle.ts';
import { createLanguageModel, type LanguageModel, type LanguageModelOverrides } from '../adapters/llm/create-language-model.ts';
import { ItemGenerator } from '../engine/item-generator.ts';
import type { BlobStore } from '../adapters/blobs/blob-store.ts';
import { createBlobStore } from '../adapters/blobs/create-blob-store.ts';
import { createLakeReports, type ReportsService } from '../features/reports/reports.service.ts';
import type { LakeQueryEngine } from '../analytics/lake-query.ts';
import { EventOutbox } from '../analytics/event-outbox.ts';
import { LearnerKeys } from '../analytics/learner-keys.ts';
import { EventsService } from '../features/events/events.service.ts';
import { createDatabaseEventSink, createPackedEventSink, createSqsEventSink, type EventSink } from '../analytics/event-sink.ts';
import { advisoryLock, processLocalLock } from '../adapters/db/writer-lock.ts';
import { DeadLetterAlerts } from '../analytics/alerts.ts';
import { LAKE_WRITER_LOCK_KEY, LakeWriter, type LakeWriterOptions } from '../analytics/lake-writer.ts';
import { LakeStatusReader } from '../analytics/lake-status.ts';
import { LakePrivacy } from '../analytics/lake-privacy.ts';

/** Everything the HTTP app, the CLI and later the workers are built from. */
export interface Container {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  database: Database;
  cache: Cache;
  tokens: TokenService;
  /** Verifies any accepted bearer token: the server's own, or the external OIDC issuer's when configured. */
  verifyToken(token: string): Promise<Principal>;
  apps: AppsService;
  /** The concept graph: read by every role, written by admins. */
  concepts: ConceptsService;
  lessons: LessonsService;
  analysis: AnalysisService;
  /** Lesson plan requests and reads (`/api/adaptive/plans`); the engine's plan job builds them. */
  plans: PlansService;
  /** Builds a child's plan from stored data (the engine's plan job). */
  planBuilder: PlanBuilder;
  content: ContentService;
  accounts: AccountsService;
  children: ChildrenService;
  classrooms: ClassroomsService;
  progress: ProgressService;
  /** Analytics ingest (`POST /api/events`). */
  events: EventsService;
  /** The analytics outbox (`kidslearn.lake_events`): appends and the backlog count. */
  eventOutbox: EventOutbox;
  /** Pseudonymous learner keys per app (the lake never holds a child id). */
  learnerKeys: LearnerKeys;
  models: ModelStore;
  rateLimiter: RateLimiter;
  rateLimits: { authPerIp: RateLimitRule; authHashPerIp: RateLimitRule; signInPerClient: RateLimitRule; signInPerAccount: RateLimitRule; signInPerDevice: RateLimitRule; apiPerToken: RateLimitRule };
  /** Sends sign-up and password-reset mail: SMTP, Amazon SES, or the file outbox on embedded defaults. */
  mailer: Mailer;
  /**
   * The durable job queue (pg-boss on the same database, or SQS with
   * `JOB_QUEUE=sqs`), opened on first
   * use: most processes (the CLI, many tests) never need it, and creating
   * its schema on a fresh embedded database takes seconds. A failed open is
   * not remembered, so the next call tries again (503 `queue_unavailable`).
   */
  jobQueue(): Promise<JobQueue>;
  /** The configured language model (`LLM_PROVIDER`); the offline generator by default. */
  languageModel: LanguageModel;
  /** Writes checked practice items for a child's plan (engine/item-generator.ts). */
  generator: ItemGenerator;
  /** Turns curriculum text and search queries into vectors: local word vectors, an OpenAI-compatible server, or Bedrock (`EMBEDDINGS_PROVIDER`). */
  embedder: Embedder;
  /** The curriculum's vectors and nearest-neighbour search (pgvector, on PGlite or the server). */
  vectors: VectorStore;
  /** Keeps each app's vectors in step with its content (refreshed after admin writes; `kidslearn engine reindex`) and answers similarity searches. */
  curriculumIndex: CurriculumIndex;
  /** The analytics lake's files: a directory or S3 (`LAKE_DIR`, `LAKE_S3_*`). */
  lakeStore: BlobStore;
  /** One app's lake status (`GET /admin/lake/status`). */
  lakeStatus: LakeStatusReader;
  /**
   * The lake writer (analytics/lake-writer.ts), built on first call, not
   * started: `npm run lake` and inline `npm start` start its loop, the CLI
   * flushes once. Overrides are for tests (a fault-injecting store, fast
   * backoff).
   */
  lakeWriter(overrides?: Partial<LakeWriterOptions>): LakeWriter;
  /** Reports over the analytics lake (`GET /admin/reports/{report}`), cached in the process. */
  reports: ReportsService;
  /** SQL over the lake (DuckDB), opened on first use. */
  lakeQuery(): LakeQueryEngine;
  /** Closes pools and connections (idempotent). */
  close(): Promise<void>;
}

/** Overrides for tests: an already-open database, a logger writing elsewhere, a fixed key. */
export interface ContainerOverrides {
  database?: Database;
  cache?: Cache;
  logger?: Logger;
  signingKey?: SigningKey;
  rateLimiter?: RateLimiter;
  mailer?: Mailer;
  /** A mocked Bedrock client or a fixed offline seed for the language model. */
  languageModel?: LanguageModelOverrides;
  /** An embedder to use instead of the configured one (tests share one local embedder per process). */
  embedder?: Embedder;
  /**
   * Refresh an app's curriculum index in the background after each content
   * write (default true). The CLI turns it off: its processes end with the
   * command, and `kidslearn engine reindex` (or the server's next start)
   * indexes what they wrote.
   */
  autoIndex?: boolean;
  /** Skip migrations (the caller ran them). */
  skipMigrations?: boolean;
  /** A blob store to use instead of the configured lake store. */
  lakeStore?: BlobStore;
  /** The SQS client of the SQS adapters when `JOB_QUEUE=sqs` / `EVENT_QUEUE=sqs` (tests pass one mocked with aws-sdk-client-mock). */
  sqsClient?: SQSClient;
  /** The SES client when `MAIL_TRANSPORT=ses` (tests pass one mocked with aws-sdk-client-mock). */
  sesClient?: SESv2Client;
}

/**
 * The only place that chooses adapters: PGlite or PostgreSQL from
 * `DATABASE_URL`, in-process LRU or Redis from `REDIS_URL`. Migrations run
 * here, under the advisory lock, before anything serves traffic.
 */
export async function createContainer(config: Config, overrides: ContainerOverrides = {}): Promise<Container> {
  const logger = overrides.logger ?? createLogger({ level: config.logLevel });
  const database = overrides.database ?? (await openDatabase(config));
  let cache: Cache | undefined;
  let rateLimiter: RateLimiter | undefined;
  let mailer: Mailer | undefined;
  let embedder: Embedder | undefined;
  let curriculumIndex: CurriculumIndex | undefined;
  try {
    if (!overrides.skipMigrations) {
      const applied = await migrateAll(database.db);
      if (applied) logger.info({ applied, database: database.kind }, 'migrations applied');
    }
    cache = overrides.cache ?? (await openCache(config, logger));
    const signingKey = overrides.signingKey ?? (await loadSigningKey({ dataDir: config.dataDir, privateKeyJwk: config.jwt.privateKeyJwk }));
    // On Lambda (METRICS_EMF=true) the HTTP metrics also go to stdout in CloudWatch's embedded metric
    // format, and the process metrics (CPU, heap, event loop) are left out: nothing scrapes /metrics there.
    const metrics = createMetrics(() => database.poolStats(), config.metrics.emf ? { httpSink: createEmfSink(), defaultMetrics: false } : {});
    // On AWS (a key secret): keys rotated in after this process started are read on the first token that names one.
    const refresher = jwtKeyRefresher(config, { onRefresh: (outcome) => (outcome.ok ? logger.info(outcome, 'token keys re-read') : logger.warn(outcome, 'token keys could not be re-read')) });
    const tokens = new TokenService([signingKey, ...(await loadVerificationKeys({ dataDir: config.dataDir, previousPublicJwks: config.jwt.previousPublicJwks }))], config.jwt.issuer, { refresher });
    const apps = new AppsService(database);
    const concepts = new ConceptsService({ db: database });
    const lessons = new LessonsService({ db: database, cache, logger, metrics });
    const content = new ContentService({ db: database, lessons, logger });
    const passwords = new PasswordHasher(config.auth.scrypt);
    rateLimiter = overrides.rateLimiter ?? (await openRateLimiter(config, logger));
    mailer = overrides.mailer ?? openMailer(config, overrides.sesClient);
    const accounts = new AccountsService({
      db: database,
      tokens,
      passwords,
      accessTtlSeconds: config.auth.accessTtlSeconds,
      refreshTtlSeconds: config.auth.refreshTtlSeconds,
      mailer,
      limiter: rateLimiter,
      linkBaseUrl: config.mail.linkBaseUrl,
    });
    const children = new ChildrenService({ db: database, accounts });
    const classrooms = new ClassroomsService({ db: database, children });
    const models = new ModelStore(database);
    // Answer writes in flight per app: half the pool (the rest serves reads); PGlite runs one statement at a time anyway.
    const poolSize = config.database.kind === 'postgres' ? config.database.poolSize : 10;
    const writeConcurrency = database.kind === 'postgres' ? Math.max(1, Math.floor(poolSize / 2)) : 1;
    const learnerKeys = new LearnerKeys(database);
    // LAKE_ENABLED=false: the services write no server events (they get no learner keys).
    const serverEventKeys = config.lake.enabled ? learnerKeys : undefined;
    const eventOutbox = new EventOutbox({ db: database });
    const events = new EventsService({ db: database, outbox: eventOutbox, sink: openEventSink(config, database, eventOutbox, overrides.sqsClient), keys: learnerKeys, metrics, maxBacklog: config.lake.maxBacklog, enabled: config.lake.enabled });
    const progress = new ProgressService({ db: database, children, masteryThreshold: config.masteryThreshold, models, apps, lessons, writeConcurrency, learnerKeys: serverEventKeys });
    children.onErase(async (app, childId) => progress.forgetChild(app, childId));
    embedder = overrides.embedder ?? createEmbedder(config);
    const vectors = createPgvectorStore({ database, timeoutMs: config.statementTimeoutMs });
    curriculumIndex = new CurriculumIndex({ db: database, vectors, embedder, logger });
    // Content written over the admin API (or imported, or seeded) is embedded without a manual
    // step: after the commit, in the background; a failure is logged and reindex repairs it.
    const refreshIndex = curriculumIndex;
    if (overrides.autoIndex !== false) {
      lessons.onContentChange((app) => refreshIndex.schedule(app));
      concepts.onContentChange((app) => refreshIndex.schedule(app));
    }
    const analysis = new AnalysisService({ db: database, children, masteryThreshold: config.masteryThreshold });
    const llm = createLanguageModel(config, overrides.languageModel);
    const generator = new ItemGenerator({ db: database, model: llm.model, offline: llm.offline, metrics: metrics.llm, logger, dailyTokenBudget: config.llm.dailyTokenBudget });
    const oidc = config.oidc ? new OidcVerifier(config.oidc) : undefined;
    const oidcIssuer = config.oidc?.issuer;
    const verifyExternal = async (token: string) => {
      const external = await oidc!.verify(token);
      // Our own id for the provider's subject: external ids never share a namespace with ours.
      const principal = { ...external, sub: `ext_${createHash('sha256').update(`${oidcIssuer}|${external.sub}`).digest('base64url').slice(0, 32)}` };
      // The app must exist before an account row can be written into its schema.
      await apps.require(principal.app);
      await accounts.ensureExternal(principal, `${oidcIssuer!}|${external.sub}`);
      return principal;
    };
    const verifyToken = oidc
      ? (token: string) => (oidc.claims(token) ? verifyExternal(token) : tokens.verify(token))
      : (token: string) => tokens.verify(token);
    const rateLimits = {
      authPerIp: { name: 'auth-ip', points: config.rateLimits.authIpPerMinute, windowSeconds: 60 },
      authHashPerIp: { name: 'auth-hash-ip', points: config.rateLimits.authHashIpPerMinute, windowSeconds: 60 },
      // Password sign-in: attempts since the last success, per (account, client) and per account.
      // A success resets both, so in effect they count failures (see docs/access.md).
      signInPerClient: { name: 'signin-client', points: config.rateLimits.authPerMinute, windowSeconds: 15 * 60 },
      signInPerAccount: { name: 'signin-account', points: config.rateLimits.authPerMinute * 10, windowSeconds: 15 * 60 },
      // A trusted device (token from an earlier sign-in) is counted on its own, like one client, instead of the two above.
      signInPerDevice: { name: 'signin-device', points: config.rateLimits.authPerMinute, windowSeconds: 15 * 60 },
      apiPerToken: { name: 'api-token', points: config.rateLimits.apiPerMinute, windowSeconds: 60 },
    };
    let queue: Promise<JobQueue> | undefined;
    const jobQueue = () => {
      queue ??= openConfiguredJobQueue(config, database, (error) => logger.warn({ err: error }, 'job queue: background error'), overrides.sqsClient);
      queue.catch(() => (queue = undefined));
      return queue;
    };
    const planBuilder = new PlanBuilder({ db: database, models, masteryThreshold: config.masteryThreshold });
    // Through the container object, so a test that replaces `container.jobQueue` (a queue that fails) reaches the service too.
    const plans = new PlansService({
      db: database,
      children,
      models,
      jobQueue: () => container.jobQueue(),
      metrics,
      logger,
      masteryThreshold: config.masteryThreshold,
      learnerKeys: serverEventKeys,
    });
    const lakeStore = overrides.lakeStore ?? openLakeStore(config);
    const lakeStatus = new LakeStatusReader({ database, store: lakeStore });
    const lakeWriters: LakeWriter[] = [];
    const lakeWriter = (o: Partial<LakeWriterOptions> = {}) => {
      const store = o.store ?? lakeStore;
      const writer = new LakeWriter({
        database,
        store,
        lock:
          config.database.kind === 'postgres'
            ? advisoryLock({ url: config.database.url, auth: config.database.auth, key: LAKE_WRITER_LOCK_KEY, timeoutMs: config.database.connectTimeoutMs })
            : processLocalLock(),
        logger,
        metrics: metrics.lakeWriter,
        alerts: new DeadLetterAlerts({ url: config.lake.alertWebhookUrl, timeoutMs: config.lake.timeoutMs, logger, counter: metrics.lakeWriter.deadLetters }),
        flushSeconds: config.lake.flushSeconds,
        flushEvents: config.lake.flushEvents,
        maxAttempts: config.lake.maxAttempts,
        dedupDays: config.lake.dedupDays,
        // The adapter's own timeout fires first; this bound only catches a call that never settles.
        storeTimeoutMs: config.lake.timeoutMs + 1000,
        maintenance: (s) => lakePrivacy.processErasures(s),
        ...o,
      });
      lakeWriters.push(writer);
      return writer;
    };
    const lake = createLakeReports(config, () => lakeStore, createMemoryCache({ maxEntries: REPORT_CACHE_ENTRIES }));
    // A child's export and erasure reach the lake (analytics/lake-privacy.ts); the writer carries erasures out on the files.
    const lakePrivacy = new LakePrivacy({ database, keys: learnerKeys, query: lake.lakeQuery, logger });
    children.onEraseInTransaction((trx, app, childId) => lakePrivacy.eraseInTransaction(trx, app, childId));
    children.addExportSection('analyticsEvents', (app, childId) => lakePrivacy.exportEvents(app, childId));
    let closed: Promise<void> | undefined;
    const container: Container = {
      config,
      logger,
      metrics,
      database,
      cache,
      tokens,
      verifyToken,
      apps,
      concepts,
      lessons,
      content,
      accounts,
      children,
      classrooms,
      progress,
      events,
      eventOutbox,
      learnerKeys,
      analysis,
      plans,
      planBuilder,
      models,
      rateLimiter,
      rateLimits,
      mailer,
      jobQueue,
      languageModel: llm.model,
      generator,
      embedder,
      vectors,
      curriculumIndex,
      lakeStore,
      lakeStatus,
      lakeWriter,
      reports: lake.reports,
      lakeQuery: lake.lakeQuery,
      close() {
        const c = cache!;
        const r = rateLimiter!;
        const m = mailer!;
        const e = embedder!;
        // The queue first (it shares the embedded database's session and must stop before it
        // closes), and background index refreshes (bounded: loading word vectors cannot be
        // interrupted); then the pools close.
        const stopQueue = queue ? queue.then((q) => q.stop({ graceful: false, timeoutMs: 0 }), () => undefined) : Promise.resolve();
        // Lake writers still running (a test that did not stop its own) get no time: a claimed batch is rewritten by the next writer.
        const stopWriters = Promise.all(lakeWriters.map((w) => w.stop(0)));
        closed ??= Promise.all([stopQueue, stopWriters, closeWithin(refreshIndex.close(), INDEX_CLOSE_TIMEOUT_MS)])
          .then(() => Promise.allSettled([database.close(), c.close(), r.close(), m.close(), e.close(), llm.model.close(), lake.close(), lakeStore.close()]))
          .then(() => undefined);
        return closed;
      },
    };
    return container;
  } catch (error) {
    await Promise.allSettled([curriculumIndex?.close(), database.close(), cache?.close(), rateLimiter?.close(), mailer?.close(), embedder?.close()]);
    throw error;
  }
}

/** Entries of the in-process report cache (six reports × a few ranges × the apps; reports can be large, so they stay in the process rather than in Redis). */
const REPORT_CACHE_ENTRIES = 200;

/** The analytics lake's blob store (`config.lake.store`): a directory (default `<dataDir>/lake`) or S3, each call bounded by `LAKE_TIMEOUT_MS`. */
export function openLakeStore(config: Config): BlobStore {
  const store = config.lake.store;
  return createBlobStore(store.kind === 'directory' ? store : { ...store, timeoutMs: config.lake.timeoutMs });
}

/** How long closing waits for a background index refresh to stop; past it the pools close under it (its errors are not logged then). */
const INDEX_CLOSE_TIMEOUT_MS = 3000;

/** Waits for `promise`, at most `ms`; never rejects. */
function closeWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).then(() => clearTimeout(timer));
}

/** Opens the configured database adapter. */
export function openDatabase(config: Config): Promise<Database> {
  return config.database.kind === 'postgres'
    ? openPostgresDatabase(config.database)
    : openPgliteDatabase({ dataDir: config.database.dataDir, acquireTimeoutMs: config.statementTimeoutMs, sharedBuffersMb: config.database.sharedBuffersMb });
}

/**
 * Opens the configured cache adapter. An unreachable Redis does not stop the
 * start: the cache opens disconnected (`/health` says degraded), requests
 * read from the database, and the client reconnects in the background.
 */
export async function openCache(config: Config, logger?: Logger): Promise<Cache> {
  if (config.cache.kind !== 'redis') return createMemoryCache(config.cache);
  // ioredis (with its command table, ~150 KB) is loaded only when Redis is configured.
  const { openRedisCache } = await import('../adapters/cache/redis-cache.ts');
  return openRedisCache({
    ...config.cache,
    onConnectError: (error) => logger?.warn({ err: error }, 'Redis unreachable at start; serving without the cache and reconnecting in the background'),
  });
}

/**
 * The configured job queue (`JOB_QUEUE`): pg-boss on the application's
 * database, or the SQS FIFO queue at `JOBS_QUEUE_URL` with the job records
 * in the database (AWS). Each call bounded by `JOB_QUEUE_TIMEOUT_MS`.
 */
export async function openConfiguredJobQueue(config: Config, database: Database, onError: (error: Error) => void, sqsClient?: SQSClient): Promise<JobQueue> {
  // Both adapters are loaded on first use: most processes never need a queue, and pg-boss (with its
  // cron and date libraries, ~1 MB) is a Lambda cold start's largest avoidable cost.
  const jobs = config.jobs;
  if (jobs.kind === 'sqs') {
    const { openSqsJobQueue } = await import('../adapters/jobs/sqs-queue.ts');
    return openSqsJobQueue({ database, queueUrl: jobs.url, region: jobs.region, timeoutMs: config.engine.queueTimeoutMs, onError, ...(sqsClient ? { client: sqsClient } : {}) });
  }
  const { openJobQueue } = await import('../adapters/jobs/pg-boss-queue.ts');
  return openJobQueue({
    database,
    databaseUrl: config.database.kind === 'postgres' ? config.database.url : undefined,
    databaseAuth: config.database.kind === 'postgres' ? config.database.auth : undefined,
    timeoutMs: config.engine.queueTimeoutMs,
    pollingIntervalSeconds: config.engine.pollSeconds,
    onError,
  });
}

/**
 * Where accepted client events go (`EVENT_QUEUE`): the outbox in the
 * request's transaction, one event pack per request that the lake writer
 * unpacks (`packed`), or the SQS events queue (`EVENTS_QUEUE_URL`) that
 * the events-consumer Lambda drains into the outbox.
 */
export function openEventSink(config: Config, database: Database, outbox: EventOutbox, sqsClient?: SQSClient): EventSink {
  const events = config.events;
  if (events.kind === 'sqs') return createSqsEventSink({ queueUrl: events.url, region: events.region, timeoutMs: events.timeoutMs, ...(sqsClient ? { client: sqsClient } : {}) });
  if (events.kind === 'packed') return createPackedEventSink({ db: database });
  return createDatabaseEventSink({ db: database, outbox });
}

/** The configured mailer (`MAIL_TRANSPORT`): SMTP, Amazon SES, or the file outbox under the data dir. */
export function openMailer(config: Config, sesClient?: SESv2Client): Mailer {
  const mail = config.mail;
  switch (mail.kind) {
    case 'smtp':
      return createSmtpMailer({ url: mail.url, from: mail.from, timeoutMs: mail.timeoutMs });
    case 'ses':
      return createSesMailer({ from: mail.from, region: mail.region, timeoutMs: mail.timeoutMs, ...(sesClient ? { client: sesClient } : {}) });
    case 'outbox':
      return createOutboxMailer({ dir: mail.dir, from: mail.from });
  }
}

/** How often, at most, a Redis outage of the rate limiter is logged (it fails on every request). */
const RATE_LIMITER_WARNING_INTERVAL_MS = 10_000;

/**
 * Opens the configured rate-limit store: Redis when configured (shared by
 * every process), in-process otherwise. While Redis is unavailable the Redis
 * limiter counts in this process instead (never fails open).
 */
export async function openRateLimiter(config: Config, logger: Logger): Promise<RateLimiter> {
  if (config.cache.kind !== 'redis') return createMemoryRateLimiter();
  // rate-limiter-flexible and ioredis are loaded only when Redis is configured.
  const { openRedisRateLimiter } = await import('../adapters/rate-limit/redis-rate-limiter.ts');
  const warn = throttledLog(RATE_LIMITER_WARNING_INTERVAL_MS, (suppressed, error: unknown, during: string) =>
    logger.warn({ err: error, during, suppressed }, 'rate limiter: Redis unavailable; counting in this process until it is back'),
  );
  return openRedisRateLimiter({
    url: config.cache.url,
    keyPrefix: config.cache.keyPrefix,
    timeoutMs: config.cache.timeoutMs,
    onError: (error, during) => warn(error, during),
  });
}
