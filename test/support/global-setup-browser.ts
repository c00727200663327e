import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import pgliteSetup from './global-setup-pglite';
import { IS_CI } from './env';
import { BROWSER_SKIP_REASON, CHROMIUM_PATH } from './browser-env';

/**
 * The browser suites need the PGlite template (their server runs on it), the compiled client in
 * public/lib (the pages import it as an ES module), and Chromium. Without Chromium they skip with a
 * reason; under CI that is a failure, since .ci/run installs it.
 */
export default async function globalSetup(): Promise<void> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    const reason = `no Chromium at ${CHROMIUM_PATH}`;
    if (IS_CI) throw new Error(`CI=true and ${reason}`);
    process.env[BROWSER_SKIP_REASON] = reason;
    process.stderr.write(`\n[browser suites skipped] ${reason}\n`);
    return;
  }
  // A stale public/lib would test yesterday's client.
  execFileSync('npm', ['run', '-s', 'build:client'], { cwd: path.resolve(__dirname, '../..'), stdio: 'inherit' });
  await pgliteSetup();
}
