import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../src/domain/errors.ts';
import type { BlobStore } from '../../src/adapters/blobs/blob-store.ts';
import { createDirectoryBlobStore } from '../../src/adapters/blobs/directory-blob-store.ts';
import { createS3BlobStore, type S3BlobStoreOptions } from '../../src/adapters/blobs/s3-blob-store.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { startS3Server, type S3Server } from '../support/s3-server.ts';

const TIMEOUT_MS = 400;
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const s3Options = (endpoint: string, extra: Partial<S3BlobStoreOptions> = {}): S3BlobStoreOptions => ({
  bucket: 'kidslearn-test',
  prefix: 'lake',
  region: 'us-east-1',
  endpoint,
  credentials,
  timeoutMs: TIMEOUT_MS,
  ...extra,
});

/** Asserts `promise` rejects with `blob_store_unavailable`, keeping a cause when `withCause`. */
async function assertUnavailable(promise: Promise<unknown>, label: string, withCause = true): Promise<AppError> {
  let caught: unknown;
  await assert.rejects(promise, (e: unknown) => ((caught = e), true), label);
  assert.ok(caught instanceof AppError, `${label}: an AppError, got ${String(caught)}`);
  assert.equal(caught.kind, 'unavailable', label);
  assert.equal(caught.code, 'blob_store_unavailable', label);
  assert.deepEqual(caught.details, { retryAfterSeconds: 5 }, label);
  if (withCause) assert.ok(caught.cause !== undefined, `${label}: the driver's error is kept as cause`);
  return caught;
}

