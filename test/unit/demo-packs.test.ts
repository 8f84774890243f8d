import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { packProblems } from '../../src/domain/content-pack.ts';
import { packFormatOf, parsePackText, serializePack } from '../../src/features/content/pack-file.ts';
import { DEMO_APPS, demoPackPath, loadDemoPack } from '../../src/seed/demo-packs.ts';

describe('demo packs', () => {
  it('lists Math Kids, Word Kids and Shape Kids with their pack files', () => {
    assert.deepEqual(
      DEMO_APPS.map((d) => [d.id, d.name, d.packFile]),
      [
        ['mathkids', 'Math Kids', 'content/packs/mathkids.json'],
        ['wordkids', 'Word Kids', 'content/packs/wordkids.json'],
        ['shapekids', 'Shape Kids', 'content/packs/shapes.yaml'],
      ],
    );
  });

  for (const demo of DEMO_APPS) {
    it(`${demo.id}: loads cleanly, and survives export and import in both formats unchanged`, async () => {
      const pack = await loadDemoPack(demo.id);
      assert.deepEqual(packProblems(pack), { errors: [], warnings: [] });
      for (const format of ['json', 'yaml'] as const) {
        const text = serializePack(pack, format);
        const again = parsePackText(text, { file: `${demo.id}.${format}`, format });
        assert.deepEqual(again.errors, [], format);
        assert.deepEqual(again.pack, pack, `${demo.id} changed on a ${format} round trip`);
        assert.equal(serializePack(again.pack as NonNullable<typeof again.pack>, format), text, `${demo.id}: ${format} output is stable`);
      }
      if (packFormatOf(demo.packFile) === 'json') {
        assert.equal(serializePack(pack, 'json'), await readFile(demoPackPath(demo.id), 'utf8'), `${demo.packFile} is in the serialised form`);
      }
    });
  }

  it('refuses an unknown demo app', async () => {
    await assert.rejects(loadDemoPack('nope'), /unknown demo app "nope"/);
  });
});
