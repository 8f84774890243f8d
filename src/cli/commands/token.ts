import { InvalidArgumentError, Option, type Command } from 'commander';
import { Role } from '../../domain/principal.ts';
import { loadSigningKey } from '../../features/auth/signing-keys.ts';
import { parseTtl, TokenService } from '../../features/auth/tokens.ts';
import { messageOf, parseAppId, type CliContext } from '../shared.ts';

function parseTtlOption(value: string): number {
  try {
    return parseTtl(value);
  } catch (error) {
    throw new InvalidArgumentError(messageOf(error));
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('token')
    .description('print a signed access token (no database is opened, so this works while the server runs)')
    .requiredOption('--app <id>', 'the app the token is for', parseAppId)
    .addOption(new Option('--role <role>', 'the role in the token').choices(Role.options).makeOptionMandatory())
    .option('--sub <id>', 'the subject (an account or child id); default <role>-cli, which has no account')
    .addOption(new Option('--ttl <duration>', 'lifetime: seconds, or a number with s, m or h; at most 1h (longer access uses refresh tokens)').argParser(parseTtlOption).default(900, '15m'))
    .action(async (options: { app: string; role: Role; sub?: string; ttl: number }) => {
      const config = ctx.config();
      const key = await loadSigningKey({ dataDir: config.dataDir, privateKeyJwk: config.jwt.privateKeyJwk });
      const tokens = new TokenService([key], config.jwt.issuer);
      ctx.print(await tokens.issue({ sub: options.sub ?? `${options.role}-cli`, app: options.app, role: options.role }, options.ttl));
    });
}
