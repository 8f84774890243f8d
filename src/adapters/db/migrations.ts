import { sql, type Kysely, type Transaction } from 'kysely';
import { tenantSchema } from '../../domain/tenancy.ts';
import type { Tables } from './tables.ts';
import { itemContentHash } from '../../domain/content-pack.ts';
import type { PracticeItem } from '../../domain/curriculum.ts';

/**
 * One numbered series of migrations for the control schema (`kidslearn`) and
 * one for every app schema. Both backends run exactly the same SQL. Never
 * edit a released migration: add the next number.
 */
export interface Migration {
  version: number;
  name: string;
  /** `schema` is a validated, quoted identifier (tenant migrations only). */
  up(trx: Transaction<Tables>, schema: string): Promise<void>;
}

const run = (trx: Transaction<Tables>, text: string) => sql.raw(text).execute(trx);

/** PGlite's extended protocol takes one statement per query, so statements run one by one. */
async function runAll(trx: Transaction<Tables>, statements: string[]): Promise<void> {
  for (const statement of statements) await run(trx, statement);
}

export const controlMigrations: Migration[] = [
  {
    version: 1,
    name: 'app registry',
    async up(trx) {
      await run(
        trx,
        `create table kidslearn.apps (
           id text primary key check (id ~ '^[a-z][a-z0-9_]{1,30}$'),
           name text not null check (length(name) between 1 and 200),
           created_at timestamptz not null default now()
         )`,
      );
    },
  },
  {
    version: 2,
    name: 'app settings',
    async up(trx) {
      // revealAnswers: answer results include the correct answer (apps for the youngest may turn it off).
      await run(trx, `alter table kidslearn.apps add column settings jsonb not null default '{"revealAnswers": true}'`);
    },
  },
  {
    version: 3,
    name: 'analytics events',
    async up(trx) {
      await runAll(trx, [
        // One secret per app for pseudonymous learner keys (domain/analytics/pseudonym.ts): the lake never holds a child id.
        `create table kidslearn.lake_keys (
           app text primary key references kidslearn.apps(id) on delete cascade,
           key text not null,
           created_at timestamptz not null default now()
         )`,
        // The durable outbox of acknowledged events, in commit order of their sequence numbers.
        // Kept after export for the dedup window (unique (app, event_id)), then pruned.
        `create table kidslearn.lake_events (
           seq bigint generated always as identity primary key,
           app text not null,
           event_id uuid not null,
           type text not null,
           source text not null check (source in ('app', 'server')),
           occurred_at timestamptz not null,
           received_at timestamptz not null default now(),
           learner text,
           session_id text,
           properties jsonb not null,
           payload_hash text not null,
           batch_id bigint,
           exported_at timestamptz,
           unique (app, event_id)
         )`,
        // Every index here is paid by every acknowledged event (and so by every answer, whose
        // answer_recorded event is written in the same statement), so there is one besides the
        // keys: what is not yet exported, in seq order (the writer's claims, the backlog). A
        // child's export and erasure read the pending rows through it too: the writer clears the
        // learner key, session and properties of the rows it exports.
        `create index lake_events_pending on kidslearn.lake_events (seq) where exported_at is null`,
        `create index lake_events_exported on kidslearn.lake_events (received_at) where exported_at is not null`,
        // Events that cannot enter the lake (a conflicting retry, a batch past its attempts), kept with the reason for redrive.
        `create table kidslearn.lake_dead_letters (
           id bigint generated always as identity primary key,
           app text not null,
           event_id uuid not null,
           seq bigint,
           type text not null,
           learner text,
           reason text not null check (reason in ('conflict', 'rejected', 'max_attempts')),
           detail text,
           attempts integer not null default 0,
           event jsonb not null,
           created_at timestamptz not null default now(),
           redriven_at timestamptz
         )`,
        `create index lake_dead_letters_app on kidslearn.lake_dead_letters (app, created_at)`,
        `create index lake_dead_letters_learner on kidslearn.lake_dead_letters (app, learner) where learner is not null`,
      ]);
    },
  },
  {
    version: 4,
    name: 'lake batches',
    async up(trx) {
      await runAll(trx, [
        // The writer's batches: claimed (members' batch_id set) before any file is written, so a
        // crashed writer's successor rewrites the same members to the same keys (analytics/lake-writer.ts).
        `create table kidslearn.lake_batches (
           id bigint generated always as identity primary key,
           first_seq bigint not null,
           last_seq bigint not null,
           events integer not null,
           state text not null default 'claimed' check (state in ('claimed', 'written', 'dead')),
           attempts integer not null default 0,
           next_attempt_at timestamptz not null default now(),
           last_error text,
           files jsonb not null default '[]',
           created_at timestamptz not null default now(),
           written_at timestamptz
         )`,
        `create index lake_batches_claimed on kidslearn.lake_batches (next_attempt_at) where state = 'claimed'`,
        `create index lake_batches_done on kidslearn.lake_batches (created_at) where state <> 'claimed'`,
        `create index lake_events_batch on kidslearn.lake_events (batch_id) where batch_id is not null and exported_at is null`,
        `create index lake_events_app_exported on kidslearn.lake_events (app, exported_at) where exported_at is not null`,
        // One row: the last flush (any app), for status and the last-flush gauge after a restart.
        `create table kidslearn.lake_writer_state (
           id smallint primary key check (id = 1),
           last_flush_at timestamptz,
           last_flush_events integer not null default 0
         )`,
        `insert into kidslearn.lake_writer_state (id) values (1)`,
      ]);
    },
  },
  {
    version: 5,
    name: 'lake erasures',
    async up(trx) {
      await runAll(trx, [
        // A child's erasure reaching the lake: recorded in the erasure's transaction (with the
        // outbox rows and dead letters deleted there), then carried out on the Parquet files by the
        // lake writer (analytics/lake-privacy.ts). Kept as a tombstone, so compaction leaves the
        // learner out too. Holds only the pseudonymous key.
        `create table kidslearn.lake_erasures (
           id bigint generated always as identity primary key,
           app text not null,
           learner text not null,
           requested_at timestamptz not null default now(),
           done_at timestamptz,
           files_rewritten integer,
           rows_removed integer
         )`,
        `create index lake_erasures_pending on kidslearn.lake_erasures (requested_at) where done_at is null`,
        `create index lake_erasures_app on kidslearn.lake_erasures (app, learner)`,
      ]);
    },
  },
  {
    version: 6,
    name: 'job records',
    async up(trx) {
      await runAll(trx, [
        // The SQS job queue's records (adapters/jobs/sqs-queue.ts): SQS delivers, this table answers
        // get/list/counts/retry and holds each job's state, attempts and output. The primary key (a
        // hash of queue and idempotency key when one is given) makes a repeated send add nothing.
        // pg-boss keeps its own tables in its own schema; this one stays empty on that adapter.
        `create table kidslearn.jobs (
           id uuid primary key,
           queue text not null check (length(queue) between 1 and 200),
           state text not null default 'created' check (state in ('created', 'retry', 'active', 'completed', 'failed', 'cancelled')),
           data jsonb not null,
           singleton_key text,
           idempotency_key text,
           attempts integer not null default 0,
           retry_limit integer not null check (retry_limit >= 0),
           retry_delay_seconds integer not null check (retry_delay_seconds >= 0),
           retry_backoff boolean not null,
           expire_seconds integer not null check (expire_seconds >= 1),
           output jsonb,
           error text,
           created_at timestamptz not null default now(),
           started_at timestamptz,
           finished_at timestamptz,
           run_after timestamptz not null default now(),
           sent_at timestamptz,
           unique (queue, idempotency_key)
         )`,
        `create index jobs_queue_state on kidslearn.jobs (queue, state)`,
        `create index jobs_created on kidslearn.jobs (created_at desc, id desc)`,
      ]);
    },
  },  {
    version: 7,
    name: 'lake event packs',
    async up(trx) {
      await runAll(trx, [
        // The answer path's analytics events, one row per answer-write statement instead of one per
        // event (analytics/event-packs.ts): the row holds the statement's answer_recorded events as a
        // JSON array, written in the same statement as the answers, and the lake writer (or an
        // erasure, an export, the backlog count) unpacks it into kidslearn.lake_events in one
        // statement (delete + insert), so each event is stored once either way. One row and one
        // sequential key per statement keeps the answer path's extra WAL and CPU small.
        `create table kidslearn.lake_event_packs (
           id bigint generated always as identity primary key,
           app text not null,
           received_at timestamptz not null default now(),
           events integer not null check (events > 0),
           body text not null
         )`,
        // A pack's body is compressed when stored (TOAST, over ~2 KB): lz4 where the server has it
        // (PostgreSQL 14+ built with lz4, as Debian's and Aurora's are) costs a fifth of the CPU of
        // the default pglz (1.2 against 6.5 µs of backend CPU per event in packs of 500, measured).
        `do $$ begin
           if exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
             alter table kidslearn.lake_event_packs alter column body set compression lz4;
           end if;
         end $$`,
      ]);
    },
  },
  {
    version: 8,
    name: 'unreadable event packs set aside',
    async up(trx) {
      await runAll(trx, [
        // A pack this version cannot decode (e.g. written by a newer version before a rollback) is
        // marked with the error instead of staying at the head of the queue, where enough of them would
        // stop every later pack from being unpacked. A writer that starts clears the marks and tries
        // them again (analytics/event-packs.ts).
        `alter table kidslearn.lake_event_packs add column unreadable text`,
      ]);
    },
  },
];

