import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AppError } from '../../src/domain/errors.ts';
import type { BlobStore } from '../../src/adapters/blobs/blob-store.ts';
import { createBlobStore } from '../../src/adapters/blobs/create-blob-store.ts';
import { createS3BlobStore } from '../../src/adapters/blobs/s3-blob-store.ts';
import { startS3Server, type S3Server } from '../support/s3-server.ts';

/** A store under test, and how to look behind it. */
interface Backend {
  name: 'directory' | 's3';
  open(): Promise<{ store: BlobStore; dispose(): Promise<void> }>;
}

let s3: S3Server | undefined;
const S3_PREFIX = 'kidslearn/lake'; // no trailing '/': the adapter adds it

const backends: Backend[] = [
  {
    name: 'directory',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'kidslearn-blobs-'));
      const store = createBlobStore({ kind: 'directory', dir: join(dir, 'lake') });
      return { store, dispose: async () => (await store.close(), await rm(dir, { recursive: true, force: true })) };
    },
  },
  {
    name: 's3',
    async open() {
      s3 = await startS3Server();
      // listPageSize 2: every listing below spans several pages.
      const store = createS3BlobStore({ bucket: s3.bucket, prefix: S3_PREFIX, region: 'us-east-1', endpoint: s3.endpoint, credentials: s3.credentials, timeoutMs: 5000, listPageSize: 2 });
      return { store, dispose: async () => (await store.close(), await s3!.close()) };
    },
  },
];

const bytesOf = (text: string) => new TextEncoder().encode(text);
const ALL_BYTES = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
const BAD_KEYS = ['', '/abs', 'a//b', 'a/', 'a\\b', '../x', 'a/../b', 'a/./b', '.hidden', 'a/.x.tmp', 'a b', 'ü', 'a?b', 'a:b', 'x'.repeat(201), `${'x/'.repeat(512)}x`];

