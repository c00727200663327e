import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { describeBrowser, launchBrowser, newPage, screenshot } from '../support/browser';
import { startMarketplace, type ConfirmedBooking, type Marketplace } from '../support/marketplace';

/*
 * The operator page's "Needs attention" queue in real Chromium against the real server and the
 * local fake Paystack: cases are made through the real API and webhooks, appear on the open page
 * by its live stream, and leave it when an admin acts from the page.
 */

const STEP_MS = 15_000;

type TestPage = Page & { errors: string[] };

/** Marks the page; a reload or navigation would lose the mark, so it proves updates came in place. */
const mark = (page: Page) => page.evaluate(() => ((window as unknown as { __mark: number }).__mark = 1));
const stillMarked = (page: Page) => page.evaluate(() => (window as unknown as { __mark?: number }).__mark === 1);

describeBrowser('operator page: the attention queue in Chromium', () => {
  let market: Marketplace;
  let browser: Browser;
  let context: BrowserContext;
  let operator: TestPage;

  const knex = () => market.srv.db.database.knex;
  const caseOf = (bookingId: string, reason: string): Locator => operator.locator(`.attention-case[data-booking-id="${bookingId}"][data-reason="${reason}"]`);
  const actionsOf = (row: Locator) => row.locator('.actions [data-action]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.action));
  const paid = async (prefix: string, amount: number): Promise<ConfirmedBooking> => {
    const c = await market.confirmedBookingWithPayment({ prefix, amount });
    await market.paystack.completeCharge(c.reference);
    return c;
  };
  /** Opens the action's inline form, gives the reason, and confirms. */
  const act = async (row: Locator, action: string, reason: string) => {
    await row.locator(`.actions [data-action="${action}"]`).click();
    const form = row.locator(`[data-role="reason-form"][data-action="${action}"]`);
    await form.waitFor();
    await form.locator('textarea[name="reason"]').fill(reason);
    await form.locator('[data-role="confirm"]').click();
    return form;
  };

  beforeAll(async () => {
    market = await startMarketplace({ RECONCILE_INTERVAL_MS: '3600000' });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(STEP_MS);
  }, 60_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await market?.stop();
  }, 30_000);

  it('says so when nothing needs an operator', async () => {
    operator = await newPage(context);
    const admin = market.user('queue-ops', 'admin', { name: 'Queue Operator' });
    await operator.goto(`${market.srv.url}/operator.html#token=${admin.token}`);
    await operator.locator('#connection[data-state="live"]').waitFor();
    await operator.getByText('Nothing needs you right now.').waitFor();
    expect(await operator.locator('.attention-case').count()).toBe(0);
    expect(await operator.textContent('#attention-count')).toBe('0');
    await mark(operator);
  }, 60_000);

  it('a client’s dispute appears live; Refund with a reason takes it out of the queue', async () => {
    const c = await paid('queue-dispute', 60_000);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    await c.client.post(`/api/bookings/${c.id}/dispute`, { reason: 'Nobody came to fix the geyser' }).expect(200);

    const row = caseOf(c.id, 'CLIENT_DISPUTE');
    await row.waitFor();
    expect(await stillMarked(operator)).toBe(true);
    expect(await operator.isHidden('#attention-empty')).toBe(true);
    expect(await operator.textContent('#attention-count')).toBe('1');
    expect(await row.locator('h3').textContent()).toBe('Client disputes the work');
    expect(await row.locator('.amount').textContent()).toBe('R600.00');
    expect(await row.textContent()).toContain(`Booking #${c.id} · waiting under a minute`);
    expect(await actionsOf(row)).toEqual(['refund', 'release']);
    await screenshot(operator, 'operator-attention');

    // Spaces are no reason: asked again in the form, nothing sent.
    await act(row, 'refund', '   ');
    await row.locator('[data-role="error"]', { hasText: 'Say why, in a few words.' }).waitFor();
    expect(await knex()('admin_actions').where({ booking_id: c.id })).toEqual([]);
    const form = await act(row, 'refund', 'Provider never arrived; confirmed by phone');
    await row.waitFor({ state: 'detached' });
    await operator.getByText('Nothing needs you right now.').waitFor();
    expect(await form.count()).toBe(0);

    const payment = await knex()('payments').where({ reference: c.reference }).first();
    expect(['REFUND_PENDING', 'REFUNDED']).toContain(payment.status);
    expect(await knex()('admin_actions').where({ booking_id: c.id })).toEqual([
      expect.objectContaining({ actor_id: 'queue-ops', action: 'refund', reason: 'Provider never arrived; confirmed by phone' }),
    ]);
    expect(await stillMarked(operator)).toBe(true);
  }, 60_000);

  it('a refused action shows the server’s reason in the form and the case stays; the fitting one clears it', async () => {
    // Charged in another currency: flagged, and Paystack's amount cannot be accepted into escrow.
    const c = await market.confirmedBookingWithPayment({ prefix: 'queue-flag', amount: 45_000 });
    await market.paystack.completeCharge(c.reference, { currency: 'USD' });
    const row = caseOf(c.id, 'FLAGGED');
    await row.waitFor();
    expect(await row.locator('h3').textContent()).toBe('Charge does not match the booking');
    expect(await actionsOf(row)).toEqual(['accept-flagged', 'refund']);

    const form = await act(row, 'accept-flagged', 'The client says they paid in dollars');
    await form.locator('[data-role="error"]', { hasText: 'Paystack verified no usable amount in this currency; refund it instead' }).waitFor();
    expect(await row.count()).toBe(1);
    expect((await knex()('payments').where({ reference: c.reference }).first()).status).toBe('FLAGGED');
    await screenshot(operator, 'operator-attention-refused');
    // Chromium logs every refused request to the console: this one was asked for.
    expect(operator.errors).toEqual(['console: Failed to load resource: the server responded with a status of 409 (Conflict)']);
    operator.errors.length = 0;

    await form.locator('[data-role="cancel"]').click();
    expect(await form.isHidden()).toBe(true);
    await act(row, 'refund', 'Wrong currency charged');
    await row.waitFor({ state: 'detached' });
    expect((await knex()('payments').where({ reference: c.reference }).first()).status).toBe('REFUND_PENDING');
  }, 60_000);

  it('a failed payout offers a retry with the payout’s id and no reason to give', async () => {
    const c = await paid('queue-payout', 30_000);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    const payout = await knex()('payouts').where({ booking_id: c.id }).first();
    await market.paystack.settleTransfer(payout.reference, 'failed');

    const row = caseOf(c.id, 'PAYOUT_FAILED');
    await row.waitFor();
    expect(await row.getAttribute('data-id')).toBe(String(payout.id));
    expect(await actionsOf(row)).toEqual(['retry-payout']);
    await row.locator('[data-action="retry-payout"]').click();
    expect(await row.locator('textarea[name="reason"]').isHidden()).toBe(true);
    await row.locator('[data-role="confirm"]').click();
    await row.waitFor({ state: 'detached' });
    const retried = await knex()('payouts').where({ id: payout.id }).first();
    expect(retried.reference).not.toBe(payout.reference);
    expect(['PENDING', 'PROCESSING', 'COMPLETED']).toContain(retried.status);
    await operator.getByText('Nothing needs you right now.').waitFor();
    expect(operator.errors).toEqual([]);
  }, 60_000);

  it('a failing refund is retried from the page; a transfer waiting for its OTP gets no button, only what to do', async () => {
    const r = await paid('queue-refund', 20_000);
    market.paystack.failNext('POST', '/refund', { status: 503 });
    await r.client.post(`/api/bookings/${r.id}/cancel`).expect(200);
    const failing = caseOf(r.id, 'REFUND_FAILING');
    await failing.waitFor();
    expect(await actionsOf(failing)).toEqual(['retry-refund']);
    await act(failing, 'retry-refund', 'Paystack was down; trying again');
    await failing.waitFor({ state: 'detached' });
    expect(market.paystack.refundsOf(r.reference)).toHaveLength(1);

    const o = await paid('queue-otp', 25_000);
    await o.provider.post(`/api/bookings/${o.id}/start`).expect(200);
    await o.provider.post(`/api/bookings/${o.id}/complete`).expect(200);
    market.paystack.transferOtp = true;
    try {
      await o.client.post(`/api/bookings/${o.id}/confirm-completion`).expect(200);
    } finally {
      market.paystack.transferOtp = false;
    }
    const waiting = caseOf(o.id, 'OTP_REQUIRED');
    await waiting.waitFor();
    expect(await waiting.locator('h3').textContent()).toBe('Transfer waits for an OTP');
    expect(await waiting.locator('button').count()).toBe(0);
    expect(await waiting.locator('.hint').textContent()).toContain('turn transfer OTP off');
    expect(operator.errors).toEqual([]);
  }, 60_000);
});
