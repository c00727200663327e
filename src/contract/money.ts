/*
 * Shared by the browser and the server (notification texts), so that a page and a notification
 * write an amount the same way. Import-free on purpose: both builds compile it.
 */

/** "R1,350.00" from 135000 cents: integer arithmetic, and the marketplace's own format rather than Intl's en-ZA "R 1 350,00". */
export function formatMoney(cents: number, currency = 'ZAR'): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(cents));
  const rands = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const prefix = currency === 'ZAR' ? 'R' : `${currency} `;
  return `${sign}${prefix}${rands}.${String(abs % 100).padStart(2, '0')}`;
}