for (const backend of backends) {
  describe(`blob store contract: ${backend.name}`, () => {
    let store: BlobStore;
    let dispose: (() => Promise<void>) | undefined;
    let scratch: string;
    before(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'kidslearn-blob-scratch-'));
      ({ store, dispose } = await backend.open());
    });
    after(async () => {
      await dispose?.();
      await rm(scratch, { recursive: true, force: true });
    });

    it('names its kind and location', () => {
      assert.equal(store.kind, backend.name);
      if (backend.name === 's3') {
        assert.equal(store.location, `s3://${s3!.bucket}/${S3_PREFIX}/`);
        assert.equal(store.localRoot, undefined);
      } else {
        assert.match(store.location, /\/lake$/);
        assert.equal(store.localRoot, store.location);
      }
    });

    it('round-trips bytes, every byte value intact', async () => {
      await store.putBytes('rt/bytes.bin', ALL_BYTES);
      assert.deepEqual(await store.getBytes('rt/bytes.bin'), ALL_BYTES);
      assert.equal(await store.exists('rt/bytes.bin'), true);
      await store.putBytes('rt/empty.bin', new Uint8Array(0));
      assert.deepEqual(await store.getBytes('rt/empty.bin'), new Uint8Array(0));
    });

    it('round-trips a 1 MB file through putFile and getFile, leaving no temp files', async () => {
      const source = join(scratch, 'source.bin');
      const content = randomBytes(1024 * 1024 + 7);
      await writeFile(source, content);
      await store.putFile('events/app=a/year=2026/month=12/day=04/1-100.parquet', source);
      const copy = join(scratch, 'copy.bin');
      await store.getFile('events/app=a/year=2026/month=12/day=04/1-100.parquet', copy);
      assert.ok((await readFile(copy)).equals(content));
      assert.ok(Buffer.from((await store.getBytes('events/app=a/year=2026/month=12/day=04/1-100.parquet'))!).equals(content));
      assert.deepEqual((await readdir(scratch)).sort(), ['copy.bin', 'source.bin'], 'getFile leaves only the copy');
      if (store.localRoot) {
        const dir = join(store.localRoot, 'events/app=a/year=2026/month=12/day=04');
        assert.deepEqual(await readdir(dir), ['1-100.parquet'], 'putFile leaves only the target');
        assert.ok((await readFile(join(dir, '1-100.parquet'))).equals(content), 'localRoot holds the file in place');
      }
    });

    it('overwrites: the new content replaces the old one whole, also when shorter', async () => {
      await store.putBytes('ow/x.bin', bytesOf('a long first version of the object'));
      const source = join(scratch, 'short.bin');
      await writeFile(source, 'v2');
      await store.putFile('ow/x.bin', source);
      assert.deepEqual(await store.getBytes('ow/x.bin'), bytesOf('v2'));
      await store.putBytes('ow/x.bin', bytesOf('v3!'));
      assert.deepEqual(await store.getBytes('ow/x.bin'), bytesOf('v3!'));
      const listed = await store.list('ow/');
      assert.deepEqual(listed.map((b) => [b.key, b.size]), [['ow/x.bin', 3]]);
    });

    it('getFile overwrites an existing local file', async () => {
      await store.putBytes('gf/x.bin', bytesOf('stored'));
      const dest = join(scratch, 'existing.bin');
      await writeFile(dest, 'something much longer that was here before');
      await store.getFile('gf/x.bin', dest);
      assert.equal(await readFile(dest, 'utf8'), 'stored');
      await rm(dest);
    });

    it('lists every object under a prefix, recursively, sorted, with sizes, and nothing else', async () => {
      const keys = [
        'ls/events/app=a/year=2026/month=12/day=04/200-300.parquet',
        'ls/events/app=a/year=2026/month=12/day=04/1-100.parquet',
        'ls/events/app=a/year=2026/month=11/day=30/5-9.parquet',
        'ls/events/app=ab/year=2026/month=12/day=04/1-2.parquet',
        'ls/events/app=b/year=2026/month=12/day=04/1-2.parquet',
        'ls/other/app=a/x.parquet',
      ];
      for (const [i, key] of keys.entries()) await store.putBytes(key, new Uint8Array(i + 1));

      const appA = await store.list('ls/events/app=a/');
      assert.deepEqual(
        appA.map((b) => [b.key, b.size]),
        [
          ['ls/events/app=a/year=2026/month=11/day=30/5-9.parquet', 3],
          ['ls/events/app=a/year=2026/month=12/day=04/1-100.parquet', 2],
          ['ls/events/app=a/year=2026/month=12/day=04/200-300.parquet', 1],
        ],
      );
      for (const b of appA) assert.ok(b.modifiedAt instanceof Date && b.modifiedAt.getTime() > Date.UTC(2020, 0, 1), `modifiedAt of ${b.key}`);

      // Matching is by string prefix, as on S3: app=a without '/' also takes app=ab.
      assert.deepEqual(
        (await store.list('ls/events/app=a')).map((b) => b.key),
        [...appA.map((b) => b.key), 'ls/events/app=ab/year=2026/month=12/day=04/1-2.parquet'],
      );
      assert.deepEqual((await store.list('ls/')).map((b) => b.key), [...keys].sort());
      assert.deepEqual((await store.list('ls/events/app=a/year=2026/month=12/day=04/1-1')).map((b) => b.key), ['ls/events/app=a/year=2026/month=12/day=04/1-100.parquet']);
      assert.deepEqual(await store.list('ls/events/app=zzz/'), []);
      assert.deepEqual(await store.list('nothing-here'), []);
      const all = (await store.list('')).map((b) => b.key);
      assert.ok(keys.every((k) => all.includes(k)) && all.includes('rt/bytes.bin'), 'list("") lists the whole store');
      assert.deepEqual(all, [...all].sort(), 'sorted');
    });

    it('lists past one page (S3 pages of 2 here)', async () => {
      const keys = Array.from({ length: 7 }, (_, i) => `pg/obj-${i}.bin`);
      await Promise.all(keys.map((k) => store.putBytes(k, bytesOf(k))));
      const listed = await store.list('pg/');
      assert.deepEqual(listed.map((b) => b.key), keys);
      assert.deepEqual(listed.map((b) => b.size), keys.map((k) => k.length));
    });

    it('deletes present and absent keys alike, and only those', async () => {
      await store.putBytes('del/a.bin', bytesOf('a'));
      await store.putBytes('del/b.bin', bytesOf('b'));
      await store.putBytes('del/c.bin', bytesOf('c'));
      await store.delete(['del/a.bin', 'del/never.bin', 'del/b.bin', 'nope/x/y.bin']);
      assert.equal(await store.exists('del/a.bin'), false);
      assert.equal(await store.getBytes('del/b.bin'), undefined);
      assert.deepEqual((await store.list('del/')).map((b) => b.key), ['del/c.bin']);
      await store.delete([]);
      await store.delete(['del/a.bin']); // again: absent now
      assert.deepEqual(await store.getBytes('del/c.bin'), bytesOf('c'));
    });

    it('answers absent keys: getBytes undefined, exists false, getFile not found', async () => {
      assert.equal(await store.getBytes('absent/x.bin'), undefined);
      assert.equal(await store.exists('absent/x.bin'), false);
      const dest = join(scratch, 'absent.bin');
      await assert.rejects(store.getFile('absent/x.bin', dest), (e: unknown) => e instanceof AppError && e.kind === 'not_found' && e.code === 'blob_not_found');
      await assert.rejects(stat(dest), { code: 'ENOENT' });
      // Under an object, as if it were a folder: still just absent.
      await store.putBytes('absent/file.bin', bytesOf('x'));
      assert.equal(await store.getBytes('absent/file.bin/inner.bin'), undefined);
      assert.equal(await store.exists('absent/file.bin/inner.bin'), false);
      assert.deepEqual(await store.list('absent/file.bin/'), []);
    });

    it('rejects bad keys and prefixes before touching the store', async () => {
      const before = (await store.list('')).map((b) => b.key);
      for (const key of BAD_KEYS) {
        await assert.rejects(store.putBytes(key, bytesOf('x')), TypeError, `putBytes ${JSON.stringify(key)}`);
        await assert.rejects(store.getBytes(key), TypeError, `getBytes ${JSON.stringify(key)}`);
        await assert.rejects(store.exists(key), TypeError, `exists ${JSON.stringify(key)}`);
        await assert.rejects(store.delete(['ok/key.bin', key]), TypeError, `delete ${JSON.stringify(key)}`);
      }
      for (const prefix of ['/abs', 'a//', '../', 'a/../', '.x/', 'a\\', 'a b/']) {
        await assert.rejects(store.list(prefix), TypeError, `list ${JSON.stringify(prefix)}`);
      }
      await assert.rejects(store.putFile('../escape.bin', join(scratch, 'source.bin')), TypeError);
      assert.deepEqual((await store.list('')).map((b) => b.key), before, 'nothing written or deleted');
      // The longest allowed key works.
      const longest = `long/${Array(5).fill('k'.repeat(199)).join('/')}/${'k'.repeat(19)}`;
      assert.equal(longest.length, 1024);
      await store.putBytes(longest, bytesOf('ok'));
      assert.deepEqual(await store.getBytes(longest), bytesOf('ok'));
    });

    it('putFile of a missing source fails with the file system error, writing nothing', async () => {
      await assert.rejects(store.putFile('missing/x.bin', join(scratch, 'no-such-file')), { code: 'ENOENT' });
      assert.equal(await store.exists('missing/x.bin'), false);
    });

    it('answers ping', async () => {
      assert.equal(await store.ping(2000), undefined);
    });

    if (backend.name === 'directory') {
      it('list skips temp files a crashed write left behind', async () => {
        await store.putBytes('tmp/day/1-2.parquet', bytesOf('x'));
        await writeFile(join(store.localRoot!, 'tmp/day/.3-4.parquet.0123456789abcdef.tmp'), 'partial');
        assert.deepEqual((await store.list('tmp/')).map((b) => b.key), ['tmp/day/1-2.parquet']);
      });

      it('readers see the old file or the new one whole while putFile replaces it', async () => {
        const size = 8 * 1024 * 1024;
        const versions = [Buffer.alloc(size, 1), Buffer.alloc(size, 2)];
        const sources = versions.map((_, i) => join(scratch, `v${i}.bin`));
        await Promise.all(versions.map((v, i) => writeFile(sources[i]!, v)));
        await store.putFile('atomic/x.bin', sources[0]!);
        const target = join(store.localRoot!, 'atomic/x.bin');
        let writing = true;
        const writer = (async () => {
          for (let i = 1; i <= 6; i++) await store.putFile('atomic/x.bin', sources[i % 2]!);
          writing = false;
        })();
        let reads = 0;
        while (writing) {
          const seen = await readFile(target);
          reads++;
          assert.ok(seen.equals(versions[0]!) || seen.equals(versions[1]!), `read ${reads} saw ${seen.length} bytes, a mix or a partial file`);
        }
        await writer;
        assert.ok(reads > 0);
        assert.deepEqual(await readdir(join(store.localRoot!, 'atomic')), ['x.bin']);
      });
    }

    if (backend.name === 's3') {
      it('stores keys under its prefix, and a store with another prefix sees none of them', async () => {
        const client = new S3Client({ region: 'us-east-1', endpoint: s3!.endpoint, forcePathStyle: true, credentials: s3!.credentials });
        try {
          const raw = await client.send(new ListObjectsV2Command({ Bucket: s3!.bucket, Prefix: 'kidslearn/lake/rt/' }));
          assert.deepEqual(raw.Contents?.map((o) => o.Key).sort(), ['kidslearn/lake/rt/bytes.bin', 'kidslearn/lake/rt/empty.bin']);
        } finally {
          client.destroy();
        }
        const other = createS3BlobStore({ bucket: s3!.bucket, prefix: 'kidslearn/other/', region: 'us-east-1', endpoint: s3!.endpoint, credentials: s3!.credentials, timeoutMs: 5000 });
        try {
          assert.deepEqual(await other.list(''), []);
          assert.equal(await other.exists('rt/bytes.bin'), false);
          await other.putBytes('rt/bytes.bin', bytesOf('other'));
          assert.deepEqual(await store.getBytes('rt/bytes.bin'), ALL_BYTES);
          // With prefix '' the keys are the bucket's own.
          const bare = createS3BlobStore({ bucket: s3!.bucket, prefix: '', region: 'us-east-1', endpoint: s3!.endpoint, credentials: s3!.credentials, timeoutMs: 5000 });
          assert.deepEqual(await bare.getBytes('kidslearn/other/rt/bytes.bin'), bytesOf('other'));
          await bare.close();
        } finally {
          await other.close();
        }
      });
    }
  });
}

