import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { migrateAll } from '../adapters/db/migrations.ts';
import { ConfigError, loadConfig, type Config } from '../config/config.ts';
import { createDatabaseIfMissing } from '../adapters/db/create-database.ts';
import { AppError } from '../domain/errors.ts';
import { Role } from '../domain/principal.ts';
import { assertValidAppId } from '../domain/tenancy.ts';
import { Email, Password } from '../features/accounts/accounts.service.ts';
import { listSigningKeys, loadSigningKey, rotateSigningKey } from '../features/auth/signing-keys.ts';
import { parseTtl, TokenService } from '../features/auth/tokens.ts';
import { CsvError, parseAnswersCsv } from '../features/model-eval/csv.ts';
import { evaluate, formatEvaluation } from '../features/model-eval/evaluate.ts';
import { listOutbox } from '../adapters/mail/outbox-mailer.ts';
import { createLogger } from '../observability/logger.ts';
import { DEMO_APPS, seedDemoApp } from '../seed/seed-demo-apps.ts';
import { createContainer, type Container } from '../wiring/container.ts';

const USAGE = `Usage: npm run -s kidslearn -- <command>

  migrate                                   create the database if missing (PostgreSQL), apply pending migrations
  apps list                                 list registered apps
  apps create <id> --name "<name>"          register an app and create its schema
  seed [--app mathkids|wordkids]            (re)write the demo curriculum (idempotent)
  token --app <id> --role <role> [--sub <id>] [--ttl 15m]
                                            print a signed access token (roles: ${Role.options.join(', ')});
                                            --ttl at most 1h: longer access uses refresh tokens or a new token
  apps settings <id> [--reveal-answers true|false]
                                            show or change an app's settings
  users create --app <id> --role admin --email <email>
                                            create an admin account; the password is read from stdin
                                            (or prompted for twice on a terminal)
  mail list [--to <email>] [--last <n>]     show the messages in the mail outbox (embedded defaults, no SMTP_URL):
                                            sign-up verification and password reset codes
  keys list                                 show the current signing key id and previous (still verifying) keys
  keys rotate                               replace the signing key; the old one verifies for another hour
                                            (restart the server to sign with the new key)
  model fit --app <id>                      fit the learner model on the app's stored answers (a new
                                            version; the API uses it within 30 s, no restart)
  model eval --train <a.csv> --test <b.csv> [--json]
                                            fit the learner model on a.csv, score it and the baselines on b.csv
                                            (columns student,skill,correct[,item,timestamp]; no database needed)
`;

/** Fails with a one-line message and exit code 2 (usage) or 1 (runtime). */
class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** Where `users create` gets the password; tests replace it. */
export interface CliIo {
  readPassword(): Promise<string>;
}

const defaultIo: CliIo = { readPassword };

/**
 * The password for `users create`: all of stdin (minus one trailing newline)
 * when it is piped, otherwise prompted for twice on the terminal without echo.
 */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Repeat password: ');
  if (first !== second) throw new CliError('the two passwords do not match', 1);
  return first;
}

