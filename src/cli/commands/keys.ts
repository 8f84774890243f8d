import type { Command } from 'commander';
import { listSigningKeys, rotateSigningKey } from '../../features/auth/signing-keys.ts';
import { failure, messageOf, type CliContext } from '../shared.ts';

export function register(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description('the keys that sign access tokens (no database is opened)');
  const keyOptions = () => ({ dataDir: ctx.config().dataDir, privateKeyJwk: ctx.config().jwt.privateKeyJwk });

  keys
    .command('list')
    .description('show the current signing key id and the previous keys that still verify')
    .action(async () => {
      const { current, previous } = await listSigningKeys(keyOptions());
      const lines = [current ? `current\t${current.kid}\t${current.source}` : 'current\t(none yet: one is generated on first start)'];
      for (const p of previous) lines.push(`previous\t${p.kid}\tretireAfter ${p.retireAfter}${p.retired ? '\t(retired: no longer loaded)' : ''}`);
      ctx.print(lines.join('\n'));
    });

  keys
    .command('rotate')
    .description('replace the signing key; the old one verifies for another hour (restart the server to sign with the new key)')
    .action(async () => {
      let rotated: Awaited<ReturnType<typeof rotateSigningKey>>;
      try {
        rotated = await rotateSigningKey(keyOptions());
      } catch (error) {
        throw failure(messageOf(error), error);
      }
      ctx.print(
        [
          `new signing key: ${rotated.kid}`,
          rotated.retired ? `retired key: ${rotated.retired.kid} (still verifies until ${rotated.retired.retireAfter})` : 'retired key: none (there was no signing key yet)',
          'restart the server to start signing with the new key',
        ].join('\n'),
      );
    });
}
