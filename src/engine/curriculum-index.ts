import { createHash } from 'node:crypto';
import type { Database } from '../adapters/db/database.ts';
import { scoped } from '../adapters/db/scoped.ts';
import type { Embedder } from '../adapters/embeddings/embedder.ts';
import type { VectorFilter, VectorKey, VectorMatch, VectorRecord, VectorStore } from '../adapters/vectors/vector-store.ts';
import type { Choice, ContentBlock } from '../domain/curriculum.ts';
import { notFound } from '../domain/errors.ts';
import type { Logger } from '../observability/logger.ts';

/** One thing of the curriculum to embed: its text, and what searches filter on. */
export interface CurriculumDocument extends VectorKey {
  text: string;
  grade: number | null;
  subject: string | null;
}

/** What one refresh of an app's index did. */
export interface ReindexResult {
  appId: string;
  model: string;
  dimension: number;
  /** Live concepts, published lessons and their items. */
  documents: number;
  /** Embedded now (new, changed, or of another model before). */
  embedded: number;
  /** Already stored with the same text and model: not embedded again. */
  unchanged: number;
  /** Stored vectors of things gone (retired, deleted, unpublished). */
  removed: number;
}

/** Texts per embedder call: large enough to amortise a remote call, small enough to show progress and stop soon when asked. */
export const EMBED_BATCH_SIZE = 64;

/** Hash of what a vector is made from: its text and the grade and subject stored beside it. */
export function documentHash(d: CurriculumDocument): string {
  return createHash('sha256').update(`${d.grade ?? ''}\u0000${d.subject ?? ''}\u0000${d.text}`).digest('base64url');
}

/** The text of a lesson: title, summary and the words of its text, tip and example blocks. */
export function lessonText(lesson: { title: string; summary: string; blocks: readonly ContentBlock[] }): string {
  const parts = [lesson.title, lesson.summary];
  for (const b of lesson.blocks) {
    if (b.type === 'text' || b.type === 'tip') parts.push(b.text);
    else if (b.type === 'example') parts.push(b.prompt, b.explanation);
  }
  return parts.join('\n');
}

/** The text of a practice item: its prompt and the texts of its choices (never the answer key). */
export function itemText(item: { prompt: string; choices: readonly Choice[] | null }): string {
  return [item.prompt, ...(item.choices ?? []).map((c) => c.text)].join('\n');
}

/** The text of a concept: its name and description. */
export function conceptText(concept: { name: string; description: string }): string {
  return concept.description ? `${concept.name}. ${concept.description}` : concept.name;
}

/**
 * Every live concept, published lesson and item of a published lesson of the
 * app, with its text. Drafts are left out: the search answers teachers, who
 * see published lessons only; publishing is a content change, which indexes
 * the lesson then.
 */
export async function curriculumDocuments(database: Database, appId: string): Promise<CurriculumDocument[]> {
  const db = scoped(database.db, appId);
  const [concepts, lessons, items] = await Promise.all([
    db.selectFrom('concepts').select(['id', 'name', 'description', 'grade', 'subject']).where('retired_at', 'is', null).orderBy('id').execute(),
    db.selectFrom('lessons').select(['id', 'title', 'summary', 'blocks', 'grade', 'subject']).where('retired_at', 'is', null).where('published', '=', true).orderBy('id').execute(),
    db
      .selectFrom('practice_items as i')
      .innerJoin('lessons as l', 'l.id', 'i.lesson_id')
      .select(['i.id', 'i.prompt', 'i.choices', 'l.grade', 'l.subject'])
      .where('i.retired_at', 'is', null)
      // Items generated for one child are that child's, not the curriculum's: never indexed, never found.
      .where('i.generated', 'is', null)
      .where('l.retired_at', 'is', null)
      .where('l.published', '=', true)
      .orderBy('i.id')
      .execute(),
  ]);
  return [
    ...concepts.map((c) => ({ kind: 'concept' as const, id: c.id, text: conceptText(c), grade: c.grade, subject: c.subject })),
    ...lessons.map((l) => ({ kind: 'lesson' as const, id: l.id, text: lessonText({ title: l.title, summary: l.summary, blocks: l.blocks as ContentBlock[] }), grade: l.grade, subject: l.subject })),
    ...items.map((i) => ({ kind: 'item' as const, id: i.id, text: itemText({ prompt: i.prompt, choices: i.choices as Choice[] | null }), grade: i.grade, subject: i.subject })),
  ];
}

const keyOf = (k: VectorKey) => `${k.kind}\u0000${k.id}`;

/** A similarity search over the curriculum: by a published lesson's text, or by a free text. */
export type SimilarQuery = ({ lessonId: string } | { text: string }) & { filter?: VectorFilter; limit: number };

/**
 * The curriculum index: keeps an app's vectors in step with its content and
 * answers similarity searches. A refresh embeds only what changed (by the
 * hash of the text, grade and subject, and the model), removes the vectors
 * of things that are gone, and re-embeds everything when the configured
 * model differs from the stored one. `kidslearn engine reindex` runs one
 * with a progress bar; content written over the admin API schedules one in
 * the background ({@link CurriculumIndex.schedule}).
 */
export class CurriculumIndex {
  readonly #db: Database;
  readonly #vectors: VectorStore;
  readonly #embedder: Embedder;
  readonly #log: Logger;
  /** Per app: the refresh running now, and whether another was asked for meanwhile. */
  readonly #running = new Map<string, { done: Promise<void>; again: boolean }>();
  readonly #stop = new AbortController();

