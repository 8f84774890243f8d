import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { camelCase, CHILD_DATA } from '../../adapters/db/child-data.ts';
import { ResourceId } from '../../domain/curriculum.ts';
import { AppError } from '../../domain/errors.ts';
import { Child, ChildPatch, Classroom, ClassroomChild, JoinCode, NewChildInput, NewClassroomInput, Pin } from '../../domain/family.ts';
import type { Principal } from '../../domain/principal.ts';
import type { AppEnv } from '../../http/context.ts';
import { errorResponses } from '../../http/errors.ts';
import { raises } from '../../http/openapi.ts';
import { validationHook } from '../../http/validation.ts';
import { TokenPairSchema } from '../accounts/auth.routes.ts';
import type { ChildrenService } from './children.service.ts';
import type { ClassroomsService } from './classrooms.service.ts';

const security = [{ bearerAuth: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
const noContent = { description: 'Done' };

const ChildParam = z.object({ childId: ResourceId.openapi({ param: { name: 'childId', in: 'path' } }) });
const ClassroomParam = z.object({ classroomId: ResourceId.openapi({ param: { name: 'classroomId', in: 'path' } }) });
const MemberParam = ClassroomParam.extend({ childId: ResourceId.openapi({ param: { name: 'childId', in: 'path' } }) });
const CodeParam = z.object({ code: JoinCode.openapi({ param: { name: 'code', in: 'path' } }) });

const ChildList = z.object({ items: z.array(Child) }).openapi('ChildList');
const ClassroomList = z.object({ items: z.array(Classroom) }).openapi('ClassroomList');
const Roster = z.object({ items: z.array(ClassroomChild) }).openapi('ClassroomRoster');
const Invite = z.object({ code: z.string().openapi({ example: 'K7MP3QXD' }), expiresAt: z.string() }).openapi('ClassroomInvite');
const InviteRequest = z.object({ expiresInDays: z.number().int().min(1).max(30).default(14) }).strict().openapi('NewInvite');
const InvitePreview = z.object({ classroomName: z.string(), grade: z.number().int().nullable(), expiresAt: z.string() }).openapi('InvitePreview');
const InviteAnswer = z.object({ childId: ResourceId }).strict().openapi('InviteAnswer');
const Membership = z.object({ classroomId: z.string(), childId: z.string(), status: z.enum(['active', 'declined']) }).openapi('Membership');
const PinBody = z.object({ pin: Pin }).strict().openapi('SetPin');
/** One exported row: the declared columns in camelCase (see adapters/db/child-data.ts). */
const ExportRow = z.record(z.string(), z.unknown());
/** The export's shape, one section per table of the child-data declaration, so the document lists them all. */
const ChildExport = z
  .object({
    exportedAt: z.string(),
    app: z.string(),
    signedInDevices: z.number().int().openapi({ description: 'Device sessions still signed in' }),
    ...Object.fromEntries(
      CHILD_DATA.map((d) => [
        d.section,
        (d.rows === 'one' ? ExportRow.nullable() : z.array(ExportRow)).openapi({ description: `From \`${d.table}\`: ${[...d.exported.map(camelCase), ...Object.keys(d.related ?? {}), ...Object.keys(d.derived ?? {})].join(', ')}` }),
      ]),
    ),
  })
  .openapi('ChildExport', { description: 'Everything held about the child: one section per table holding child data, all rows, read in one snapshot' });
const DeviceKeyCreated = z
  .object({ deviceKey: z.string().openapi({ description: 'Shown once: store it on the shared device; PIN sign-in sends it' }) })
  .openapi('FamilyDeviceKey');

const route = <T extends Parameters<typeof createRoute>[0]>(r: T) => createRoute({ ...r, security });
const childTags = ['children'];
const classTags = ['classrooms'];

const routes = {
  listChildren: route({
    method: 'get',
    path: '/api/children',
    tags: childTags,
    summary: 'Children the caller may see: a guardian’s own, a child itself, all for an admin',
    responses: { 200: json(ChildList, 'Children'), ...errorResponses(401, 403, 429) },
  }),
  createChild: route({
    method: 'post',
    path: '/api/children',
    tags: childTags,
    summary: 'Add a child profile to the guardian’s family (starts with the most private settings)',
    request: { body: body(NewChildInput) },
    responses: { 201: json(Child, 'Created'), ...errorResponses(400, 401, 403, 413, 415, 429) },
  }),
  getChild: route({
    method: 'get',
    path: '/api/children/{childId}',
    tags: childTags,
    summary: 'A child profile',
    request: { params: ChildParam },
    responses: { 200: json(Child, 'The child'), ...errorResponses(401, 403, 404, 429) },
  }),
  updateChild: route({
    method: 'patch',
    path: '/api/children/{childId}',
    tags: childTags,
    summary: 'Change a child profile or its privacy settings',
    request: { params: ChildParam, body: body(ChildPatch) },
    responses: { 200: json(Child, 'Updated'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
  }),
  deleteChild: route({
    method: 'delete',
    path: '/api/children/{childId}',
    tags: childTags,
    summary: 'Erase the child: every row and cache entry about it; a deletion record without personal data remains',
    request: { params: ChildParam },
    responses: { 204: noContent, ...errorResponses(401, 403, 404, 429) },
  }),
  exportChild: route({
    method: 'get',
    path: '/api/children/{childId}/export',
    tags: childTags,
    summary: 'Everything held about the child, as JSON',
    request: { params: ChildParam },
    responses: { 200: json(ChildExport, 'The export'), ...errorResponses(401, 403, 404, 429) },
    // Its analyticsEvents section reads the lake (lake-privacy.ts).
    ...raises({ lake_query_timeout: 'unavailable', lake_unavailable: 'unavailable', lake_query_unavailable: 'unavailable' }),
  }),
  startSession: route({
    method: 'post',
    path: '/api/children/{childId}/sessions',
    tags: childTags,
    summary: 'Sign the child in on this device: child-scoped tokens, created by the guardian',
    request: { params: ChildParam },
    responses: { 201: json(TokenPairSchema, 'Child tokens'), ...errorResponses(401, 403, 404, 429) },
  }),
  setPin: route({
    method: 'put',
    path: '/api/children/{childId}/pin',
    tags: childTags,
    summary: 'Set (or replace) the child’s 4–6 digit PIN for shared-device sign-in; also unlocks it',
    request: { params: ChildParam, body: body(PinBody) },
    responses: { 204: noContent, ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
  }),
  removePin: route({
    method: 'delete',
    path: '/api/children/{childId}/pin',
    tags: childTags,
    summary: 'Remove the child’s PIN (PIN sign-in stops working)',
    request: { params: ChildParam },
    responses: { 204: noContent, ...errorResponses(401, 403, 404, 429) },
  }),
  unlockPin: route({
    method: 'post',
    path: '/api/children/{childId}/pin/unlock',
    tags: childTags,
    summary: 'Clear the wait that wrong PINs earned: the correct PIN works again at once',
    request: { params: ChildParam },
    responses: { 204: noContent, ...errorResponses(401, 403, 404, 429) },
  }),
  createDeviceKey: route({
    method: 'post',
    path: '/api/family/device-key',
    tags: childTags,
    summary: 'Create the family device key for PIN sign-in on shared devices (replaces and so revokes the previous one)',
    responses: { 201: json(DeviceKeyCreated, 'The key, shown once'), ...errorResponses(401, 403, 429) },
  }),
  revokeDeviceKey: route({
    method: 'delete',
    path: '/api/family/device-key',
    tags: childTags,
    summary: 'Revoke the family device key: PIN sign-in stops on every shared device',
    responses: { 204: noContent, ...errorResponses(401, 403, 429) },
  }),
  listClassrooms: route({
    method: 'get',
    path: '/api/classrooms',
    tags: classTags,
    summary: 'A teacher’s classrooms; for a guardian, the classrooms their children are in; all for an admin',
    responses: { 200: json(ClassroomList, 'Classrooms'), ...errorResponses(401, 403, 429) },
  }),
  createClassroom: route({
    method: 'post',
    path: '/api/classrooms',
    tags: classTags,
    summary: 'Create a classroom (teachers)',
    request: { body: body(NewClassroomInput) },
    responses: { 201: json(Classroom, 'Created'), ...errorResponses(400, 401, 403, 413, 415, 429) },
  }),
  getClassroom: route({
    method: 'get',
    path: '/api/classrooms/{classroomId}',
    tags: classTags,
    summary: 'A classroom',
    request: { params: ClassroomParam },
    responses: { 200: json(Classroom, 'The classroom'), ...errorResponses(401, 403, 404, 429) },
  }),
  createInvite: route({
    method: 'post',
    path: '/api/classrooms/{classroomId}/invites',
    tags: classTags,
    summary: 'A join code for guardians (valid 1–30 days, default 14)',
    request: { params: ClassroomParam, body: body(InviteRequest) },
    responses: { 201: json(Invite, 'The join code'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
  }),
  roster: route({
    method: 'get',
    path: '/api/classrooms/{classroomId}/children',
    tags: classTags,
    summary: 'Children in the classroom (nickname, grade, avatar); every read is audited',
    request: { params: ClassroomParam },
    responses: { 200: json(Roster, 'The roster'), ...errorResponses(401, 403, 404, 429) },
  }),
  removeMember: route({
    method: 'delete',
    path: '/api/classrooms/{classroomId}/children/{childId}',
    tags: classTags,
    summary: 'Take a child out of a classroom (its guardian, the teacher or an admin)',
    request: { params: MemberParam },
    responses: { 204: noContent, ...errorResponses(401, 403, 404, 429) },
  }),
  previewInvite: route({
    method: 'get',
    path: '/api/invites/{code}',
    tags: classTags,
    summary: 'What a join code is for, before a guardian answers it',
    request: { params: CodeParam },
    responses: { 200: json(InvitePreview, 'The classroom behind the code'), ...errorResponses(400, 401, 403, 404, 429) },
  }),
  acceptInvite: route({
    method: 'post',
    path: '/api/invites/{code}/accept',
    tags: classTags,
    summary: 'The guardian accepts: the child joins the classroom and its teacher can follow the child’s progress',
    request: { params: CodeParam, body: body(InviteAnswer) },
    responses: { 200: json(Membership, 'Joined'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
  }),
  declineInvite: route({
    method: 'post',
    path: '/api/invites/{code}/decline',
    tags: classTags,
    summary: 'The guardian declines for a child (removes the child if it had joined)',
    request: { params: CodeParam, body: body(InviteAnswer) },
    responses: { 200: json(Membership, 'Declined'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
  }),
};

function principalOf(c: { get(key: 'principal'): Principal | undefined }): Principal {
  const p = c.get('principal');
  if (!p) throw new AppError('internal', 'principal_missing', 'Request reached a handler without a caller');
  return p;
}

/** Families (children, device sessions, PINs, privacy rights) and classrooms (invites, rosters). */
export function familiesRoutes(children: ChildrenService, classrooms: ClassroomsService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const r = routes;

  app.openapi(r.listChildren, async (c) => c.json({ items: await children.list(principalOf(c)) }, 200));
  app.openapi(r.createChild, async (c) => c.json(await children.create(principalOf(c), c.req.valid('json')), 201));
  app.openapi(r.getChild, async (c) => c.json(await children.get(principalOf(c), c.req.valid('param').childId), 200));
  app.openapi(r.updateChild, async (c) => c.json(await children.update(principalOf(c), c.req.valid('param').childId, c.req.valid('json')), 200));
  app.openapi(r.deleteChild, async (c) => {
    await children.erase(principalOf(c), c.req.valid('param').childId);
    return c.body(null, 204);
  });
  app.openapi(r.exportChild, async (c) => c.json(await children.export(principalOf(c), c.req.valid('param').childId), 200));
  app.openapi(r.startSession, async (c) => c.json(await children.startDeviceSession(principalOf(c), c.req.valid('param').childId), 201));
  app.openapi(r.setPin, async (c) => {
    await children.setPin(principalOf(c), c.req.valid('param').childId, c.req.valid('json').pin);
    return c.body(null, 204);
  });
  app.openapi(r.removePin, async (c) => {
    await children.removePin(principalOf(c), c.req.valid('param').childId);
    return c.body(null, 204);
  });
  app.openapi(r.unlockPin, async (c) => {
    await children.unlockPin(principalOf(c), c.req.valid('param').childId);
    return c.body(null, 204);
  });

  app.openapi(r.createDeviceKey, async (c) => c.json(await children.createDeviceKey(principalOf(c)), 201));
  app.openapi(r.revokeDeviceKey, async (c) => {
    await children.revokeDeviceKey(principalOf(c));
    return c.body(null, 204);
  });

  app.openapi(r.listClassrooms, async (c) => c.json({ items: await classrooms.list(principalOf(c)) }, 200));
  app.openapi(r.createClassroom, async (c) => c.json(await classrooms.create(principalOf(c), c.req.valid('json')), 201));
  app.openapi(r.getClassroom, async (c) => c.json(await classrooms.get(principalOf(c), c.req.valid('param').classroomId), 200));
  app.openapi(r.createInvite, async (c) =>
    c.json(await classrooms.createInvite(principalOf(c), c.req.valid('param').classroomId, c.req.valid('json').expiresInDays), 201),
  );
  app.openapi(r.roster, async (c) => c.json({ items: await classrooms.roster(principalOf(c), c.req.valid('param').classroomId) }, 200));
  app.openapi(r.removeMember, async (c) => {
    const { classroomId, childId } = c.req.valid('param');
    await classrooms.removeMember(principalOf(c), classroomId, childId);
    return c.body(null, 204);
  });
  app.openapi(r.previewInvite, async (c) => c.json(await classrooms.previewInvite(principalOf(c), c.req.valid('param').code), 200));
  app.openapi(r.acceptInvite, async (c) =>
    c.json(await classrooms.respond(principalOf(c), c.req.valid('param').code, c.req.valid('json').childId, 'accept'), 200),
  );
  app.openapi(r.declineInvite, async (c) =>
    c.json(await classrooms.respond(principalOf(c), c.req.valid('param').code, c.req.valid('json').childId, 'decline'), 200),
  );
  return app;
}
