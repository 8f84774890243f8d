/**
 * The container image's HEALTHCHECK: GET /health of the server this
 * container runs, healthy on a 2xx answer within 4 s. One image runs the API
 * (`PORT`), the engine (`ENGINE_PORT`) or the lake writer (`LAKE_PORT`): which
 * one is read from the command line of process 1 (the CMD), so a CMD
 * override needs no other setting. `HEALTHCHECK_URL` overrides it all.
 */
import { readFileSync } from 'node:fs';

function target(): string {
  if (process.env.HEALTHCHECK_URL) return process.env.HEALTHCHECK_URL;
  let command = '';
  try {
    command = readFileSync('/proc/1/cmdline', 'utf8').replaceAll('\0', ' ');
  } catch {
    // Not Linux, or no /proc: the API's port.
  }
  const port = command.includes('runtimes/engine.ts')
    ? (process.env.ENGINE_PORT ?? '3001')
    : command.includes('runtimes/lake.ts')
      ? (process.env.LAKE_PORT ?? '3002')
      : (process.env.PORT ?? '3000');
  return `http://127.0.0.1:${port}/health`;
}

try {
  const response = await fetch(target(), { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
