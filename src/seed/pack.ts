import type { Concept, NewLessonInput } from '../domain/curriculum.ts';

/** A complete, self-consistent curriculum for one app, as produced by a generator. */
export interface CurriculumPack {
  concepts: Concept[];
  lessons: NewLessonInput[];
}

/**
 * Small deterministic PRNG (mulberry32). Seed content must be byte-identical
 * on every run so seeding is idempotent and tests can rely on exact ids.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
