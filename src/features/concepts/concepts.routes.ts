import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { GradeFilter, callerApp, json, security } from '../../http/route-helpers.ts';
import { ConceptInput, ConceptView, NewConceptInput } from '../../domain/concept-graph.ts';
import { ResourceId, Subject } from '../../domain/curriculum.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { raises } from '../../http/openapi.ts';
import { validationHook } from '../../http/validation.ts';
import type { ConceptsService } from './concepts.service.ts';


const ConceptIdParam = z.object({
  conceptId: ResourceId.openapi({ param: { name: 'conceptId', in: 'path' }, example: 'adding-within-10' }),
});

/** The same filters, with the same rules, as `GET /api/lessons`. */
const GraphQuery = z.object({
  subject: Subject.optional().openapi({ example: 'math' }),
  grade: GradeFilter,
});

const ConceptGraph = z
  .object({ items: z.array(ConceptView).openapi({ description: 'Every concept after all its prerequisites; ties by grade, subject, id' }) })
  .openapi('ConceptGraph');


const graphErrors = { unknown_concept: 'invalid', prerequisite_cycle: 'invalid' } as const;

const listConcepts = createRoute({
  method: 'get',
  path: '/api/concepts',
  tags: ['concepts'],
  summary: 'The caller’s app’s concept graph: live concepts, their prerequisites and the published lessons teaching them, in a learning order',
  description:
    'Filters select concepts but not the order, which is the whole graph’s; a concept’s prerequisites may lie outside the filter. Retired concepts are left out, and so are edges to them.',
  security,
  request: { query: GraphQuery },
  responses: { 200: json(ConceptGraph, 'Concepts, prerequisites first'), ...errorResponses(400, 401, 404) },
});

const createConcept = createRoute({
  method: 'post',
  path: '/admin/concepts',
  tags: ['admin'],
  ...raises({ concept_exists: 'conflict', ...graphErrors }),
  summary: 'Create a concept on existing prerequisites',
  description: 'The id must be new: ids of retired concepts (which children answered on) are not reused.',
  security,
  request: { body: { required: true, content: { 'application/json': { schema: NewConceptInput } } } },
  responses: { 201: json(ConceptView, 'Created'), ...errorResponses(400, 401, 403, 409, 413, 415) },
});

const updateConcept = createRoute({
  method: 'put',
  path: '/admin/concepts/{conceptId}',
  tags: ['admin'],
  ...raises({ concept_not_found: 'not_found', concept_in_pack: 'conflict', ...graphErrors }),
  summary: 'Replace a concept’s subject, grade, name, description and prerequisites',
  description: 'Only concepts authored over this API; a content pack’s concepts change by importing the pack again.',
  security,
  request: { params: ConceptIdParam, body: { required: true, content: { 'application/json': { schema: ConceptInput } } } },
  responses: { 200: json(ConceptView, 'Updated'), ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
});

const deleteConcept = createRoute({
  method: 'delete',
  path: '/admin/concepts/{conceptId}',
  tags: ['admin'],
  ...raises({ concept_not_found: 'not_found', concept_in_pack: 'conflict', concept_in_use: 'conflict', concept_is_prerequisite: 'conflict' }),
  summary: 'Remove a concept that no lesson uses and no concept needs',
  description: 'A concept children have answered on is retired (hidden, kept for their history, its id reserved); any other is deleted.',
  security,
  request: { params: ConceptIdParam },
  responses: { 204: { description: 'Removed' }, ...errorResponses(400, 401, 403, 404, 409) },
});

/** The concepts API: the graph under `/api`, authoring under `/admin`. */
export function conceptsRoutes(concepts: ConceptsService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(listConcepts, async (c) => c.json(await concepts.list(callerApp(c, 'concepts.read'), c.req.valid('query')), 200));

  app.openapi(createConcept, async (c) => c.json(await concepts.create(callerApp(c, 'concepts.author'), c.req.valid('json')), 201));

  app.openapi(updateConcept, async (c) =>
    c.json(await concepts.update(callerApp(c, 'concepts.author'), c.req.valid('param').conceptId, c.req.valid('json')), 200),
  );

  app.openapi(deleteConcept, async (c) => {
    await concepts.remove(callerApp(c, 'concepts.author'), c.req.valid('param').conceptId);
    return c.body(null, 204);
  });

  return app;
}
