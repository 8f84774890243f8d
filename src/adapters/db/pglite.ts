import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteAdapter, PGliteDialect, sql } from 'kysely';
import type { DatabaseConnection, DialectAdapter, Driver, TransactionSettings } from 'kysely';
import { databaseUnavailable, withTimeout, type Database } from './database.ts';
import type { Tables } from './tables.ts';

/**
 * Embedded PostgreSQL (PGlite, WASM) in the data dir. PGlite has exactly one
 * connection and Kysely's PGlite driver does not serialise its use, so a query
 * issued while another request's transaction is open would run inside that
 * transaction. We wrap the driver with a FIFO lock held from acquire to
 * release; waiting for it is bounded by `acquireTimeoutMs`, which is how
 * "every call has a timeout" is kept here (a running WASM statement itself
 * cannot be interrupted).
 */
export async function openPgliteDatabase(options: {
  dataDir: string | null;
  acquireTimeoutMs: number;
  sharedBuffersMb?: number;
  /**
   * Load the pgvector extension (default true: the curriculum's vector
   * search needs it). Only tests turn it off, to see what a database
   * without pgvector does.
   */
  pgvector?: boolean;
}): Promise<Database> {
  let unlock = () => {};
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    unlock = lockDataDir(options.dataDir);
  }
  let pglite: PGlite;
  try {
    // Loaded here, not at the top: PGlite (WASM) is for one long-lived process, and the Lambda
    // bundle (scripts/build-lambda.ts), which always runs on PostgreSQL, leaves it out.
    const [{ PGlite }, { vector }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-pgvector')]);
    // PostgreSQL's 128 MB shared_buffers default lives in WASM memory and
    // becomes resident as it is touched; the embedded default is one small
    // deployment's database, so a smaller pool keeps RSS well under 500 MB.
    pglite = await PGlite.create(options.dataDir ?? 'memory://', {
      postgresqlconf: [`shared_buffers=${options.sharedBuffersMb ?? 32}MB`, 'work_mem=2MB', 'temp_buffers=1MB', 'maintenance_work_mem=16MB'],
      // Only for initdb on a fresh data dir (its bootstrap instance sizes
      // shared memory from these): ~40 MB less first-start peak, measured.
      // The conf above replaces them for every run after.
      initDbStartParams: ['-c', 'shared_buffers=1MB', '-c', 'max_connections=5'],
      // pgvector (0.8.7 in @electric-sql/pglite-pgvector 0.0.15): its files are
      // unpacked into PGlite's file system here; `create extension vector`
      // (migrations) then works as on a server.
      ...(options.pgvector === false ? {} : { extensions: { vector } }),
    });
  } catch (error) {
    unlock();
    throw error;
  }
  const lock = new FifoLock();
  const dialect = new SerialPGliteDialect(pglite, lock, options.acquireTimeoutMs);
  const db = new Kysely<Tables>({ dialect });
  return {
    kind: 'pglite',
    db,
    async ping(timeoutMs) {
      await withTimeout(sql`select 1`.execute(db), timeoutMs, () => databaseUnavailable('Database did not answer in time'));
    },
    poolStats: () => ({ total: 1, idle: lock.held ? 0 : 1, waiting: lock.waiting }),
    embedded: {
      async run(fn) {
        await lock.acquire(options.acquireTimeoutMs);
        try {
          return await fn(pglite);
        } finally {
          lock.release();
        }
      },
    },
    async close() {
      try {
        await db.destroy();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * PGlite must never be opened by two processes at once (it would corrupt the
 * data dir). A lock file holding the owner's pid enforces that; a lock left
 * by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  const file = path.join(dir, '.kidslearn.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new Error(
          `The embedded database in ${dir} is in use by process ${pid}. Stop that process first, ` +
            'or run kidslearn against a PostgreSQL server (DATABASE_URL) to share one database between processes.',
          { cause: error },
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`Could not lock ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class SerialPGliteDialect extends PGliteDialect {
  readonly #lock: FifoLock;
  readonly #timeoutMs: number;
  constructor(pglite: PGlite, lock: FifoLock, timeoutMs: number) {
    super({ pglite: pglite as never });
    this.#lock = lock;
    this.#timeoutMs = timeoutMs;
  }
  override createDriver(): Driver {
    return new SerialDriver(super.createDriver(), this.#lock, this.#timeoutMs);
  }
  override createAdapter(): DialectAdapter {
    return new SerialPGliteAdapter();
  }
}

/**
 * Kysely serialises a single-connection dialect with a mutex of its own,
 * taken before the driver's `acquireConnection` and waited for without any
 * bound: with it, a request queued behind a long transaction waited forever
 * and our timed lock was never reached. Declaring "multiple connections"
 * removes that mutex; {@link SerialDriver}'s lock serialises exactly as
 * strictly (from acquire to release), but gives up after the timeout.
 */
class SerialPGliteAdapter extends PGliteAdapter {
  override get supportsMultipleConnections(): boolean {
    return true;
  }
}

class SerialDriver implements Driver {
  readonly #inner: Driver;
  readonly #lock: FifoLock;
  readonly #timeoutMs: number;
  constructor(inner: Driver, lock: FifoLock, timeoutMs: number) {
    this.#inner = inner;
    this.#lock = lock;
    this.#timeoutMs = timeoutMs;
  }
  init() {
    return this.#inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#lock.acquire(this.#timeoutMs);
    return this.#inner.acquireConnection();
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    try {
      await this.#inner.releaseConnection(connection);
    } finally {
      this.#lock.release();
    }
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    return this.#inner.beginTransaction(connection, settings);
  }
  commitTransaction(connection: DatabaseConnection) {
    return this.#inner.commitTransaction(connection);
  }
  rollbackTransaction(connection: DatabaseConnection) {
    return this.#inner.rollbackTransaction(connection);
  }
  savepoint: Driver['savepoint'] = (...args) => this.#inner.savepoint!(...args);
  rollbackToSavepoint: Driver['rollbackToSavepoint'] = (...args) => this.#inner.rollbackToSavepoint!(...args);
  releaseSavepoint: Driver['releaseSavepoint'] = (...args) => this.#inner.releaseSavepoint!(...args);
  destroy() {
    return this.#inner.destroy();
  }
}

/** A FIFO mutex whose waiters give up after a timeout. */
class FifoLock {
  held = false;
  #queue: Array<() => void> = [];
  get waiting(): number {
    return this.#queue.length;
  }
  acquire(timeoutMs: number): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.#queue.indexOf(grant);
        if (i >= 0) this.#queue.splice(i, 1);
        // The same answer as a stalled server database: clients handle one code.
        reject(databaseUnavailable('Database is busy; try again'));
      }, timeoutMs);
      this.#queue.push(grant);
    });
  }
  release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.held = false;
  }
}
