import type { Cache } from '../adapters/cache/cache.ts';
import { createMemoryCache } from '../adapters/cache/memory-cache.ts';
import { openRedisCache } from '../adapters/cache/redis-cache.ts';
import type { Database } from '../adapters/db/database.ts';
import { migrateAll } from '../adapters/db/migrations.ts';
import { openPgliteDatabase } from '../adapters/db/pglite.ts';
import { openPostgresDatabase } from '../adapters/db/postgres.ts';
import type { Config } from '../config/config.ts';
import { AppsService } from '../features/apps/apps.service.ts';
import { loadSigningKey, type SigningKey } from '../features/auth/signing-keys.ts';
import { TokenService } from '../features/auth/tokens.ts';
import { LessonsService } from '../features/lessons/lessons.service.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';

/** Everything the HTTP app, the CLI and later the workers are built from. */
export interface Container {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  database: Database;
  cache: Cache;
  tokens: TokenService;
  apps: AppsService;
  lessons: LessonsService;
  /** Closes pools and connections (idempotent). */
  close(): Promise<void>;
}

/** Overrides for tests: an already-open database, a logger writing elsewhere, a fixed key. */
export interface ContainerOverrides {
  database?: Database;
  cache?: Cache;
  logger?: Logger;
  signingKey?: SigningKey;
  /** Skip migrations (the caller ran them). */
  skipMigrations?: boolean;
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
  try {
    if (!overrides.skipMigrations) {
      const applied = await migrateAll(database.db);
      if (applied) logger.info({ applied, database: database.kind }, 'migrations applied');
    }
    cache = overrides.cache ?? (await openCache(config));
    const signingKey = overrides.signingKey ?? (await loadSigningKey({ dataDir: config.dataDir, privateKeyJwk: config.jwt.privateKeyJwk }));
    const metrics = createMetrics(() => database.poolStats());
    const tokens = new TokenService([signingKey], config.jwt.issuer);
    const apps = new AppsService(database);
    const lessons = new LessonsService({ db: database, cache, logger, metrics });
    let closed: Promise<void> | undefined;
    return {
      config,
      logger,
      metrics,
      database,
      cache,
      tokens,
      apps,
      lessons,
      close() {
        const c = cache!;
        closed ??= Promise.allSettled([database.close(), c.close()]).then(() => undefined);
        return closed;
      },
    };
  } catch (error) {
    await Promise.allSettled([database.close(), cache?.close()]);
    throw error;
  }
}

/** Opens the configured database adapter. */
export function openDatabase(config: Config): Promise<Database> {
  return config.database.kind === 'postgres'
    ? openPostgresDatabase(config.database)
    : openPgliteDatabase({ dataDir: config.database.dataDir, acquireTimeoutMs: config.statementTimeoutMs, sharedBuffersMb: config.database.sharedBuffersMb });
}

/** Opens the configured cache adapter. */
export function openCache(config: Config): Promise<Cache> {
  return config.cache.kind === 'redis' ? openRedisCache(config.cache) : Promise.resolve(createMemoryCache(config.cache));
}
