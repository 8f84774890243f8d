import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { execCli, type CliIo } from '../../src/cli/main.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { TEST_EMBEDDINGS_CACHE } from '../support/embeddings.ts';
import { testEmbedder } from '../support/app-fixture.ts';

async function kidslearn(argv: string[], config: Config, io: Partial<CliIo> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await execCli(argv, { config, io, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

/** A fresh data dir whose local-embedder cache is the machine's test cache (so the word vectors are not built again). */
function tempConfig(): Config {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kidslearn-cli-engine-'));
  mkdirSync(path.join(dataDir, 'cache'), { recursive: true });
  mkdirSync(TEST_EMBEDDINGS_CACHE, { recursive: true });
  symlinkSync(TEST_EMBEDDINGS_CACHE, path.join(dataDir, 'cache', 'embeddings'));
  return loadConfig({ KIDSLEARN_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, { envFile: null });
}

function fakeTerminal(): Writable & { isTTY: true; columns: number; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { isTTY: true as const, columns: 100, text: () => chunks.join('') });
}

describe('cli: engine reindex', () => {
  it('embeds a seeded app with a progress bar, then finds nothing to do; a missing app fails', async () => {
    // Builds the shared word-vector cache once if no other test did yet.
    await testEmbedder().ready();
    const config = tempConfig();
    assert.equal((await kidslearn(['seed', '--app', 'mathkids'], config)).code, 0);
    const terminal = fakeTerminal();
    const first = await kidslearn(['engine', 'reindex', '--app', 'mathkids'], config, { progressStream: terminal });
    assert.equal(first.code, 0, first.stderr);
    const m = /^app mathkids: (\d+) concepts, lessons and items; (\d+) embedded, 0 unchanged, 0 removed \(model local-wink-sg100-tfidf-v1, 100 dimensions\)\n$/.exec(first.stdout);
    assert.ok(m, first.stdout);
    assert.equal(m[1], m[2], 'the seed (CLI: no background refresh) left everything to embed');
    assert.ok(Number(m[1]) > 100, `mathkids has ${m[1]} concepts, lessons and items`);
    assert.match(terminal.text(), new RegExp(`engine reindex \\[=+\\] 100% ${m[1]}/${m[1]} texts`));

    const again = await kidslearn(['engine', 'reindex', '--app', 'mathkids'], config);
    assert.equal(again.stdout, `app mathkids: ${m[1]} concepts, lessons and items; 0 embedded, ${m[1]} unchanged, 0 removed (model local-wink-sg100-tfidf-v1, 100 dimensions)\n`);

    const missing = await kidslearn(['engine', 'reindex', '--app', 'nosuchapp'], config);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nosuchapp/);
    const usage = await kidslearn(['engine', 'reindex'], config);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--app/);
  });
});
