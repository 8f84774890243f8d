/**
 * Simulated learners following BKT with known parameters per skill, for tests
 * and benchmarks. Deterministic for a given seed. Pure.
 */
import { seededRandom } from '../seeded-random.ts';
import type { BktParams } from './bkt.ts';

export interface SimulatedAnswer {
  student: string;
  skill: string;
  item: string;
  correct: boolean;
}

export interface SimulationOptions {
  students: number;
  /** True parameters per skill name. */
  skills: Record<string, BktParams>;
  /** Answers per student per skill. */
  attempts: number;
  seed: number;
  /** Item ids drawn per skill (items carry no effect of their own). Default 5. */
  itemsPerSkill?: number;
  /** Prefix of student ids, so that train and test sets can hold different students. */
  studentPrefix?: string;
  /**
   * Spread (standard deviation, logit scale) of item ease: with it, items of
   * one skill differ in difficulty, as on real tests. Each item's ease is
   * fixed by its id and `itemSeed`, so train and test sets agree. Default 0.
   */
  itemEaseSd?: number;
  itemSeed?: number;
  /** Spread (logit scale) of student ability, constant per student. Default 0. */
  abilitySd?: number;
}

const logit = (p: number) => Math.log(p / (1 - p));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** A standard normal draw (Box–Muller) from a uniform source. */
function normal(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

/** A fixed standard normal value for a string (FNV-1a hash seeding mulberry32). */
function normalFor(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return normal(seededRandom(h >>> 0));
}


/** Random but plausible BKT parameters for `count` skills named `s0`, `s1`, … */
export function randomSkillParams(count: number, seed: number): Record<string, BktParams> {
  const rnd = seededRandom(seed);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const out: Record<string, BktParams> = {};
  for (let i = 0; i < count; i++) {
    out[`s${i}`] = {
      pInit: between(0.1, 0.6),
      pLearn: between(0.05, 0.3),
      pGuess: between(0.1, 0.3),
      pSlip: between(0.05, 0.15),
      pForget: between(0, 0.03),
    };
  }
  return out;
}

/**
 * Every student answers `attempts` items of every skill; the skills are
 * interleaved at random. Rows come out student by student, in chronological
 * order within each student.
 */
export function simulate(options: SimulationOptions): SimulatedAnswer[] {
  const rnd = seededRandom(options.seed);
  const skillNames = Object.keys(options.skills);
  const itemsPerSkill = options.itemsPerSkill ?? 5;
  const prefix = options.studentPrefix ?? 'u';
  const rows: SimulatedAnswer[] = [];
  const easeSd = options.itemEaseSd ?? 0;
  const abilitySd = options.abilitySd ?? 0;
  const itemSeed = options.itemSeed ?? 1;
  const known = new Uint8Array(skillNames.length);
  const left = new Uint32Array(skillNames.length);
  for (let st = 0; st < options.students; st++) {
    const student = `${prefix}${st}`;
    // Drawn only when asked for, so simulations without it are unchanged.
    const ability = abilitySd > 0 ? abilitySd * normal(rnd) : 0;
    const pending: number[] = [];
    for (let k = 0; k < skillNames.length; k++) {
      known[k] = rnd() < options.skills[skillNames[k]!]!.pInit ? 1 : 0;
      left[k] = options.attempts;
      if (options.attempts > 0) pending.push(k);
    }
    while (pending.length) {
      const at = Math.floor(rnd() * pending.length);
      const k = pending[at]!;
      const skill = skillNames[k]!;
      const p = options.skills[skill]!;
      const base = known[k] ? 1 - p.pSlip : p.pGuess;
      const item = `${skill}-i${Math.floor(rnd() * itemsPerSkill)}`;
      const shift = ability + (easeSd > 0 ? easeSd * normalFor(item, itemSeed) : 0);
      const pCorrect = shift === 0 ? base : sigmoid(logit(base) + shift);
      const correct = known[k] ? rnd() >= 1 - pCorrect : rnd() < pCorrect;
      rows.push({ student, skill, item, correct });
      known[k] = known[k] ? (rnd() < p.pForget ? 0 : 1) : rnd() < p.pLearn ? 1 : 0;
      left[k] = left[k]! - 1;
      if (left[k] === 0) pending.splice(at, 1);
    }
  }
  return rows;
}