export const tenantMigrations: Migration[] = [
  {
    version: 1,
    name: 'curriculum',
    async up(trx, s) {
      await runAll(trx, [
        `create table ${s}.concepts (
           id text primary key,
           subject text not null,
           grade smallint not null check (grade between 0 and 8),
           name text not null,
           description text not null default ''
         )`,
        `create table ${s}.concept_prerequisites (
           concept_id text not null references ${s}.concepts(id) on delete cascade,
           prerequisite_id text not null references ${s}.concepts(id) on delete cascade,
           primary key (concept_id, prerequisite_id),
           check (concept_id <> prerequisite_id)
         )`,
        `create table ${s}.lessons (
           id text primary key,
           subject text not null,
           grade smallint not null check (grade between 0 and 8),
           title text not null,
           summary text not null,
           blocks jsonb not null,
           concept_ids text[] not null,
           media jsonb not null default '[]',
           estimated_minutes integer not null check (estimated_minutes > 0),
           published boolean not null default false,
           created_at timestamptz not null default now(),
           updated_at timestamptz not null default now()
         )`,
        `create index lessons_listing on ${s}.lessons (grade, subject, id) where published`,
        `create index lessons_subject_listing on ${s}.lessons (subject, grade, id) where published`,
        `create table ${s}.practice_items (
           id text primary key,
           lesson_id text not null references ${s}.lessons(id) on delete cascade,
           position integer not null,
           concept_id text not null references ${s}.concepts(id),
           type text not null check (type in ('multiple_choice', 'numeric', 'short_text')),
           prompt text not null,
           choices jsonb,
           answer jsonb not null,
           difficulty real not null check (difficulty between -3 and 3),
           unique (lesson_id, position)
         )`,
        `create index practice_items_concept on ${s}.practice_items (concept_id)`,
      ]);
    },
  },
  {
    version: 2,
    name: 'accounts, families, classrooms, sign-in, audit',
    async up(trx, s) {
      await runAll(trx, [
        // Grown-ups only: guardians, teachers, admins. Children never have an
        // account, an email or a password.
        // An account signs in with email and password, or through the
        // external identity provider (external_subject, no password here).
        `create table ${s}.accounts (
           id text primary key,
           email text check (email = lower(email) and length(email) between 3 and 254),
           role text not null check (role in ('guardian', 'teacher', 'admin')),
           password_hash text,
           external_subject text,
           created_at timestamptz not null default now(),
           check ((email is not null and password_hash is not null) or external_subject is not null)
         )`,
        `create unique index accounts_email on ${s}.accounts (email)`,
        `create unique index accounts_external_subject on ${s}.accounts (external_subject)`,
        // The minimum about a child: no email, phone, full name or location.
        `create table ${s}.children (
           id text primary key,
           guardian_id text not null references ${s}.accounts(id) on delete cascade,
           nickname text not null check (length(nickname) between 1 and 40),
           grade smallint not null check (grade between 0 and 8),
           avatar text not null,
           birth_year smallint check (birth_year between 2000 and 2100),
           settings jsonb not null,
           pin_hash text,
           pin_failures integer not null default 0,
           pin_locked boolean not null default false,
           created_at timestamptz not null default now(),
           updated_at timestamptz not null default now()
         )`,
        `create index children_guardian on ${s}.children (guardian_id)`,
        `create table ${s}.classrooms (
           id text primary key,
           teacher_id text not null references ${s}.accounts(id) on delete cascade,
           name text not null check (length(name) between 1 and 80),
           grade smallint check (grade between 0 and 8),
           created_at timestamptz not null default now()
         )`,
        `create index classrooms_teacher on ${s}.classrooms (teacher_id)`,
        `create table ${s}.classroom_invites (
           code text primary key,
           classroom_id text not null references ${s}.classrooms(id) on delete cascade,
           expires_at timestamptz not null,
           created_at timestamptz not null default now()
         )`,
        `create index classroom_invites_classroom on ${s}.classroom_invites (classroom_id)`,
        // A guardian's answer to an invite for one child: only 'active' links
        // let the teacher see the child.
        `create table ${s}.classroom_members (
           classroom_id text not null references ${s}.classrooms(id) on delete cascade,
           child_id text not null references ${s}.children(id) on delete cascade,
           status text not null check (status in ('active', 'declined')),
           responded_at timestamptz not null default now(),
           primary key (classroom_id, child_id)
         )`,
        `create index classroom_members_child on ${s}.classroom_members (child_id)`,
        // Opaque refresh tokens, stored as SHA-256 digests, rotated on use.
        `create table ${s}.refresh_tokens (
           token_hash text primary key,
           family_id text not null,
           account_id text references ${s}.accounts(id) on delete cascade,
           child_id text references ${s}.children(id) on delete cascade,
           expires_at timestamptz not null,
           used_at timestamptz,
           revoked_at timestamptz,
           created_at timestamptz not null default now(),
           check ((account_id is null) <> (child_id is null))
         )`,
        `create index refresh_tokens_family on ${s}.refresh_tokens (family_id)`,
        `create index refresh_tokens_child on ${s}.refresh_tokens (child_id)`,
        // Who read a child's data, and why. The child id is kept as text with
        // no foreign key so erasing a child keeps the record that it was read.
        `create table ${s}.audit_log (
           id bigint generated always as identity primary key,
           actor_id text not null,
           actor_role text not null,
           child_id text not null,
           purpose text not null,
           at timestamptz not null default now()
         )`,
        `create index audit_log_child on ${s}.audit_log (child_id, at)`,
        // Proof that an erasure happened, holding no personal data.
        `create table ${s}.deletion_records (
           id bigint generated always as identity primary key,
           subject_kind text not null,
           requested_by_role text not null,
           tables_erased jsonb not null,
           rows_erased integer not null,
           at timestamptz not null default now()
         )`,
      ]);
    },
  },
  {
    version: 3,
    name: 'progress: answers, concept states, lesson completions',
    async up(trx, s) {
      await runAll(trx, [
        // Append-only. (child_id, client_event_id) makes retries idempotent.
        `create table ${s}.answers (
           id bigint generated always as identity primary key,
           child_id text not null references ${s}.children(id) on delete cascade,
           client_event_id text not null check (length(client_event_id) between 1 and 100),
           item_id text not null,
           lesson_id text not null,
           concept_id text not null,
           response jsonb not null,
           correct boolean not null,
           duration_ms integer not null check (duration_ms >= 0),
           answered_at timestamptz not null,
           received_at timestamptz not null default now(),
           unique (child_id, client_event_id)
         )`,
        `create index answers_child on ${s}.answers (child_id, id)`,
        `create index answers_child_concept on ${s}.answers (child_id, concept_id, answered_at)`,
        // One row per (child, concept), changed in the transaction of the answer that changes it.
        `create table ${s}.concept_states (
           child_id text not null references ${s}.children(id) on delete cascade,
           concept_id text not null,
           attempts integer not null,
           correct integer not null,
           p_known double precision not null,
           fsrs jsonb not null,
           next_review_at timestamptz not null,
           last_answered_at timestamptz,
           updated_at timestamptz not null default now(),
           primary key (child_id, concept_id)
         )`,
        `create table ${s}.lesson_completions (
           id bigint generated always as identity primary key,
           child_id text not null references ${s}.children(id) on delete cascade,
           lesson_id text not null,
           client_event_id text not null,
           seconds_spent integer not null check (seconds_spent >= 0),
           score double precision check (score between 0 and 1),
           completed_at timestamptz not null,
           unique (child_id, client_event_id)
         )`,
        `create index lesson_completions_child on ${s}.lesson_completions (child_id, completed_at)`,
      ]);
    },
  },
  {
    version: 4,
    name: 'fitted learner-model versions',
    async up(trx, s) {
      await run(
        trx,
        `create table ${s}.model_versions (
           version integer generated always as identity primary key,
           params jsonb not null,
           answers_used integer not null,
           summary jsonb not null,
           created_at timestamptz not null default now()
         )`,
      );
    },
  },
  {
    version: 5,
    name: 'answers are append-only',
    async up(trx, s) {
      // Rows of answers are never changed. Deleting stays possible: erasure needs it.
      await runAll(trx, [
        `create function ${s}.answers_append_only() returns trigger language plpgsql as $$
         begin
           raise exception 'answers are append-only' using errcode = 'restrict_violation';
         end $$`,
        `create trigger answers_append_only before update on ${s}.answers
         for each row execute function ${s}.answers_append_only()`,
      ]);
    },
  },
  {
    version: 6,
    name: 'learner clock: one counter per child that every answer write moves on',
    async up(trx, s) {
      // A write of answers and concept states lands only if the child's clock
      // still reads what it read when it computed them (optimistic
      // concurrency in one statement; no row exists before the first write).
      await run(
        trx,
        `create table ${s}.learner_clock (
           child_id text primary key references ${s}.children(id) on delete cascade,
           seq bigint not null check (seq > 0)
         )`,
      );
    },
  },
  {
    version: 7,
    name: 'sign-in hardening: email tokens, family device keys, PIN delays instead of a lock',
    async up(trx, s) {
      await runAll(trx, [
        // Single-use tokens sent by mail (email verification, password reset),
        // stored only as SHA-256 digests. A registration waiting for its
        // verification keeps the chosen role and password hash here, so an
        // account row exists only for a verified address.
        `create table ${s}.email_tokens (
           token_hash text primary key,
           purpose text not null check (purpose in ('verify_email', 'reset_password')),
           email text not null,
           account_id text references ${s}.accounts(id) on delete cascade,
           role text check (role in ('guardian', 'teacher')),
           password_hash text,
           expires_at timestamptz not null,
           used_at timestamptz,
           created_at timestamptz not null default now()
         )`,
        `create index email_tokens_email on ${s}.email_tokens (email)`,
        `create index email_tokens_account on ${s}.email_tokens (account_id)`,
        `create index email_tokens_expiry on ${s}.email_tokens (expires_at)`,
        // The secret a family's shared device holds for PIN sign-in: one per
        // guardian, stored as a digest; replacing it signs no device in.
        `create table ${s}.family_device_keys (
           guardian_id text primary key references ${s}.accounts(id) on delete cascade,
           key_hash text not null unique,
           created_at timestamptz not null default now()
         )`,
        // Wrong PINs now earn a growing wait instead of a lock.
        `alter table ${s}.children add column pin_retry_at timestamptz`,
        `alter table ${s}.children drop column pin_locked`,
      ]);
    },
  },
  {
    version: 8,
    name: 'trusted devices for password sign-in',
    async up(trx, s) {
      await runAll(trx, [
        // A device where the account signed in with its password holds a
        // token that exempts it from the per-account sign-in ceiling, so
        // guessers with many addresses cannot lock the owner out. Stored
        // only as a SHA-256 digest; a password reset deletes the account's
        // rows, deleting the account cascades.
        `create table ${s}.trusted_devices (
           digest text primary key,
           account_id text not null references ${s}.accounts(id) on delete cascade,
           created_at timestamptz not null,
           last_used_at timestamptz not null,
           expires_at timestamptz not null
         )`,
        // Sign-in keeps the most recently used devices of an account and drops the rest.
        `create index trusted_devices_account on ${s}.trusted_devices (account_id, last_used_at desc)`,
      ]);
    },
  },
  {
    version: 9,
    name: 'content packs, teaching order and stable item identity',
    async up(trx, s) {
      await runAll(trx, [
        // The packs imported into this app; rank orders them (first imported first).
        `create table ${s}.content_packs (
           id text primary key,
           rank integer not null unique,
           version text not null,
           title text not null,
           description text,
           language text not null,
           license text not null,
           authors jsonb not null,
           imported_at timestamptz not null default now()
         )`,
        `create table ${s}.content_units (
           id text primary key,
           pack_id text not null references ${s}.content_packs(id) on delete cascade,
           position integer not null,
           title text not null,
           description text
         )`,
        `create index content_units_pack on ${s}.content_units (pack_id, position)`,
        // pack_id null: authored over the admin API. retired_at: gone from its
        // pack (or deleted) after it was used; kept so history still resolves.
        `alter table ${s}.concepts add column pack_id text references ${s}.content_packs(id)`,
        `alter table ${s}.concepts add column retired_at timestamptz`,
        `alter table ${s}.lessons add column pack_id text references ${s}.content_packs(id)`,
        `alter table ${s}.lessons add column unit_id text`,
        // Place in the pack's teaching sequence (0-based across all its units).
        `alter table ${s}.lessons add column position integer`,
        `alter table ${s}.lessons add column retired_at timestamptz`,
        // content_hash: SHA-256 of what the child is asked and what counts as
        // right; released_at: first time the item was in a published lesson
        // (from then on its question never changes under its id).
        `alter table ${s}.practice_items add column content_hash text`,
        `alter table ${s}.practice_items add column media_id text`,
        `alter table ${s}.practice_items add column released_at timestamptz`,
        `alter table ${s}.practice_items add column retired_at timestamptz`,
        // Retired items keep their old position: positions are unique among live items only.
        `alter table ${s}.practice_items drop constraint practice_items_lesson_id_position_key`,
        `create index practice_items_lesson on ${s}.practice_items (lesson_id, position)`,
        // Released: in a published lesson now, or answered at some time (a lesson unpublished after
        // children answered it still holds the questions they were asked).
        `update ${s}.practice_items i set released_at = l.updated_at from ${s}.lessons l where l.id = i.lesson_id and l.published`,
        `update ${s}.practice_items i set released_at = a.first from (select item_id, min(received_at) as first from ${s}.answers group by item_id) a
           where a.item_id = i.id and (i.released_at is null or i.released_at > a.first)`,
        // Difficulty was a 4-byte real: 0.123456789 came back as 0.12345679, so an unchanged pack
        // looked changed on every import. Double precision keeps what was written.
        `alter table ${s}.practice_items alter column difficulty type double precision`,
      ]);
      // Hashes are computed here rather than in SQL so that they are exactly the ones imports compute.
      const rows = await sql<{ id: string; concept_id: string; type: string; prompt: string; choices: unknown; answer: unknown }>`
        select id, concept_id, type, prompt, choices, answer from ${sql.table(`${unquote(s)}.practice_items`)}`.execute(trx);
      // Items had no media before this migration, so no lesson media enters their hashes.
      const hashes = rows.rows.map((r) => ({
        id: r.id,
        hash: itemContentHash({
          conceptId: r.concept_id,
          type: r.type as PracticeItem['type'],
          prompt: r.prompt,
          choices: (r.choices ?? undefined) as PracticeItem['choices'],
          answer: r.answer as PracticeItem['answer'],
        }),
      }));
      for (let start = 0; start < hashes.length; start += 500) {
        const values = sql.join(hashes.slice(start, start + 500).map((h) => sql`(${h.id}, ${h.hash})`));
        await sql`update ${sql.table(`${unquote(s)}.practice_items`)} t set content_hash = v.hash from (values ${values}) as v(id, hash) where t.id = v.id`.execute(trx);
      }
      await run(trx, `alter table ${s}.practice_items alter column content_hash set not null`);
    },
  },
  {
    version: 10,
    name: 'lesson plans: durable requests, their inputs and results',
    async up(trx, s) {
      await runAll(trx, [
        // One row per plan request. The engine's job writes the plan once
        // (status ready); inputs holds everything the planner read, so a plan
        // can be replayed and explained. inputs_key: a digest of the request,
        // the child's learner clock, the model and the content it was planned
        // on (identical requests on an unchanged history reuse a ready plan).
        // idempotency_key: a digest of the caller and its Idempotency-Key;
        // request_hash: a digest of the body it came with.
        `create table ${s}.plans (
           id text primary key,
           child_id text not null references ${s}.children(id) on delete cascade,
           status text not null check (status in ('queued', 'running', 'ready', 'failed')),
           request jsonb not null,
           request_hash text not null,
           inputs_key text not null,
           idempotency_key text,
           job_id text,
           plan jsonb,
           inputs jsonb,
           model_version integer,
           error_code text,
           error_message text,
           attempts integer not null default 0 check (attempts >= 0),
           requested_by_role text not null check (requested_by_role in ('guardian', 'child', 'teacher', 'admin')),
           created_at timestamptz not null default now(),
           started_at timestamptz,
           finished_at timestamptz,
           check ((status = 'ready') = (plan is not null)),
           check (status <> 'failed' or error_code is not null)
         )`,
        `create unique index plans_idempotency_key on ${s}.plans (idempotency_key) where idempotency_key is not null`,
        // The child's newest plans (rate limit, reuse, the newest ready plan).
        `create index plans_child_newest on ${s}.plans (child_id, created_at desc)`,
        `create index plans_child_ready on ${s}.plans (child_id, finished_at desc) where status = 'ready'`,
      ]);
    },
  },
  {
    version: 11,
    name: 'curriculum embeddings for vector search (pgvector)',
    async up(trx, s) {
      await requirePgvector(trx);
      await runAll(trx, [
        // One vector per concept, lesson and practice item of the app, written by the curriculum
        // index (engine/curriculum-index.ts). The column is an untyped `vector` because the
        // dimension depends on the embedding model (local 100, Titan up to 1024, OpenAI 1536);
        // model and dimensions are stored with each vector, and searches compare only vectors of
        // the configured model. The HNSW indexes are per dimension, on the expression
        // `(embedding::vector(N))` and partial on `dimensions = N`; the vector store creates the
        // one a dimension needs when vectors of it are first stored (see adapters/vectors).
        // text_hash (SHA-256 of the embedded text) lets a reindex skip unchanged texts.
        `create table ${s}.curriculum_embeddings (
           kind text not null check (kind in ('concept', 'lesson', 'item')),
           id text not null,
           model text not null check (length(model) between 1 and 200),
           dimensions integer not null check (dimensions between 1 and 16000),
           grade smallint,
           subject text,
           text_hash text not null,
           embedding vector not null,
           updated_at timestamptz not null default now(),
           primary key (kind, id),
           check (vector_dims(embedding) = dimensions)
         )`,
        // Selective filters can be answered exactly from these rows when the planner finds that cheaper than the HNSW scan.
        `create index curriculum_embeddings_filter on ${s}.curriculum_embeddings (model, grade, subject)`,
      ]);
    },
  },
  {
    version: 12,
    name: 'generated practice items and the language model token budget',
    async up(trx, s) {
      await runAll(trx, [
        // A generated item is an item of the app (answers to it are graded like any other),
        // with its provenance, and the child it was made for: deleting that child deletes it.
        `alter table ${s}.practice_items add column generated jsonb`,
        `alter table ${s}.practice_items add column generated_for text references ${s}.children(id) on delete cascade`,
        `alter table ${s}.practice_items add constraint practice_items_generated_for_child check (generated_for is null or generated is not null)`,
        `create index practice_items_generated_for on ${s}.practice_items (generated_for) where generated_for is not null`,
        // Tokens used per UTC day, checked against the app's daily budget before each model call.
        `create table ${s}.llm_usage (
           day date primary key,
           calls integer not null default 0,
           input_tokens bigint not null default 0,
           output_tokens bigint not null default 0,
           updated_at timestamptz not null default now()
         )`,
      ]);
    },
  },
];

