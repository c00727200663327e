import { formatMoney } from '../contract/money';
import type { OutgoingMessage } from './channel';
import type { ReceiptFacts } from './receipt-repository';

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const when = (d: Date) => d.toLocaleString('en-ZA', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Africa/Johannesburg' });

/** The receipt's lines, label and value: a payout's for a payout notification, else the payment's. */
export function receiptLines(type: string, r: ReceiptFacts): Array<[string, string]> {
  const money = (cents: number) => formatMoney(cents, r.currency);
  const booking: Array<[string, string]> = [['Booking', `#${r.bookingId}, ${r.service}, ${when(r.scheduledFor)}`]];
  if (type === 'payout.status_changed' && r.payout) {
    return [
      ...booking,
      ['Booking amount', money(r.amount)],
      ['Platform fee', money(r.payout.fee)],
      ['Payout', money(r.payout.amount)],
      ['Reference', r.payout.reference],
      ['Status', r.payout.status],
    ];
  }
  return [
    ...booking,
    ['Amount', money(r.amount)],
    ['Reference', r.paymentReference ?? 'none yet'],
    ...(r.payment ? ([['Status', r.payment.status]] as Array<[string, string]>) : []),
  ];
}

/** The plain-text and HTML bodies of a notification's email, with its receipt when it has one. */
export function emailContent(m: Pick<OutgoingMessage, 'type' | 'title' | 'body'>, receipt: ReceiptFacts | null, dashboardUrl: string): EmailContent {
  const lines = receipt ? receiptLines(m.type, receipt) : [];
  const text = [m.body, ...(lines.length ? ['', 'Receipt', ...lines.map(([k, v]) => `${k}: ${v}`)] : []), '', `Open your dashboard: ${dashboardUrl}`].join(
    '\n',
  );
  const table = lines.length
    ? `<h2>Receipt</h2><table>${lines.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`
    : '';
  const html = `<!doctype html><html><body><h1>${escapeHtml(m.title)}</h1><p>${escapeHtml(m.body)}</p>${table}<p><a href="${escapeHtml(dashboardUrl)}">Open your dashboard</a></p></body></html>`;
  return { subject: m.title, text, html };
}
