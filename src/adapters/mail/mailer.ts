/**
 * The mailer port: sends one plain-text message to one address. Three
 * adapters: a file outbox under the data directory (embedded default; `npm
 * run kidslearn -- mail list` shows it), SMTP, and Amazon SES (AWS). Only
 * `wiring/container.ts` picks one (`MAIL_TRANSPORT`).
 */
export interface MailMessage {
  /** One recipient address (already validated and lower-cased). */
  to: string;
  subject: string;
  /** Plain text; may carry a single-use token, so never log it. */
  text: string;
}

/** What the adapters have in common. */
export interface Mailer {
  readonly kind: 'outbox' | 'smtp' | 'ses';
  /**
   * Sends (or, for the outbox, stores) one message. Resolves once it was
   * handed over; rejects with AppError `mail_unavailable` (503) when that
   * fails or takes longer than the adapter's timeout.
   */
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

/** One message as the outbox stores it and `mail list` shows it. */
export interface StoredMail extends MailMessage {
  id: string;
  from: string;
  /** ISO time it was written. */
  at: string;
}
