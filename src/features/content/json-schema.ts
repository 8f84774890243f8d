import { z } from '@hono/zod-openapi';
import { CONTENT_PACK_FORMAT, ContentPack } from '../../domain/content-pack.ts';

/** The `$id` of the published schema; the HTTP layer may pass its own absolute URL instead. */
export const CONTENT_PACK_SCHEMA_ID = 'urn:kidslearn:content-pack:v1';

/**
 * The JSON Schema (draft 2020-12) of a content pack as written: generated
 * from the `ContentPack` Zod schema with `io: 'input'`, so fields that have
 * defaults are optional. Editors use it for completion and checks (JSON
 * `"$schema"`, YAML `# yaml-language-server: $schema=`); it cannot express
 * the whole-pack checks (ids, prerequisites, teaching order, keys), which
 * only `kidslearn` runs. Committed as `schemas/content-pack.json`
 * (`npm run content:schema`), served at `/schemas/content-pack.json`.
 */
export function contentPackJsonSchema(options: { id?: string } = {}): Record<string, unknown> {
  const generated = z.toJSONSchema(ContentPack, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: options.id ?? CONTENT_PACK_SCHEMA_ID,
    title: 'kidslearn content pack',
    description: `A curriculum as data (format ${CONTENT_PACK_FORMAT}): pack metadata, concepts with prerequisites, and units of lessons with practice items, taught in the order listed. Validate a pack fully with \`kidslearn\`; this schema checks its shape only.`,
    ...rest,
  };
}

/** The schema as the committed file holds it: two-space JSON with a final newline. */
export function contentPackJsonSchemaText(): string {
  return `${JSON.stringify(contentPackJsonSchema(), null, 2)}\n`;
}
