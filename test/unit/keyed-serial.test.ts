import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedSerial } from '../../src/features/progress/keyed-serial.ts';

describe('KeyedSerial', () => {
  it('runs tasks of one key one at a time, in arrival order, and other keys alongside', async () => {
    const q = new KeyedSerial();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([q.run('a', task('a1', 20)), q.run('a', task('a2', 1)), q.run('b', task('b1', 5))]);
    assert.deepEqual(results, ['a1', 'a2', 'b1']);
    assert.ok(log.indexOf('end a1') < log.indexOf('start a2'), 'a2 waited for a1');
    assert.ok(log.indexOf('start b1') < log.indexOf('end a1'), 'b1 did not wait for a1');
    assert.equal(q.busyKeys, 0, 'nothing kept once idle');
  });

  it('goes on after a task fails, and passes the failure to its caller only', async () => {
    const q = new KeyedSerial();
    const failed = q.run('a', () => Promise.reject(new Error('boom')));
    const next = q.run('a', () => Promise.resolve(2));
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 2);
  });

  it('holds several keys without deadlock when callers name them in different orders', async () => {
    const q = new KeyedSerial();
    let inside = 0;
    let most = 0;
    const task = async () => {
      inside++;
      most = Math.max(most, inside);
      await sleep(2);
      inside--;
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => q.runAll(i % 2 ? ['x', 'y'] : ['y', 'x'], task)));
    assert.equal(most, 1, 'tasks sharing keys never overlapped');
    assert.equal(q.busyKeys, 0);
  });
});
