import request from 'supertest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeBrowser, launchBrowser, newPage } from '../support/browser';
import { startTestServer, type TestServer } from '../support/test-server';

/*
 * What the dashboards show when time moves a booking: the provider's reminder of a waiting request,
 * an expired request on both pages (its badge, no buttons), and the reminder before a booking. The
 * server's clock is run by the test with a moved `now`, on the demo's seeded users.
 */

const HOUR = 3_600_000;
const MIN = 60_000;
type TestPage = Page & { errors: string[] };
const toast = (page: Page, text: string) => page.locator('.toast', { hasText: text });

describeBrowser('dashboards when time moves a booking (Chromium, demo mode)', () => {
  let srv: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let client: TestPage;
  let provider: TestPage;

  beforeAll(async () => {
    srv = await startTestServer({ DEMO_MODE: '1', BOOKING_TIMERS_INTERVAL_MS: '3600000' });
    browser = await launchBrowser();
    for (const [as, page] of [
      ['client.html?as=demo-client-thandi', 'client'],
      ['provider.html?as=demo-provider-sipho', 'provider'],
    ] as const) {
      const ctx = await browser.newContext({ viewport: { width: 1200, height: 820 } });
      ctx.setDefaultTimeout(15_000);
      contexts.push(ctx);
      const p = await newPage(ctx);
      await p.goto(`${srv.url}/${as}`);
      await p.locator('#connection[data-state="live"]').waitFor();
      if (page === 'client') client = p;
      else provider = p;
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await srv?.stop();
  }, 30_000);

  const book = async (scheduledFor: Date) =>
    (
      await request(srv.url)
        .post('/api/bookings')
        .set('Authorization', `Bearer ${srv.token('demo-client-thandi', 'client')}`)
        .send({ providerId: 'demo-provider-sipho', service: 'plumbing', scheduledFor: scheduledFor.toISOString(), amount: 50_000 })
        .expect(201)
    ).body as { id: string; createdAt: string };

  it('reminds the provider of a waiting request, then shows it expired on both pages with no actions', async () => {
    const b = await book(new Date(Date.now() + 72 * HOUR));
    const card = (page: Page) => page.locator(`.booking[data-booking-id="${b.id}"]`);
    await card(provider).locator('[data-action="accept"]').waitFor();
    await card(client).locator('[data-action="cancel"]').waitFor();

    await srv.running.services.bookingClock.runOnce(Date.parse(b.createdAt) + 12 * HOUR + MIN);
    await toast(provider, '⏰ Thandi Nkosi is waiting for your answer').waitFor();

    await srv.running.services.bookingClock.runOnce(Date.parse(b.createdAt) + 24 * HOUR + MIN);
    for (const page of [client, provider]) {
      await page.locator(`.booking[data-booking-id="${b.id}"][data-status="EXPIRED"]`).waitFor();
      expect(await card(page).locator('[data-role="status"]').textContent()).toBe('Expired unanswered');
      expect(await card(page).locator('button').count()).toBe(0);
    }
    await toast(client, '⌛ Your booking request expired').waitFor();
    await toast(provider, '⌛ A booking request expired').waitFor();
    expect(await toast(client, 'is waiting for your answer').count()).toBe(0);
    expect([...client.errors, ...provider.errors]).toEqual([]);
  }, 60_000);

  it('shows both parties the reminder an hour before an accepted booking', async () => {
    const scheduledFor = new Date(Date.now() + 90 * MIN);
    const b = await book(scheduledFor);
    await provider.locator(`.booking[data-booking-id="${b.id}"] [data-action="accept"]`).click();
    await client.locator(`.booking[data-booking-id="${b.id}"][data-status="CONFIRMED"]`).waitFor();

    await srv.running.services.bookingClock.runOnce(scheduledFor.getTime() - HOUR + MIN);
    await toast(client, '⏰ Plumbing in an hour').waitFor();
    await toast(provider, '⏰ Plumbing in an hour').waitFor();
    expect(await toast(client, 'in 24 hours').count()).toBe(0);
    expect([...client.errors, ...provider.errors]).toEqual([]);
  }, 60_000);
});
