import type { Concept, NewLessonInput } from '../domain/curriculum.ts';

/** A complete, self-consistent curriculum for one app, as produced by a generator. */
export interface CurriculumPack {
  concepts: Concept[];
  lessons: NewLessonInput[];
}

/** Seed content must be byte-identical on every run so seeding is idempotent and tests can rely on exact ids. */
export { seededRandom } from '../domain/seeded-random.ts';
