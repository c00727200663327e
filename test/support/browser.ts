import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { BROWSER_SKIP_REASON, CHROMIUM_PATH } from './browser-env';
import { describeIfAvailable } from './skip';
import { sleep } from './sleep';

/**
 * Real headless Chromium for the `browser` jest project (Debian's package, driven by
 * playwright-core: no browser download). global-setup-browser.ts decides whether it can run.
 */

export { CHROMIUM_PATH, BROWSER_SKIP_REASON };

/** Screenshots and traces of failed runs; gitignored. */
export const ARTIFACTS_DIR = path.resolve(__dirname, '../../test-artifacts');

export const browserSkipReason: string | undefined = process.env[BROWSER_SKIP_REASON] || undefined;

/** `describe` that skips, saying why in the suite name, when Chromium cannot run here. */
export const describeBrowser = describeIfAvailable(browserSkipReason);

/**
 * One headless Chromium. No sandbox: test containers run as root without user namespaces.
 * Background networking off so the browser itself opens no connections we did not ask for.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * A page whose console errors and uncaught exceptions are collected (a broken module import shows
 * up there, not as a failed assertion) and echoed to stderr when BROWSER_DEBUG is set.
 */
export async function newPage(context: BrowserContext): Promise<Page & { errors: string[] }> {
  const page = (await context.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // Chromium asks every origin for a favicon; our server has none.
    if (msg.type() === 'error' && !msg.location().url.endsWith('/favicon.ico')) page.errors.push(`console: ${msg.text()}`);
    if (process.env.BROWSER_DEBUG) process.stderr.write(`[browser ${msg.type()}] ${msg.text()}\n`);
  });
  return page;
}

/** Saves a full-page screenshot under ARTIFACTS_DIR (for a failing test, or a dashboard's look). */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Polls `check` until it returns true (or a value), failing with `what` after `timeoutMs`. */
export async function waitUntil<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await sleep(everyMs);
  }
}
