import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { throttledLog } from '../../src/observability/throttle.ts';

describe('throttledLog', () => {
  it('logs the first call, drops calls within the interval, and reports how many it dropped', () => {
    mock.timers.enable({ apis: ['Date'] });
    const now = { ms: 1000 };
    const perf = mock.method(performance, 'now', () => now.ms);
    try {
      const lines: [number, string][] = [];
      const log = throttledLog(10_000, (suppressed, message: string) => lines.push([suppressed, message]));
      log('a');
      for (let i = 0; i < 5; i++) log(`dropped ${i}`);
      now.ms += 9_999;
      log('still dropped');
      now.ms += 1;
      log('b');
      log('dropped again');
      assert.deepEqual(lines, [
        [0, 'a'],
        [6, 'b'],
      ]);
    } finally {
      perf.mock.restore();
      mock.timers.reset();
    }
  });
});
