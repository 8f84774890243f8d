import { listOutbox } from '../../src/adapters/mail/outbox-mailer.ts';
import type { StoredMail } from '../../src/adapters/mail/mailer.ts';
import type { TestApp } from './app-fixture.ts';

/** Messages the test app's outbox holds for `to` (oldest first). */
export function mailTo(t: TestApp, to: string): StoredMail[] {
  const mail = t.container.config.mail;
  if (mail.kind !== 'outbox') throw new Error('the test app must use the file outbox');
  return listOutbox(mail.dir, { to });
}

/** The single-use code in a message (the indented 43-character line). */
export function codeIn(message: StoredMail | undefined): string {
  const m = message && /^ {2}([A-Za-z0-9_-]{43})$/m.exec(message.text);
  if (!m) throw new Error(`no code in ${JSON.stringify(message?.text)}`);
  return m[1]!;
}

/**
 * Signs up over HTTP as a new user does: register (202), read the code from
 * the outbox, verify it with the password (201). Returns the created account.
 */
export async function signUp(t: TestApp, appId: string, email: string, password: string, role: 'guardian' | 'teacher'): Promise<{ id: string; email: string; role: string }> {
  const headers = { 'x-app-id': appId, 'content-type': 'application/json' };
  const reg = await t.request('/auth/register', { method: 'POST', headers, body: JSON.stringify({ email, password, role }) });
  if (reg.status !== 202) throw new Error(`register answered ${reg.status}: ${await reg.text()}`);
  const code = codeIn(mailTo(t, email).at(-1));
  const verified = await t.request('/auth/email/verify', { method: 'POST', headers, body: JSON.stringify({ token: code, password }) });
  if (verified.status !== 201) throw new Error(`verify answered ${verified.status}: ${await verified.text()}`);
  return (await verified.json()) as { id: string; email: string; role: string };
}

/**
 * A guardian signed up over HTTP (as {@link signUp}) and signed in, with one
 * child created through the API: the guardian's access token and the child's id.
 */
export async function guardianWithChild(t: TestApp, appId: string, email: string, password: string, nickname: string): Promise<{ guardian: string; childId: string }> {
  await signUp(t, appId, email, password, 'guardian');
  const login = await t.request('/auth/login', { method: 'POST', headers: { 'x-app-id': appId }, body: JSON.stringify({ email, password }) });
  if (login.status !== 200) throw new Error(`login answered ${login.status}: ${await login.text()}`);
  const guardian = ((await login.json()) as { accessToken: string }).accessToken;
  const created = await t.request('/api/children', { method: 'POST', token: guardian, body: JSON.stringify({ nickname, grade: 1 }) });
  if (created.status !== 201) throw new Error(`creating the child answered ${created.status}: ${await created.text()}`);
  return { guardian, childId: ((await created.json()) as { id: string }).id };
}