  constructor(deps: { db: Database; vectors: VectorStore; embedder: Embedder; logger: Logger }) {
    this.#db = deps.db;
    this.#vectors = deps.vectors;
    this.#embedder = deps.embedder;
    this.#log = deps.logger;
  }

  /**
   * Brings the app's vectors up to date now. `onProgress` hears how many
   * documents are done of how many need embedding.
   */
  async reindex(appId: string, options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {}): Promise<ReindexResult> {
    const signal = options.signal ? AbortSignal.any([options.signal, this.#stop.signal]) : this.#stop.signal;
    const { model, dimension } = await this.#embedder.ready({ signal });
    const [documents, stored] = await Promise.all([curriculumDocuments(this.#db, appId), this.#vectors.list(appId)]);
    const storedByKey = new Map(stored.map((s) => [keyOf(s), s]));
    const wanted = new Set(documents.map(keyOf));
    const gone = stored.filter((s) => !wanted.has(keyOf(s)));
    const todo: Array<{ doc: CurriculumDocument; hash: string }> = [];
    for (const doc of documents) {
      const hash = documentHash(doc);
      const s = storedByKey.get(keyOf(doc));
      if (!s || s.textHash !== hash || s.model !== model || s.dimensions !== dimension) todo.push({ doc, hash });
    }
    const removed = gone.length ? await this.#vectors.delete(appId, gone) : 0;
    options.onProgress?.(0, todo.length);
    let done = 0;
    for (let start = 0; start < todo.length; start += EMBED_BATCH_SIZE) {
      signal.throwIfAborted();
      const batch = todo.slice(start, start + EMBED_BATCH_SIZE);
      const vectors = await this.#embedder.embed(
        batch.map((b) => b.doc.text),
        { signal },
      );
      const records: VectorRecord[] = batch.map((b, i) => ({
        kind: b.doc.kind,
        id: b.doc.id,
        model,
        vector: vectors[i]!,
        grade: b.doc.grade,
        subject: b.doc.subject,
        textHash: b.hash,
      }));
      await this.#vectors.upsert(appId, records);
      done += batch.length;
      options.onProgress?.(done, todo.length);
    }
    return { appId, model, dimension, documents: documents.length, embedded: todo.length, unchanged: documents.length - todo.length, removed };
  }

  /**
   * Refreshes the app's index in the background (after a content write has
   * committed). Never throws: a failure is logged, and the next refresh or
   * `kidslearn engine reindex` repairs it. Requests arriving while one runs
   * for the app are folded into one more run after it.
   */
  schedule(appId: string): void {
    if (this.#stop.signal.aborted) return;
    const running = this.#running.get(appId);
    if (running) {
      running.again = true;
      return;
    }
    const entry = { done: Promise.resolve(), again: false };
    entry.done = (async () => {
      // Let the request that wrote the content finish first.
      await new Promise((resolve) => setImmediate(resolve));
      do {
        entry.again = false;
        try {
          const result = await this.reindex(appId);
          this.#log.debug({ ...result }, 'curriculum index refreshed');
        } catch (error) {
          if (this.#stop.signal.aborted) return;
          this.#log.error({ err: error, appId }, 'curriculum index refresh failed; `kidslearn engine reindex --app <id>` repairs it');
          return;
        }
      } while (entry.again && !this.#stop.signal.aborted);
    })().finally(() => this.#running.delete(appId));
    this.#running.set(appId, entry);
  }

  /** Resolves when no background refresh is running (tests, and shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size) await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  /**
   * The nearest lessons, items or concepts of the app to a published lesson
   * (itself left out) or to a text, with cosine scores, best first. 404
   * `lesson_not_found` for a lesson that is not live and published.
   */
  async similar(appId: string, query: SimilarQuery): Promise<{ model: string; matches: VectorMatch[] }> {
    const { model } = await this.#embedder.ready({ signal: this.#stop.signal });
    let text: string;
    let self: VectorKey | undefined;
    if ('lessonId' in query) {
      const lesson = await scoped(this.#db.db, appId)
        .selectFrom('lessons')
        .select(['title', 'summary', 'blocks'])
        .where('id', '=', query.lessonId)
        .where('published', '=', true)
        .where('retired_at', 'is', null)
        .executeTakeFirst();
      if (!lesson) throw notFound('lesson_not_found', `Lesson "${query.lessonId}" not found`);
      // Embedded afresh rather than read back: right even before the background refresh stored it.
      text = lessonText({ title: lesson.title, summary: lesson.summary, blocks: lesson.blocks as ContentBlock[] });
      self = { kind: 'lesson', id: query.lessonId };
    } else {
      text = query.text;
    }
    const [vector] = (await this.#embedder.embed([text], { signal: this.#stop.signal })) as [Float32Array];
    const found = await this.#vectors.search(appId, { model, vector, filter: query.filter, limit: Math.min(100, query.limit + (self ? 1 : 0)) });
    const matches = found.filter((m) => !(self && m.kind === self.kind && m.id === self.id)).slice(0, query.limit);
    return { model, matches };
  }

  /** Stops background refreshes (a running one ends at its next batch) and waits for them. */
  async close(): Promise<void> {
    this.#stop.abort(new Error('curriculum index closed'));
    await this.idle();
  }
}
