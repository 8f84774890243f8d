import type { Command } from 'commander';
import { AppError } from '../../domain/errors.ts';
import { Email, Password } from '../../features/accounts/accounts.service.ts';
import { failure, parseAppId, withContainer, type CliContext } from '../shared.ts';

export function register(program: Command, ctx: CliContext): void {
  const users = program.command('users').description('accounts that are not made through the API');

  users
    .command('create')
    .description('create an admin account and print it as JSON; the password is read from stdin (or prompted for twice on a terminal)')
    .requiredOption('--app <id>', 'the app the account belongs to', parseAppId)
    .requiredOption('--role <role>', 'admin (guardians and teachers sign up through the API)')
    .requiredOption('--email <email>', 'the email address the admin signs in with')
    .action(async (options: { app: string; role: string; email: string }) => {
      if (options.role !== 'admin') throw failure('--role must be admin: only admin accounts are created here (guardians and teachers sign up through the API)');
      const email = Email.safeParse(options.email);
      if (!email.success) throw failure(`email ${email.error.issues[0]?.message ?? 'is invalid'}`);
      const password = Password.safeParse(await ctx.io.readPassword());
      if (!password.success) throw failure(`password ${password.error.issues[0]?.message ?? 'is invalid'}`);
      const appId = options.app;
      ctx.print(
        await withContainer(ctx, async (c) => {
          if (!(await c.apps.find(appId))) throw failure(`unknown app "${appId}" (see apps list, or apps create ${appId} --name "<name>")`);
          try {
            const account = await c.accounts.createAdmin(appId, email.data, password.data);
            return JSON.stringify({ id: account.id, email: account.email, role: account.role, app: appId });
          } catch (error) {
            if (error instanceof AppError && error.code === 'email_taken') throw failure(`an account with email ${email.data} already exists in app ${appId}`, error);
            throw error;
          }
        }),
      );
    });
}
