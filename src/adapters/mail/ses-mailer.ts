import type * as SesSdk from '@aws-sdk/client-sesv2';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { lazyModule } from '../lazy-module.ts';
import { AppError } from '../../domain/errors.ts';
import { callAws, describeAwsError, type RetryPolicy } from '../aws/sqs-calls.ts';
import type { Mailer } from './mailer.ts';

/** Options of the SES mailer. */
export interface SesMailerOptions {
  /** The sender (`MAIL_FROM`): an address or domain verified as an SES identity. */
  from: string;
  /** SES's region (`SES_REGION`); the SDK's default chain (AWS_REGION) otherwise. */
  region?: string | undefined;
  /** Longest wait for one message, retries included (`MAIL_TIMEOUT_MS`). */
  timeoutMs: number;
  /** A client you pass in (tests: mocked with aws-sdk-client-mock); `close` then leaves it open. */
  client?: SESv2Client;
  retry?: RetryPolicy;
}

/** The SES client package, loaded with the first message. */
const loadSesSdk = lazyModule((): Promise<typeof SesSdk> => import('@aws-sdk/client-sesv2'));

/**
 * The AWS mailer: Amazon SES (API v2) `SendEmail` with simple content — the
 * subject and the plain text, UTF-8 — from `MAIL_FROM` to the one address.
 * Throttling (`TooManyRequestsException`, 429) and server errors are retried
 * with full-jitter backoff within `timeoutMs`; a refusal (an unverified
 * sender, a rejected message, a paused account) is not. Either way a
 * failure is 503 `mail_unavailable`, like the SMTP mailer's; the message
 * text (it carries a single-use code) is never logged or put in the error.
 */
export function createSesMailer(options: SesMailerOptions): Mailer {
  // The SDK is loaded with the first message, not when the app is built (Lambda cold start).
  let client: SESv2Client | undefined = options.client;
  const ownsClient = !options.client;
  return {
    kind: 'ses',
    async send(message) {
      try {
        const { SESv2Client, SendEmailCommand } = await loadSesSdk();
        client ??= new SESv2Client({
          ...(options.region ? { region: options.region } : {}),
          maxAttempts: 1,
          requestHandler: { connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs, throwOnRequestTimeout: true },
        });
        const ses = client;
        await callAws(
          'SES',
          'SendEmail',
          (signal) =>
            ses.send(
              new SendEmailCommand({
                FromEmailAddress: options.from,
                Destination: { ToAddresses: [message.to] },
                Content: {
                  Simple: {
                    Subject: { Data: message.subject, Charset: 'UTF-8' },
                    Body: { Text: { Data: message.text, Charset: 'UTF-8' } },
                  },
                },
              }),
              { abortSignal: signal },
            ),
          { timeoutMs: options.timeoutMs, ...(options.retry ? { retry: options.retry } : {}) },
        );
      } catch (error) {
        throw new AppError('unavailable', 'mail_unavailable', 'Email cannot be sent right now; try again in a minute', {
          cause: new Error(`SES did not take the message: ${describeAwsError((error as { cause?: unknown }).cause ?? error)}`),
          details: { retryAfterSeconds: 60 },
        });
      }
    },
    async close() {
      if (ownsClient) client?.destroy();
    },
  };
}
