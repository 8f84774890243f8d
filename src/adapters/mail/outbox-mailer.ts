import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Mailer, StoredMail } from './mailer.ts';

/** `<dataDir>/outbox/`: where the embedded mailer writes messages. */
export const outboxDir = (dataDir: string) => path.join(dataDir, 'outbox');

/**
 * The embedded mailer: each message becomes one JSON file in the outbox
 * directory (mode 0600: messages carry sign-in tokens), named so that a
 * directory listing is in sending order. Nothing leaves the machine; a
 * developer reads the messages with `mail list`.
 */
export function createOutboxMailer(options: { dir: string; from: string }): Mailer {
  // Messages sent within one millisecond keep their order through this counter (the id alone is random).
  let sequence = 0;
  return {
    kind: 'outbox',
    async send(message) {
      mkdirSync(options.dir, { recursive: true, mode: 0o700 });
      const at = new Date();
      const id = randomUUID();
      const stored: StoredMail = { id, at: at.toISOString(), from: options.from, to: message.to, subject: message.subject, text: message.text };
      sequence = (sequence + 1) % 1e9;
      const name = `${at.getTime().toString().padStart(15, '0')}-${sequence.toString().padStart(9, '0')}-${id}.json`;
      // Written aside, then renamed: `mail list` never reads half a message.
      const tmp = path.join(options.dir, `.${name}.tmp`);
      await writeFile(tmp, JSON.stringify(stored, null, 2), { mode: 0o600, flag: 'wx' });
      await rename(tmp, path.join(options.dir, name));
    },
    async close() {},
  };
}

/** Messages in the outbox, oldest first; `to` keeps only those to one address (case-insensitive). */
export function listOutbox(dir: string, filter: { to?: string } = {}): StoredMail[] {
  if (!existsSync(dir)) return [];
  const to = filter.to?.trim().toLowerCase();
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .sort()
    .map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as StoredMail)
    .filter((m) => to === undefined || m.to === to);
}
