import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/config.ts';
import { Role } from '../domain/principal.ts';
import { assertValidAppId } from '../domain/tenancy.ts';
import { loadSigningKey } from '../features/auth/signing-keys.ts';
import { parseTtl, TokenService } from '../features/auth/tokens.ts';
import { createLogger } from '../observability/logger.ts';
import { DEMO_APPS, seedPack } from '../seed/seed-demo-apps.ts';
import { createContainer, type Container } from '../wiring/container.ts';

const USAGE = `Usage: npm run -s kidslearn -- <command>

  migrate                                   apply pending migrations (control schema and every app)
  apps list                                 list registered apps
  apps create <id> --name "<name>"          register an app and create its schema
  seed [--app mathkids|wordkids]            (re)write the demo curriculum (idempotent)
  token --app <id> --role <role> [--sub <id>] [--ttl 15m]
                                            print a signed access token (roles: ${Role.options.join(', ')})
`;

/** Fails with a one-line message and exit code 2 (usage) or 1 (runtime). */
class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

async function withContainer<T>(config: Config, fn: (c: Container) => Promise<T>): Promise<T> {
  const container = await createContainer(config, { logger: createLogger({ level: 'warn', destination: process.stderr }) });
  try {
    return await fn(container);
  } finally {
    await container.close();
  }
}

/** Runs one CLI command; returns what to print on stdout. */
export async function runCli(argv: string[], config: Config): Promise<string> {
  const [command, sub] = argv;
  switch (command) {
    case 'migrate':
      return withContainer(config, async () => 'migrations are up to date');
    case 'apps': {
      if (sub === 'list') {
        return withContainer(config, async (c) =>
          (await c.apps.list()).map((a) => `${a.id}\t${a.name}\t${a.createdAt}`).join('\n') || '(no apps)',
        );
      }
      if (sub === 'create') {
        const { values, positionals } = parseArgs({ args: argv.slice(2), options: { name: { type: 'string' } }, allowPositionals: true });
        const id = positionals[0];
        if (!id || !values.name) throw new CliError('usage: apps create <id> --name "<name>"');
        assertValidAppId(id);
        return withContainer(config, async (c) => {
          const app = await c.apps.create(id, values.name!);
          return `created app ${app.id} (${app.name})`;
        });
      }
      throw new CliError(USAGE);
    }
    case 'seed': {
      const { values } = parseArgs({ args: argv.slice(1), options: { app: { type: 'string' } } });
      const demos = DEMO_APPS.filter((d) => !values.app || d.id === values.app);
      if (!demos.length) throw new CliError(`unknown demo app "${values.app}"; choose ${DEMO_APPS.map((d) => d.id).join(' or ')}`);
      return withContainer(config, async (c) => {
        const lines: string[] = [];
        for (const demo of demos) {
          if (!(await c.apps.find(demo.id))) await c.apps.create(demo.id, demo.name);
          const n = await seedPack(c, demo.id, demo.build());
          lines.push(`${demo.id}: ${n.concepts} concepts, ${n.lessons} lessons, ${n.items} practice items`);
        }
        return lines.join('\n');
      });
    }
    case 'token': {
      const { values } = parseArgs({
        args: argv.slice(1),
        options: { app: { type: 'string' }, role: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string', default: '15m' } },
      });
      if (!values.app || !values.role) throw new CliError('usage: token --app <id> --role <role> [--sub <id>] [--ttl 15m]');
      assertValidAppId(values.app);
      const role = Role.safeParse(values.role);
      if (!role.success) throw new CliError(`--role must be one of ${Role.options.join(', ')}`);
      // Only the signing key is needed: no database is opened, so this works
      // while the server holds the embedded database.
      const key = await loadSigningKey({ dataDir: config.dataDir, privateKeyJwk: config.jwt.privateKeyJwk });
      const tokens = new TokenService([key], config.jwt.issuer);
      return tokens.issue({ sub: values.sub ?? `${role.data}-cli`, app: values.app, role: role.data }, parseTtl(values.ttl));
    }
    case undefined:
    case 'help':
    case '--help':
      return USAGE;
    default:
      throw new CliError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  try {
    const config = loadConfig();
    process.stdout.write(`${await runCli(process.argv.slice(2), config)}\n`);
  } catch (error) {
    const exitCode = error instanceof CliError ? error.exitCode : 1;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${error instanceof ConfigError ? '' : 'kidslearn: '}${message}\n`);
    process.exit(exitCode);
  }
}
