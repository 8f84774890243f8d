import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { BlobInfo, BlobStore } from '../../src/adapters/blobs/blob-store.ts';
import { blobStoreUnavailable } from '../../src/domain/errors.ts';

/**
 * An in-memory blob store for tests, with switchable faults: `failNextPuts(n)`,
 * `failAll(true)` (every call but `close`, like a store that is down),
 * `failKeys(predicate)` (puts of matching keys fail: a poisoned batch), and
 * `hang(true)` (calls never settle, like a stalled network). Failures are
 * `blob_store_unavailable`, as the real adapters raise. `puts` counts puts per
 * key, so tests can assert a key was written exactly once.
 */
export class MemoryBlobStore implements BlobStore {
  readonly kind = 'directory' as const;
  readonly location = 'memory';
  readonly objects = new Map<string, { bytes: Uint8Array; modifiedAt: Date }>();
  readonly puts = new Map<string, number>();
  #failPuts = 0;
  #failAll = false;
  #hang = false;
  #failKey: ((key: string) => boolean) | undefined;
  /** Called after each successful put (e.g. to simulate a crash right after it). */
  afterPut: ((key: string) => Promise<void> | void) | undefined;

  failNextPuts(n: number): void {
    this.#failPuts = n;
  }
  failAll(on: boolean): void {
    this.#failAll = on;
  }
  failKeys(predicate: ((key: string) => boolean) | undefined): void {
    this.#failKey = predicate;
  }
  hang(on: boolean): void {
    this.#hang = on;
  }

  async #check(what: string, key?: string): Promise<void> {
    if (this.#hang) await new Promise(() => {});
    if (this.#failAll) throw blobStoreUnavailable(`memory store: ${what} failed (down)`);
    if (what === 'put' && key !== undefined) {
      if (this.#failPuts > 0) {
        this.#failPuts--;
        throw blobStoreUnavailable('memory store: put failed (injected)');
      }
      if (this.#failKey?.(key)) throw blobStoreUnavailable(`memory store: put of ${key} failed (poisoned)`);
    }
  }

  async putFile(key: string, file: string): Promise<void> {
    await this.#check('put', key);
    await this.#store(key, new Uint8Array(await fs.readFile(file)));
  }
  async putBytes(key: string, bytes: Uint8Array): Promise<void> {
    await this.#check('put', key);
    await this.#store(key, new Uint8Array(bytes));
  }
  async #store(key: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(key, { bytes, modifiedAt: new Date() });
    this.puts.set(key, (this.puts.get(key) ?? 0) + 1);
    await this.afterPut?.(key);
  }
  async getFile(key: string, file: string): Promise<void> {
    await this.#check('get');
    const o = this.objects.get(key);
    if (!o) throw blobStoreUnavailable(`memory store: no object ${key}`);
    await fs.writeFile(file, o.bytes);
  }
  async getBytes(key: string): Promise<Uint8Array | undefined> {
    await this.#check('get');
    return this.objects.get(key)?.bytes;
  }
  async exists(key: string): Promise<boolean> {
    await this.#check('exists');
    return this.objects.has(key);
  }
  async list(prefix: string): Promise<BlobInfo[]> {
    await this.#check('list');
    return [...this.objects]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, o]) => ({ key, size: o.bytes.byteLength, modifiedAt: o.modifiedAt, etag: createHash('md5').update(o.bytes).digest('hex') }));
  }
  async delete(keys: readonly string[]): Promise<void> {
    await this.#check('delete');
    for (const k of keys) this.objects.delete(k);
  }
  async ping(): Promise<void> {
    await this.#check('ping');
  }
  async close(): Promise<void> {}
}
