/**
 * Builds the generated demo content packs from the generators in src/seed:
 * `content/packs/mathkids.json` and `content/packs/wordkids.json`.
 *
 *     npm run content:build                 # write the packs
 *     npm run content:build -- --check      # fail if the committed packs differ from a rebuild
 *     npm run content:build -- --new-ids    # give changed questions new item ids
 *
 * Item ids are identities: a rebuild keeps the committed id of every
 * unchanged question and refuses (exit 1, naming the items) to put a
 * different question under a committed id, unless given `--new-ids`.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { buildContentPacks } from '../src/seed/pack-files.ts';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, 'new-ids': { type: 'boolean', default: false } } });
const results = await buildContentPacks({ newIds: values['new-ids'] });
let failed = false;
for (const r of results) {
  const where = r.relativeFile;
  if (r.errors.length > 0) {
    failed = true;
    for (const e of r.errors) console.error(`${where}: ${e}`);
    continue;
  }
  for (const x of r.renamed) console.log(`${where}: ${x.lessonId}: changed question ${x.from} is now ${x.to}`);
  if (values.check) {
    if (r.text !== r.committedText) {
      failed = true;
      console.error(`${where}: differs from what the generators build; run npm run content:build and commit the result`);
    } else console.log(`${where}: up to date (${r.lessons} lessons, ${r.items} items)`);
  } else if (r.text !== r.committedText) {
    await writeFile(r.file, r.text);
    console.log(`${where}: written (${r.lessons} lessons, ${r.items} items, ${Buffer.byteLength(r.text)} bytes)`);
  } else console.log(`${where}: unchanged (${r.lessons} lessons, ${r.items} items)`);
}
process.exitCode = failed ? 1 : 0;
