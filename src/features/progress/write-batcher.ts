/**
 * Group commit for answer writes. Writes arriving while the database is
 * busy with earlier ones wait and then go together in one statement: at low
 * load every write goes at once, alone; under load one statement (one round
 * trip, one commit) carries many, which is what lets a server keep up with a
 * class answering at once. Each write still lands or not on its own (see
 * `writeAnswerGroups`): a merged statement only couples their failures, so
 * when one fails with an integrity error (a stored event id, an erased child)
 * each of its writes is sent again alone and gets its own outcome.
 */
export interface BatchableWrite {
  /** Children the write touches; two writes sharing a child never go in one statement. */
  readonly childIds: readonly string[];
  /** Answers it carries (bounds a statement's size). */
  readonly size: number;
}

interface Pending<W> {
  write: W;
  alone: boolean;
  resolve: (landed: boolean) => void;
  reject: (error: unknown) => void;
}

export class WriteBatcher<W extends BatchableWrite> {
  readonly #send: (writes: readonly W[]) => Promise<Set<number>>;
  readonly #maxInFlight: number;
  readonly #maxSize: number;
  #inFlight = 0;
  #queue: Pending<W>[] = [];

  /**
   * `send` writes the given writes in one statement and returns the indexes
   * of those that landed; at most `maxInFlight` statements run at once, each
   * with at most `maxSize` answers (a single larger write goes alone).
   */
  constructor(send: (writes: readonly W[]) => Promise<Set<number>>, options: { maxInFlight: number; maxSize: number }) {
    this.#send = send;
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#maxSize = options.maxSize;
  }

  /** Resolves to whether the write landed; rejects if its statement failed. */
  write(write: W): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, alone: false, resolve, reject });
      this.#pump();
    });
  }

  /** Writes waiting for a statement (for tests and metrics). */
  get waiting(): number {
    return this.#queue.length;
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#take();
      this.#inFlight++;
      void this.#run(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  /** The next statement's writes: the oldest, then later ones that fit and share no child with those taken. */
  #take(): Pending<W>[] {
    const first = this.#queue.shift()!;
    if (first.alone) return [first];
    const batch = [first];
    const children = new Set(first.write.childIds);
    let size = first.write.size;
    const rest: Pending<W>[] = [];
    for (const p of this.#queue) {
      if (!p.alone && size + p.write.size <= this.#maxSize && !p.write.childIds.some((c) => children.has(c))) {
        batch.push(p);
        size += p.write.size;
        for (const c of p.write.childIds) children.add(c);
      } else {
        rest.push(p);
      }
    }
    this.#queue = rest;
    return batch;
  }

  async #run(batch: Pending<W>[]): Promise<void> {
    let landed: Set<number>;
    try {
      landed = await this.#send(batch.map((p) => p.write));
    } catch (error) {
      if (batch.length > 1 && isIntegrityError(error)) {
        // Whose was it? Each goes again alone, ahead of newer writes.
        this.#queue.unshift(...batch.map((p) => ({ ...p, alone: true })));
      } else {
        for (const p of batch) p.reject(error);
      }
      return;
    }
    batch.forEach((p, i) => p.resolve(landed.has(i)));
  }
}

/** SQLSTATE class 23: a constraint refused the statement (nothing of it was written). */
function isIntegrityError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('23');
}
