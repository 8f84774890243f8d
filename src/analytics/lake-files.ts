import type { BlobInfo, BlobStore } from '../adapters/blobs/blob-store.ts';
import { LAKE_EVENTS_PREFIX, parseEventObjectKey } from './lake-layout.ts';

/**
 * Which event files a query reads: the lake's listing, narrowed to the
 * partitions asked for and with the compaction manifests applied, so every
 * event is counted once whatever step a compaction is at.
 */

/** What to list: one app (or all) and an inclusive range of UTC days (`YYYY-MM-DD`; open ends allowed). */
export interface LakeFileScope {
  app?: string;
  fromDay?: string;
  toDay?: string;
}

/** A compaction manifest: `<partition>/_compaction-<minFirst>-<maxLast>.json`. */
const MANIFEST = /^(events\/app=[^/]+\/year=\d{4}\/month=\d{2}\/day=\d{2}\/)_compaction-(\d{20})-(\d{20})\.json$/;

/** Beyond this many months the listing takes the app's whole folder instead of one request per month. */
const MAX_MONTH_PREFIXES = 36;

/** How often the listing is retried when a manifest vanishes between the listing and its read (the compaction finished meanwhile). */
const LISTING_ATTEMPTS = 3;

/**
 * The live event files of `scope`, sorted by key. Lists only the months in
 * range (`events/app=<a>/year=YYYY/month=MM/`) when the app and both ends
 * are given, then keeps the days in range. For every compaction manifest
 * whose target file exists, the manifest's sources are left out (the target
 * holds their events); a manifest whose target is not there yet changes
 * nothing (the sources are still the truth).
 */
export async function liveEventFiles(store: BlobStore, scope: LakeFileScope = {}): Promise<BlobInfo[]> {
  for (let attempt = 1; ; attempt++) {
    const listed = await listScope(store, scope);
    const result = await applyManifests(store, listed);
    if (result !== 'retry') return result;
    if (attempt >= LISTING_ATTEMPTS) throw new Error('The lake kept changing under the listing (compaction manifests vanished); try again');
  }
}

/** The listing prefixes for a scope (pure). */
export function listingPrefixes(scope: LakeFileScope): string[] {
  if (!scope.app) return [LAKE_EVENTS_PREFIX];
  const appPrefix = `${LAKE_EVENTS_PREFIX}app=${scope.app}/`;
  if (!scope.fromDay || !scope.toDay) return [appPrefix];
  const months = monthsBetween(scope.fromDay, scope.toDay);
  if (months.length > MAX_MONTH_PREFIXES) return [appPrefix];
  return months.map(([y, m]) => `${appPrefix}year=${y}/month=${m}/`);
}

/** The (year, month) pairs from `from`'s month to `to`'s, zero-padded (pure). */
export function monthsBetween(from: string, to: string): [string, string][] {
  const out: [string, string][] = [];
  let y = Number(from.slice(0, 4));
  let m = Number(from.slice(5, 7));
  const endY = Number(to.slice(0, 4));
  const endM = Number(to.slice(5, 7));
  while (y < endY || (y === endY && m <= endM)) {
    out.push([String(y).padStart(4, '0'), String(m).padStart(2, '0')]);
    if (++m > 12) {
      m = 1;
      y++;
    }
  }
  return out;
}

interface Listed {
  files: BlobInfo[];
  manifests: { key: string; partition: string; minFirst: bigint; maxLast: bigint }[];
  keys: Set<string>;
}

async function listScope(store: BlobStore, scope: LakeFileScope): Promise<Listed> {
  const lists = await Promise.all(listingPrefixes(scope).map((p) => store.list(p)));
  const files: BlobInfo[] = [];
  const manifests: Listed['manifests'] = [];
  const keys = new Set<string>();
  const inScope = (app: string, day: string) =>
    (!scope.app || app === scope.app) && (!scope.fromDay || day >= scope.fromDay) && (!scope.toDay || day <= scope.toDay);
  for (const blob of lists.flat()) {
    const parsed = parseEventObjectKey(blob.key);
    if (parsed) {
      if (!inScope(parsed.app, parsed.day)) continue;
      files.push(blob);
      keys.add(blob.key);
      continue;
    }
    const m = MANIFEST.exec(blob.key);
    if (m) manifests.push({ key: blob.key, partition: m[1]!, minFirst: BigInt(m[2]!), maxLast: BigInt(m[3]!) });
  }
  return { files, manifests, keys };
}

/** The manifest's sources, or — when it cannot be read as one — every plain file of its partition inside its sequence range. */
async function applyManifests(store: BlobStore, listed: Listed): Promise<BlobInfo[] | 'retry'> {
  const hidden = new Set<string>();
  for (const manifest of listed.manifests) {
    const target = `${manifest.partition}${manifest.minFirst.toString().padStart(20, '0')}-${manifest.maxLast.toString().padStart(20, '0')}.c.parquet`;
    const bytes = await store.getBytes(manifest.key);
    if (bytes === undefined) return 'retry';
    const parsed = parseManifest(bytes);
    const targetKey = parsed?.target ?? target;
    if (!listed.keys.has(targetKey)) continue;
    const sources = parsed?.sources ?? coveredFiles(listed.files, manifest.partition, manifest.minFirst, manifest.maxLast, targetKey);
    for (const s of sources) if (s !== targetKey) hidden.add(s);
  }
  return listed.files.filter((f) => !hidden.has(f.key)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** `{"target": "...", "sources": ["...", ...]}`, or undefined when the bytes are not that. */
export function parseManifest(bytes: Uint8Array): { target: string; sources: string[] } | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const { target, sources } = value as { target?: unknown; sources?: unknown };
    if (typeof target !== 'string' || !Array.isArray(sources) || !sources.every((s) => typeof s === 'string')) return undefined;
    return { target, sources: sources as string[] };
  } catch {
    return undefined;
  }
}

function coveredFiles(files: readonly BlobInfo[], partition: string, minFirst: bigint, maxLast: bigint, target: string): string[] {
  return files
    .filter((f) => f.key.startsWith(partition) && f.key !== target)
    .filter((f) => {
      const p = parseEventObjectKey(f.key)!;
      return p.firstSeq >= minFirst && p.lastSeq <= maxLast;
    })
    .map((f) => f.key);
}
