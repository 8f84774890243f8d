import type { SendMailOptions, Transporter } from 'nodemailer';
import { AppError } from '../../domain/errors.ts';
import { lazyModule } from '../lazy-module.ts';
import type { Mailer } from './mailer.ts';

/** nodemailer (~240 KB), loaded on the first message rather than at import (see adapters/lazy-module.ts). */
const loadNodemailer = lazyModule(() => import('nodemailer'));

/**
 * The server mailer: SMTP through nodemailer (one pooled transport per
 * process). Every phase has a timeout (connect, greeting, socket
 * inactivity) and the whole hand-over is bounded by `timeoutMs` as well, so
 * a stalled mail server costs a request at most that long, then a 503.
 */
export function createSmtpMailer(options: { url: string; from: string; timeoutMs: number }): Mailer {
  /** The pooled transport, made with the first message. */
  let transport: Promise<Transporter> | undefined;
  const open = () => {
    transport ??= loadNodemailer().then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        url: options.url,
        pool: true,
        maxConnections: 2,
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
        dnsTimeout: options.timeoutMs,
      } as Parameters<typeof nodemailer.createTransport>[0]),
    );
    transport.catch(() => (transport = undefined));
    return transport;
  };
  const sendMail = async (mail: SendMailOptions) => (await open()).sendMail(mail);
  return {
    kind: 'smtp',
    async send(message) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`SMTP did not accept the message within ${options.timeoutMs} ms`)), options.timeoutMs);
      });
      try {
        await Promise.race([sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.text }), timeout]);
      } catch (error) {
        throw new AppError('unavailable', 'mail_unavailable', 'Email cannot be sent right now; try again in a minute', { cause: error, details: { retryAfterSeconds: 60 } });
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      const opened = await transport?.catch(() => undefined);
      opened?.close();
    },
  };
}
