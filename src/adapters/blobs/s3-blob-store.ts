import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AppError } from '../../domain/errors.ts';
import { abortableSleep } from '../abortable-sleep.ts';
import { replaceFile } from './atomic-file.ts';
import { assertBlobKey, assertBlobPrefix, blobNotFound, blobStoreUnavailable, type BlobInfo, type BlobStore } from './blob-store.ts';
import { instrumentAwsClient } from '../../observability/aws-clients.ts';

/** Options of the S3 blob store. */
export interface S3BlobStoreOptions {
  bucket: string;
  /** Prepended to every key; '' for the bucket's root. A missing trailing `/` is added. */
  prefix: string;
  region: string;
  /** Another S3-compatible endpoint (tests: s3rver); AWS's by default. */
  endpoint?: string | undefined;
  /** Path-style URLs (`endpoint/bucket/key`); on by default with a custom endpoint. */
  forcePathStyle?: boolean | undefined;
  /** Static credentials; the SDK's default chain (role, env, profile) otherwise. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** Longest wait for one call, its retries included (a list or a delete of many keys is several calls). */
  timeoutMs: number;
  /** Attempts per call on network errors, throttling and 5xx (default 3). */
  maxAttempts?: number;
  /** Keys per ListObjectsV2 page (default and S3's maximum: 1000); tests page with less. */
  listPageSize?: number;
  /** A client you pass in (tests pass one mocked with aws-sdk-client-mock); then `region`, `endpoint`, `credentials` are not used and `close` leaves it open. */
  client?: S3Client;
}

/** Keys per DeleteObjects request: S3's maximum. */
const DELETE_CHUNK = 1000;

/** Keeps the SDK from writing to the console (it warns when a streamed upload fails); our errors carry the cause. */
const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * The `s3` blob store: key `k` is object `<prefix>k` in the bucket. Every
 * call is bounded by `timeoutMs` (an AbortSignal cancels the request, its
 * retries and its backoff) and retried by the SDK up to `maxAttempts`.
 * PutObject is atomic on S3; uploads stream the file and send its SHA-256
 * in a header, which S3 checks. Given that checksum, the SDK adds none of
 * its own: its default, a CRC in an aws-chunked trailer, would be stored as
 * part of the body by S3-compatible servers such as s3rver.
 */
