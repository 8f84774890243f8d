import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer } from '../support/server-process.ts';
import { listOutbox } from '../../src/adapters/mail/outbox-mailer.ts';
import { runCliProcess } from '../support/cli.ts';
import { codeIn } from '../support/mail.ts';

/**
 * A new user's path, on embedded defaults, with the real command line and
 * the real server: `apps create` makes an empty app, `content validate` and
 * `content import` fill it from the hand-written Shape Kids pack, an admin
 * adds a concept and a lesson over the API, a guardian signs up and a
 * child's answers are graded. Export → import is a no-op; a changed
 * question under a released id is refused, naming what to do.
 */

const PACK = 'content/packs/shapes.yaml';
const PASSWORD = 'correct horse battery';


describe('end to end: a new app filled from a content pack and over the API', () => {
  let env: NodeJS.ProcessEnv;
  let dir: string;
  let server: { child: ChildProcess; url: string } | undefined;
  const cli = async (args: string[]) => runCliProcess(args, env);

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kidslearn-newapp-'));
    env = {
      ...process.env,
      KIDSLEARN_DATA_DIR: path.join(dir, 'data'),
      SEED_DEMO_APPS: 'false',
      PASSWORD_SCRYPT_LOG_N: '12',
      LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      REDIS_URL: '',
      JWT_PRIVATE_KEY: '',
    };
  });
  after(() => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
  });

  it('creates the app, validates and imports the pack (dry run first), and export imports back unchanged', async () => {
    const created = await cli(['apps', 'create', 'myschool', '--name', 'My School']);
    assert.equal(created.code, 0, created.stderr);
    const valid = await cli(['content', 'validate', PACK]);
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /shapes\.yaml: ok — pack shapekids 1\.0\.0: 8 concepts, 3 units, 9 lessons, 54 items/);

    const dry = await cli(['content', 'import', '--app', 'myschool', PACK, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would import pack shapekids 1\.0\.0 .*dry run, nothing written/);
    const packs = await cli(['content', 'packs', '--app', 'myschool']);
    assert.equal(packs.stdout.trim(), '(no packs)', 'the dry run wrote nothing');

    const imported = await cli(['content', 'import', '--app', 'myschool', PACK]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^imported pack shapekids 1\.0\.0/);
    assert.match(imported.stdout, /items\s+54\s+0\s+0\s+0\s+0/, imported.stdout);

    const exported = path.join(dir, 'export.yaml');
    const out = await cli(['content', 'export', '--app', 'myschool', '--format', 'yaml', '-o', exported]);
    assert.equal(out.code, 0, out.stderr);
    const again = await cli(['content', 'import', '--app', 'myschool', exported]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^already up to date: pack shapekids/);
    assert.match(again.stdout, /items\s+0\s+0\s+0\s+54\s+0/);
  });

  it('serves the pack in teaching order; an admin adds a concept and a lesson over the API; a child’s answers are graded', async () => {
    server = await startServer(env);
    const { url } = server;
    const admin = (await cli(['token', '--app', 'myschool', '--role', 'admin'])).stdout.trim();
    const call = async (method: string, pathname: string, token: string | undefined, body?: unknown) => {
      const headers: Record<string, string> = { 'x-app-id': 'myschool' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${pathname}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
    };

    const concept = await call('POST', '/admin/concepts', admin, { id: 'shape-patterns', subject: 'geometry', grade: 2, name: 'Shape patterns', description: 'Find what comes next.', prerequisites: ['flat-shapes'] });
    assert.equal(concept.status, 201, JSON.stringify(concept.body));
    const lesson = await call('POST', '/admin/lessons', admin, {
      id: 'shape-patterns-1',
      subject: 'geometry',
      grade: 2,
      title: 'What comes next?',
      summary: 'Continue a pattern of shapes.',
      blocks: [{ type: 'text', text: 'A pattern repeats. Say it aloud to hear what comes next.' }],
      conceptIds: ['shape-patterns'],
      estimatedMinutes: 5,
      published: true,
      items: [{ id: 'patterns-1', conceptId: 'shape-patterns', type: 'short_text', prompt: 'circle, square, circle, square, … what comes next?', answer: { type: 'short_text', accepted: ['circle'] }, difficulty: 0 }],
    });
    assert.equal(lesson.status, 201, JSON.stringify(lesson.body));

    // A guardian signs up (the code comes from the mail outbox), signs in and adds a child.
    const email = 'parent@example.com';
    assert.equal((await call('POST', '/auth/register', undefined, { email, password: PASSWORD, role: 'guardian' })).status, 202);
    const code = codeIn(listOutbox(path.join(env.KIDSLEARN_DATA_DIR!, 'outbox'), { to: email }).at(-1));
    assert.equal((await call('POST', '/auth/email/verify', undefined, { token: code, password: PASSWORD })).status, 201);
    const login = await call('POST', '/auth/login', undefined, { email, password: PASSWORD });
    const guardian = String(login.body.accessToken);
    const child = await call('POST', '/api/children', guardian, { nickname: 'Ava', grade: 1 });
    assert.equal(child.status, 201);

    const list = await call('GET', '/api/lessons?limit=50', guardian);
    const ids = (list.body.items as { id: string; unit: { id: string } | null }[]).map((l) => l.id);
    assert.deepEqual(ids.slice(0, 3), ['naming-flat-shapes', 'sides-and-corners', 'naming-solid-shapes'], 'the pack’s teaching order');
    assert.equal(ids.at(-1), 'shape-patterns-1', 'a lesson authored outside the pack comes after the pack');
    assert.equal(ids.length, 10);
    const concepts = await call('GET', '/api/concepts', guardian);
    const patterns = (concepts.body.items as { id: string; prerequisites: string[]; lessonIds: string[] }[]).find((c) => c.id === 'shape-patterns');
    assert.deepEqual([patterns?.prerequisites, patterns?.lessonIds], [['flat-shapes'], ['shape-patterns-1']]);

    const shown = await call('GET', '/api/lessons/naming-flat-shapes', guardian);
    assert.equal((shown.body.items as { id: string; mediaId?: string }[])[0]!.mediaId, 'triangle');
    const at = new Date(Date.now() - 60_000).toISOString();
    const answers = await call('POST', '/api/progress', guardian, {
      answers: [
        { childId: child.body.id, itemId: 'shapes-q1', response: 'Triangle', durationMs: 4000, answeredAt: at, clientEventId: 'ava-1' },
        { childId: child.body.id, itemId: 'patterns-1', response: 'square', durationMs: 5000, answeredAt: at, clientEventId: 'ava-2' },
      ],
    });
    assert.equal(answers.status, 200, JSON.stringify(answers.body));
    assert.deepEqual((answers.body.results as { correct: boolean }[]).map((r) => r.correct), [true, false]);

    const exited = new Promise((resolve) => server!.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    await exited;
  });

  it('refuses a changed question under a released id, saying to give it a new id, and writes nothing', async () => {
    const exported = path.join(dir, 'export.yaml');
    const changed = path.join(dir, 'changed.yaml');
    const text = readFileSync(exported, 'utf8');
    assert.ok(text.includes('prompt: What is the name of this shape?'));
    writeFileSync(changed, text.replace('prompt: What is the name of this shape?', 'prompt: Which shape is this?'));
    const refused = await cli(['content', 'import', '--app', 'myschool', changed]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /content_conflict/);
    assert.match(refused.stderr, /item "shapes-q1" is a different question .*give the changed question a new id/);
    const packs = await cli(['content', 'export', '--app', 'myschool', '--format', 'json']);
    const items = (JSON.parse(packs.stdout) as { units: { lessons: { items: { id: string; prompt: string }[] }[] }[] }).units.flatMap((u) => u.lessons.flatMap((l) => l.items));
    assert.equal(items.find((i) => i.id === 'shapes-q1')?.prompt, 'What is the name of this shape?', 'the stored question is unchanged');
    const usage = await cli(['content', 'import', '--app', 'myschool']);
    assert.equal(usage.code, 2, 'a missing pack argument is a usage error');
  });
});
