import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LEARNER_KEY_PATTERN, learnerKey, newLearnerSecret } from '../../src/domain/analytics/pseudonym.ts';

const secretA = Buffer.from(newLearnerSecret(), 'base64url');
const secretB = Buffer.from(newLearnerSecret(), 'base64url');
const child = '0f3c6a52-8d1e-4b7a-9c2e-5d4f3a2b1c0d';

describe('pseudonymous learner keys', () => {
  it('are deterministic: the same secret, app and child give the same key', () => {
    assert.equal(learnerKey(secretA, 'alpha', child), learnerKey(Buffer.from(secretA), 'alpha', child));
  });

  it('differ per app, per secret and per child', () => {
    const k = learnerKey(secretA, 'alpha', child);
    assert.notEqual(learnerKey(secretA, 'beta', child), k, 'another app');
    assert.notEqual(learnerKey(secretB, 'alpha', child), k, 'another secret');
    assert.notEqual(learnerKey(secretA, 'alpha', `${child}x`), k, 'another child');
  });

  it('match the pattern and never contain the child id', () => {
    for (let i = 0; i < 200; i++) {
      const id = `child-${i}`;
      const k = learnerKey(secretA, 'alpha', id);
      assert.match(k, LEARNER_KEY_PATTERN);
      assert.equal(k.length, 24);
      assert.ok(!k.includes(id));
    }
    assert.ok(!learnerKey(secretA, 'alpha', child).includes(child.slice(0, 8)));
    assert.doesNotMatch(child, LEARNER_KEY_PATTERN);
  });

  it('new secrets are 32 random bytes, different every time', () => {
    const a = newLearnerSecret();
    assert.equal(Buffer.from(a, 'base64url').length, 32);
    assert.notEqual(a, newLearnerSecret());
  });
});
