import type { Browser, BrowserContext } from 'playwright-core';
import { describeBrowser, launchBrowser, newPage } from '../support/browser';
import { startMarketplace, type Marketplace } from '../support/marketplace';

/* The preferences dialog of the client and provider dashboards, against the real API. */

const STEP_MS = 15_000;

describeBrowser('notification preferences in the dashboards', () => {
  let market: Marketplace;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    market = await startMarketplace();
    browser = await launchBrowser();
    context = await browser.newContext();
    context.setDefaultTimeout(STEP_MS);
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await market?.stop();
  });

  it.each([
    ['client', 'client.html'],
    ['provider', 'provider.html'],
  ] as const)(
    'the %s sets contact details, quiet hours and channels; a bad number shows the server’s message; the API reads them back',
    async (role, file) => {
      const user = market.user(`prefs-${role}`, role, { name: `Prefs ${role}` });
      await user.put('/api/me/notification-preferences', { mutedTypes: ['announcement'] }).expect(200);
      const page = await newPage(context);
      await page.goto(`${market.srv.url}/${file}#token=${user.token}`);
      await page.locator('#connection[data-state="live"]').waitFor();

      await page.click('#preferences-toggle');
      const dialog = page.locator('dialog#preferences');
      await dialog.waitFor();
      expect(await page.inputValue('#pref-time-zone')).toBe('Africa/Johannesburg');
      await page.fill('#pref-email', `${role}@example.co.za`);
      await page.fill('#pref-phone', '12345');
      await page.click('[data-action="save-preferences"]');
      const error = page.locator('#pref-error');
      await error.filter({ hasText: 'not a valid phone number' }).waitFor();
      expect(await error.textContent()).toContain('phone');
      // Refused: nothing changed.
      expect((await user.get('/api/me/notification-preferences').expect(200)).body.phone).toBeNull();

      await page.fill('#pref-phone', '082 555 1234');
      await page.fill('#pref-time-zone', 'Europe/London');
      await page.fill('#pref-quiet-start', '22:00');
      await page.fill('#pref-quiet-end', '06:30');
      await dialog.locator('summary').click();
      await page.uncheck('tr[data-type="booking.accepted"] input[data-channel="sms"]');
      await page.uncheck('tr[data-type="booking.accepted"] input[data-channel="whatsapp"]');
      await page.click('[data-action="save-preferences"]');
      await dialog.waitFor({ state: 'detached' });

      const saved = (await user.get('/api/me/notification-preferences').expect(200)).body;
      expect(saved).toEqual(
        expect.objectContaining({
          mutedTypes: ['announcement'],
          email: `${role}@example.co.za`,
          phone: '+27825551234',
          timeZone: 'Europe/London',
          quietHours: { start: '22:00', end: '06:30' },
        }),
      );
      expect(saved.channels['booking.accepted']).toEqual(['email', 'push']);
      expect(saved.channels['booking.created']).toEqual(['email', 'push', 'whatsapp', 'sms']);

      // Opened again, the dialog shows what was saved.
      await page.click('#preferences-toggle');
      await dialog.waitFor();
      expect(await page.inputValue('#pref-phone')).toBe('+27825551234');
      expect(await page.inputValue('#pref-quiet-start')).toBe('22:00');
      expect(await page.isChecked('tr[data-type="booking.accepted"] input[data-channel="sms"]')).toBe(false);
      expect(await page.isChecked('tr[data-type="booking.accepted"] input[data-channel="push"]')).toBe(true);
      expect(page.errors.filter((e) => !e.includes('400'))).toEqual([]);
    },
    60_000,
  );
});
