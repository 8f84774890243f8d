import type { JWK } from 'jose';
import { importVerificationKey, type VerificationKey } from './signing-keys.ts';

/**
 * Re-reading the token verification keys while a process runs: on AWS the
 * signing key secret rotates (infra rotate.mjs), and a process that started
 * before a rotation meets tokens signed with a key it has never seen. The
 * verifier (tokens.ts) then asks a {@link KeyRefresher} for the keys again,
 * at most once per interval, and retries. Wired only where the key lives in
 * a secret (wiring/jwt-keys.ts); the data-dir key of one machine never
 * changes under a running process.
 */

/** Port: where the public verification keys can be read again (adapters/aws/secrets.ts: the secret's AWSCURRENT and AWSPREVIOUS). */
export interface PublicKeySource {
  /** The public JWKs valid now; rejects when they cannot be read. Stops when `signal` aborts. */
  read(signal: AbortSignal): Promise<JWK[]>;
}

/** One refresh, for the log: the kids read, or why it failed. Never a key. */
export interface KeyRefreshOutcome {
  ok: boolean;
  kids?: string[];
  error?: string;
}

/** Options of {@link KeyRefresher}. */
export interface KeyRefresherOptions {
  /** Least time between two reads (default 60 s): a flood of tokens with made-up kids costs one read per interval. */
  minIntervalMs?: number;
  /** Bound of one read (default 3 s); past it the refresh fails and the keys stay as they were. */
  timeoutMs?: number;
  /** The clock (tests). */
  now?: () => number;
  onRefresh?: (outcome: KeyRefreshOutcome) => void;
}

/** Default least time between two reads of the key source. */
export const KEY_REFRESH_INTERVAL_MS = 60_000;

/**
 * Reads a {@link PublicKeySource} again on demand, rate-limited: a read
 * starts only when none started in the last `minIntervalMs`; callers that
 * arrive during a read share it. A failed or timed-out read yields
 * `undefined` (the caller keeps the keys it has).
 */
export class KeyRefresher {
  readonly #source: PublicKeySource;
  readonly #minIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #onRefresh: (outcome: KeyRefreshOutcome) => void;
  #lastStart = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<VerificationKey[] | undefined> | undefined;

  constructor(source: PublicKeySource, options: KeyRefresherOptions = {}) {
    this.#source = source;
    this.#minIntervalMs = options.minIntervalMs ?? KEY_REFRESH_INTERVAL_MS;
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#now = options.now ?? Date.now;
    this.#onRefresh = options.onRefresh ?? (() => {});
  }

  /**
   * The keys read now, or `undefined` when a read started less than the
   * interval ago (and has finished), failed or timed out.
   */
  refresh(): Promise<VerificationKey[] | undefined> {
    if (this.#inFlight) return this.#inFlight;
    if (this.#now() - this.#lastStart < this.#minIntervalMs) return Promise.resolve(undefined);
    this.#lastStart = this.#now();
    this.#inFlight = this.#read().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #read(): Promise<VerificationKey[] | undefined> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no answer within ${this.#timeoutMs} ms`));
        controller.abort();
      }, this.#timeoutMs);
    });
    try {
      const jwks = await Promise.race([this.#source.read(controller.signal), timeout]);
      const keys: VerificationKey[] = [];
      for (const jwk of jwks) keys.push(await importVerificationKey(jwk, 'a key read from the key source'));
      this.#onRefresh({ ok: true, kids: keys.map((k) => k.kid) });
      return keys;
    } catch (error) {
      this.#onRefresh({ ok: false, error: error instanceof Error ? error.message : String(error) });
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
