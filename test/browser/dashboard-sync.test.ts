import type { Browser, BrowserContext } from 'playwright-core';
import { describeBrowser, launchBrowser, newPage, waitUntil } from '../support/browser';
import { startMarketplace, type Marketplace } from '../support/marketplace';
import { pruneEvents } from '../../src/events/event-log';
import { inAnHour } from '../support/booking-time';

/*
 * The dashboards load their state from one GET /api/sync, start the live client after its cursor,
 * and sync again when the server answers a resume with `reset`.
 */

const STEP_MS = 15_000;

describeBrowser('dashboards load from /api/sync', () => {
  let market: Marketplace;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    market = await startMarketplace();
    browser = await launchBrowser();
  }, 60_000);

  beforeEach(async () => {
    context = await browser.newContext();
    context.setDefaultTimeout(STEP_MS);
  });

  afterEach(async () => {
    await context?.close();
  });

  afterAll(async () => {
    await browser?.close();
    await market?.stop();
  });

  /** The page's GET requests to /api/*, paths with their query. */
  const apiGets = (page: Awaited<ReturnType<typeof newPage>>) => {
    const seen: string[] = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (r.method() === 'GET' && url.pathname.startsWith('/api/')) seen.push(url.pathname + url.search);
    });
    return seen;
  };

  it('the client and provider pages show their bookings from one sync, then apply only later events', async () => {
    const client = market.user('sync-c1', 'client', { name: 'Sync Client' });
    const provider = market.user('sync-p1', 'provider', { name: 'Sync Provider' });
    await provider.get('/api/me').expect(200);
    const booked = await client.post('/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 25_000 }).expect(201);

    const clientPage = await newPage(context);
    const clientGets = apiGets(clientPage);
    await clientPage.goto(`${market.srv.url}/client.html#token=${client.token}`);
    await clientPage.locator(`.booking[data-booking-id="${booked.body.id}"][data-status="PENDING"]`).waitFor();
    expect(clientGets.filter((p) => p === '/api/sync')).toHaveLength(1);
    expect(clientGets.filter((p) => p.startsWith('/api/bookings') || p.startsWith('/api/notifications'))).toEqual([]);

    const providerPage = await newPage(context);
    const providerGets = apiGets(providerPage);
    await providerPage.goto(`${market.srv.url}/provider.html#token=${provider.token}`);
    await providerPage.locator(`.booking[data-booking-id="${booked.body.id}"][data-status="PENDING"]`).waitFor();
    // The booking request's notification came with the sync: the badge counts it without a list request.
    await waitUntil('the unread badge', async () => Number(await providerPage.getAttribute('#badge', 'data-count')) >= 1);
    expect(providerGets.filter((p) => p === '/api/sync')).toHaveLength(1);
    expect(providerGets.filter((p) => /^\/api\/(bookings|payments|payouts|notifications)/.test(p))).toEqual([]);

    // Live after the cursor: the acceptance arrives as an event on the client's page.
    await clientPage.locator('#connection[data-state="live"]').waitFor();
    await provider.post(`/api/bookings/${booked.body.id}/accept`).expect(200);
    await clientPage.locator(`.booking[data-booking-id="${booked.body.id}"][data-status="CONFIRMED"]`).waitFor();
    expect(clientGets.filter((p) => p === '/api/sync')).toHaveLength(1);
    expect([...clientPage.errors, ...providerPage.errors]).toEqual([]);
  }, 60_000);

  it('a second tab whose sync the leader tab has passed by the time it joins still shows what happened in between', async () => {
    const client = market.user('sync-c3', 'client', { name: 'Two Tabs' });
    const provider = market.user('sync-p3', 'provider');
    await provider.get('/api/me').expect(200);
    const booked = await client.post('/api/bookings', { providerId: provider.sub, service: 'painting', scheduledFor: inAnHour(), amount: 40_000 }).expect(201);
    const booking = (p: Awaited<ReturnType<typeof newPage>>, status: string) =>
      p.locator(`.booking[data-booking-id="${booked.body.id}"][data-status="${status}"]`);

    const first = await newPage(context);
    await first.goto(`${market.srv.url}/client.html#token=${client.token}`);
    await booking(first, 'PENDING').waitFor();
    await first.locator('#connection[data-state="live"]').waitFor();

    // The second tab's state is read before the acceptance, but reaches the page only after the
    // first tab, the leader, has applied it.
    const second = await newPage(context);
    let answerSync!: () => void;
    const syncMayAnswer = new Promise<void>((r) => (answerSync = r));
    let syncRead!: () => void;
    const syncWasRead = new Promise<void>((r) => (syncRead = r));
    await second.route('**/api/sync', async (route) => {
      const response = await route.fetch();
      syncRead();
      await syncMayAnswer;
      await route.fulfill({ response });
    });
    await second.goto(`${market.srv.url}/client.html#token=${client.token}`);
    await syncWasRead;
    await provider.post(`/api/bookings/${booked.body.id}/accept`).expect(200);
    await booking(first, 'CONFIRMED').waitFor();
    answerSync();

    await booking(second, 'CONFIRMED').waitFor();
    await second.locator('#connection[data-state="live"]').waitFor();
    // One stream for both tabs: the second one follows.
    expect([...market.srv.running.services.registry.all()].filter((x) => x.isOpen && x.principal.userId === client.sub)).toHaveLength(1);
    expect(await second.locator('.booking').count()).toBe(1);
    expect([...first.errors, ...second.errors]).toEqual([]);
  }, 60_000);

  it('says so, in the indicator and on the page, when the token expires and no new one is accepted', async () => {
    const sub = 'sync-c4';
    market.user(sub, 'client', { name: 'Short Session' });
    // Long enough to load the page on a busy machine; the page has no way to get another.
    const token = market.srv.running.services.tokens.sign({ sub, role: 'client', name: 'Short Session' }, 6);
    const page = await newPage(context);
    await page.goto(`${market.srv.url}/client.html#token=${token}`);
    await page.locator('#connection[data-state="live"]').waitFor();
    await expect(page.locator('#signed-out').count()).resolves.toBe(0);

    await page.locator('#connection[data-state="signed-out"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('#connection .connection-label').textContent()).toBe('Signed out');
    const notice = page.locator('#signed-out[role="alert"]');
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/signed out.*session has expired/is);
    expect(await notice.locator('a[href="/"]').count()).toBe(1);
    // The page still shows what it had, and stops asking with a token the server refuses.
    await page.locator('#bookings-empty').waitFor();
    const asked: string[] = [];
    page.on('request', (r) => r.url().includes('/api/events') && asked.push(r.url()));
    await new Promise((r) => setTimeout(r, 2_000));
    expect(asked).toEqual([]);
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('signed-out');
  }, 60_000);

  it('a reset makes the page sync again and show what it could not be sent', async () => {
    const client = market.user('sync-c2', 'client', { name: 'Reset Client' });
    const provider = market.user('sync-p2', 'provider');
    await provider.get('/api/me').expect(200);
    const page = await newPage(context);
    const gets = apiGets(page);
    await page.goto(`${market.srv.url}/client.html#token=${client.token}`);
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.locator('#bookings-empty').waitFor();
    expect(gets.filter((p) => p === '/api/sync')).toHaveLength(1);

    // Away while a booking is made, and its events are pruned: the page's cursor can no longer be resumed.
    await context.setOffline(true);
    await page.locator('#connection[data-state="offline"]').waitFor();
    const booked = await client.post('/api/bookings', { providerId: provider.sub, service: 'garden', scheduledFor: inAnHour(), amount: 30_000 }).expect(201);
    expect(await pruneEvents(market.srv.db.database.knex, new Date(Date.now() + 60_000))).toBeGreaterThan(0);
    await context.setOffline(false);

    await page.locator(`.booking[data-booking-id="${booked.body.id}"][data-status="PENDING"]`).waitFor();
    await page.locator('#connection[data-state="live"]').waitFor();
    expect(gets.filter((p) => p === '/api/sync')).toHaveLength(2);
    expect(await page.locator('.booking').count()).toBe(1);
    // Requests made while offline fail in the console, as they should.
    expect(page.errors.filter((e) => !e.includes('ERR_INTERNET_DISCONNECTED'))).toEqual([]);
  }, 60_000);
});