/** Reads one line from the terminal without echoing it (the prompt goes to stderr). */
async function promptHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  const cancel = new AbortController();
  rl.on('SIGINT', () => cancel.abort());
  try {
    return await rl.question('', { signal: cancel.signal });
  } catch (error) {
    throw new CliError('cancelled', 130, { cause: error });
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

async function withContainer<T>(config: Config, fn: (c: Container) => Promise<T>, overrides: { skipMigrations?: boolean } = {}): Promise<T> {
  const container = await createContainer(config, { ...overrides, logger: createLogger({ level: 'warn', destination: process.stderr }) });
  try {
    return await fn(container);
  } finally {
    await container.close();
  }
}

/** Runs one CLI command; returns what to print on stdout. */
export async function runCli(argv: string[], config: Config, io: CliIo = defaultIo): Promise<string> {
  const [command, sub] = argv;
  switch (command) {
    case 'migrate': {
      // On a server, the database itself is created first when missing; then this run migrates
      // (rather than the container), so the line says what it did.
      const created = config.database.kind === 'postgres' ? await createDatabaseIfMissing(config.database.url, config.database.connectTimeoutMs) : undefined;
      const done = await withContainer(
        config,
        async (c) => {
          const applied = await migrateAll(c.database.db);
          return applied ? `applied ${applied} migration${applied === 1 ? '' : 's'}` : 'migrations are up to date';
        },
        { skipMigrations: true },
      );
      return created?.created ? `created database ${created.name}\n${done}` : done;
    }
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
      if (sub === 'settings') {
        const { values, positionals } = parseArgs({ args: argv.slice(2), options: { 'reveal-answers': { type: 'string' } }, allowPositionals: true });
        const id = positionals[0];
        const reveal = values['reveal-answers'];
        if (!id || (reveal !== undefined && reveal !== 'true' && reveal !== 'false')) throw new CliError('usage: apps settings <id> [--reveal-answers true|false]');
        assertValidAppId(id);
        return withContainer(config, async (c) => {
          const app = reveal === undefined ? await c.apps.require(id) : await c.apps.configure(id, { revealAnswers: reveal === 'true' });
          return JSON.stringify({ id: app.id, settings: app.settings });
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
          const r = await seedDemoApp(c, demo.id);
          const live = (k: keyof typeof r.counts) => r.counts[k].added + r.counts[k].changed + r.counts[k].restored + r.counts[k].unchanged;
          lines.push(`${demo.id}: ${live('concepts')} concepts, ${live('lessons')} lessons, ${live('items')} practice items`);
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
      let ttlSeconds: number;
      try {
        ttlSeconds = parseTtl(values.ttl);
      } catch (error) {
        throw new CliError(`--ttl: ${error instanceof Error ? error.message : String(error)}`, 2, { cause: error });
      }
      return tokens.issue({ sub: values.sub ?? `${role.data}-cli`, app: values.app, role: role.data }, ttlSeconds);
    }
    case 'users': {
      if (sub !== 'create') throw new CliError(USAGE);
      const usage = 'usage: users create --app <id> --role admin --email <email>';
      const { values } = parseArgs({ args: argv.slice(2), options: { app: { type: 'string' }, role: { type: 'string' }, email: { type: 'string' } } });
      if (!values.app || !values.role || !values.email) throw new CliError(usage);
      if (values.role !== 'admin') {
        throw new CliError(`--role must be admin: only admin accounts are created here (guardians and teachers sign up through the API)`, 1);
      }
      assertValidAppId(values.app);
      const email = Email.safeParse(values.email);
      if (!email.success) throw new CliError(`email ${email.error.issues[0]?.message ?? 'is invalid'}`, 1);
      const password = Password.safeParse(await io.readPassword());
      if (!password.success) throw new CliError(`password ${password.error.issues[0]?.message ?? 'is invalid'}`, 1);
      const appId = values.app;
      return withContainer(config, async (c) => {
        if (!(await c.apps.find(appId))) throw new CliError(`unknown app "${appId}" (see apps list, or apps create ${appId} --name "<name>")`, 1);
        try {
          const account = await c.accounts.createAdmin(appId, email.data, password.data);
          return JSON.stringify({ id: account.id, email: account.email, role: account.role, app: appId });
        } catch (error) {
          if (error instanceof AppError && error.code === 'email_taken') {
            throw new CliError(`an account with email ${email.data} already exists in app ${appId}`, 1, { cause: error });
          }
          throw error;
        }
      });
    }
    case 'mail': {
      if (sub !== 'list') throw new CliError(USAGE);
      const { values } = parseArgs({ args: argv.slice(2), options: { to: { type: 'string' }, last: { type: 'string' } } });
      const last = values.last === undefined ? undefined : Number(values.last);
      if (last !== undefined && !(Number.isInteger(last) && last >= 1)) throw new CliError('usage: mail list [--to <email>] [--last <n>]');
      if (config.mail.kind !== 'outbox') {
        throw new CliError('SMTP_URL is set: mail goes to that server, not to the outbox (unset SMTP_URL to use the outbox)', 1);
      }
      // Files only: no database is opened, so this works while the server runs.
      const messages = listOutbox(config.mail.dir, values.to === undefined ? {} : { to: values.to }).slice(last === undefined ? 0 : -last);
      if (!messages.length) return `(no mail in ${config.mail.dir})`;
      return messages.map((m) => [`--- ${m.at}  to ${m.to}`, `Subject: ${m.subject}`, '', m.text.trimEnd()].join('\n')).join('\n\n');
    }
    case 'keys': {
      const keyOptions = { dataDir: config.dataDir, privateKeyJwk: config.jwt.privateKeyJwk };
      if (sub === 'rotate') {
        let rotated: Awaited<ReturnType<typeof rotateSigningKey>>;
        try {
          rotated = await rotateSigningKey(keyOptions);
        } catch (error) {
          throw new CliError(error instanceof Error ? error.message : String(error), 1, { cause: error });
        }
        return [
          `new signing key: ${rotated.kid}`,
          rotated.retired
            ? `retired key: ${rotated.retired.kid} (still verifies until ${rotated.retired.retireAfter})`
            : 'retired key: none (there was no signing key yet)',
          'restart the server to start signing with the new key',
        ].join('\n');
      }
      if (sub === 'list') {
        const { current, previous } = await listSigningKeys(keyOptions);
        const lines = [current ? `current\t${current.kid}\t${current.source}` : 'current\t(none yet: one is generated on first start)'];
        for (const p of previous) lines.push(`previous\t${p.kid}\tretireAfter ${p.retireAfter}${p.retired ? '\t(retired: no longer loaded)' : ''}`);
        return lines.join('\n');
      }
      throw new CliError(USAGE);
    }
    case 'model': {
      if (sub === 'fit') {
        const { values } = parseArgs({ args: argv.slice(2), options: { app: { type: 'string' } } });
        if (!values.app) throw new CliError('usage: model fit --app <id>');
        assertValidAppId(values.app);
        return withContainer(config, async (c) => {
          await c.apps.require(values.app!);
          const fit = await c.models.fit(values.app!);
          return `app ${values.app}: model version ${fit.version} from ${fit.answers} answers; ${fit.fittedConcepts} of ${fit.concepts} concepts fitted on their own (the rest use the app-wide fit); the API uses it within 30 s`;
        });
      }
      if (sub !== 'eval') throw new CliError(USAGE);
      const usage = 'usage: model eval --train <a.csv> --test <b.csv> [--json]';
      const { values } = parseArgs({ args: argv.slice(2), options: { train: { type: 'string' }, test: { type: 'string' }, json: { type: 'boolean', default: false } } });
      if (!values.train || !values.test) throw new CliError(usage);
      // Pure file work: no database, no services.
      const load = async (file: string) => {
        try {
          return parseAnswersCsv(await readFile(file, 'utf8'));
        } catch (error) {
          const reason = error instanceof CsvError ? error.message : error instanceof Error ? error.message : String(error);
          throw new CliError(`${file}: ${reason}`, 1, { cause: error });
        }
      };
      const [train, test] = [await load(values.train), await load(values.test)];
      let result: ReturnType<typeof evaluate>;
      try {
        result = evaluate(train, test);
      } catch (error) {
        throw new CliError(error instanceof Error ? error.message : String(error), 1, { cause: error });
      }
      return values.json ? JSON.stringify(result) : formatEvaluation(result);
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
