import type { DeliveryChannel } from '../contract/vocabulary';
import type { OutboxMessageView } from '../contract/views';

/** Enough to scroll back through a long demo; older messages drop off so a tab left open for days stays small. */
export const OUTBOX_KEEP = 200;

export type OutboxMessageInput = Omit<OutboxMessageView, 'id' | 'at' | 'status'> & { at?: Date; status?: string };

/**
 * What the demo's fake far ends received, in memory (the fakes themselves forget everything on a
 * restart): the SMTP sink's emails, the push service's decrypted pushes, Twilio's texts. Ids grow
 * for the life of the process, so a page can tell a new message from one it has drawn.
 */
export class DemoOutbox {
  private readonly messages: OutboxMessageView[] = [];
  private n = 0;

  add(m: OutboxMessageInput): OutboxMessageView {
    const { at, status, ...rest } = m;
    const message: OutboxMessageView = { id: String(++this.n), ...rest, at: (at ?? new Date()).toISOString(), status: status ?? 'received' };
    this.messages.push(message);
    if (this.messages.length > OUTBOX_KEEP) this.messages.splice(0, this.messages.length - OUTBOX_KEEP);
    return message;
  }

  /** A later word from the far end about a message (a text's delivery callback). */
  setStatus(id: string, status: string): void {
    const m = this.messages.find((x) => x.id === id);
    if (m) m.status = status;
  }

  /** Newest first. */
  list(channel?: DeliveryChannel): OutboxMessageView[] {
    return this.messages
      .filter((m) => !channel || m.channel === channel)
      .reverse()
      .map((m) => ({ ...m }));
  }

  /** The demo starts over: what was sent goes with the bookings it was about. */
  clear(): void {
    this.messages.length = 0;
  }
}
