import type { Command } from 'commander';
import { listOutbox } from '../../adapters/mail/outbox-mailer.ts';
import { failure, parsePositiveInt, type CliContext } from '../shared.ts';

export function register(program: Command, ctx: CliContext): void {
  const mail = program.command('mail').description('the mail outbox (embedded defaults, without SMTP_URL)');

  mail
    .command('list')
    .description('show the messages in the outbox, oldest first: sign-up verification and password reset codes (no database is opened)')
    .option('--to <email>', 'only messages to this address (any case)')
    .option('--last <n>', 'only the last n messages', parsePositiveInt)
    .action((options: { to?: string; last?: number }) => {
      const config = ctx.config();
      if (config.mail.kind === 'smtp') throw failure('SMTP_URL is set: mail goes to that server, not to the outbox (unset SMTP_URL to use the outbox)');
      if (config.mail.kind === 'ses') throw failure('MAIL_TRANSPORT=ses: mail goes through Amazon SES, not to the outbox');
      const messages = listOutbox(config.mail.dir, options.to === undefined ? {} : { to: options.to }).slice(options.last === undefined ? 0 : -options.last);
      ctx.print(
        messages.length
          ? messages.map((m) => [`--- ${m.at}  to ${m.to}`, `Subject: ${m.subject}`, '', m.text.trimEnd()].join('\n')).join('\n\n')
          : `(no mail in ${config.mail.dir})`,
      );
    });
}
