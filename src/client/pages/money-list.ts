import type { EventEnvelope } from '../types.js';

/** A payment or payout as GET /api/payments and /api/payouts list them. */
export interface MoneyItem {
  id: string;
  bookingId: string;
  reference: string;
  status: string;
  amount: number;
  currency: string;
  reason?: string;
  createdAt: string;
  updatedAt: string;
}

/** What the list reads of a `payment.status_changed` or `payout.status_changed` event's data (src/contract/events.ts). */
interface MoneyEventData {
  paymentId?: string;
  payoutId?: string;
  bookingId?: string;
  reference?: string;
  status?: string;
  amount?: number;
  currency?: string;
  reason?: string;
}

/** Payments or payouts by id, moved by their `*.status_changed` events. */
export class MoneyList {
  private readonly byId = new Map<string, MoneyItem>();

  constructor(private readonly changed: () => void) {}

  replaceAll(items: MoneyItem[]): void {
    this.byId.clear();
    for (const m of items) this.byId.set(m.id, m);
    this.changed();
  }

  applyEvent(e: EventEnvelope, idField: 'paymentId' | 'payoutId'): void {
    const d = (e.data ?? {}) as MoneyEventData;
    const id = String(d[idField]);
    const current = this.byId.get(id);
    this.byId.set(id, {
      id,
      bookingId: String(d.bookingId),
      reference: String(d.reference),
      status: String(d.status),
      amount: Number(d.amount),
      currency: d.currency ?? 'ZAR',
      ...(d.reason ? { reason: d.reason } : {}),
      createdAt: current?.createdAt ?? e.occurredAt,
      updatedAt: e.occurredAt,
    });
    this.changed();
  }

  newestFirst(): MoneyItem[] {
    return [...this.byId.values()].sort((a, b) => Number(b.id) - Number(a.id));
  }
}
