import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTENT_PACK_SCHEMA_ID, contentPackJsonSchema, contentPackJsonSchemaText } from '../../src/features/content/json-schema.ts';

const root = join(import.meta.dirname, '..', '..');

describe('published JSON Schema of content packs', () => {
  it('schemas/content-pack.json is what the ContentPack schema generates now (run npm run content:schema)', () => {
    assert.equal(readFileSync(join(root, 'schemas', 'content-pack.json'), 'utf8'), contentPackJsonSchemaText());
  });

  it('is draft 2020-12 with an id and a title, and leaves defaulted fields optional', () => {
    const schema = contentPackJsonSchema() as Record<string, unknown> & { properties: Record<string, { properties?: Record<string, unknown> }>; required: string[] };
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.$id, CONTENT_PACK_SCHEMA_ID);
    assert.equal(typeof schema.title, 'string');
    assert.deepEqual([...schema.required].sort(), ['concepts', 'format', 'pack', 'units']);
    const text = JSON.stringify(schema);
    // A lesson's `published`, `blocks` and `items` and a concept's `prerequisites` have defaults: not required.
    for (const m of text.matchAll(/"required":\[([^\]]*)\]/g)) {
      for (const name of ['"published"', '"blocks"', '"items"', '"prerequisites"', '"tolerance"', '"caseSensitive"', '"media"', '"summary"']) {
        assert.ok(!(m[1] ?? '').includes(name), `${name} is required somewhere`);
      }
    }
    assert.equal(contentPackJsonSchema({ id: 'https://example.org/schemas/content-pack.json' }).$id, 'https://example.org/schemas/content-pack.json');
  });
});
