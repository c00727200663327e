import request from 'supertest';
import type { Browser, BrowserContext } from 'playwright-core';
import { describeBrowser, launchBrowser, newPage, screenshot } from '../support/browser';
import { startTestServer, type TestServer } from '../support/test-server';
import { inAnHour } from '../support/booking-time';

/*
 * public/outbox.html in Chromium against the real server in demo mode, its channels' fakes inside
 * it: a booking request nobody reads shows up on the open page by push, then by WhatsApp, without
 * a reload, and the WhatsApp turns delivered when the fake's signed callback has been taken.
 */

describeBrowser('the demo outbox page in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    srv = await startTestServer({ DEMO_MODE: '1', ESCALATE_PUSH_AFTER_S: '1', ESCALATE_SMS_AFTER_S: '3', DISPATCH_POLL_MS: '100' });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    context.setDefaultTimeout(15_000);
  }, 60_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await srv?.stop();
  }, 30_000);

  it('the home page links to the outbox', async () => {
    const home = await newPage(context);
    await home.goto(`${srv.url}/`);
    await home.locator('#demo-users li').first().waitFor();
    expect(await home.getAttribute('#outbox-link', 'href')).toBe('/outbox.html');
    await home.close();
  });

  it('shows a request escalating live: push, then WhatsApp, delivered, newest first, with the delays stated', async () => {
    const page = await newPage(context);
    await page.goto(`${srv.url}/outbox.html`);
    await page.locator('#outbox-state[data-state="live"]').waitFor();
    await page.locator('#outbox-empty:not([hidden])').waitFor();
    expect(await page.textContent('#outbox-rules')).toMatch(/push after 1 s .* WhatsApp after 3 s/);
    await page.evaluate(() => ((window as unknown as { __mark: number }).__mark = 1));

    const { token } = (await request(srv.url).post('/api/demo/sessions').send({ userId: 'demo-client-thandi' }).expect(201)).body;
    await request(srv.url)
      .post('/api/bookings')
      .set('Authorization', `Bearer ${token}`)
      .send({ providerId: 'demo-provider-sipho', service: 'plumbing', scheduledFor: inAnHour(), amount: 135_000 })
      .expect(201);

    const push = page.locator('.outbox-message[data-channel="push"]', { hasText: 'Sipho Dlamini' });
    await push.waitFor();
    expect(await push.locator('.outbox-title').textContent()).toMatch(/New booking request/);
    const whatsapp = page.locator('.outbox-message[data-channel="whatsapp"]', { hasText: '+27825550102' });
    await whatsapp.waitFor();
    expect(await whatsapp.locator('.outbox-text').textContent()).toMatch(/Thandi Nkosi/);
    await whatsapp.locator('.outbox-status[data-status^="delivered"]').waitFor();
    // Newest first: the WhatsApp above the push.
    expect(await page.locator('.outbox-message').first().getAttribute('data-channel')).toBe('whatsapp');
    expect(await page.evaluate(() => (window as unknown as { __mark?: number }).__mark)).toBe(1);
    await screenshot(page, 'outbox');
    expect(page.errors).toEqual([]);
  }, 60_000);
});
