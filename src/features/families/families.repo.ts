import { sql, type Kysely, type Transaction } from 'kysely';
import { camelCase, CHILD_DATA, ERASED_CHILD_TABLES } from '../../adapters/db/child-data.ts';
import { scoped } from '../../adapters/db/scoped.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import type { ChildFacts, ClassroomFacts } from '../../domain/access-policy.ts';
import type { Child, ChildSettings, Classroom, ClassroomChild } from '../../domain/family.ts';
import { tenantSchema } from '../../domain/tenancy.ts';

/** SQL for children, classrooms, invites, memberships and the audit trail of one app. */

type Db = Kysely<Tables> | Transaction<Tables>;

interface ChildRecord extends Child {
  guardianId: string;
  pinHash: string | null;
}

const childColumns = ['id', 'guardian_id', 'nickname', 'grade', 'avatar', 'birth_year', 'settings', 'pin_hash', 'pin_failures', 'pin_retry_at', 'created_at'] as const;

function toChild(r: {
  id: string;
  guardian_id: string;
  nickname: string;
  grade: number;
  avatar: string;
  birth_year: number | null;
  settings: unknown;
  pin_hash: string | null;
  pin_retry_at: Date | null;
  created_at: Date;
}): ChildRecord {
  return {
    id: r.id,
    guardianId: r.guardian_id,
    nickname: r.nickname,
    grade: r.grade,
    avatar: r.avatar,
    birthYear: r.birth_year,
    settings: r.settings as ChildSettings,
    pinSet: r.pin_hash !== null,
    // "Locked" now means: waiting out the delay wrong PINs earned (it ends by itself).
    pinLocked: r.pin_retry_at !== null && r.pin_retry_at.getTime() > Date.now(),
    pinHash: r.pin_hash,
    createdAt: r.created_at.toISOString(),
  };
}

/** The public shape of a child record (no guardian id, no PIN hash). */
export function publicChild(c: ChildRecord): Child {
  return { id: c.id, nickname: c.nickname, grade: c.grade, avatar: c.avatar, birthYear: c.birthYear, settings: c.settings, pinSet: c.pinSet, pinLocked: c.pinLocked, createdAt: c.createdAt };
}

export async function findChild(db: Db, appId: string, id: string): Promise<ChildRecord | undefined> {
  const row = await scoped(db, appId).selectFrom('children').select(childColumns).where('id', '=', id).executeTakeFirst();
  return row && toChild(row);
}

/** The facts the access policy needs about a child, or undefined if it does not exist. */
export async function childFacts(db: Db, appId: string, id: string): Promise<ChildFacts | undefined> {
  const row = await scoped(db, appId)
    .selectFrom('children as ch')
    .leftJoin('classroom_members as m', (j) => j.onRef('m.child_id', '=', 'ch.id').on('m.status', '=', 'active'))
    .leftJoin('classrooms as c', 'c.id', 'm.classroom_id')
    .select(['ch.id', 'ch.guardian_id'])
    .select(sql<string[]>`coalesce(array_agg(c.teacher_id) filter (where c.teacher_id is not null), '{}')`.as('teacher_ids'))
    .where('ch.id', '=', id)
    .groupBy(['ch.id', 'ch.guardian_id'])
    .executeTakeFirst();
  return row && { kind: 'child', app: appId, id: row.id, guardianId: row.guardian_id, teacherIds: row.teacher_ids };
}

/**
 * The access facts and privacy settings of several children in one query
 * (the analytics ingest checks a batch's children at once). Children that do
 * not exist are missing from the map.
 */
