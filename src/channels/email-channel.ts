import nodemailer, { type Transporter } from 'nodemailer';
import type { ChannelSender, OutgoingMessage } from './channel';
import { SendRefused } from './channel';
import { emailContent } from './email-text';
import type { ReceiptFacts } from './receipt-repository';
import { POLICIES } from './policies';

export interface EmailChannelOptions {
  smtpUrl: string;
  from: string;
  /** Where the email's link goes. */
  dashboardUrl: string;
  /** The receipt of the booking a notification is about (money types), or null. */
  receiptFor: (bookingId: string) => Promise<ReceiptFacts | null>;
}

/** Receipts (the types whose policy always emails: money moved) carry money lines; others are their text alone. */
const isReceipt = (type: string) => POLICIES[type]?.email === 'always';

/** Email through SMTP with nodemailer: a multipart text and HTML message per notification. */
export class EmailChannel implements ChannelSender {
  readonly channel = 'email' as const;
  private readonly transport: Transporter;

  constructor(private readonly o: EmailChannelOptions) {
    this.transport = nodemailer.createTransport(o.smtpUrl, { from: o.from });
  }

  async send(m: OutgoingMessage): Promise<{ providerRef: string | null }> {
    const bookingId = typeof m.data.bookingId === 'string' ? m.data.bookingId : null;
    const receipt = bookingId && isReceipt(m.type) ? await this.o.receiptFor(bookingId) : null;
    const content = emailContent(m, receipt, this.o.dashboardUrl);
    try {
      const info = await this.transport.sendMail({
        from: this.o.from,
        to: m.address,
        ...content,
        headers: { 'X-Notification-Id': m.notificationId },
      });
      return { providerRef: info.messageId ?? null };
    } catch (err) {
      throw refusal(err as Error & { responseCode?: number; command?: string; code?: string }) ?? err;
    }
  }

  close(): void {
    this.transport.close();
  }
}

/**
 * What SMTP told us about a message it did not take: a 5xx is final, a 4xx or a connection that
 * never opened may pass. Any other failure (a timeout after DATA) may have been accepted: null.
 */
function refusal(err: Error & { responseCode?: number; command?: string; code?: string }): SendRefused | null {
  if (err.responseCode && err.responseCode >= 500) return new SendRefused('SMTP_REJECTED', `the mail server refused it (${err.responseCode})`, false);
  if (err.responseCode && err.responseCode >= 400) return new SendRefused('SMTP_DEFERRED', `the mail server deferred it (${err.responseCode})`, true);
  if (err.command === 'CONN' || err.code === 'ECONNECTION') return new SendRefused('SMTP_UNREACHABLE', 'the mail server could not be reached', true);
  if (err.code === 'EAUTH') return new SendRefused('SMTP_AUTH_FAILED', 'the mail server refused our credentials', false);
  return null;
}
