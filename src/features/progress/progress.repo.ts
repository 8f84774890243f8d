import { sql, type Kysely, type Transaction } from 'kysely';
import { PREPARED } from '../../adapters/db/database.ts';
import { scoped } from '../../adapters/db/scoped.ts';
import type { Tables } from '../../adapters/db/tables.ts';
import { tenantSchema } from '../../domain/tenancy.ts';
import type { AnswerKey } from '../../domain/curriculum.ts';
import type { ConceptState, StoredCard } from '../../domain/learner/concept-state.ts';
import { EVENTS_MESSAGE_HEAD, EVENTS_MESSAGE_TAIL, eventMessageJson } from '../../analytics/event-messages.ts';
import type { OutboxEvent } from '../../analytics/event-outbox.ts';
import type { LakeEvent } from '../../domain/analytics/event-types.ts';

/** SQL for answers and concept states of one app. */

type Db = Kysely<Tables> | Transaction<Tables>;

export interface ItemKey {
  id: string;
  lessonId: string;
  conceptId: string;
  type: 'multiple_choice' | 'numeric' | 'short_text';
  answer: AnswerKey;
  /** Set for a generated item: the only child whose answers to it count. */
  generatedFor?: string;
}

/** Answer keys of these items, for those that belong to a published lesson (the others are left out). */
export async function findItems(db: Db, appId: string, ids: readonly string[]): Promise<Map<string, ItemKey>> {
  if (ids.length === 0) return new Map();
  // Only items of published lessons can be answered: a draft's items are not
  // shown to children, and answering one would reveal its key and move the
  // child's state on content nobody released.
  const rows = await scoped(db, appId)
    .selectFrom('practice_items as i')
    .innerJoin('lessons as l', 'l.id', 'i.lesson_id')
    .select(['i.id', 'i.lesson_id', 'i.concept_id', 'i.type', 'i.answer', 'i.generated_for'])
    .where('i.id', 'in', ids)
    .where('l.published', '=', true)
    .execute();
  return new Map(
    rows.map((r) => [
      r.id,
      { id: r.id, lessonId: r.lesson_id, conceptId: r.concept_id, type: r.type as ItemKey['type'], answer: r.answer as AnswerKey, ...(r.generated_for === null ? {} : { generatedFor: r.generated_for }) },
    ]),
  );
}

/** Whether a published lesson with this id exists: only those can be completed (drafts are not shown to children). */
export async function publishedLessonExists(db: Db, appId: string, lessonId: string): Promise<boolean> {
  const row = await scoped(db, appId).selectFrom('lessons').select('id').where('id', '=', lessonId).where('published', '=', true).executeTakeFirst();
  return row !== undefined;
}

export interface NewAnswer {
  childId: string;
  clientEventId: string;
  itemId: string;
  lessonId: string;
  conceptId: string;
  response: unknown;
  correct: boolean;
  durationMs: number;
  answeredAt: Date;
}

export interface StoredAnswer extends NewAnswer {
  id: string;
}

/** Answers already stored under these (child, client event id) pairs. */
export async function findAnswersByEvent(db: Db, appId: string, keys: readonly { childId: string; clientEventId: string }[]): Promise<StoredAnswer[]> {
  if (keys.length === 0) return [];
  const rows = await scoped(db, appId)
    .selectFrom('answers')
    .selectAll()
    .where((eb) => eb.or(keys.map((k) => eb.and([eb('child_id', '=', k.childId), eb('client_event_id', '=', k.clientEventId)]))))
    .execute();
  return rows.map(toStoredAnswer);
}

function toStoredAnswer(r: { id: string; child_id: string; client_event_id: string; item_id: string; lesson_id: string; concept_id: string; response: unknown; correct: boolean; duration_ms: number; answered_at: Date }): StoredAnswer {
  return {
    id: String(r.id),
    childId: r.child_id,
    clientEventId: r.client_event_id,
    itemId: r.item_id,
    lessonId: r.lesson_id,
    conceptId: r.concept_id,
    response: r.response,
    correct: r.correct,
    durationMs: r.duration_ms,
    answeredAt: r.answered_at,
  };
}

const toState = (r: { attempts: number; correct: number; p_known: number; fsrs: unknown; last_answered_at: Date | null }): ConceptState => ({
  attempts: r.attempts,
  correct: r.correct,
  pKnown: r.p_known,
  fsrs: r.fsrs as StoredCard,
  lastAnsweredAt: r.last_answered_at?.toISOString() ?? null,
});

