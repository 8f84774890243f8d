import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A local S3-compatible server for tests. */
export interface S3Server {
  /** `http://127.0.0.1:<port>`: pass as `endpoint` with `forcePathStyle: true`. */
  readonly endpoint: string;
  /** A bucket created at start. */
  readonly bucket: string;
  /** Any credentials are accepted as long as they sign consistently; these are s3rver's own. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Stops the server and removes its data. */
  close(): Promise<void>;
}

/**
 * Starts s3rver 3.7.1 on a free port of 127.0.0.1 with a fresh temp
 * directory and one bucket. It runs in a child process because it encrypts
 * ListObjectsV2 continuation tokens with DES, which Node 24's OpenSSL 3
 * refuses unless the process starts with `--openssl-legacy-provider`:
 * in-process, every truncated listing (pagination) answers 500.
 */
export async function startS3Server(bucket = 'kidslearn-test'): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'kidslearn-s3rver-'));
  const child = fork(new URL('./s3rver-main.ts', import.meta.url), [], {
    execArgv: ['--openssl-legacy-provider'],
    env: { ...process.env, S3RVER_DIRECTORY: directory, S3RVER_BUCKET: bucket },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('s3rver did not start within 30 s')), 30_000);
      child.once('message', (message: { port: number }) => {
        clearTimeout(timer);
        resolve(message.port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code} before listening`));
      });
    });
    return {
      endpoint: `http://127.0.0.1:${port}`,
      bucket,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      async close() {
        await stopChild();
        await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopChild();
    await rm(directory, { recursive: true, force: true });
    throw error;
  }

  async function stopChild(): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    if (child.connected) child.send('close');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
