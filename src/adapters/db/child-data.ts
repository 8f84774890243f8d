import type { Tables } from './tables.ts';

/**
 * The one list of tenant tables that hold a child's data, and for each what
 * a child's export shows and what erasure does with it.
 *
 * Export (`GET /api/children/{id}/export`) and erasure (`DELETE
 * /api/children/{id}`) are both driven from this list, so they cannot drift
 * apart: a table added here is exported and erased; a table with a child id
 * that is missing here fails `test/api/child-data.api.test.ts`, which reads
 * the tables from the database schema. Every column of each table is either
 * exported or omitted with a reason, and the same test checks that too, so a
 * new column cannot slip out of (or into) an export unnoticed.
 */

/** A column of table `T`. */
type Column<T extends ChildTable> = keyof Tables[T] & string;

/** The tenant tables (control tables in `kidslearn.` hold no child data). */
type ChildTable = Exclude<keyof Tables, `kidslearn.${string}`>;

/** How one table holds a child's data. */
export interface ChildDataTable<T extends ChildTable> {
  readonly table: T;
  /** The column holding the child's id (`id` for the profile itself). */
  readonly childColumn: Column<T>;
  /** Key of the export body that carries this table's rows. */
  readonly section: string;
  /** `one`: the section is an object (or null); `many`: an array of rows. */
  readonly rows: 'one' | 'many';
  /** Columns that order the rows in the export (ascending), so two exports of unchanged data are identical. */
  readonly orderBy: readonly Column<T>[];
  /** Columns copied into the export, renamed to camelCase. */
  readonly exported: readonly Column<T>[];
  /** Columns never exported, each with the reason. */
  readonly omitted: Partial<Record<Column<T>, string>>;
  /**
   * Values read from a related row, added to each exported row (camelCase
   * name → `table.column` where `table.key = this.via`): names are more
   * use to a family than bare ids.
   */
  readonly related?: Readonly<Record<string, { readonly table: ChildTable; readonly column: string; readonly key: string; readonly via: Column<T> }>>;
  /**
   * Fields computed in SQL from omitted columns (camelCase name → expression
   * over the row alias `t`), when the fact matters but the value must not
   * leave: the omitted value itself is then never read.
   */
  readonly derived?: Readonly<Record<string, string>>;
  /**
   * 64-bit integer columns, exported as decimal strings: the two database
   * drivers read them differently (a number from PGlite, a string from `pg`),
   * and a JSON number past 2^53 loses digits.
   */
  readonly asText?: readonly Column<T>[];
  /** `delete`: erasure removes the rows; `keep`: they stay, for the reason given. */
  readonly erase: { readonly action: 'delete' } | { readonly action: 'keep'; readonly why: string };
}

/** A declaration for any one of the tables (a union, so each keeps its own column names). */
export type AnyChildDataTable = { [T in ChildTable]: ChildDataTable<T> }[ChildTable];

const table = <T extends ChildTable>(t: ChildDataTable<T>): ChildDataTable<T> => t;

/**
 * Every table holding a child's data, in erasure order: rows that refer to
 * the profile first, the profile (`children`) last. Its foreign keys cascade
 * as well, but deleting each table explicitly counts the rows erased.
 */