/** Every concept state of a child, with the concept's name. */
export async function statesOfChild(db: Db, appId: string, childId: string): Promise<{ conceptId: string; name: string | null; state: ConceptState }[]> {
  const rows = await scoped(db, appId)
    .selectFrom('concept_states as s')
    .leftJoin('concepts as c', 'c.id', 's.concept_id')
    .select(['s.concept_id', 'c.name', 's.attempts', 's.correct', 's.p_known', 's.fsrs', 's.last_answered_at'])
    .where('s.child_id', '=', childId)
    .orderBy('s.concept_id')
    .execute();
  return rows.map((r) => ({ conceptId: r.concept_id, name: r.name, state: toState(r) }));
}

/** The facts of a child's newest answers, newest first: sessions are built from them, and the analysis reads recent errors and time on task. */
export async function recentAnswerFacts(db: Db, appId: string, childId: string, limit: number): Promise<{ answeredAt: Date; correct: boolean; durationMs: number; lessonId: string; conceptId: string; itemId: string }[]> {
  const rows = await scoped(db, appId)
    .selectFrom('answers')
    .select(['answered_at', 'correct', 'duration_ms', 'lesson_id', 'concept_id', 'item_id'])
    .where('child_id', '=', childId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ answeredAt: r.answered_at, correct: r.correct, durationMs: r.duration_ms, lessonId: r.lesson_id, conceptId: r.concept_id, itemId: r.item_id }));
}

/** A child's completed lessons, newest first, with the lesson's title (null once the lesson is gone), and the number of distinct lessons completed. */
export async function completionsOfChild(
  db: Db,
  appId: string,
  childId: string,
  limit: number,
): Promise<{ distinctLessons: number; recent: { lessonId: string; title: string | null; completedAt: string; secondsSpent: number; score: number | null }[] }> {
  const q = scoped(db, appId);
  const [recent, count] = await Promise.all([
    q
      .selectFrom('lesson_completions as c')
      .leftJoin('lessons as l', 'l.id', 'c.lesson_id')
      .select(['c.lesson_id', 'l.title', 'c.completed_at', 'c.seconds_spent', 'c.score'])
      .where('c.child_id', '=', childId)
      .orderBy('c.completed_at', 'desc')
      .orderBy('c.id', 'desc')
      .limit(limit)
      .execute(),
    q.selectFrom('lesson_completions').select((eb) => eb.fn.count<string>('lesson_id').distinct().as('n')).where('child_id', '=', childId).executeTakeFirstOrThrow(),
  ]);
  return {
    distinctLessons: Number(count.n),
    recent: recent.map((r) => ({ lessonId: r.lesson_id, title: r.title, completedAt: r.completed_at.toISOString(), secondsSpent: r.seconds_spent, score: r.score })),
  };
}

/** A page of a child's answers, newest first, after the cursor (an answer id). */
export async function answersPage(db: Db, appId: string, childId: string, before: string | undefined, limit: number): Promise<StoredAnswer[]> {
  let q = scoped(db, appId).selectFrom('answers').selectAll().where('child_id', '=', childId);
  if (before !== undefined) q = q.where('id', '<', sql<string>`${before}::bigint`);
  const rows = await q.orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toStoredAnswer);
}

/**
 * Records a completed lesson; returns false when this (child, clientEventId)
 * was already recorded. `event` (its `lesson_recorded` analytics event) is
 * stored in the same statement, if and only if the completion is new.
 */
