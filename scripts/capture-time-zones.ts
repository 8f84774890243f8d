/**
 * Regenerates `src/domain/time-zones.ts`: the time zone names that the
 * PostgreSQL server at `TIME_ZONES_POSTGRES_URL` (default the local one) and
 * the embedded PGlite both list in `pg_timezone_names`, that Node's Intl
 * accepts, and that look like `Area/Location` (or `UTC`), without `posix/`,
 * `right/` and `Etc/GMT±N`. Run it after upgrading PostgreSQL, PGlite or
 * Node, when `test/unit/input-rules.test.ts` or
 * `test/api/input-rules.api.test.ts` says the list and a runtime disagree:
 *
 *     node scripts/capture-time-zones.ts
 */
import { writeFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

const url = process.env.TIME_ZONES_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const server = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
await server.connect();
const onServer = new Set((await server.query<{ name: string }>('select name from pg_timezone_names')).rows.map((r) => r.name));
await server.end();
const lite = new PGlite();
const embedded = new Set((await lite.query<{ name: string }>('select name from pg_timezone_names')).rows.map((r) => r.name));
await lite.close();

const shape = /^[A-Za-z]+(?:\/[A-Za-z0-9_+-]+){1,2}$/;
const intlAccepts = (name: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
};
const names = [...onServer]
  .filter((n) => embedded.has(n) && (n === 'UTC' || shape.test(n)) && !/^(?:posix|right)\//.test(n) && !/^Etc\/GMT[+-]/.test(n) && intlAccepts(n))
  .sort();

const lines: string[] = [];
let line = '';
for (const n of names) {
  const item = `'${n}', `;
  if ((line + item).length > 110) {
    lines.push(`  ${line.trimEnd()}`);
    line = '';
  }
  line += item;
}
if (line) lines.push(`  ${line.trimEnd()}`);

writeFileSync(
  new URL('../src/domain/time-zones.ts', import.meta.url),
  `/**
 * The IANA time zone names the API accepts: those that PostgreSQL 15 (Debian
 * tzdata, the server stack) and PGlite 0.5 (PostgreSQL 18, the embedded stack)
 * both list in \`pg_timezone_names\`, and that Node's Intl accepts too, minus
 * \`posix/\` and \`right/\` variants and \`Etc/GMT±N\` (whose sign is the
 * reverse of what people expect). JavaScript accepts more (for example
 * \`US/Pacific-New\`, removed from tzdata in 2020) and the database refuses
 * those, so a name goes through only if it is listed here.
 *
 * Captured ${new Date().toISOString().slice(0, 10)} by \`scripts/capture-time-zones.ts\`; \`test/api/input-rules.api.test.ts\`
 * checks on both stacks that the database accepts every name, so a database
 * that drops one fails the test rather than a family's request.
 */
export const TIME_ZONE_NAMES: readonly string[] = Object.freeze([
${lines.join('\n')}
]);
`,
);
console.log(`${names.length} time zones written to src/domain/time-zones.ts`);
