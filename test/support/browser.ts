import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { IN_CI } from './servers.ts';

/**
 * Browser tests drive Debian's `chromium` package (what `.ci/run` installs as
 * root) with playwright-core 1.64.x, which matches its version; playwright's
 * own browser downloads are not used (no network at test time).
 */
export const CHROMIUM_PATH = process.env.TEST_CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a headless run in a container: no sandbox (root), no GPU, and nothing that calls out on its own. */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * `false` when Chromium is installed; otherwise the reason to skip, printed.
 * With CI=true a missing Chromium throws: browser tests then fail, not skip.
 */
export function chromiumSkip(): string | false {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return false;
  } catch {
    const reason = `Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium, as .ci/run does)`;
    if (IN_CI) throw new Error(`${reason} (CI=true: browser tests fail instead of skipping)`);
    console.log(`# SKIP ${reason}`);
    return reason;
  }
}

/** Starts headless Chromium; close it with `browser.close()` in the suite's `after`. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: 30_000 });
}