export async function childFactsWithSettings(db: Db, appId: string, ids: readonly string[]): Promise<Map<string, ChildFacts & { settings: ChildSettings }>> {
  if (ids.length === 0) return new Map();
  const rows = await scoped(db, appId)
    .selectFrom('children as ch')
    .leftJoin('classroom_members as m', (j) => j.onRef('m.child_id', '=', 'ch.id').on('m.status', '=', 'active'))
    .leftJoin('classrooms as c', 'c.id', 'm.classroom_id')
    .select(['ch.id', 'ch.guardian_id', 'ch.settings'])
    .select(sql<string[]>`coalesce(array_agg(c.teacher_id) filter (where c.teacher_id is not null), '{}')`.as('teacher_ids'))
    .where('ch.id', 'in', ids)
    .groupBy(['ch.id', 'ch.guardian_id', 'ch.settings'])
    .execute();
  return new Map(
    rows.map((r) => [r.id, { kind: 'child' as const, app: appId, id: r.id, guardianId: r.guardian_id, teacherIds: r.teacher_ids, settings: r.settings as ChildSettings }]),
  );
}

export async function listChildrenOfGuardian(db: Db, appId: string, guardianId: string): Promise<Child[]> {
  const rows = await scoped(db, appId).selectFrom('children').select(childColumns).where('guardian_id', '=', guardianId).orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => publicChild(toChild(r)));
}

export async function listAllChildren(db: Db, appId: string, limit: number): Promise<Child[]> {
  const rows = await scoped(db, appId).selectFrom('children').select(childColumns).orderBy('created_at').orderBy('id').limit(limit).execute();
  return rows.map((r) => publicChild(toChild(r)));
}

export async function insertChild(db: Db, appId: string, child: { id: string; guardianId: string; nickname: string; grade: number; avatar: string; birthYear: number | null; settings: ChildSettings }): Promise<void> {
  await scoped(db, appId)
    .insertInto('children')
    .values({ id: child.id, guardian_id: child.guardianId, nickname: child.nickname, grade: child.grade, avatar: child.avatar, birth_year: child.birthYear, settings: JSON.stringify(child.settings) })
    .execute();
}

