import type { ColumnType, Generated, GeneratedAlways } from 'kysely';

/**
 * Row types for Kysely. Tenant tables live in one schema per app
 * (`app_<id>`, reached with `db.withSchema(...)`); control tables live in the
 * `kidslearn` schema.
 */
export interface ConceptsTable {
  id: string;
  subject: string;
  grade: number;
  name: string;
  description: string;
  pack_id: ColumnType<string | null, string | null | undefined, string | null>;
  retired_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ContentPacksTable {
  id: string;
  rank: number;
  version: string;
  title: string;
  description: string | null;
  language: string;
  license: string;
  authors: ColumnType<unknown, string, string>;
  imported_at: ColumnType<Date, Date | undefined, Date>;
}

export interface ContentUnitsTable {
  id: string;
  pack_id: string;
  position: number;
  title: string;
  description: string | null;
}

export interface ConceptPrerequisitesTable {
  concept_id: string;
  prerequisite_id: string;
}

export interface LessonsTable {
  id: string;
  subject: string;
  grade: number;
  title: string;
  summary: string;
  blocks: ColumnType<unknown, string, string>;
  concept_ids: string[];
  media: ColumnType<unknown, string, string>;
  estimated_minutes: number;
  published: boolean;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  pack_id: ColumnType<string | null, string | null | undefined, string | null>;
  unit_id: ColumnType<string | null, string | null | undefined, string | null>;
  position: ColumnType<number | null, number | null | undefined, number | null>;
  retired_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface PracticeItemsTable {
  id: string;
  lesson_id: string;
  position: number;
  concept_id: string;
  type: string;
  prompt: string;
  choices: ColumnType<unknown, string | null, string | null>;
  answer: ColumnType<unknown, string, string>;
  difficulty: number;
  content_hash: string;
  media_id: ColumnType<string | null, string | null | undefined, string | null>;
  released_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  retired_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Provenance of a generated item (adapter, model, prompt version, checks passed); null for authored items (migration 12). */
  generated: ColumnType<unknown, string | null | undefined, string | null>;
  /** The child a generated item was made for: erased with the child, never listed to others (migration 12). */
  generated_for: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Tokens the language model used per app and UTC day, against LLM_DAILY_TOKEN_BUDGET (migration 12). */
export interface LlmUsageTable {
  day: string;
  calls: ColumnType<number, number | undefined, number>;
  input_tokens: ColumnType<string | number, number | undefined, number>;
  output_tokens: ColumnType<string | number, number | undefined, number>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface AccountsTable {
  id: string;
  email: string | null;
  role: string;
  password_hash: string | null;
  external_subject: string | null;
  created_at: Generated<Date>;
}

export interface ChildrenTable {
  id: string;
  guardian_id: string;
  nickname: string;
  grade: number;
  avatar: string;
  birth_year: number | null;
  settings: ColumnType<unknown, string, string>;
  pin_hash: string | null;
  pin_failures: Generated<number>;
  /** Until when PIN sign-in waits after wrong PINs (null: no wait). */
  pin_retry_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ClassroomsTable {
  id: string;
  teacher_id: string;
  name: string;
  grade: number | null;
  created_at: Generated<Date>;
}

export interface ClassroomInvitesTable {
  code: string;
  classroom_id: string;
  expires_at: Date;
  created_at: Generated<Date>;
}

export interface ClassroomMembersTable {
  classroom_id: string;
  child_id: string;
  status: 'active' | 'declined';
  responded_at: Generated<Date>;
}

export interface RefreshTokensTable {
  token_hash: string;
  family_id: string;
  account_id: string | null;
  child_id: string | null;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
  created_at: Generated<Date>;
}

export interface AuditLogTable {
  id: Generated<string>;
  actor_id: string;
  actor_role: string;
  child_id: string;
  purpose: string;
  at: Generated<Date>;
}

export interface DeletionRecordsTable {
  id: Generated<string>;
  subject_kind: string;
  requested_by_role: string;
  tables_erased: ColumnType<unknown, string, string>;
  rows_erased: number;
  at: Generated<Date>;
}

export interface AnswersTable {
  id: Generated<string>;
  child_id: string;
  client_event_id: string;
  item_id: string;
  lesson_id: string;
  concept_id: string;
  response: ColumnType<unknown, string, string>;
  correct: boolean;
  duration_ms: number;
  answered_at: Date;
  received_at: Generated<Date>;
}

export interface ConceptStatesTable {
  child_id: string;
  concept_id: string;
  attempts: number;
  correct: number;
  p_known: number;
  fsrs: ColumnType<unknown, string, string>;
  next_review_at: Date;
  last_answered_at: Date | null;
  updated_at: Generated<Date>;
}

export interface LearnerClockTable {
  child_id: string;
  seq: string;
}

export interface LessonCompletionsTable {
  id: Generated<string>;
  child_id: string;
  lesson_id: string;
  client_event_id: string;
  seconds_spent: number;
  score: number | null;
  completed_at: Date;
}

export interface ModelVersionsTable {
  version: Generated<number>;
  params: ColumnType<unknown, string, string>;
  answers_used: number;
  summary: ColumnType<unknown, string, string>;
  created_at: Generated<Date>;
}

export interface AppsTable {
  id: string;
  name: string;
  settings: ColumnType<unknown, string | undefined, string>;
  created_at: Generated<Date>;
}

export interface SchemaMigrationsTable {
  scope: string;
  version: number;
  name: string;
  applied_at: Generated<Date>;
}

/** Per-app secret for pseudonymous learner keys (control migration 3). */
export interface LakeKeysTable {
  app: string;
  key: string;
  created_at: Generated<Date>;
}

/** The analytics outbox: acknowledged events waiting for (or kept after) export to the lake (control migration 3). */
export interface LakeEventsTable {
  /** bigint: a number from PGlite, a string from `pg` (read with Number()). */
  seq: GeneratedAlways<number | string>;
  app: string;
  event_id: string;
  type: string;
  source: 'app' | 'server';
  occurred_at: Date;
  received_at: ColumnType<Date, Date | undefined, Date>;
  learner: string | null;
  session_id: string | null;
  properties: ColumnType<unknown, string, string>;
  payload_hash: string;
  batch_id: number | string | null;
  exported_at: Date | null;
}

/** Packed server events of the answer path, until unpacked into `lake_events` (control migration 7). */
export interface LakeEventPacksTable {
  id: GeneratedAlways<number | string>;
  app: string;
  received_at: ColumnType<Date, Date | undefined, Date>;
  events: number;
  /** A JSON array of {@link PackedEvent}s. */
  body: string;
  /** Why this version could not decode the pack (set aside until a writer starts again); null otherwise. */
  unreadable: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Events that could not enter the lake, with the reason (control migration 3). */
export interface LakeDeadLettersTable {
  id: GeneratedAlways<number | string>;
  app: string;
  event_id: string;
  seq: number | string | null;
  type: string;
  learner: string | null;
  reason: 'conflict' | 'rejected' | 'max_attempts';
  detail: string | null;
  attempts: Generated<number>;
  event: ColumnType<unknown, string, string>;
  created_at: Generated<Date>;
  redriven_at: Date | null;
}

/** One file a batch wrote: its key, app, UTC day, sequence range, events and bytes. */
export interface LakeBatchFile {
  key: string;
  app: string;
  day: string;
  firstSeq: string;
  lastSeq: string;
  events: number;
  bytes: number;
}

/** The lake writer's batches (control migration 4): claimed before writing, written after all files are stored, dead past the attempts. */
export interface LakeBatchesTable {
  id: GeneratedAlways<number | string>;
  first_seq: number | string;
  last_seq: number | string;
  events: number;
  state: ColumnType<'claimed' | 'written' | 'dead', 'claimed' | 'written' | 'dead' | undefined, 'claimed' | 'written' | 'dead'>;
  attempts: Generated<number>;
  next_attempt_at: Generated<Date>;
  last_error: string | null;
  files: ColumnType<LakeBatchFile[], string | undefined, string>;
  created_at: Generated<Date>;
  written_at: Date | null;
}

/** The lake writer's one state row (control migration 4). */
export interface LakeWriterStateTable {
  id: number;
  last_flush_at: Date | null;
  last_flush_events: Generated<number>;
}

/** Erasures that must reach the lake's files (control migration 5). */
export interface LakeErasuresTable {
  id: GeneratedAlways<number | string>;
  app: string;
  learner: string;
  requested_at: Generated<Date>;
  done_at: Date | null;
  files_rewritten: number | null;
  rows_removed: number | null;
}

/** A job of the SQS job queue (control migration 6): its state and history; SQS only delivers it. */
export interface JobsTable {
  id: string;
  queue: string;
  state: 'created' | 'retry' | 'active' | 'completed' | 'failed' | 'cancelled';
  data: ColumnType<unknown, string, string>;
  singleton_key: string | null;
  idempotency_key: string | null;
  attempts: Generated<number>;
  retry_limit: number;
  retry_delay_seconds: number;
  retry_backoff: boolean;
  expire_seconds: number;
  output: ColumnType<unknown, string | null, string | null>;
  error: string | null;
  created_at: Generated<Date>;
  started_at: Date | null;
  finished_at: Date | null;
  run_after: Generated<Date>;
  sent_at: Date | null;
}

/** Every table Kysely knows about. Control tables are schema-qualified. */
/** Single-use tokens sent by mail, as digests (migration 7). */
export interface EmailTokensTable {
  token_hash: string;
  purpose: 'verify_email' | 'reset_password';
  email: string;
  account_id: string | null;
  role: string | null;
  password_hash: string | null;
  expires_at: Date;
  used_at: Date | null;
  created_at: Generated<Date>;
}

/** A guardian's key for the family's shared devices, as a digest (migration 7). */
export interface FamilyDeviceKeysTable {
  guardian_id: string;
  key_hash: string;
  created_at: Generated<Date>;
}

/** A device where an account signed in with its password, as a digest of its token (migration 8). */
export interface TrustedDevicesTable {
  digest: string;
  account_id: string;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
}

/** A lesson plan request and, once the engine built it, the plan (migration 10). */
export interface PlansTable {
  id: string;
  child_id: string;
  status: 'queued' | 'running' | 'ready' | 'failed';
  request: ColumnType<unknown, string, string>;
  request_hash: string;
  inputs_key: string;
  idempotency_key: string | null;
  job_id: string | null;
  plan: ColumnType<unknown, string | null, string | null>;
  inputs: ColumnType<unknown, string | null, string | null>;
  model_version: number | null;
  error_code: string | null;
  error_message: string | null;
  attempts: Generated<number>;
  requested_by_role: string;
  created_at: Generated<Date>;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface Tables {
  concepts: ConceptsTable;
  content_packs: ContentPacksTable;
  content_units: ContentUnitsTable;
  concept_prerequisites: ConceptPrerequisitesTable;
  lessons: LessonsTable;
  practice_items: PracticeItemsTable;
  llm_usage: LlmUsageTable;
  accounts: AccountsTable;
  children: ChildrenTable;
  classrooms: ClassroomsTable;
  classroom_invites: ClassroomInvitesTable;
  classroom_members: ClassroomMembersTable;
  refresh_tokens: RefreshTokensTable;
  audit_log: AuditLogTable;
  deletion_records: DeletionRecordsTable;
  answers: AnswersTable;
  concept_states: ConceptStatesTable;
  learner_clock: LearnerClockTable;
  lesson_completions: LessonCompletionsTable;
  model_versions: ModelVersionsTable;
  email_tokens: EmailTokensTable;
  family_device_keys: FamilyDeviceKeysTable;
  trusted_devices: TrustedDevicesTable;
  plans: PlansTable;
  'kidslearn.apps': AppsTable;
  'kidslearn.schema_migrations': SchemaMigrationsTable;
  'kidslearn.lake_keys': LakeKeysTable;
  'kidslearn.lake_events': LakeEventsTable;
  'kidslearn.lake_event_packs': LakeEventPacksTable;
  'kidslearn.lake_dead_letters': LakeDeadLettersTable;
  'kidslearn.lake_batches': LakeBatchesTable;
  'kidslearn.lake_writer_state': LakeWriterStateTable;
  'kidslearn.lake_erasures': LakeErasuresTable;
  'kidslearn.jobs': JobsTable;
}
