import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeBrowser, launchBrowser, newPage, screenshot, waitUntil } from '../support/browser';
import { startTestServer, type TestServer } from '../support/test-server';
import { startMarketplace, type Marketplace } from '../support/marketplace';

/*
 * The dashboards in real Chromium against the real server in demo mode: seeded users, tokens minted
 * by /api/demo/sessions, and the in-process fake Paystack (its checkout page, its webhooks, its
 * transfers settling by themselves). Each party has its own browser context, as two people would.
 * The scenarios run in order on the same pages: one booking travels from request to payout.
 */

const DOCS_DIR = path.resolve(__dirname, '../../docs');
const STEP_MS = 15_000;

type TestPage = Page & { errors: string[] };

/** Marks the page; a reload or navigation would lose the mark, so it proves updates came in place. */
const mark = (page: Page) => page.evaluate(() => ((window as unknown as { __mark: number }).__mark = 1));
const stillMarked = (page: Page) => page.evaluate(() => (window as unknown as { __mark?: number }).__mark === 1);
const badge = async (page: Page) => Number(await page.getAttribute('#badge', 'data-count'));
const toast = (page: Page, text: string) => page.locator('.toast', { hasText: text });

describeBrowser('dashboards in Chromium (demo mode)', () => {
  let srv: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let client: TestPage;
  let provider: TestPage;
  let bookingId: string;

  // The client's browser is in the marketplace's zone; the provider's in another, and must still
  // read every time in the marketplace's zone, labelled as such.
  const context = async (timezoneId = 'Africa/Johannesburg') => {
    const c = await browser.newContext({ viewport: { width: 1200, height: 820 }, timezoneId });
    c.setDefaultTimeout(STEP_MS);
    contexts.push(c);
    return c;
  };

  beforeAll(async () => {
    // No PAYSTACK_* given: demo mode runs its own fake Paystack in the server's process.
    srv = await startTestServer({ DEMO_MODE: '1' });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await srv?.stop();
  }, 30_000);

  it('demo mode runs the fake Paystack in-process and the home page opens each seeded user’s dashboard', async () => {
    const fake = srv.running.demoPaystack?.fake;
    expect(fake).toBeDefined();
    expect(srv.running.services.config.PAYSTACK_BASE_URL).toBe(fake!.url);

    const clientCtx = await context();
    const home = await newPage(clientCtx);
    await home.goto(`${srv.url}/`);
    await home.locator('#demo-users li').first().waitFor();
    expect(await home.locator('#demo-users li').count()).toBe(4);
    expect(await home.isHidden('#no-demo')).toBe(true);

    expect(await home.textContent('#demo-users')).toContain("Open Operations' dashboard");
    await home.click('[data-user-id="demo-client-thandi"] a');
    client = home;
    await client.locator('#connection[data-state="live"]').waitFor();
    // Filled in after the page loads its profile: wait for it rather than read it once.
    await client.locator('#who', { hasText: 'Thandi Nkosi' }).waitFor();
    // The bar says "Client" once: the name alone after it.
    expect(await client.textContent('#who')).toBe('Thandi Nkosi');

    provider = await newPage(await context('America/New_York'));
    await provider.goto(`${srv.url}/provider.html?as=demo-provider-sipho`);
    await provider.locator('#connection[data-state="live"]').waitFor();
    // Seeding registered the payout account with the in-process fake.
    await provider.locator('#payout-account', { hasText: 'ending 7890' }).waitFor();
  }, 60_000);

  /** The step of the client's guided strip that is marked as next. */
  const guideStep = (n: number) => client.locator(`#demo-guide[data-step="${n}"] li[aria-current="step"][data-step="${n}"]`).waitFor();

  it('(1) the provider accepts in one browser; the client’s page shows CONFIRMED and a toast without reloading', async () => {
    // The story's pairing is chosen already: Request booking at once books Sipho for plumbing.
    await guideStep(1);
    expect(await client.inputValue('#provider')).toBe('demo-provider-sipho');
    expect(await client.inputValue('#service')).toBe('plumbing');
    expect(await client.inputValue('#amount')).toBe('1350');
    await client.click('#book-form button[type="submit"]');
    const requested = client.locator('#bookings .booking[data-status="PENDING"]');
    await requested.waitFor();
    await guideStep(2);
    bookingId = (await requested.getAttribute('data-booking-id'))!;
    await Promise.all([mark(client), mark(provider)]);

    const incoming = provider.locator(`.booking[data-booking-id="${bookingId}"][data-status="PENDING"]`);
    await toast(provider, 'New booking request from Thandi Nkosi').waitFor();
    // One time for one booking: the card's (labelled, in a browser elsewhere) is the toast's.
    const cardWhen = (await incoming.locator('.booking-when').textContent())!;
    expect(cardWhen).toMatch(/ \(Johannesburg time\)$/);
    const scheduled = cardWhen.replace(/ \(Johannesburg time\)$/, '');
    expect(await toast(provider, 'New booking request from Thandi Nkosi').textContent()).toContain(scheduled);
    const clientWhen = await client.locator(`.booking[data-booking-id="${bookingId}"] .booking-when`).textContent();
    expect(clientWhen).toBe(scheduled);
    await incoming.locator('[data-action="accept"]').click();

    await client.locator(`.booking[data-booking-id="${bookingId}"][data-status="CONFIRMED"]`).waitFor();
    await toast(client, '🎉 Your booking has been accepted!').waitFor();
    expect(await client.textContent(`.booking[data-booking-id="${bookingId}"] [data-role="status"]`)).toBe('Confirmed');
    expect(await stillMarked(client)).toBe(true);
    await guideStep(3);
  }, 60_000);

  it('(2) paying on the fake checkout: the charge webhook updates both pages and both badges go up', async () => {
    const before = { client: await badge(client), provider: await badge(provider) };
    const [checkout] = await Promise.all([client.context().waitForEvent('page'), client.click(`.booking[data-booking-id="${bookingId}"] [data-action="pay"]`)]);
    const failed: string[] = [];
    checkout.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
    await checkout.waitForURL(/\/checkout\//);
    // While the checkout is open, the card says so and offers the same checkout, not a new payment.
    const card = client.locator(`.booking[data-booking-id="${bookingId}"][data-payment-status="PENDING"]`);
    await card.getByText('Payment in progress…').waitFor();
    expect(await card.locator('[data-action="pay"]').textContent()).toContain('Reopen the checkout');
    await checkout.getByRole('button', { name: /^Pay / }).click();
    await checkout.getByRole('heading', { name: 'Payment approved' }).waitFor();
    expect(await checkout.textContent('body')).not.toMatch(/webhook|HTTP/);
    const back = checkout.getByRole('link', { name: 'Back to your bookings' });
    expect(await back.getAttribute('href')).toMatch(/\/client\.html\?as=demo-client-thandi$/);

    for (const page of [client, provider]) {
      await page.locator(`.booking[data-booking-id="${bookingId}"][data-payment-status="ESCROW"]`).waitFor();
      await toast(page, '💰 Payment received and held in escrow').waitFor();
      expect(await stillMarked(page)).toBe(true);
    }
    await provider.locator(`#payments tr[data-booking-id="${bookingId}"][data-status="ESCROW"]`).waitFor();
    await waitUntil('both badges to count the payment', async () => (await badge(client)) > before.client && (await badge(provider)) > before.provider);
    expect(await client.isVisible('#badge')).toBe(true);
    await guideStep(4);
    // The way back closes the tab the dashboard opened, leaving the person on their bookings.
    await Promise.all([checkout.waitForEvent('close'), back.click()]);
    expect(failed).toEqual([]);
  }, 60_000);

  it('(3) the work is done and confirmed; the payout completes through the fake and the provider sees the amount', async () => {
    // The client mutes "work has started": that notification arrives silent, so no toast for it.
    const token = srv.token('demo-client-thandi', 'client');
    await request(srv.url)
      .put('/api/me/notification-preferences')
      .set('Authorization', `Bearer ${token}`)
      .send({ mutedTypes: ['booking.started'] })
      .expect(200);

    const row = (page: Page) => page.locator(`.booking[data-booking-id="${bookingId}"]`);
    await row(provider).locator('[data-action="start"]').click();
    await client.locator(`.booking[data-booking-id="${bookingId}"][data-status="IN_PROGRESS"]`).waitFor();
    await row(provider).locator('[data-action="complete"]').click();
    await client.locator(`.booking[data-booking-id="${bookingId}"][data-status="COMPLETED"]`).waitFor();
    await toast(client, 'Work is complete').waitFor();
    expect(await toast(client, 'Work has started').count()).toBe(0);
    await client.click('#bell');
    await client.locator('#notifications .notification[data-type="booking.started"]').waitFor();
    await client.click('#bell');

    await guideStep(5);
    await row(client).locator('[data-action="confirm-completion"]').click();
    await guideStep(6);
    await row(client).getByText('Released to the provider; the payout is on its way.').waitFor();
    await provider.locator(`#payouts tr[data-booking-id="${bookingId}"][data-status="COMPLETED"]`).waitFor();
    // R1,350.00 less the platform's 5% (PLATFORM_FEE_BPS).
    await toast(provider, '✅ Payout arrived: R1,282.50').waitFor();
    await provider.locator(`.booking[data-booking-id="${bookingId}"][data-payout-status="COMPLETED"]`).waitFor();
    await client.locator(`.booking[data-booking-id="${bookingId}"][data-payment-status="RELEASED"]`).waitFor();
    expect(await stillMarked(provider)).toBe(true);

    // One message per payout change that matters (sent, arrived); the release before it is no third.
    const said = async (type: string) =>
      provider
        .locator(`#notification-list .notification[data-type="${type}"]`)
        .evaluateAll((els) => els.map((e) => e.querySelector('.notification-title, h3, strong')?.textContent));
    expect(await said('payout.status_changed')).toEqual(['Payout arrived: R1,282.50', 'Payout sent']);
    expect(await said('payment.status_changed')).toEqual(['Payment received and held in escrow']);
    expect(await toast(provider, 'Payment released').count()).toBe(0);
    await provider.locator(`.booking[data-booking-id="${bookingId}"]`).getByText('Paid: the payout is in your bank account.').waitFor();
    // Money rows say whose work they pay for; escrow and paid out are counted apart.
    expect(await provider.textContent(`#payouts tr[data-booking-id="${bookingId}"] td:first-child`)).toBe('Plumbing for Thandi Nkosi');
    expect(await provider.textContent(`#payments tr[data-booking-id="${bookingId}"] td:first-child`)).toBe('Plumbing for Thandi Nkosi');
    expect(await provider.textContent('#totals')).toBe('R0.00 held in escrow · R0.00 on its way to you · R1,282.50 paid out to you');

    // The payout went out as a transfer to the seeded account, settled by the fake's own webhook.
    const transfer = srv.running.demoPaystack!.fake.webhooks.find((w) => w.event === 'transfer.success');
    expect(transfer?.response.status).toBe(200);

    // Past the highlight a changed row gets, so the pictures show the settled page.
    await client.waitForTimeout(600);
    fs.mkdirSync(DOCS_DIR, { recursive: true });
    fs.copyFileSync(await screenshot(client, 'client-dashboard'), path.join(DOCS_DIR, 'client-dashboard.png'));
    fs.copyFileSync(await screenshot(provider, 'provider-dashboard'), path.join(DOCS_DIR, 'provider-dashboard.png'));
  }, 60_000);

  it('(5) an announcement to everyone from the operator page shows on every open page', async () => {
    const operator = await newPage(await context());
    await operator.goto(`${srv.url}/operator.html?as=demo-admin`);
    await operator.locator('#connection[data-state="live"]').waitFor();
    // The operator's live status sees the three open dashboards.
    await waitUntil(
      'status to count every role',
      async () =>
        Number(await operator.textContent('#streams-client')) >= 1 &&
        Number(await operator.textContent('#streams-provider')) >= 1 &&
        Number(await operator.textContent('#streams-admin')) >= 1,
    );

    await operator.locator('#feed-empty').waitFor();
    const before = { client: await badge(client), provider: await badge(provider) };
    await operator.selectOption('#announce-audience', 'all');
    await operator.fill('#announce-title', 'Load-shedding tonight');
    await operator.fill('#announce-body', 'Stage 2 from 18:00; bookings may run late.');
    await operator.click('#announce-form button[type="submit"]');
    await operator.getByText(/Sent to everyone \(event #\d+\)/).waitFor();

    for (const page of [client, provider, operator]) {
      await toast(page, '📣 Load-shedding tonight').waitFor();
      await page.locator('#notification-list .notification[data-type="announcement"]', { hasText: 'Load-shedding tonight' }).waitFor({ state: 'attached' });
    }
    expect(await badge(client)).toBe(before.client + 1);
    expect(await badge(provider)).toBe(before.provider + 1);
    expect(await operator.isHidden('#feed-empty')).toBe(true);
    await screenshot(operator, 'operator-dashboard');
    expect(operator.errors).toEqual([]);
  }, 60_000);

  it('marks one notification read, then all, and the badge follows', async () => {
    await client.click('#bell');
    const unread = client.locator('#notification-list .notification[data-read="false"]');
    const count = await badge(client);
    expect(count).toBeGreaterThan(1);
    await unread.first().locator('[data-action="mark-read"]').click();
    await waitUntil('the badge to drop by one', async () => (await badge(client)) === count - 1);

    await client.click('#mark-all-read');
    await waitUntil('the badge to reach 0', async () => (await badge(client)) === 0);
    expect(await client.isHidden('#badge')).toBe(true);
    expect(await unread.count()).toBe(0);
    // Focus stays in the panel (the button it was on is disabled now), so Escape still closes it.
    expect(await client.evaluate(() => document.activeElement?.id)).toBe('notifications');
    await client.keyboard.press('Escape');
    await client.locator('#notifications').waitFor({ state: 'hidden' });
    expect(await client.evaluate(() => document.activeElement?.id)).toBe('bell');
    expect(client.errors).toEqual([]);
    expect(provider.errors).toEqual([]);
  }, 60_000);

  it('(4) cancel asks first and takes a reason; the provider is told who cancelled and why; Offline disables it', async () => {
    await client.click('#book-form button[type="submit"]');
    const card = client.locator('#bookings .booking[data-status="PENDING"]');
    await card.waitFor();
    const id = (await card.getAttribute('data-booking-id'))!;
    const providerCard = provider.locator(`.booking[data-booking-id="${id}"]`);
    await providerCard.waitFor();

    // No connection: the buttons that need the server say so instead of failing.
    await client.context().setOffline(true);
    await client.locator('#connection[data-state="offline"]').waitFor();
    const cancelButton = card.locator('[data-action="cancel"]');
    expect(await cancelButton.isDisabled()).toBe(true);
    expect(await cancelButton.getAttribute('title')).toMatch(/^Offline/);
    expect(await client.isDisabled('#book-form button[type="submit"]')).toBe(true);
    await client.context().setOffline(false);
    await client.locator('#connection[data-state="live"]').waitFor();
    expect(await cancelButton.isDisabled()).toBe(false);

    // Changing one's mind keeps the booking.
    await cancelButton.click();
    await client.getByRole('dialog').waitFor();
    await client.click('[data-action="keep-booking"]');
    await client.getByRole('dialog').waitFor({ state: 'detached' });
    expect(await card.getAttribute('data-status')).toBe('PENDING');

    await cancelButton.click();
    await client.fill('#cancel-reason', 'Found someone closer');
    await client.click('[data-action="confirm-cancel"]');
    await client.locator(`.booking[data-booking-id="${id}"][data-status="CANCELLED"]`).waitFor();
    const told = toast(provider, '🚫 Booking cancelled');
    await told.waitFor();
    expect(await told.textContent()).toContain('Thandi Nkosi cancelled the plumbing booking. Reason: “Found someone closer”');
    await providerCard.getByText('Reason: Found someone closer').waitFor();
  }, 60_000);

  it('the side-by-side view resets the demo: both frames load again with no bookings, and the guide starts over', async () => {
    const page = await newPage(await context());
    await page.goto(`${srv.url}/`);
    await page.click('#side-by-side');
    const clientFrame = page.frameLocator('#client-frame');
    const providerFrame = page.frameLocator('#provider-frame');
    await clientFrame.locator(`.booking[data-booking-id="${bookingId}"]`).waitFor();
    await providerFrame.locator(`.booking[data-booking-id="${bookingId}"]`).waitFor();
    // One Marketplace bar (the outer page's), and "My bookings" in view without scrolling.
    expect(await page.locator('.brand:visible').count()).toBe(1);
    expect(await clientFrame.locator('.brand').isHidden()).toBe(true);
    const frameBox = (await page.locator('#client-frame').boundingBox())!;
    const headingBox = (await clientFrame.locator('#bookings-heading').boundingBox())!;
    expect(headingBox.y + headingBox.height).toBeLessThan(frameBox.y + frameBox.height);

    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#demo-reset');
    await page.getByText('The demo starts over').waitFor();
    await clientFrame.locator('#bookings-empty').waitFor();
    await providerFrame.locator('#connection[data-state="live"]').waitFor();
    await clientFrame.locator('#demo-guide[data-step="1"]').waitFor();
    expect(await clientFrame.locator('.booking').count()).toBe(0);
    expect(await providerFrame.locator('.booking').count()).toBe(0);
    expect(await clientFrame.locator('#provider').inputValue()).toBe('demo-provider-sipho');
    expect(page.errors).toEqual([]);
  }, 60_000);
});

describeBrowser('dashboards in Chromium (no demo mode)', () => {
  let market: Marketplace;
  let browser: Browser;

  beforeAll(async () => {
    market = await startMarketplace();
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await market?.stop();
  });

  it('has no demo routes; the home page explains tokens, and #token= opens a dashboard and leaves the address bar', async () => {
    await request(market.srv.url).get('/api/demo/users').expect(404);
    await request(market.srv.url).post('/api/demo/sessions').send({ userId: 'demo-admin' }).expect(404);
    await request(market.srv.url).post('/api/demo/reset').send({ confirm: 'reset' }).expect(404);

    const ctx = await browser.newContext();
    ctx.setDefaultTimeout(STEP_MS);
    const page = await newPage(ctx);
    await page.goto(`${market.srv.url}/`);
    await page.locator('#no-demo').waitFor();
    expect(await page.isHidden('#demo')).toBe(true);
    // The home page asked for demo users and was told there are none: that 404 is expected.
    page.errors.length = 0;

    const provider = market.user('p-token', 'provider', { name: 'Token Provider' });
    await page.goto(`${market.srv.url}/provider.html#token=${provider.token}`);
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.locator('#who', { hasText: 'Token Provider' }).waitFor();
    expect(page.url()).not.toContain('token=');

    // A client's token on the provider page is refused with a pointer to the right page.
    const other = await newPage(ctx);
    await other.goto(`${market.srv.url}/provider.html#token=${market.user('c-token', 'client').token}`);
    await other.getByText('This page is for providers').waitFor();
    expect([...page.errors, ...other.errors]).toEqual([]);
    await ctx.close();
  }, 60_000);
});
