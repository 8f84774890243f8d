import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AppError } from '../../src/domain/errors.ts';
import { createS3BlobStore } from '../../src/adapters/blobs/s3-blob-store.ts';

/** The S3 adapter's request shapes, on a client mocked with aws-sdk-client-mock (s3rver covers the behaviour). */
function mocked() {
  const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const mock = mockClient(client);
  const store = createS3BlobStore({ client, bucket: 'lake-bucket', prefix: 'prod/lake', region: 'eu-west-1', timeoutMs: 1000 });
  return { mock, store };
}

describe('S3 blob store requests', () => {
  it('deletes in DeleteObjects chunks of at most 1000 keys, prefixed, quiet', async () => {
    const { mock, store } = mocked();
    mock.on(DeleteObjectsCommand).resolves({});
    const keys = Array.from({ length: 2500 }, (_, i) => `events/k-${i}.parquet`);
    await store.delete(keys);
    const calls = mock.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input);
    assert.deepEqual(calls.map((c) => c.Delete!.Objects!.length), [1000, 1000, 500]);
    assert.deepEqual(calls.flatMap((c) => c.Delete!.Objects!.map((o) => o.Key)), keys.map((k) => `prod/lake/${k}`));
    assert.ok(calls.every((c) => c.Bucket === 'lake-bucket' && c.Delete!.Quiet === true));
    await store.delete([]);
    assert.equal(mock.commandCalls(DeleteObjectsCommand).length, 3, 'no request for no keys');
  });

  it('a key S3 refuses to delete fails the call with blob_store_unavailable', async () => {
    const { mock, store } = mocked();
    mock.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'prod/lake/a.bin', Code: 'AccessDenied', Message: 'no' }] });
    await assert.rejects(store.delete(['a.bin', 'b.bin']), (e: unknown) => e instanceof AppError && e.code === 'blob_store_unavailable' && /AccessDenied/.test(e.message));
  });

  it('follows continuation tokens, strips the prefix and sorts', async () => {
    const { mock, store } = mocked();
    const at = new Date('2026-12-04T10:00:00Z');
    mock
      .on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves({ IsTruncated: true, NextContinuationToken: 't1', Contents: [{ Key: 'prod/lake/e/b.parquet', Size: 2, LastModified: at }] })
      .on(ListObjectsV2Command, { ContinuationToken: 't1' })
      .resolves({ IsTruncated: false, Contents: [{ Key: 'prod/lake/e/a.parquet', Size: 1, LastModified: at }] });
    assert.deepEqual(await store.list('e/'), [
      { key: 'e/a.parquet', size: 1, modifiedAt: at },
      { key: 'e/b.parquet', size: 2, modifiedAt: at },
    ]);
    const inputs = mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input);
    assert.deepEqual(
      inputs.map((i) => [i.Bucket, i.Prefix, i.MaxKeys, i.ContinuationToken]),
      [
        ['lake-bucket', 'prod/lake/e/', 1000, undefined],
        ['lake-bucket', 'prod/lake/e/', 1000, 't1'],
      ],
    );
  });
});