/**
 * The one line start-up fails with when the PostgreSQL server has no pgvector
 * (the curriculum's vector search needs it).
 */
export const PGVECTOR_MISSING =
  'The PostgreSQL server lacks the pgvector extension (needed for curriculum vector search): use the pgvector/pgvector:pg15 Docker image, Aurora/RDS PostgreSQL (they ship it), or install it on this machine with `bash ../shared/vendor/install-pgvector.sh` (as root), then start again';

/**
 * Makes sure the `vector` extension exists in this database: creates it when
 * the server has it available (needs a role allowed to create extensions;
 * on RDS/Aurora the master user is), and otherwise fails with
 * {@link PGVECTOR_MISSING}, one line that says what to install.
 */
export async function requirePgvector(trx: Transaction<Tables>): Promise<void> {
  const installed = await sql<{ v: string }>`select extversion as v from pg_extension where extname = 'vector'`.execute(trx);
  if (installed.rows.length) return;
  const available = await sql<{ n: number }>`select 1 as n from pg_available_extensions where name = 'vector'`.execute(trx);
  if (!available.rows.length) throw new Error(PGVECTOR_MISSING);
  try {
    await run(trx, 'create extension if not exists vector');
  } catch (error) {
    if ((error as { code?: string }).code === '42501') {
      throw new Error('pgvector is installed on the PostgreSQL server but not enabled in this database, and this role may not enable it: ask an administrator to run `create extension vector` in it, then start again', {
        cause: error,
      });
    }
    throw error;
  }
}

