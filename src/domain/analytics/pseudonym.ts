import { createHmac, randomBytes } from 'node:crypto';

/**
 * Pseudonymous learner keys: the lake identifies a child by
 * `l_` + 22 base64url characters (132 bits) of HMAC-SHA256 over the app and
 * the child id, under a secret kept per app in the database. The same child
 * always gets the same key within an app (so reports can count learners and
 * erasure can find their rows), keys of two apps cannot be linked, and
 * without the secret a key cannot be turned back into a child id, even by
 * trying every id.
 */
export function learnerKey(secret: Uint8Array, app: string, childId: string): string {
  return `l_${createHmac('sha256', secret).update(`${app}:${childId}`).digest('base64url').slice(0, 22)}`;
}

/** Shape of every learner key (for schemas and tests). */
export const LEARNER_KEY_PATTERN = /^l_[A-Za-z0-9_-]{22}$/;

/** A new per-app secret, base64url text of 32 random bytes. */
export function newLearnerSecret(): string {
  return randomBytes(32).toString('base64url');
}
