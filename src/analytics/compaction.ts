import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BlobStore } from '../adapters/blobs/blob-store.ts';
import type { Logger } from '../observability/logger.ts';
import { liveEventFiles, parseManifest } from './lake-files.ts';
import { eventObjectKey, LAKE_EVENTS_PREFIX, parseEventObjectKey, partitionPrefix } from './lake-layout.ts';
import type { ParquetEncoder } from './parquet-writer.ts';

/**
 * Compaction: a partition's (app, day) files merged into one
 * `<minFirst>-<maxLast>.c.parquet`, crash-safe by a manifest
 * (docs/operations.md, "The lake writer"):
 *   1. put `<partition>/_compaction-<minFirst>-<maxLast>.json` = {target, sources}
 *   2. put the target   3. delete the sources   4. delete the manifest.
 * A reader that lists a partition ignores the sources of every manifest whose
 * target exists, so each event is read once at every step. A crash leaves a
 * manifest: with its target stored, steps 3–4 are finished at the writer's
 * next start; without, the manifest is discarded (the sources are intact).
 */

const MANIFEST = /(^|\/)_compaction-(\d{20})-(\d{20})\.json$/;

/** A compaction manifest's content. */
export interface CompactionManifest {
  target: string;
  sources: string[];
}

/** A manifest left by a compaction still running is not discarded before this age. */
export const MANIFEST_GRACE_MS = 10 * 60_000;

export const isManifestKey = (key: string) => MANIFEST.test(key);

async function readManifest(store: BlobStore, key: string): Promise<CompactionManifest | undefined> {
  const bytes = await store.getBytes(key);
  return bytes ? parseManifest(bytes) : undefined;
}

/** What one partition's compaction did. */
export interface CompactionResult {
  app: string;
  day: string;
  target: string;
  sources: number;
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * Compacts one partition if it has two or more live files. Files whose
 * sequence range meets a claimed (unfinished) batch are left out: the writer
 * may still rewrite them. `crashAfterStep` (tests) stops after that step as
 * a crash would.
 */
export async function compactPartition(
  store: BlobStore,
  encoder: ParquetEncoder,
  options: {
    app: string;
    day: string;
    claimed: readonly { firstSeq: bigint; lastSeq: bigint }[];
    /** Learner keys of erased children (read just before the merge): never carried into the compacted file, even if a source was read before its erasure was carried out. */
    erasedLearners?: () => Promise<readonly string[]>;
    crashAfterStep?: 1 | 2 | 3;
  },
): Promise<CompactionResult | undefined> {
  const prefix = partitionPrefix(options.app, options.day);
  const live = await liveEventFiles(store, { app: options.app, fromDay: options.day, toDay: options.day });
  const sources = live.filter((b) => {
    const k = parseEventObjectKey(b.key)!;
    return !options.claimed.some((c) => k.firstSeq <= c.lastSeq && c.firstSeq <= k.lastSeq);
  });
  if (sources.length < 2) return undefined;
  const parsed = sources.map((b) => parseEventObjectKey(b.key)!);
  const minFirst = parsed.reduce((m, k) => (k.firstSeq < m ? k.firstSeq : m), parsed[0]!.firstSeq);
  const maxLast = parsed.reduce((m, k) => (k.lastSeq > m ? k.lastSeq : m), parsed[0]!.lastSeq);
  const plain = eventObjectKey(options.app, options.day, minFirst, maxLast);
  const target = plain.replace(/\.parquet$/, '.c.parquet');
  // A file already named like the target (an earlier compaction of the same range) cannot be both.
  if (sources.some((b) => b.key === target)) return undefined;
  const manifestKey = `${prefix}_compaction-${plain.slice(prefix.length, -'.parquet'.length)}.json`;
  const dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-compact-'));
  try {
    const inputs: string[] = [];
    for (const b of sources) {
      const file = path.join(dir, `${randomBytes(6).toString('hex')}.parquet`);
      await store.getFile(b.key, file);
      inputs.push(file);
    }
    const merged = path.join(dir, 'merged.parquet');
    await encoder.merge(inputs, merged, (await options.erasedLearners?.()) ?? []);
    const manifest: CompactionManifest = { target, sources: sources.map((b) => b.key) };
    await store.putBytes(manifestKey, new TextEncoder().encode(JSON.stringify(manifest)));
    if (options.crashAfterStep === 1) return undefined;
    await store.putFile(target, merged);
    if (options.crashAfterStep === 2) return undefined;
    await store.delete(manifest.sources);
    if (options.crashAfterStep === 3) return undefined;
    await store.delete([manifestKey]);
    const after = (await store.list(target)).find((b) => b.key === target)?.size ?? 0;
    return { app: options.app, day: options.day, target, sources: sources.length, bytesBefore: sources.reduce((s, b) => s + b.size, 0), bytesAfter: after };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The (app, day) partitions with event files under `prefix` (default: the whole lake). */
export async function partitionsUnder(store: BlobStore, prefix: string = LAKE_EVENTS_PREFIX): Promise<{ app: string; day: string }[]> {
  const seen = new Map<string, { app: string; day: string }>();
  for (const b of await store.list(prefix)) {
    const k = parseEventObjectKey(b.key);
    if (k) seen.set(`${k.app}/${k.day}`, { app: k.app, day: k.day });
  }
  return [...seen.values()];
}

/**
 * At the writer's start: finishes every leftover manifest whose target is
 * stored (deletes its sources, then the manifest) and discards the ones
 * without a target once older than {@link MANIFEST_GRACE_MS} (their sources
 * were never touched). Failures are logged; the next start tries again.
 */
export async function recoverCompactions(store: BlobStore, logger: Logger, now: () => number = Date.now): Promise<{ finished: number; discarded: number; complete: boolean }> {
  const out = { finished: 0, discarded: 0, complete: false };
  try {
    for (const b of await store.list(LAKE_EVENTS_PREFIX)) {
      if (!isManifestKey(b.key)) continue;
      const m = await readManifest(store, b.key);
      if (m && (await store.exists(m.target))) {
        await store.delete(m.sources.filter((s) => s !== m.target));
        await store.delete([b.key]);
        out.finished++;
      } else if (!m || now() - b.modifiedAt.getTime() > MANIFEST_GRACE_MS) {
        await store.delete([b.key]);
        out.discarded++;
      }
    }
    out.complete = true;
    if (out.finished || out.discarded) logger.info(out, 'lake writer: leftover compactions finished or discarded');
  } catch (error) {
    logger.warn({ err: error }, 'lake writer: could not check leftover compactions; will try again');
  }
  return out;
}
