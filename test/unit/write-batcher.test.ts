import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteBatcher, type BatchableWrite } from '../../src/features/progress/write-batcher.ts';

interface W extends BatchableWrite {
  name: string;
}
const w = (name: string, childIds: string[], size = 1): W => ({ name, childIds, size });

/** A fake statement runner: records each statement's writes and settles when told. */
function fakeDatabase(outcome: (writes: readonly W[]) => Set<number> | Error = (ws) => new Set(ws.map((_, i) => i))) {
  const statements: string[][] = [];
  const open: (() => void)[] = [];
  const send = (writes: readonly W[]) => {
    statements.push(writes.map((x) => x.name));
    return new Promise<Set<number>>((resolve, reject) => {
      open.push(() => {
        const r = outcome(writes);
        if (r instanceof Error) reject(r);
        else resolve(r);
      });
    });
  };
  /** Settles every statement in flight and lets the batcher send the next ones. */
  const settle = async () => {
    for (const done of open.splice(0)) done();
    await new Promise((r) => setImmediate(r));
  };
  return { statements, send, settle };
}

describe('WriteBatcher (group commit of answer writes)', () => {
  it('sends a write at once when nothing is in flight, and merges the writes that arrive meanwhile', async () => {
    const db = fakeDatabase();
    const batcher = new WriteBatcher(db.send, { maxInFlight: 1, maxSize: 100 });
    const a = batcher.write(w('a', ['c1']));
    const rest = ['b', 'c', 'd'].map((n, i) => batcher.write(w(n, [`c${i + 2}`])));
    assert.deepEqual(db.statements, [['a']], 'the first went alone, without waiting');
    assert.equal(batcher.waiting, 3);
    await db.settle();
    assert.deepEqual(db.statements, [['a'], ['b', 'c', 'd']], 'the rest went together in one statement');
    await db.settle();
    assert.deepEqual(await Promise.all([a, ...rest]), [true, true, true, true]);
  });

  it('keeps writes that share a child, or would overflow the statement, for a later one — in arrival order', async () => {
    const db = fakeDatabase();
    const batcher = new WriteBatcher(db.send, { maxInFlight: 1, maxSize: 10 });
    const all = [batcher.write(w('first', ['x'])), batcher.write(w('a', ['c1'], 4)), batcher.write(w('b', ['c1', 'c2'])), batcher.write(w('c', ['c3'], 4)), batcher.write(w('big', ['c4'], 5)), batcher.write(w('d', ['c5']))];
    await db.settle();
    assert.deepEqual(db.statements[1], ['a', 'c', 'd'], 'b shares c1 with a; big would make 13 > 10');
    await db.settle();
    assert.deepEqual(db.statements[2], ['b', 'big']);
    await db.settle();
    assert.equal((await Promise.all(all)).every(Boolean), true);
  });

  it('runs up to maxInFlight statements at once', () => {
    const db = fakeDatabase();
    const batcher = new WriteBatcher(db.send, { maxInFlight: 3, maxSize: 100 });
    for (const n of ['a', 'b', 'c', 'd', 'e']) void batcher.write(w(n, [n]));
    assert.deepEqual(db.statements, [['a'], ['b'], ['c']]);
    assert.equal(batcher.waiting, 2);
  });

  it('tells each write whether it landed', async () => {
    const db = fakeDatabase((ws) => new Set(ws.flatMap((x, i) => (x.name === 'stale' ? [] : [i]))));
    const batcher = new WriteBatcher(db.send, { maxInFlight: 1, maxSize: 100 });
    const first = batcher.write(w('first', ['x']));
    const stale = batcher.write(w('stale', ['c1']));
    const fresh = batcher.write(w('fresh', ['c2']));
    await db.settle();
    await db.settle();
    assert.deepEqual(await Promise.all([first, stale, fresh]), [true, false, true]);
  });

  it('after an integrity error in a merged statement, sends each write again alone so only the culprit fails', async () => {
    const duplicate = Object.assign(new Error('duplicate key'), { code: '23505' });
    const db = fakeDatabase((ws) => (ws.some((x) => x.name === 'dup') ? duplicate : new Set(ws.map((_, i) => i))));
    const batcher = new WriteBatcher(db.send, { maxInFlight: 1, maxSize: 100 });
    const first = batcher.write(w('first', ['x']));
    const results = [batcher.write(w('a', ['c1'])), batcher.write(w('dup', ['c2'])), batcher.write(w('b', ['c3']))].map((p) => p.then((v) => v, (e: Error) => e.message));
    for (let i = 0; i < 6; i++) await db.settle();
    assert.deepEqual(db.statements, [['first'], ['a', 'dup', 'b'], ['a'], ['dup'], ['b']]);
    assert.deepEqual(await Promise.all([first, ...results]), [true, true, 'duplicate key', true]);
  });

  it('fails every write of a statement that failed for another reason, without resending', async () => {
    const db = fakeDatabase(() => new Error('statement timeout'));
    const batcher = new WriteBatcher(db.send, { maxInFlight: 1, maxSize: 100 });
    const outcomes = [batcher.write(w('first', ['x'])), batcher.write(w('a', ['c1'])), batcher.write(w('b', ['c2']))].map((p) => p.then(String, (e: Error) => e.message));
    await db.settle();
    await db.settle();
    assert.deepEqual(await Promise.all(outcomes), ['statement timeout', 'statement timeout', 'statement timeout']);
    assert.deepEqual(db.statements, [['first'], ['a', 'b']]);
  });
});