export async function updateChild(db: Db, appId: string, id: string, fields: { nickname?: string; grade?: number; avatar?: string; birthYear?: number | null; settings?: ChildSettings }): Promise<void> {
  await scoped(db, appId)
    .updateTable('children')
    .set({
      ...(fields.nickname !== undefined ? { nickname: fields.nickname } : {}),
      ...(fields.grade !== undefined ? { grade: fields.grade } : {}),
      ...(fields.avatar !== undefined ? { avatar: fields.avatar } : {}),
      ...(fields.birthYear !== undefined ? { birth_year: fields.birthYear } : {}),
      ...(fields.settings !== undefined ? { settings: JSON.stringify(fields.settings) } : {}),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .execute();
}

/** Device sessions of the child that can still be renewed (distinct refresh-token families), for the export. */
export async function countActiveSessions(db: Db, appId: string, childId: string): Promise<number> {
  const row = await scoped(db, appId)
    .selectFrom('refresh_tokens')
    .select(sql<number>`count(distinct family_id)::int`.as('n'))
    .where('child_id', '=', childId)
    .where('revoked_at', 'is', null)
    .where('used_at', 'is', null)
    .where('expires_at', '>', new Date())
    .executeTakeFirstOrThrow();
  return row.n;
}

export async function writeAudit(db: Db, appId: string, entry: { actorId: string; actorRole: string; childIds: readonly string[]; purpose: string }): Promise<void> {
  if (entry.childIds.length === 0) return;
  await scoped(db, appId)
    .insertInto('audit_log')
    .values(entry.childIds.map((childId) => ({ actor_id: entry.actorId, actor_role: entry.actorRole, child_id: childId, purpose: entry.purpose })))
    .execute();
}

/**
 * Everything {@link CHILD_DATA} declares about one child, one export section
 * per table, read in one snapshot (the caller passes a transaction) so the
 * sections agree with each other. Only exported columns, related names and
 * derived facts are selected: omitted columns such as the PIN hash are never
 * read. Rows are not limited: an export must be complete.
 */
export async function readChildData(db: Db, appId: string, childId: string): Promise<Record<string, unknown>> {
  const schema = tenantSchema(appId);
  const out: Record<string, unknown> = {};
  for (const entry of CHILD_DATA) {
    const asText = new Set<string>(entry.asText ?? []);
    const columns = entry.exported.map((c) => (asText.has(c) ? sql`t.${sql.ref(c)}::text as ${sql.ref(camelCase(c))}` : sql`t.${sql.ref(c)} as ${sql.ref(camelCase(c))}`));
    const related = Object.entries(entry.related ?? {}).map(
      ([name, r]) => sql`(select x.${sql.ref(r.column)} from ${sql.table(`${schema}.${r.table}`)} x where x.${sql.ref(r.key)} = t.${sql.ref(r.via)}) as ${sql.ref(name)}`,
    );
    const derived = Object.entries(entry.derived ?? {}).map(([name, expression]) => sql`(${sql.raw(expression)}) as ${sql.ref(name)}`);
    const { rows } = await sql<Record<string, unknown>>`
      select ${sql.join([...columns, ...related, ...derived])}
      from ${sql.table(`${schema}.${entry.table}`)} t
      where t.${sql.ref(entry.childColumn)} = ${childId}
      order by ${sql.join(entry.orderBy.map((c) => sql`t.${sql.ref(c)}`))}`.execute(db);
    const plain = rows.map(plainRow);
    out[entry.section] = entry.rows === 'one' ? (plain[0] ?? null) : plain;
  }
  return out;
}

/** Dates as ISO 8601 strings; everything else as the driver read it (JSON columns are already objects). */
function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
}

/**
 * Erases a child in one transaction: the rows of every table that
 * {@link CHILD_DATA} marks for deletion, the profile last, then a deletion
 * record with counts and table names only. Returns what was erased.
 */
export async function eraseChild(trx: Transaction<Tables>, appId: string, childId: string, requestedByRole: string): Promise<{ tables: Record<string, number> }> {
  const schema = tenantSchema(appId);
  const tables: Record<string, number> = {};
  for (const entry of ERASED_CHILD_TABLES) {
    const r = await sql`delete from ${sql.table(`${schema}.${entry.table}`)} where ${sql.ref(entry.childColumn)} = ${childId}`.execute(trx);
    tables[entry.table] = Number(r.numAffectedRows ?? 0);
  }
  const rows = Object.values(tables).reduce((a, b) => a + b, 0);
  await scoped(trx, appId)
    .insertInto('deletion_records')
    .values({ subject_kind: 'child', requested_by_role: requestedByRole, tables_erased: JSON.stringify(tables), rows_erased: rows })
    .execute();
  return { tables };
}

// ---- classrooms ----

interface ClassroomRecord extends Classroom {
  teacherId: string;
}

const toClassroom = (r: { id: string; teacher_id: string; name: string; grade: number | null; created_at: Date }): ClassroomRecord => ({
  id: r.id,
  teacherId: r.teacher_id,
  name: r.name,
  grade: r.grade,
  createdAt: r.created_at.toISOString(),
});

export const publicClassroom = (c: ClassroomRecord): Classroom => ({ id: c.id, name: c.name, grade: c.grade, createdAt: c.createdAt });

export async function insertClassroom(db: Db, appId: string, c: { id: string; teacherId: string; name: string; grade: number | null }): Promise<void> {
  await scoped(db, appId).insertInto('classrooms').values({ id: c.id, teacher_id: c.teacherId, name: c.name, grade: c.grade }).execute();
}

export async function findClassroom(db: Db, appId: string, id: string): Promise<ClassroomRecord | undefined> {
  const row = await scoped(db, appId).selectFrom('classrooms').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toClassroom(row);
}

export async function classroomFacts(db: Db, appId: string, id: string): Promise<ClassroomFacts | undefined> {
  const row = await scoped(db, appId)
    .selectFrom('classrooms as c')
    .leftJoin('classroom_members as m', (j) => j.onRef('m.classroom_id', '=', 'c.id').on('m.status', '=', 'active'))
    .leftJoin('children as ch', 'ch.id', 'm.child_id')
    .select(['c.id', 'c.teacher_id'])
    .select(sql<string[]>`coalesce(array_agg(distinct ch.guardian_id) filter (where ch.guardian_id is not null), '{}')`.as('guardian_ids'))
    .where('c.id', '=', id)
    .groupBy(['c.id', 'c.teacher_id'])
    .executeTakeFirst();
  return row && { kind: 'classroom', app: appId, id: row.id, teacherId: row.teacher_id, guardianIds: row.guardian_ids };
}

export async function listClassroomsOfTeacher(db: Db, appId: string, teacherId: string): Promise<Classroom[]> {
  const rows = await scoped(db, appId).selectFrom('classrooms').selectAll().where('teacher_id', '=', teacherId).orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => publicClassroom(toClassroom(r)));
}

