import { sql, type Kysely, type Transaction } from 'kysely';
import { scoped } from '../../adapters/db/scoped.ts';
import { tenantSchema } from '../../domain/tenancy.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import type { ImportPlan, StoredContent } from '../../domain/content-import-plan.ts';
import type { PackAuthor, PackMetadata } from '../../domain/content-pack.ts';
import { itemRow, lessonFields, toPracticeItem, upsertItems } from '../lessons/lessons.repo.ts';

/** SQL for content packs: reading an app's whole curriculum and writing an import plan. */

type Db = Kysely<Tables> | Transaction<Tables>;

/** Rows per multi-row statement: keeps statements small and PGlite fast. */
const CHUNK = 200;

function chunks<T>(xs: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** Serialises imports of one app (across processes): two imports at once would plan from the same snapshot. */
export async function lockAppContent(trx: Transaction<Tables>, appId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`kidslearn-content:${appId}`}))`.execute(trx);
}

/** Every pack, concept, unit, lesson and item of an app, retired ones included. */
export async function loadStoredContent(db: Db, appId: string): Promise<StoredContent> {
  const s = scoped(db, appId);
  const [packs, concepts, edges, units, lessons, items] = await Promise.all([
    s.selectFrom('content_packs').selectAll().orderBy('rank').execute(),
    s.selectFrom('concepts').selectAll().orderBy('id').execute(),
    s.selectFrom('concept_prerequisites').selectAll().orderBy('concept_id').orderBy('prerequisite_id').execute(),
    s.selectFrom('content_units').selectAll().orderBy('pack_id').orderBy('position').execute(),
    s.selectFrom('lessons').selectAll().orderBy('id').execute(),
    // Generated items belong to no pack: an import neither compares nor removes them.
    s.selectFrom('practice_items').selectAll().where('generated', 'is', null).orderBy('lesson_id').orderBy('position').orderBy('id').execute(),
  ]);
  const prerequisites = new Map<string, string[]>();
  for (const e of edges) {
    const list = prerequisites.get(e.concept_id) ?? [];
    list.push(e.prerequisite_id);
    prerequisites.set(e.concept_id, list);
  }
  return {
    packs: packs.map((p) => {
      const meta: PackMetadata & { rank: number } = {
        rank: p.rank,
        id: p.id,
        version: p.version,
        title: p.title,
        language: p.language,
        license: p.license,
        authors: p.authors as PackAuthor[],
      };
      if (p.description !== null) meta.description = p.description;
      return meta;
    }),
    concepts: concepts.map((c) => ({
      id: c.id,
      subject: c.subject,
      grade: c.grade,
      name: c.name,
      description: c.description,
      prerequisites: prerequisites.get(c.id) ?? [],
      packId: c.pack_id,
      retired: c.retired_at !== null,
    })),
    units: units.map((u) => ({ id: u.id, packId: u.pack_id, position: u.position, title: u.title, description: u.description })),
    lessons: lessons.map((l) => ({
      ...lessonFields(l),
      packId: l.pack_id,
      unitId: l.unit_id,
      position: l.position,
      retired: l.retired_at !== null,
    })),
    items: items.map((i) => ({
      ...toPracticeItem(i),
      lessonId: i.lesson_id,
      position: i.position,
      contentHash: i.content_hash,
      released: i.released_at !== null,
      retired: i.retired_at !== null,
    })),
  };
}

/**
 * Writes an import plan inside the caller's transaction. `onStep` is called
 * with how many rows were written so far, for progress bars.
 */
export async function applyImportPlan(trx: Transaction<Tables>, appId: string, meta: PackMetadata, plan: ImportPlan, onStep: (rows: number) => void = () => {}): Promise<void> {
  const s = () => scoped(trx, appId);
  const now = new Date();
  let written = 0;
  const step = (n: number) => onStep((written += n));

  if (plan.packChanged) {
    const values = {
      id: meta.id,
      version: meta.version,
      title: meta.title,
      description: meta.description ?? null,
      language: meta.language,
      license: meta.license,
      authors: JSON.stringify(meta.authors),
      imported_at: now,
    };
    const rank = await s().selectFrom('content_packs').select(sql<number>`coalesce(max(rank), 0) + 1`.as('next')).executeTakeFirstOrThrow();
    await s()
      .insertInto('content_packs')
      .values({ ...values, rank: rank.next })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .execute();
  } else {
    await s().updateTable('content_packs').set({ imported_at: now }).where('id', '=', meta.id).execute();
  }

  // Concepts first (lessons and items reference them), then their prerequisite edges.
  for (const chunk of chunks(plan.concepts)) {
    await s()
      .insertInto('concepts')
      .values(chunk.map((c) => ({ id: c.id, subject: c.subject, grade: c.grade, name: c.name, description: c.description, pack_id: plan.packId, retired_at: null })))
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          subject: eb.ref('excluded.subject'),
          grade: eb.ref('excluded.grade'),
          name: eb.ref('excluded.name'),
          description: eb.ref('excluded.description'),
          pack_id: eb.ref('excluded.pack_id'),
          retired_at: null,
        })),
      )
      .execute();
    step(chunk.length);
  }
  const conceptIds = plan.concepts.map((c) => c.id);
  for (const chunk of chunks(conceptIds)) await s().deleteFrom('concept_prerequisites').where('concept_id', 'in', chunk).execute();
  const edges = plan.concepts.flatMap((c) => c.prerequisites.map((p) => ({ concept_id: c.id, prerequisite_id: p })));
  for (const chunk of chunks(edges, 500)) await s().insertInto('concept_prerequisites').values(chunk).execute();
  for (const chunk of chunks(plan.retireConcepts)) await s().updateTable('concepts').set({ retired_at: now }).where('id', 'in', chunk).execute();

  for (const chunk of chunks(plan.deleteUnits)) await s().deleteFrom('content_units').where('id', 'in', chunk).execute();
  for (const chunk of chunks(plan.units)) {
    await s()
      .insertInto('content_units')
      .values(chunk.map((u) => ({ id: u.id, pack_id: u.packId, position: u.position, title: u.title, description: u.description })))
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          pack_id: eb.ref('excluded.pack_id'),
          position: eb.ref('excluded.position'),
          title: eb.ref('excluded.title'),
          description: eb.ref('excluded.description'),
        })),
      )
      .execute();
  }

  for (const chunk of chunks(plan.lessons, 50)) {
    await s()
      .insertInto('lessons')
      .values(
        chunk.map((l) => ({
          id: l.id,
          subject: l.subject,
          grade: l.grade,
          title: l.title,
          summary: l.summary,
          blocks: JSON.stringify(l.blocks),
          concept_ids: l.conceptIds,
          media: JSON.stringify(l.media),
          estimated_minutes: l.estimatedMinutes,
          published: l.published,
          pack_id: l.packId,
          unit_id: l.unitId,
          position: l.position,
          retired_at: null,
        })),
      )
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          subject: eb.ref('excluded.subject'),
          grade: eb.ref('excluded.grade'),
          title: eb.ref('excluded.title'),
          summary: eb.ref('excluded.summary'),
          blocks: eb.ref('excluded.blocks'),
          concept_ids: eb.ref('excluded.concept_ids'),
          media: eb.ref('excluded.media'),
          estimated_minutes: eb.ref('excluded.estimated_minutes'),
          published: eb.ref('excluded.published'),
          pack_id: eb.ref('excluded.pack_id'),
          unit_id: eb.ref('excluded.unit_id'),
          position: eb.ref('excluded.position'),
          retired_at: null,
          updated_at: now,
        })),
      )
      .execute();
    step(chunk.length);
  }
  for (const chunk of chunks(plan.retireLessons)) {
    await s().updateTable('lessons').set({ retired_at: now, updated_at: now }).where('id', 'in', chunk).execute();
  }
  // Never seen by children: gone for good, with their (unreleased) items.
  for (const chunk of chunks(plan.deleteLessons)) await s().deleteFrom('lessons').where('id', 'in', chunk).execute();
  await reposition(trx, appId, 'content_units', plan.repositionUnits);
  await reposition(trx, appId, 'lessons', plan.repositionLessons);

  // Items leave before the planned ones are written, so positions are never taken twice among live items.
  for (const chunk of chunks(plan.deleteItems)) await s().deleteFrom('practice_items').where('id', 'in', chunk).execute();
  for (const chunk of chunks(plan.retireItems)) await s().updateTable('practice_items').set({ retired_at: now }).where('id', 'in', chunk).execute();
  // Content hashes were computed by the plan; itemRow computes the same from the same fields.
  const rows = plan.lessons.flatMap((l) => l.items.map((item, position) => itemRow(item, l, position, now)));
  await upsertItems(trx, appId, rows, step);
}

/** Sets new positions on rows whose place moved only because others came or went. */
async function reposition(trx: Transaction<Tables>, appId: string, table: 'lessons' | 'content_units', rows: readonly { id: string; position: number }[]): Promise<void> {
  for (const chunk of chunks(rows, 500)) {
    const values = sql.join(chunk.map((r) => sql`(${r.id}, ${r.position}::int)`));
    await sql`update ${sql.table(`${tenantSchema(appId)}.${table}`)} t set position = v.position from (values ${values}) as v(id, position) where t.id = v.id`.execute(trx);
  }
}
