import { z } from '@hono/zod-openapi';
import { PackConcept } from './content-pack.ts';
import { ResourceId, type Concept } from './curriculum.ts';

/**
 * The prerequisite graph of one app's live (non-retired) concepts, and the
 * rules a change to it must keep: every prerequisite exists, no concept
 * needs itself (directly or around a cycle), and a concept others need is
 * not removed. Pure: the caller loads the graph (under the lock that keeps
 * it from changing meanwhile) and turns a refusal into an error.
 */

/** What the graph rules need of a concept. */
export type GraphNode = Pick<Concept, 'id' | 'prerequisites'>;

/** Why a concept write is refused. */
export type GraphRefusal =
  /** Prerequisites that are not live concepts of the app. */
  | { code: 'unknown_concept'; conceptIds: string[] }
  /** The write would close this cycle: each id needs the next, the last is the first (`[a, a]` for a self-prerequisite). */
  | { code: 'prerequisite_cycle'; cycle: string[] };

/**
 * Checks a create or a replacement of concept `change.id` with the given
 * prerequisites against the stored live graph (`graph`, which may or may not
 * hold `change.id` already: its old edges are ignored either way). Returns
 * the first refusal, or undefined when the write keeps the graph valid.
 */
export function checkConceptWrite(graph: readonly GraphNode[], change: GraphNode): GraphRefusal | undefined {
  if (change.prerequisites.includes(change.id)) return { code: 'prerequisite_cycle', cycle: [change.id, change.id] };
  const byId = new Map(graph.map((c) => [c.id, c.prerequisites]));
  const unknown = [...new Set(change.prerequisites.filter((p) => !byId.has(p)))].sort();
  if (unknown.length) return { code: 'unknown_concept', conceptIds: unknown };
  // The new edges close a cycle exactly when a prerequisite already needs
  // change.id, directly or through others: search from each for change.id.
  const parent = new Map<string, string>();
  const seen = new Set<string>([change.id]);
  const queue: string[] = [];
  for (const p of [...change.prerequisites].sort()) {
    if (seen.has(p)) continue;
    seen.add(p);
    parent.set(p, change.id);
    queue.push(p);
  }
  for (let i = 0; i < queue.length; i++) {
    const at = queue[i]!;
    for (const next of [...(byId.get(at) ?? [])].sort()) {
      if (next === change.id) {
        // Breadth first: the shortest way back, read from change.id onwards.
        const path = [at];
        for (let p = parent.get(at); p !== undefined && p !== change.id; p = parent.get(p)) path.unshift(p);
        return { code: 'prerequisite_cycle', cycle: [change.id, ...path, change.id] };
      }
      if (seen.has(next) || !byId.has(next)) continue;
      seen.add(next);
      parent.set(next, at);
      queue.push(next);
    }
  }
  return undefined;
}

/** Live concepts that list `id` among their prerequisites, sorted: removing `id` would leave them needing nothing there. */
export function dependentsOf(graph: readonly GraphNode[], id: string): string[] {
  return graph.filter((c) => c.id !== id && c.prerequisites.includes(id)).map((c) => c.id).sort();
}

/** What the learning order sorts ties by. */
export type OrderedNode = Pick<Concept, 'id' | 'subject' | 'grade' | 'prerequisites'>;

/**
 * A learning order of the concepts: every concept after all its
 * prerequisites, and among those ready at the same time the lowest grade,
 * then subject, then id first (so the order is stable and reads like a
 * syllabus). Prerequisites that are not in the list are ignored. Never
 * throws: should stored data hold a cycle after all, its concepts follow
 * the rest in the tie order.
 */