export async function listClassroomsOfGuardian(db: Db, appId: string, guardianId: string): Promise<Classroom[]> {
  const rows = await scoped(db, appId)
    .selectFrom('classrooms as c')
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('classroom_members as m')
          .innerJoin('children as ch', 'ch.id', 'm.child_id')
          .select('m.child_id')
          .whereRef('m.classroom_id', '=', 'c.id')
          .where('m.status', '=', 'active')
          .where('ch.guardian_id', '=', guardianId),
      ),
    )
    .selectAll('c')
    .orderBy('c.created_at')
    .orderBy('c.id')
    .execute();
  return rows.map((r) => publicClassroom(toClassroom(r)));
}

export async function listAllClassrooms(db: Db, appId: string, limit: number): Promise<Classroom[]> {
  const rows = await scoped(db, appId).selectFrom('classrooms').selectAll().orderBy('created_at').orderBy('id').limit(limit).execute();
  return rows.map((r) => publicClassroom(toClassroom(r)));
}

export async function rosterOf(db: Db, appId: string, classroomId: string): Promise<ClassroomChild[]> {
  return scoped(db, appId)
    .selectFrom('classroom_members as m')
    .innerJoin('children as ch', 'ch.id', 'm.child_id')
    .select(['ch.id', 'ch.nickname', 'ch.grade', 'ch.avatar'])
    .where('m.classroom_id', '=', classroomId)
    .where('m.status', '=', 'active')
    .orderBy('ch.nickname')
    .orderBy('ch.id')
    .execute();
}

export async function insertInvite(db: Db, appId: string, invite: { code: string; classroomId: string; expiresAt: Date }): Promise<boolean> {
  const r = await scoped(db, appId)
    .insertInto('classroom_invites')
    .values({ code: invite.code, classroom_id: invite.classroomId, expires_at: invite.expiresAt })
    .onConflict((oc) => oc.column('code').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** A live (unexpired) invite with its classroom. */
export async function findLiveInvite(db: Db, appId: string, code: string): Promise<{ code: string; classroomId: string; classroomName: string; grade: number | null; expiresAt: string } | undefined> {
  const row = await scoped(db, appId)
    .selectFrom('classroom_invites as i')
    .innerJoin('classrooms as c', 'c.id', 'i.classroom_id')
    .select(['i.code', 'i.classroom_id', 'c.name', 'c.grade', 'i.expires_at'])
    .where('i.code', '=', code)
    .where('i.expires_at', '>', new Date())
    .executeTakeFirst();
  return row && { code: row.code, classroomId: row.classroom_id, classroomName: row.name, grade: row.grade, expiresAt: row.expires_at.toISOString() };
}

export async function setMembership(db: Db, appId: string, classroomId: string, childId: string, status: 'active' | 'declined'): Promise<void> {
  await scoped(db, appId)
    .insertInto('classroom_members')
    .values({ classroom_id: classroomId, child_id: childId, status })
    .onConflict((oc) => oc.columns(['classroom_id', 'child_id']).doUpdateSet({ status, responded_at: new Date() }))
    .execute();
}

export async function removeMembership(db: Db, appId: string, classroomId: string, childId: string): Promise<boolean> {
  const r = await scoped(db, appId).deleteFrom('classroom_members').where('classroom_id', '=', classroomId).where('child_id', '=', childId).where('status', '=', 'active').executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
