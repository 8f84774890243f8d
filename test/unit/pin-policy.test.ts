import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PIN_FREE_FAILURES, PIN_MAX_DELAY_SECONDS, pinDelaySeconds } from '../../src/domain/pin-policy.ts';

describe('PIN waits', () => {
  it('are free for the first four wrong PINs, then 30 s doubling up to 15 minutes', () => {
    assert.equal(PIN_FREE_FAILURES, 4);
    assert.deepEqual(
      Array.from({ length: 12 }, (_, i) => pinDelaySeconds(i + 1)),
      [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900],
    );
  });

  it('never grow past the ceiling, however many failures (no overflow)', () => {
    for (const n of [20, 1000, 1e6, Number.MAX_SAFE_INTEGER]) assert.equal(pinDelaySeconds(n), PIN_MAX_DELAY_SECONDS);
  });

  it('allow at most about a hundred guesses a day once at the ceiling', () => {
    assert.ok(86_400 / PIN_MAX_DELAY_SECONDS <= 100);
  });
});
