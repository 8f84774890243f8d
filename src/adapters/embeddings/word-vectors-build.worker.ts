import { parentPort, workerData } from 'node:worker_threads';
import { buildCacheFile } from './word-vectors.ts';

/**
 * Builds the local embedder's word-vector cache file off the main thread
 * (see `loadOrBuild` in word-vectors.ts) and reports whether it was written.
 */
const { cacheDir } = workerData as { cacheDir: string };
const { written } = await buildCacheFile(cacheDir);
parentPort!.postMessage(written);
