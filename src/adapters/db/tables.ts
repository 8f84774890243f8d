import type { ColumnType, Generated } from 'kysely';

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
}

export interface AppsTable {
  id: string;
  name: string;
  created_at: Generated<Date>;
}

export interface SchemaMigrationsTable {
  scope: string;
  version: number;
  name: string;
  applied_at: Generated<Date>;
}

/** Every table Kysely knows about. Control tables are schema-qualified. */
export interface Tables {
  concepts: ConceptsTable;
  concept_prerequisites: ConceptPrerequisitesTable;
  lessons: LessonsTable;
  practice_items: PracticeItemsTable;
  'kidslearn.apps': AppsTable;
  'kidslearn.schema_migrations': SchemaMigrationsTable;
}
