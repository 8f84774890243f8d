import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContentPack } from '../../src/domain/content-pack.ts';
import { itemContentHash } from '../../src/domain/content-pack.ts';
import { buildContentPacks } from '../../src/seed/pack-files.ts';
import { generatedPack, inTeachingOrder, withStableIds } from '../../src/seed/pack-build.ts';

describe('npm run content:build', () => {
  it('--check: the committed packs are exactly what the generators build (run npm run content:build)', async () => {
    const built = await buildContentPacks();
    assert.equal(built.length, 2);
    for (const b of built) {
      assert.deepEqual(b.errors, [], b.relativeFile);
      assert.ok(b.committedText !== undefined, `${b.relativeFile} is committed`);
      assert.ok(b.text === b.committedText, `${b.relativeFile} differs from a rebuild`);
      assert.ok(b.text.startsWith('{\n  "$schema": "../../schemas/content-pack.json",\n'), b.relativeFile);
    }
  });

  const fresh = generatedPack('wordkids');
  const firstLesson = () => fresh.units[0]?.lessons[0] as ContentPack['units'][number]['lessons'][number];

  it('keeps the generator item ids <lessonId>-q<n> when there is no committed pack', () => {
    const lesson = firstLesson();
    lesson.items.forEach((item, i) => assert.equal(item.id, `${lesson.id}-q${i + 1}`));
  });

  /** The fresh pack with one question of the first lesson changed (as a changed generator would). */
  function changed(): ContentPack {
    const pack = structuredClone(fresh);
    const item = pack.units[0]?.lessons[0]?.items[1];
    assert.ok(item);
    item.prompt = `${item.prompt} (changed)`;
    return pack;
  }

  it('keeps ids of unchanged questions, and refuses different content under a committed id', () => {
    const again = withStableIds(generatedPack('wordkids'), fresh);
    assert.deepEqual(again.conflicts, []);
    assert.deepEqual(again.pack, fresh);
    const refused = withStableIds(changed(), fresh);
    assert.deepEqual(
      refused.conflicts.map((c) => c.itemId),
      [`${firstLesson().id}-q2`],
    );
  });

  it('--new-ids gives a changed question <lessonId>-<first 8 hex of its hash>, and only that one', () => {
    const next = changed();
    const { pack, conflicts, renamed } = withStableIds(next, fresh, { newIds: true });
    assert.deepEqual(conflicts, []);
    const lesson = pack.units[0]?.lessons[0];
    assert.ok(lesson);
    const item = lesson.items[1];
    assert.ok(item);
    const hash = itemContentHash({ ...item, conceptId: item.conceptId ?? '' }).slice('sha256:'.length, 'sha256:'.length + 8);
    assert.equal(item.id, `${lesson.id}-${hash}`);
    assert.deepEqual(renamed, [{ from: `${lesson.id}-q2`, to: item.id, lessonId: lesson.id }]);
    const ids = (p: ContentPack) => p.units.flatMap((u) => u.lessons.flatMap((l) => l.items.map((i) => i.id)));
    assert.deepEqual(ids(pack).filter((id) => !ids(fresh).includes(id)), [item.id]);
    // Rebuilding on top of the new committed pack is stable.
    assert.deepEqual(withStableIds(structuredClone(next), pack).pack, pack);
  });

  it('difficulty is re-calibrated under the same id', () => {
    const next = structuredClone(fresh);
    const item = next.units[0]?.lessons[0]?.items[0];
    assert.ok(item);
    item.difficulty = 2.5;
    const r = withStableIds(next, fresh);
    assert.deepEqual(r.conflicts, []);
    assert.equal(r.pack.units[0]?.lessons[0]?.items[0]?.id, fresh.units[0]?.lessons[0]?.items[0]?.id);
  });

  it('orders lessons after the lessons teaching their prerequisites, keeping an order that is already valid', () => {
    const lesson = (id: string, conceptIds: string[]) => ({ id, subject: 'math', grade: 0, title: id, summary: '', conceptIds, blocks: [], media: [], estimatedMinutes: 5, published: true, items: [] });
    const concepts = [
      { id: 'a', prerequisites: [] },
      { id: 'b', prerequisites: ['a'] },
      { id: 'c', prerequisites: ['b'] },
    ];
    const units = [{ id: 'u', title: 'U', lessons: [lesson('c1', ['c']), lesson('b1', ['b']), lesson('x', ['a', 'b']), lesson('a1', ['a'])] }];
    assert.deepEqual(inTeachingOrder(units, concepts)[0]?.lessons.map((l) => l.id), ['x', 'c1', 'b1', 'a1']);
    const valid = [{ id: 'u', title: 'U', lessons: [lesson('a1', ['a']), lesson('b1', ['b']), lesson('c1', ['c'])] }];
    assert.deepEqual(inTeachingOrder(valid, concepts)[0]?.lessons.map((l) => l.id), ['a1', 'b1', 'c1']);
  });

  it('teaches place value to hundreds before 3-digit addition in grade 2 of mathkids', () => {
    const math = generatedPack('mathkids');
    const grade2 = math.units.find((u) => u.id === 'grade-2')?.lessons.map((l) => l.id) ?? [];
    assert.ok(grade2.indexOf('place-value-hundreds-practice') >= 0);
    assert.ok(grade2.indexOf('place-value-hundreds-practice') < grade2.indexOf('add-3digit-learn'));
    assert.deepEqual(math.units.map((u) => u.id), ['kindergarten', 'grade-1', 'grade-2', 'grade-3', 'grade-4', 'grade-5']);
  });
});

describe('scripts/build-content.ts --check', () => {
  it('exits 0 on the committed packs', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { join } = await import('node:path');
    const root = join(import.meta.dirname, '..', '..');
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'scripts', 'build-content.ts'), '--check'], { cwd: root });
    assert.match(stdout, /mathkids\.json: up to date/);
    assert.match(stdout, /wordkids\.json: up to date/);
  });
});