export async function insertCompletion(
  db: Db,
  appId: string,
  c: { childId: string; lessonId: string; clientEventId: string; secondsSpent: number; score: number | null; completedAt: Date },
  event?: OutboxEvent,
): Promise<boolean> {
  if (!event) {
    const r = await scoped(db, appId)
      .insertInto('lesson_completions')
      .values({ child_id: c.childId, lesson_id: c.lessonId, client_event_id: c.clientEventId, seconds_spent: c.secondsSpent, score: c.score, completed_at: c.completedAt })
      .onConflict((oc) => oc.columns(['child_id', 'client_event_id']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }
  const r = await sql<{ n: number | string }>`
    with ins as (
      insert into ${sql.table(`${tenantSchema(appId)}.lesson_completions`)} (child_id, lesson_id, client_event_id, seconds_spent, score, completed_at)
      values (${c.childId}, ${c.lessonId}, ${c.clientEventId}, ${c.secondsSpent}, ${c.score}, ${c.completedAt.toISOString()}::timestamptz)
      on conflict (child_id, client_event_id) do nothing
      returning 1
    ), ev as (
      insert into kidslearn.lake_events (app, event_id, type, source, occurred_at, received_at, learner, session_id, properties, payload_hash)
      select ${event.app}, ${event.eventId}::uuid, ${event.type}, ${event.source}, ${event.occurredAt.toISOString()}::timestamptz, now(), ${event.learner}, ${event.sessionId},
        ${event.propertiesJson}::jsonb, ${event.payloadHash}
      where exists (select 1 from ins)
      on conflict (app, event_id) do nothing
      returning 1
    )
    select count(*) as n from ins`.execute(db);
  return Number(r.rows[0]?.n ?? 0) === 1;
}

export async function findCompletion(db: Db, appId: string, childId: string, clientEventId: string) {
  return scoped(db, appId).selectFrom('lesson_completions').selectAll().where('child_id', '=', childId).where('client_event_id', '=', clientEventId).executeTakeFirst();
}

/** The figures of a progress summary for each child, computed in the database. */
export interface SummaryFacts {
  childId: string;
  nickname: string;
  secondsThisWeek: number;
  conceptsMastered: number;
  conceptsDueForReview: number;
  lessonsCompleted: number;
  lastActivity: Date | null;
  /** Distinct calendar days (in the summary's time zone) with any activity in the last 60 days, newest first. */
  activeDays: string[];
}

export async function summaryFacts(db: Db, appId: string, childIds: readonly string[], weekStart: Date, masteryThreshold: number, timeZone: string): Promise<SummaryFacts[]> {
  if (childIds.length === 0) return [];
  const since = new Date(Date.now() - 60 * 86_400_000);
  const rows = await sql<{
    child_id: string;
    nickname: string;
    lesson_seconds: number;
    answer_ms: number;
    mastered: number;
    review_due: number;
    lessons: number;
    last_activity: Date | null;
    days: string[] | null;
  }>`
    select ch.id as child_id, ch.nickname,
      coalesce((select sum(seconds_spent) from ${sql.table(`${schemaOf(appId)}.lesson_completions`)} lc
                where lc.child_id = ch.id and lc.completed_at >= ${weekStart}), 0)::float8 as lesson_seconds,
      -- answers given outside a lesson completed the same week count on their own
      coalesce((select sum(a.duration_ms) from ${sql.table(`${schemaOf(appId)}.answers`)} a
                where a.child_id = ch.id and a.answered_at >= ${weekStart}
                  and not exists (select 1 from ${sql.table(`${schemaOf(appId)}.lesson_completions`)} lc
                                  where lc.child_id = ch.id and lc.lesson_id = a.lesson_id and lc.completed_at >= ${weekStart})), 0)::float8 as answer_ms,
      -- known now: learned, and the FSRS review date (when recall falls to 0.9) not passed yet
      (select count(*) from ${sql.table(`${schemaOf(appId)}.concept_states`)} s where s.child_id = ch.id and s.p_known >= ${masteryThreshold} and s.next_review_at > now())::int as mastered,
      (select count(*) from ${sql.table(`${schemaOf(appId)}.concept_states`)} s where s.child_id = ch.id and s.p_known >= ${masteryThreshold} and s.next_review_at <= now())::int as review_due,
      (select count(distinct lesson_id) from ${sql.table(`${schemaOf(appId)}.lesson_completions`)} lc where lc.child_id = ch.id)::int as lessons,
      greatest((select max(answered_at) from ${sql.table(`${schemaOf(appId)}.answers`)} a where a.child_id = ch.id),
               (select max(completed_at) from ${sql.table(`${schemaOf(appId)}.lesson_completions`)} lc where lc.child_id = ch.id)) as last_activity,
      (select array_agg(d order by d desc) from (
         select distinct to_char(answered_at at time zone ${timeZone}::text, 'YYYY-MM-DD') as d from ${sql.table(`${schemaOf(appId)}.answers`)} a where a.child_id = ch.id and a.answered_at >= ${since}
         union
         select to_char(completed_at at time zone ${timeZone}::text, 'YYYY-MM-DD') from ${sql.table(`${schemaOf(appId)}.lesson_completions`)} lc where lc.child_id = ch.id and lc.completed_at >= ${since}
       ) days) as days
    from ${sql.table(`${schemaOf(appId)}.children`)} ch
    where ch.id in (${sql.join(childIds)})
    order by ch.nickname, ch.id`.execute(db);
  return rows.rows.map((r) => ({
    childId: r.child_id,
    nickname: r.nickname,
    secondsThisWeek: Math.round(Number(r.lesson_seconds) + Number(r.answer_ms) / 1000),
    conceptsMastered: r.mastered,
    conceptsDueForReview: r.review_due,
    lessonsCompleted: r.lessons,
    lastActivity: r.last_activity ? new Date(r.last_activity) : null,
    activeDays: r.days ?? [],
  }));
}

/** The tenant schema name for raw SQL (the app id is validated by tenantSchema). */
function schemaOf(appId: string): string {
  return tenantSchema(appId);
}

/**
 * What the write path knows about one child: every concept state, the sums
 * over them, and the child's learner clock — a counter every answer write
 * moves on, so a write computed from an older snapshot is refused (see
 * {@link writeAnswerGroups}).
 */
export interface LearnerSnapshot {
  seq: number;
  states: ReadonlyMap<string, ConceptState>;
  totals: { answers: number; correct: number };
}

/** Reads the snapshots of these children in one statement (no locks). */
export async function loadSnapshots(db: Db, appId: string, childIds: readonly string[]): Promise<Map<string, LearnerSnapshot>> {
  const schema = tenantSchema(appId);
  const result = await sql<{ child_id: string; seq: string | number; states: [string, number, number, number, StoredCard, string | null][] }>`
    select c.child_id,
      coalesce((select seq from ${sql.table(`${schema}.learner_clock`)} k where k.child_id = c.child_id), 0) as seq,
      (select coalesce(json_agg(json_build_array(s.concept_id, s.attempts, s.correct, s.p_known, s.fsrs, s.last_answered_at)), '[]'::json)
         from ${sql.table(`${schema}.concept_states`)} s where s.child_id = c.child_id) as states
    from (values ${sql.join(childIds.map((id) => sql`(${id}::text)`))}) as c(child_id)`.execute(db);
  const out = new Map<string, LearnerSnapshot>();
  for (const r of result.rows) {
    const states = new Map<string, ConceptState>();
    const totals = { answers: 0, correct: 0 };
    for (const [conceptId, attempts, correct, pKnown, fsrs, last] of r.states) {
      states.set(conceptId, toState({ attempts, correct, p_known: pKnown, fsrs, last_answered_at: last === null ? null : new Date(last) }));
      totals.answers += attempts;
      totals.correct += correct;
    }
    out.set(r.child_id, { seq: Number(r.seq), states, totals });
  }
  return out;
}

/** One write: new answers and the concept states they produce, computed from snapshots at `expectedSeq`. */
export interface AnswerWrite {
  clocks: readonly { childId: string; expectedSeq: number }[];
  answers: readonly NewAnswer[];
  states: readonly { childId: string; conceptId: string; state: ConceptState }[];
  /** The answers' `answer_recorded` analytics events, stored if and only if the group lands (none when the lake is off). */
  events?: readonly LakeEvent[];
}

/**
 * Stores groups of answers and the concept states they produce in one
 * statement — one round trip, atomic like any statement. Each group lands if
 * and only if every one of its children's learner clocks still reads
 * `expectedSeq` (they then move on by one); a group whose clock has moved
 * writes nothing (its writer must recompute from fresh snapshots), and the
 * other groups are not affected. Returns the indexes of the groups that
 * landed. No child may appear in two groups. An answer whose (child,
 * clientEventId) is already stored fails the whole statement with a unique
 * violation (SQLSTATE 23505); an erased child, with a foreign-key violation
 * (23503).
 */
export async function writeAnswerGroups(db: Db, appId: string, groups: readonly AnswerWrite[]): Promise<Set<number>> {
  const schema = tenantSchema(appId);
  const clocks = groups.flatMap((w, g) => w.clocks.map((c) => ({ g, ...c })));
  const a = groups.flatMap((w, g) => w.answers.map((x) => ({ g, ...x })));
  const st = groups.flatMap((w, g) => w.states.map((x) => ({ g, ...x })));
  // Each group's events as the JSON text of its part of the statement's pack.
  const packs = groups.flatMap((w, g) => (w.events?.length ? [{ g, n: w.events.length, body: w.events.map(eventMessageJson).join(',') }] : []));
  // One statement text for any number of groups and answers (columns as arrays, unnested), so it is prepared once.
  const result = await sql<{ landed: number[] }>`${sql.raw(PREPARED)}
    with clock as (
      select * from unnest(${clocks.map((c) => c.g)}::int[], ${clocks.map((c) => c.childId)}::text[], ${clocks.map((c) => c.expectedSeq + 1)}::bigint[]) as c(g, child_id, seq)
    ), guard as (
      insert into ${sql.table(`${schema}.learner_clock`)} as k (child_id, seq)
      select child_id, seq from clock
      on conflict (child_id) do update set seq = excluded.seq where k.seq = excluded.seq - 1
      returning child_id
    ), landed as (
      select clock.g from clock left join guard on guard.child_id = clock.child_id
      group by clock.g having count(guard.child_id) = count(*)
    ), ins as (
      insert into ${sql.table(`${schema}.answers`)} (child_id, client_event_id, item_id, lesson_id, concept_id, response, correct, duration_ms, answered_at)
      select v.child_id, v.client_event_id, v.item_id, v.lesson_id, v.concept_id, v.response, v.correct, v.duration_ms, v.answered_at
      from unnest(
        ${a.map((x) => x.g)}::int[], ${a.map((x) => x.childId)}::text[], ${a.map((x) => x.clientEventId)}::text[], ${a.map((x) => x.itemId)}::text[],
        ${a.map((x) => x.lessonId)}::text[], ${a.map((x) => x.conceptId)}::text[], ${a.map((x) => JSON.stringify(x.response))}::jsonb[],
        ${a.map((x) => x.correct)}::boolean[], ${a.map((x) => x.durationMs)}::integer[], ${a.map((x) => x.answeredAt.toISOString())}::timestamptz[]
      ) with ordinality as v(g, child_id, client_event_id, item_id, lesson_id, concept_id, response, correct, duration_ms, answered_at, n)
      where v.g in (select g from landed)
      order by v.n
      returning 1
    ), st as (
      insert into ${sql.table(`${schema}.concept_states`)} as s (child_id, concept_id, attempts, correct, p_known, fsrs, next_review_at, last_answered_at, updated_at)
      select v.child_id, v.concept_id, v.attempts, v.correct, v.p_known, v.fsrs, v.next_review_at, v.last_answered_at, now()
      from unnest(
        ${st.map((x) => x.g)}::int[], ${st.map((x) => x.childId)}::text[], ${st.map((x) => x.conceptId)}::text[], ${st.map((x) => x.state.attempts)}::integer[],
        ${st.map((x) => x.state.correct)}::integer[], ${st.map((x) => x.state.pKnown)}::float8[], ${st.map((x) => JSON.stringify(x.state.fsrs))}::jsonb[],
        ${st.map((x) => x.state.fsrs.due)}::timestamptz[], ${st.map((x) => x.state.lastAnsweredAt)}::timestamptz[]
      ) as v(g, child_id, concept_id, attempts, correct, p_known, fsrs, next_review_at, last_answered_at)
      where v.g in (select g from landed)
      on conflict (child_id, concept_id) do update set attempts = excluded.attempts, correct = excluded.correct, p_known = excluded.p_known,
        fsrs = excluded.fsrs, next_review_at = excluded.next_review_at, last_answered_at = excluded.last_answered_at, updated_at = excluded.updated_at
      returning 1
    ), ev as (
      -- The answers' analytics events, in the same statement: stored exactly when their answers are,
      -- as one pack (a JSON array) for the statement (analytics/event-packs.ts).
      insert into kidslearn.lake_event_packs (app, events, body)
      select ${appId}::text, sum(v.n)::int, ${EVENTS_MESSAGE_HEAD}::text || string_agg(v.body, ',' order by v.g) || ${EVENTS_MESSAGE_TAIL}::text
      from unnest(${packs.map((p) => p.g)}::int[], ${packs.map((p) => p.n)}::int[], ${packs.map((p) => p.body)}::text[]) as v(g, n, body)
      where v.g in (select g from landed)
      having count(*) > 0
      returning 1
    )
    select coalesce(array_agg(g), '{}') as landed from landed`.execute(db);
  return new Set(result.rows[0]?.landed ?? []);
}