export function createS3BlobStore(options: S3BlobStoreOptions): BlobStore {
  const { bucket, timeoutMs } = options;
  const prefix = options.prefix === '' || options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
  if (prefix !== '') assertBlobPrefix(prefix);
  const maxAttempts = options.maxAttempts ?? 3;
  const pageSize = options.listPageSize ?? 1000;
  const client =
    options.client ??
    instrumentAwsClient(
      new S3Client({
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
        ...(options.credentials ? { credentials: options.credentials } : {}),
        maxAttempts,
        requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true },
        logger: quietLogger,
      }),
    );
  const ownsClient = !options.client;
  const location = `s3://${bucket}/${prefix}`;

  /**
   * Runs one S3 call with a deadline of `ms`: on expiry the signal aborts
   * the request (and any retry or backoff) and the call rejects at once.
   * Every failure but an AppError becomes `blob_store_unavailable`.
   */
  const call = async <T>(what: string, run: (signal: AbortSignal) => Promise<T>, ms = timeoutMs): Promise<T> => {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = blobStoreUnavailable(`Blob store ${location}: ${what} got no answer within ${ms} ms`);
        controller.abort(error);
        reject(error);
      }, ms);
    });
    try {
      return await Promise.race([run(controller.signal), timedOut]);
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw blobStoreUnavailable(`Blob store ${location}: ${what} failed (${describe(error)})`, error);
    } finally {
      clearTimeout(timer);
    }
  };

  const send = (key: string, body: Uint8Array | Readable, size: number, sha256: string, signal: AbortSignal) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + key, Body: body, ContentLength: size, ChecksumSHA256: sha256 }), { abortSignal: signal });

  /** Uploads a file; the SDK does not retry a streamed body (it cannot rewind it), so this retries with a fresh stream. */
  const putStream = async (key: string, file: string, size: number, sha256: string, signal: AbortSignal) => {
    for (let attempt = 1; ; attempt++) {
      const stream = createReadStream(file);
      try {
        await send(key, stream, size, sha256, signal);
        return;
      } catch (error) {
        if (attempt >= maxAttempts || !isRetryable(error)) throw error;
        await abortableSleep(100 * 2 ** (attempt - 1), signal);
      } finally {
        stream.destroy();
      }
    }
  };

  /** GetObject, or undefined when there is no such object. */
  const getObject = async (key: string, signal: AbortSignal) => {
    try {
      return await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }), { abortSignal: signal });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  const listPage = (keyPrefix: string, token: string | undefined, max: number, ms = timeoutMs) =>
    call('ListObjectsV2', (signal) => client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, MaxKeys: max, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: signal }), ms);

  return {
    kind: 's3',
    location,

    async putFile(key, file) {
      assertBlobKey(key);
      const { size } = await stat(file); // a missing source is the caller's error, not the store's
      const hash = createHash('sha256');
      await pipeline(createReadStream(file), hash);
      const sha256 = hash.digest('base64');
      await call(`PutObject ${key}`, (signal) => putStream(key, file, size, sha256, signal));
    },

    async putBytes(key, bytes) {
      assertBlobKey(key);
      const sha256 = createHash('sha256').update(bytes).digest('base64');
      await call(`PutObject ${key}`, (signal) => send(key, bytes, bytes.byteLength, sha256, signal));
    },

    async getFile(key, file) {
      assertBlobKey(key);
      const found = await call(`GetObject ${key}`, async (signal) => {
        const object = await getObject(key, signal);
        if (!object) return false;
        await replaceFile(resolve(file), (temp) => pipeline(object.Body as Readable, createWriteStream(temp), { signal }), { durable: false });
        return true;
      });
      if (!found) throw blobNotFound(key);
    },

    async getBytes(key) {
      assertBlobKey(key);
      return call(`GetObject ${key}`, async (signal) => {
        const object = await getObject(key, signal);
        return object && (await object.Body!.transformToByteArray());
      });
    },

    async exists(key) {
      assertBlobKey(key);
      return call(`HeadObject ${key}`, async (signal) => {
        try {
          await client.send(new HeadObjectCommand({ Bucket: bucket, Key: prefix + key }), { abortSignal: signal });
          return true;
        } catch (error) {
          if (isNotFound(error)) return false;
          throw error;
        }
      });
    },

    async list(keyPrefix) {
      assertBlobPrefix(keyPrefix);
      const found: BlobInfo[] = [];
      let token: string | undefined;
      do {
        const page = await listPage(prefix + keyPrefix, token, pageSize);
        for (const object of page.Contents ?? []) {
          if (!object.Key?.startsWith(prefix)) continue;
          found.push({ key: object.Key.slice(prefix.length), size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async delete(keys) {
      keys.forEach(assertBlobKey);
      for (let i = 0; i < keys.length; i += DELETE_CHUNK) {
        const chunk = keys.slice(i, i + DELETE_CHUNK);
        const result = await call(`DeleteObjects (${chunk.length} keys)`, (signal) =>
          client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((key) => ({ Key: prefix + key })), Quiet: true } }), { abortSignal: signal }),
        );
        const failed = result.Errors ?? [];
        if (failed.length > 0) {
          throw blobStoreUnavailable(`Blob store ${location}: DeleteObjects refused ${failed.length} of ${chunk.length} keys (first: ${failed[0]!.Key} ${failed[0]!.Code})`, failed);
        }
      }
    },

    async ping(ms) {
      await listPage(prefix, undefined, 1, ms);
    },

    async close() {
      if (ownsClient) client.destroy();
    },
  };
}

type SdkError = { name?: string; $metadata?: { httpStatusCode?: number } } | null;

/** NoSuchKey (GetObject) or a 404 without a body (HeadObject); a missing bucket is a broken store, not a missing object. */
function isNotFound(error: unknown): boolean {
  const e = error as SdkError;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || (e?.$metadata?.httpStatusCode === 404 && e?.name !== 'NoSuchBucket');
}

/** Worth another attempt: no answer at all (refused, reset), throttling or a server error. */
function isRetryable(error: unknown): boolean {
  const status = (error as SdkError)?.$metadata?.httpStatusCode;
  return status === undefined || status === 429 || status >= 500;
}

/** A short name for an SDK error, for the message: `NoSuchBucket (404)`, `HTTP 403` (HEAD has no body), `ECONNREFUSED`. */
function describe(error: unknown): string {
  const e = error as (SdkError & { code?: string }) | undefined;
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.code ?? e?.name ?? 'error';
  if (status === undefined) return name;
  return name === 'Unknown' ? `HTTP ${status}` : `${name} (${status})`;
}
