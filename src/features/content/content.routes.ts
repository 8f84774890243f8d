import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { callerApp, json, security } from '../../http/route-helpers.ts';
import { ContentPack, PackMetadata } from '../../domain/content-pack.ts';
import { CHANGES } from '../../domain/content-import-plan.ts';
import { AnswerKey, Choice, ItemType, ResourceId } from '../../domain/curriculum.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { raises } from '../../http/openapi.ts';
import { validationHook } from '../../http/validation.ts';
import type { LessonsService } from '../lessons/lessons.service.ts';
import type { ContentService } from './content.service.ts';
import { contentPackJsonSchemaText } from './json-schema.ts';


const ids = z.array(z.string());
const changeLists = z.object(Object.fromEntries(CHANGES.map((c) => [c, ids])) as Record<(typeof CHANGES)[number], typeof ids>);
const changeCounts = z.object(Object.fromEntries(CHANGES.map((c) => [c, z.number().int()])) as Record<(typeof CHANGES)[number], z.ZodNumber>);
const kinds = <T extends z.ZodType>(inner: T) => z.object({ concepts: inner, units: inner, lessons: inner, items: inner });

const ImportResult = z
  .object({
    pack: z.object({ id: z.string(), version: z.string(), title: z.string() }),
    dryRun: z.boolean(),
    changed: z.boolean().openapi({ description: 'False when the app already held the pack exactly as given (nothing was written)' }),
    counts: kinds(changeCounts),
    report: kinds(changeLists).openapi({ description: 'Ids per kind: added, changed, restored (retired before, back now), unchanged, retired (gone from the pack: not served, kept for history)' }),
    warnings: z.array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() })),
  })
  .openapi('ContentImportResult');

const ImportQuery = z.object({
  dryRun: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .openapi({ description: 'Check and report without writing anything', example: 'true' }),
});

const importPack = createRoute({
  method: 'post',
  path: '/admin/content/import',
  tags: ['admin', 'content'],
  summary: 'Import a content pack into the caller’s app (one transaction; up to 16 MiB)',
  description:
    'Adds, changes and retires concepts, units, lessons and items so that the app holds the pack exactly. ' +
    'A different question under an item id that children have seen, or ids of another pack, refuse the whole pack (409 `content_conflict`, every clash in `details`). ' +
    'The pack format is published at `/schemas/content-pack.json`.',
  security,
  request: { query: ImportQuery, body: { required: true, content: { 'application/json': { schema: ContentPack } } } },
  responses: {
    200: json(ImportResult, 'What was (or, with dryRun, would be) added, changed, restored, retired and left unchanged'),
    ...errorResponses(400, 401, 403, 409, 413, 415),
  },
  ...raises({ invalid_pack: 'invalid', content_conflict: 'conflict' }),
});

const PackSummary = PackMetadata.extend({
  rank: z.number().int().openapi({ description: 'Import order: lessons of lower-ranked packs come first in the catalogue' }),
  concepts: z.number().int(),
  lessons: z.number().int(),
  items: z.number().int(),
}).openapi('ContentPackSummary');

const listPacks = createRoute({
  method: 'get',
  path: '/admin/content/packs',
  tags: ['admin', 'content'],
  summary: 'The content packs of the caller’s app',
  security,
  responses: { 200: json(z.object({ items: z.array(PackSummary) }), 'Packs in import order'), ...errorResponses(401, 403) },
});

const PackIdParam = z.object({ packId: ResourceId.openapi({ param: { name: 'packId', in: 'path' }, example: 'mathkids' }) });

const exportPack = createRoute({
  method: 'get',
  path: '/admin/content/packs/{packId}',
  tags: ['admin', 'content'],
  summary: 'Export a content pack as stored (imports back unchanged)',
  security,
  request: { params: PackIdParam },
  responses: { 200: json(ContentPack, 'The pack'), ...errorResponses(400, 401, 403, 404) },
  ...raises({ pack_not_found: 'not_found' }),
});

const ItemRecord = z
  .object({
    id: z.string(),
    lessonId: z.string(),
    conceptId: z.string(),
    type: ItemType,
    prompt: z.string(),
    choices: z.array(Choice).optional(),
    answer: AnswerKey,
    difficulty: z.number(),
    mediaId: z.string().optional(),
    contentHash: z.string().openapi({ description: 'SHA-256 of the question and its key; the same id always has the same hash once released' }),
    releasedAt: z.string().nullable().openapi({ description: 'When children could first see it; from then on the question never changes under this id' }),
    retiredAt: z.string().nullable().openapi({ description: 'When it left its pack or lesson; retired items are not served but answers keep pointing at them' }),
  })
  .openapi('StoredItem');

const ItemIdParam = z.object({ itemId: ResourceId.openapi({ param: { name: 'itemId', in: 'path' }, example: 'count-to-10-learn-q1' }) });

const getItem = createRoute({
  method: 'get',
  path: '/admin/items/{itemId}',
  tags: ['admin', 'content'],
  summary: 'Any practice item ever stored, live or retired, with its answer key and content hash',
  description: 'What an answer’s `itemId` points at: the question the child was asked.',
  security,
  request: { params: ItemIdParam },
  responses: { 200: json(ItemRecord, 'The item'), ...errorResponses(400, 401, 403, 404) },
  ...raises({ item_not_found: 'not_found' }),
});

const packSchema = createRoute({
  method: 'get',
  path: '/schemas/content-pack.json',
  tags: ['content'],
  summary: 'The JSON Schema of content packs (public), for editors that check a pack while someone types',
  description: 'Generated from the same Zod schema the import uses. It checks a pack’s shape; `kidslearn content validate` also checks ids, prerequisites, teaching order and answer keys.',
  responses: { 200: { description: 'JSON Schema (draft 2020-12)', content: { 'application/schema+json': { schema: z.object({}).passthrough() } } } },
});

/** `GET /schemas/content-pack.json`: public, generated once, on the first request. */
export function contentSchemaRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // Generated on the first request, not when the app is built: ~20 ms of a Lambda cold start otherwise.
  let text: string | undefined;
  app.openAPIRegistry.registerPath(packSchema);
  app.get(packSchema.path, (c) => c.body((text ??= contentPackJsonSchemaText()), 200, { 'content-type': 'application/schema+json', 'cache-control': 'public, max-age=3600' }));
  return app;
}

/** Content packs over the admin API: import, list, export; and item history. */
export function contentRoutes(content: ContentService, lessons: LessonsService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(importPack, async (c) => {
    const result = await content.importPack(callerApp(c, 'content.manage'), c.req.valid('json'), { dryRun: c.req.valid('query').dryRun });
    return c.json(result, 200);
  });

  app.openapi(listPacks, async (c) => c.json({ items: await content.listPacks(callerApp(c, 'content.manage')) }, 200));

  app.openapi(exportPack, async (c) => c.json(await content.exportPack(callerApp(c, 'content.manage'), c.req.valid('param').packId), 200));

  app.openapi(getItem, async (c) => {
    const record = await lessons.itemRecord(callerApp(c, 'content.manage'), c.req.valid('param').itemId);
    return c.json({ ...record.item, lessonId: record.lessonId, contentHash: record.contentHash, releasedAt: record.releasedAt, retiredAt: record.retiredAt }, 200);
  });

  return app;
}