export function learningOrder<T extends OrderedNode>(concepts: readonly T[]): T[] {
  const byId = new Map(concepts.map((c) => [c.id, c]));
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const c of concepts) {
    const needs = new Set(c.prerequisites.filter((p) => p !== c.id && byId.has(p)));
    waitingOn.set(c.id, needs.size);
    for (const p of needs) {
      const list = dependents.get(p);
      if (list) list.push(c.id);
      else dependents.set(p, [c.id]);
    }
  }
  const ready = new MinHeap<T>(compareConcepts);
  for (const c of concepts) if (waitingOn.get(c.id) === 0) ready.push(c);
  const order: T[] = [];
  const placed = new Set<string>();
  while (ready.size) {
    const c = ready.pop()!;
    if (placed.has(c.id)) continue;
    placed.add(c.id);
    order.push(c);
    for (const d of dependents.get(c.id) ?? []) {
      const left = waitingOn.get(d)! - 1;
      waitingOn.set(d, left);
      if (left === 0) ready.push(byId.get(d)!);
    }
  }
  if (order.length < byId.size) order.push(...[...byId.values()].filter((c) => !placed.has(c.id)).sort(compareConcepts));
  return order;
}

/** Grade, then subject, then id. */
export function compareConcepts(a: Pick<Concept, 'id' | 'subject' | 'grade'>, b: Pick<Concept, 'id' | 'subject' | 'grade'>): number {
  return a.grade - b.grade || cmp(a.subject, b.subject) || cmp(a.id, b.id);
}

/** Code-point order (not locale order), like PostgreSQL's `C` collation: stable everywhere. */
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A small binary heap: the learning order of 5,000 concepts takes milliseconds, not a sort per step. */
class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#less = compare;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (this.#less(a[i]!, a[up]!) >= 0) break;
      [a[i], a[up]] = [a[up]!, a[i]!];
      i = up;
    }
  }

  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.#less(a[l]!, a[m]!) < 0) m = l;
      if (r < a.length && this.#less(a[r]!, a[m]!) < 0) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
    return top;
  }
}

/** The fields of a concept written over the API: the same rules as a content pack's concept ({@link PackConcept}). */
const conceptFields = {
  subject: PackConcept.shape.subject,
  grade: PackConcept.shape.grade,
  name: PackConcept.shape.name,
  description: PackConcept.shape.description,
  prerequisites: z.array(ResourceId).max(20).default([]).describe('Ids of live concepts of the app to learn before this one'),
};

const uniquePrerequisites = (c: { prerequisites: string[] }, ctx: z.RefinementCtx) => {
  for (const issue of duplicatePrerequisites(c.prerequisites)) ctx.addIssue({ code: 'custom', ...issue });
};

/** Body of `PUT /admin/concepts/{conceptId}`: the concept without its id (the path names it), each prerequisite listed once. */
export const ConceptInput = z.strictObject(conceptFields).superRefine(uniquePrerequisites).openapi('ConceptInput');
export type ConceptInput = z.infer<typeof ConceptInput>;

/** Body of `POST /admin/concepts`: a concept input plus its new id. */
export const NewConceptInput = z
  .strictObject({ id: PackConcept.shape.id, ...conceptFields })
  .superRefine(uniquePrerequisites)
  .openapi('NewConceptInput');
export type NewConceptInput = z.infer<typeof NewConceptInput>;

function duplicatePrerequisites(prerequisites: readonly string[]): { path: (string | number)[]; message: string }[] {
  const seen = new Set<string>();
  const out: { path: (string | number)[]; message: string }[] = [];
  prerequisites.forEach((p, i) => {
    if (seen.has(p)) out.push({ path: ['prerequisites', i], message: `prerequisite "${p}" is listed twice` });
    seen.add(p);
  });
  return out;
}

/** A live concept as clients read it. */
export const ConceptView = z
  .object({
    id: z.string(),
    subject: z.string(),
    grade: z.number().int(),
    name: z.string(),
    description: z.string(),
    prerequisites: z.array(z.string()).openapi({ description: 'Concepts to learn first (sorted ids); every one is in the graph too' }),
    lessonIds: z.array(z.string()).openapi({ description: 'Published lessons that teach it, ordered by grade, subject, id' }),
    packId: z.string().nullable().openapi({ description: 'The content pack it comes from; null when authored over the admin API (only those can be changed there)' }),
  })
  .openapi('Concept');
export type ConceptView = z.infer<typeof ConceptView>;
