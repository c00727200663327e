/** Shared by global-setup-browser.ts (no jest globals there) and browser.ts. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Set by global-setup-browser.ts when Chromium is missing (outside CI, where that fails instead). */
export const BROWSER_SKIP_REASON = 'BROWSER_SKIP_REASON';
