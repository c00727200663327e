import type { Browser, BrowserContext } from 'playwright-core';
import { describeBrowser, launchBrowser, newPage } from '../support/browser';
import { startMarketplace, type Marketplace } from '../support/marketplace';

/*
 * "Turn on notifications" in real Chromium: the permission flow, the service worker at /sw.js and
 * the subscription call. Headless Chromium has no push service to subscribe through (Chrome's is
 * Google's), so the subscribe step fails here and the button must say so rather than pretend; the
 * protocol itself is proven against the fake push service in deliveries.test.ts.
 */
describeBrowser('dashboards: turning on notifications in Chromium', () => {
  let market: Marketplace;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    market = await startMarketplace();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    await context.grantPermissions(['notifications'], { origin: market.srv.url });
    context.setDefaultTimeout(15_000);
  }, 60_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await market?.stop();
  }, 30_000);

  it('asks permission, registers the service worker and tries to subscribe with the server key', async () => {
    const provider = market.user('push-browser-p', 'provider', { name: 'Push Provider' });
    const page = await newPage(context);
    await page.goto(`${market.srv.url}/provider.html#token=${provider.token}`);
    const button = page.locator('#push-toggle');
    await button.waitFor();
    expect(await button.textContent()).toBe('Turn on notifications');
    await button.click();
    await page.waitForFunction(() => {
      const b = document.getElementById('push-toggle');
      return b && b.textContent !== 'Turning on…';
    });
    const worker = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration('/');
      return r ? ((r.active ?? r.installing ?? r.waiting)?.scriptURL ?? null) : null;
    });
    expect(worker).toBe(`${market.srv.url}/sw.js`);
    expect(await page.evaluate(() => Notification.permission)).toBe('granted');
    const state = await button.evaluate((b) => ({ text: b.textContent, error: (b as HTMLElement).dataset.error ?? null }));
    // Either a push service took it (then the server holds the subscription) or the button says why not.
    const subscriptions = await market.srv.db.database.knex('push_subscriptions').where({ user_id: provider.sub });
    if (state.text === 'Notifications on') expect(subscriptions).toHaveLength(1);
    else expect(state).toEqual({ text: 'Turn on notifications', error: expect.any(String) });
    // Chromium itself logs that a private (incognito) context, as every Playwright context is, has no Push API.
    expect(page.errors.filter((e) => !e.includes('does not support the Push API in incognito mode'))).toEqual([]);
  });
});