export const CHILD_DATA: readonly AnyChildDataTable[] = [
  table({
    table: 'answers',
    childColumn: 'child_id',
    section: 'answers',
    rows: 'many',
    orderBy: ['id'],
    exported: ['id', 'client_event_id', 'item_id', 'lesson_id', 'concept_id', 'response', 'correct', 'duration_ms', 'answered_at', 'received_at'],
    asText: ['id'],
    omitted: { child_id: 'the export is of this one child' },
    erase: { action: 'delete' },
  }),
  table({
    table: 'practice_items',
    childColumn: 'generated_for',
    section: 'generatedItems',
    rows: 'many',
    orderBy: ['id'],
    exported: ['id', 'lesson_id', 'concept_id', 'type', 'prompt', 'choices', 'difficulty', 'media_id', 'generated', 'released_at', 'retired_at'],
    omitted: {
      answer: 'answer keys never leave the server (the child’s answers, with whether each was correct, are in `answers`)',
      position: 'an ordering key inside the lesson with no meaning to a family',
      content_hash: 'a digest of the question, derived from the exported fields',
      generated_for: 'the export is of this one child',
    },
    erase: { action: 'delete' },
  }),
  table({
    table: 'concept_states',
    childColumn: 'child_id',
    section: 'conceptStates',
    rows: 'many',
    orderBy: ['concept_id'],
    exported: ['concept_id', 'attempts', 'correct', 'p_known', 'fsrs', 'next_review_at', 'last_answered_at', 'updated_at'],
    omitted: { child_id: 'the export is of this one child' },
    erase: { action: 'delete' },
  }),
  table({
    table: 'learner_clock',
    childColumn: 'child_id',
    section: 'learnerClock',
    rows: 'one',
    orderBy: ['child_id'],
    exported: ['seq'],
    asText: ['seq'],
    omitted: { child_id: 'the export is of this one child' },
    erase: { action: 'delete' },
  }),
  table({
    table: 'lesson_completions',
    childColumn: 'child_id',
    section: 'lessonCompletions',
    rows: 'many',
    orderBy: ['completed_at', 'id'],
    exported: ['id', 'lesson_id', 'client_event_id', 'seconds_spent', 'score', 'completed_at'],
    asText: ['id'],
    omitted: { child_id: 'the export is of this one child' },
    erase: { action: 'delete' },
  }),
  table({
    table: 'plans',
    childColumn: 'child_id',
    section: 'lessonPlans',
    rows: 'many',
    orderBy: ['created_at', 'id'],
    exported: [
      'id',
      'status',
      'request',
      'plan',
      'inputs',
      'model_version',
      'error_code',
      'error_message',
      'attempts',
      'requested_by_role',
      'created_at',
      'started_at',
      'finished_at',
    ],
    omitted: {
      child_id: 'the export is of this one child',
      request_hash: 'a digest of the request body, which the export holds itself',
      inputs_key: 'a digest of the request, learner clock, model and content version: an internal lookup key with nothing new in it',
      idempotency_key: 'a digest of the requester’s account id and the key its app chose: about the requester, not the child',
      job_id: 'the id of the engine’s background job, with no meaning outside the server',
    },
    erase: { action: 'delete' },
  }),
  table({
    table: 'refresh_tokens',
    childColumn: 'child_id',
    section: 'deviceSessions',
    rows: 'many',
    orderBy: ['created_at', 'family_id'],
    exported: ['family_id', 'created_at', 'expires_at', 'used_at', 'revoked_at'],
    omitted: {
      token_hash: 'a digest of a sign-in credential: it tells nothing about the child, and a leaked export must not help anyone sign in',
      account_id: 'always empty for a child’s session (sessions belong to an account or a child)',
      child_id: 'the export is of this one child',
    },
    erase: { action: 'delete' },
  }),
  table({
    table: 'classroom_members',
    childColumn: 'child_id',
    section: 'classrooms',
    rows: 'many',
    orderBy: ['responded_at', 'classroom_id'],
    exported: ['classroom_id', 'status', 'responded_at'],
    omitted: { child_id: 'the export is of this one child' },
    related: { classroomName: { table: 'classrooms', column: 'name', key: 'id', via: 'classroom_id' } },
    erase: { action: 'delete' },
  }),
  table({
    table: 'audit_log',
    childColumn: 'child_id',
    section: 'accessLog',
    rows: 'many',
    orderBy: ['at', 'id'],
    exported: ['actor_role', 'purpose', 'at'],
    omitted: {
      id: 'a row number with no meaning outside the database',
      actor_id: 'the account id of the teacher or admin who read: their personal data; the role and purpose say who read and why',
      child_id: 'the export is of this one child',
    },
    erase: {
      action: 'keep',
      why: 'the record that the child’s data was read, by whom and why, is needed to answer later access requests; it holds no profile data',
    },
  }),
  table({
    table: 'children',
    childColumn: 'id',
    section: 'child',
    rows: 'one',
    orderBy: ['id'],
    exported: ['id', 'nickname', 'grade', 'avatar', 'birth_year', 'settings', 'pin_failures', 'pin_retry_at', 'created_at', 'updated_at'],
    omitted: {
      pin_hash:
        'a PIN has only 10,000 values, so its hash gives the PIN away to anyone who tries them all; it is a credential, not data about the child (the export says whether one is set)',
      guardian_id: 'the guardian’s account id: an internal key of another person’s account, not data about the child',
    },
    derived: { pinSet: 't.pin_hash is not null' },
    erase: { action: 'delete' },
  }),
];

/** The tables erasure deletes from, in order (the profile last). */
export const ERASED_CHILD_TABLES: readonly AnyChildDataTable[] = CHILD_DATA.filter((t) => t.erase.action === 'delete');

/** `snake_case` → `camelCase`, for export field names. */
export const camelCase = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
