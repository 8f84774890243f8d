/**
 * Writes `schemas/content-pack.json`, the JSON Schema of content packs,
 * from the `ContentPack` Zod schema. Run after changing the pack format:
 *
 *     npm run content:schema
 *
 * `test/unit/content-schema.test.ts` fails while the committed file differs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentPackJsonSchemaText } from '../src/features/content/json-schema.ts';

const file = join(import.meta.dirname, '..', 'schemas', 'content-pack.json');
writeFileSync(file, contentPackJsonSchemaText());
console.log(`wrote ${file}`);