/** `"app_x"` → `app_x` (tenant migrations get the schema quoted). */
function unquote(schema: string): string {
  return schema.replace(/^"|"$/g, '');
}

/** Key of the advisory lock every migration and app creation takes. */
const MIGRATION_LOCK = 4_242_001;

/** Takes the migration lock for the rest of the transaction (waits for other processes). */
export async function lockMigrations(trx: Transaction<Tables>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK)})`.execute(trx);
}

async function ensureControlTables(trx: Transaction<Tables>): Promise<void> {
  await run(trx, 'create schema if not exists kidslearn');
  await run(
    trx,
    `create table if not exists kidslearn.schema_migrations (
       scope text not null,
       version integer not null,
       name text not null,
       applied_at timestamptz not null default now(),
       primary key (scope, version)
     )`,
  );
}

/** One migration that a run applied. */
export interface AppliedMigration {
  /** `control` or `app:<id>`. */
  scope: string;
  version: number;
  name: string;
}

async function applyPending(trx: Transaction<Tables>, scope: string, schema: string, migrations: Migration[]): Promise<AppliedMigration[]> {
  const rows = await trx.selectFrom('kidslearn.schema_migrations').select('version').where('scope', '=', scope).execute();
  const applied = new Set(rows.map((r) => r.version));
  const done: AppliedMigration[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    await m.up(trx, schema);
    await trx.insertInto('kidslearn.schema_migrations').values({ scope, version: m.version, name: m.name }).execute();
    done.push({ scope, version: m.version, name: m.name });
  }
  return done;
}

/** Creates (if needed) and migrates one app's schema inside the caller's locked transaction. */
export async function migrateTenantSchema(trx: Transaction<Tables>, appId: string): Promise<number> {
  return (await migrateTenant(trx, appId)).length;
}

async function migrateTenant(trx: Transaction<Tables>, appId: string): Promise<AppliedMigration[]> {
  const schema = tenantSchema(appId);
  await run(trx, `create schema if not exists "${schema}"`);
  return applyPending(trx, `app:${appId}`, `"${schema}"`, tenantMigrations);
}

/**
 * Brings the control schema and every registered app schema up to date, in
 * one transaction under an advisory lock, so two processes starting at once
 * neither fail nor apply a migration twice. Returns how many ran.
 */
export async function migrateAll(db: Kysely<Tables>): Promise<number> {
  return (await applyMigrations(db)).length;
}

/**
 * {@link migrateAll}, returning which migrations ran (control first, then the
 * apps by id, each in version order); empty when everything was up to date.
 */
export async function applyMigrations(db: Kysely<Tables>): Promise<AppliedMigration[]> {
  return db.transaction().execute(async (trx) => {
    await lockMigrations(trx);
    await ensureControlTables(trx);
    const done = await applyPending(trx, 'control', 'kidslearn', controlMigrations);
    // Checked at every start, before any app is migrated, so a server without pgvector stops here with one line.
    await requirePgvector(trx);
    const apps = await trx.selectFrom('kidslearn.apps').select('id').orderBy('id').execute();
    for (const app of apps) done.push(...(await migrateTenant(trx, app.id)));
    return done;
  });
}