/** Every call of the port, each expected to fail with `blob_store_unavailable`. */
function everyCall(store: BlobStore, scratch: string): [string, () => Promise<unknown>][] {
  return [
    ['putBytes', () => store.putBytes('f/x.bin', new Uint8Array([1, 2, 3]))],
    ['putFile', () => store.putFile('f/y.bin', join(scratch, 'source.bin'))],
    ['getBytes', () => store.getBytes('f/x.bin')],
    ['getFile', () => store.getFile('f/x.bin', join(scratch, 'copy.bin'))],
    ['exists', () => store.exists('f/x.bin')],
    ['list', () => store.list('f/')],
    ['delete', () => store.delete(['f/x.bin'])],
    ['ping', () => store.ping(TIMEOUT_MS)],
  ];
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('blob store faults', { timeout: 60_000 }, () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'kidslearn-blob-fault-'));
    await writeFile(join(scratch, 'source.bin'), 'source');
  });
  after(async () => rm(scratch, { recursive: true, force: true }));

  it('S3 where nothing listens: every call fails with blob_store_unavailable, the refusal as cause', async () => {
    // A generous timeout: the refusals (3 attempts each) must surface as the cause, not be cut short by the deadline.
    const store = createS3BlobStore(s3Options(`http://127.0.0.1:${await closedPort()}`, { timeoutMs: 5000 }));
    try {
      for (const [name, call] of everyCall(store, scratch)) {
        const error = await assertUnavailable(call(), name);
        assert.match(String((error.cause as { code?: string }).code), /ECONNREFUSED/, name);
      }
    } finally {
      await store.close();
    }
    await assert.rejects(readdir(join(scratch, 'copy.bin')), { code: 'ENOENT' });
  });

  describe('S3 that accepts connections and never answers, then comes back', () => {
    let s3: S3Server;
    let proxy: FaultProxy;
    let store: BlobStore;
    before(async () => {
      s3 = await startS3Server();
      proxy = await startFaultProxy(s3.endpoint);
      store = createS3BlobStore(s3Options(`http://127.0.0.1:${proxy.port}`));
    });
    after(async () => {
      await store.close();
      await proxy.close();
      await s3.close();
    });

    it('every call fails with blob_store_unavailable once timeoutMs passes, and works again after', async () => {
      await store.putBytes('f/x.bin', new Uint8Array([9]));
      proxy.set('blackhole');
      const acceptedBefore = proxy.accepted;
      for (const [name, call] of everyCall(store, scratch)) {
        const error = await assertUnavailable(call(), name, false);
        assert.match(error.message, new RegExp(`no answer within ${TIMEOUT_MS} ms`), name);
      }
      assert.ok(proxy.accepted > acceptedBefore || proxy.open > 0, 'the calls reached the silent server');
      proxy.set('pass');
      assert.deepEqual(await store.getBytes('f/x.bin'), new Uint8Array([9]), 'the store recovers once S3 answers');
      await store.putFile('f/y.bin', join(scratch, 'source.bin'));
      assert.deepEqual((await store.list('f/')).map((b) => b.key), ['f/x.bin', 'f/y.bin']);
    });
  });

  describe('S3 that answers errors', () => {
    let server: http.Server;
    let endpoint: string;
    let answer = { status: 500, code: 'InternalError' };
    const requests: string[] = [];
    const uploads: { headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
    before(async () => {
      server = http.createServer((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          if (req.method === 'PUT') uploads.push({ headers: req.headers, body: Buffer.concat(chunks) });
          if (answer.status === 200) return void res.writeHead(200).end();
          res.writeHead(answer.status, { 'content-type': 'application/xml' });
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${answer.code}</Code><Message>test</Message></Error>`);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('5xx: retried up to maxAttempts (streamed uploads too), then blob_store_unavailable naming the error', async () => {
      answer = { status: 500, code: 'InternalError' };
      const store = createS3BlobStore(s3Options(endpoint, { timeoutMs: 10_000, maxAttempts: 3 }));
      try {
        for (const [name, call] of everyCall(store, scratch)) {
          requests.length = 0;
          const error = await assertUnavailable(call(), name);
          assert.match(error.message, name === 'exists' ? /HTTP 500/ : /InternalError \(500\)/, name);
          assert.equal(requests.length, 3, `${name}: ${requests.join(', ')}`);
        }
      } finally {
        await store.close();
      }
    });

    it('uploads send the plain body with its SHA-256 in a header (no aws-chunked framing)', async () => {
      answer = { status: 200, code: '' };
      const store = createS3BlobStore(s3Options(endpoint));
      try {
        uploads.length = 0;
        const content = Buffer.from('parquet bytes \u0000\u00ff'.repeat(1000));
        await writeFile(join(scratch, 'upload.bin'), content);
        await store.putFile('u/file.bin', join(scratch, 'upload.bin'));
        await store.putBytes('u/bytes.bin', new Uint8Array(content));
        assert.equal(uploads.length, 2);
        for (const upload of uploads) {
          assert.ok(upload.body.equals(content), 'the body is the content, byte for byte');
          assert.equal(upload.headers['content-length'], String(content.length));
          assert.equal(upload.headers['x-amz-checksum-sha256'], createHash('sha256').update(content).digest('base64'));
          assert.equal(upload.headers['content-encoding'], undefined);
        }
      } finally {
        await store.close();
      }
    });

    it('403 and a missing bucket: not retried, blob_store_unavailable (not "absent")', async () => {
      const store = createS3BlobStore(s3Options(endpoint, { timeoutMs: 10_000 }));
      try {
        for (const code of ['AccessDenied', 'NoSuchBucket']) {
          answer = { status: code === 'AccessDenied' ? 403 : 404, code };
          for (const [name, call] of everyCall(store, scratch)) {
            if (code === 'NoSuchBucket' && name === 'exists') continue; // HEAD has no body: a 404 there cannot tell a bucket from a key
            requests.length = 0;
            const error = await assertUnavailable(call(), `${code} ${name}`);
            assert.match(error.message, name === 'exists' ? /HTTP 403/ : new RegExp(code), name); // HEAD answers carry no error code
            assert.equal(requests.length, 1, `${code} ${name}: not retried`);
          }
        }
      } finally {
        await store.close();
      }
    });
  });

  describe('directory store on a broken root', () => {
    it('a root that is a file (ENOTDIR): every call fails with blob_store_unavailable, none answers "absent"', async () => {
      const root = join(scratch, 'not-a-dir');
      await writeFile(root, 'I am a file');
      const store = createDirectoryBlobStore({ dir: root });
      for (const [name, call] of everyCall(store, scratch)) {
        const error = await assertUnavailable(call(), name);
        assert.match(String((error.cause as { code?: string }).code), /ENOTDIR|EEXIST/, name);
      }
    });

    it('a failed write leaves no temp file and the old content in place', async () => {
      const root = join(scratch, 'lake');
      const store = createDirectoryBlobStore({ dir: root });
      await store.putBytes('w/dir/inner.bin', new Uint8Array([1]));
      // 'w/dir' is a directory: renaming the temp file over it fails (EISDIR) after the temp file was written.
      await assertUnavailable(store.putFile('w/dir', join(scratch, 'source.bin')), 'putFile over a directory');
      await assertUnavailable(store.putBytes('w/dir', new Uint8Array([2])), 'putBytes over a directory');
      assert.deepEqual(await readdir(join(root, 'w')), ['dir']);
      assert.deepEqual(await readdir(join(root, 'w/dir')), ['inner.bin']);
      assert.deepEqual(await store.getBytes('w/dir/inner.bin'), new Uint8Array([1]));
      // getFile into a directory path fails on the local side, also without leftovers.
      await assertUnavailable(store.getFile('w/dir/inner.bin', scratch), 'getFile onto a directory');
      assert.deepEqual((await readdir(scratch)).filter((n) => n.endsWith('.tmp')), []);
    });
  });
});
