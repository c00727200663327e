import { formatMoney } from '../../src/contract/money';
import { notificationText } from '../../src/notifications/notification-text';

describe('formatMoney', () => {
  it.each([
    [135000, 'R1,350.00'],
    [5, 'R0.05'],
    [100, 'R1.00'],
    [123456789, 'R1,234,567.89'],
    [0, 'R0.00'],
  ])('%i cents → %s', (cents, text) => expect(formatMoney(cents)).toBe(text));
  it('names other currencies', () => expect(formatMoney(2500, 'USD')).toBe('USD 25.00'));
});

describe('notificationText', () => {
  const booking = { id: '7', clientId: 'c', providerId: 'p', clientName: 'Naledi', providerName: 'Pieter', service: 'tiling' };
  it('writes each side its own text', () => {
    const created = { type: 'booking.created', payload: { booking: { amount: 135000, currency: 'ZAR', scheduledFor: '2026-12-01T08:00:00Z' } }, booking };
    expect(notificationText(created, 'provider')?.title).toBe('New booking request from Naledi');
    expect(notificationText(created, 'client')).toBeNull();
    const accepted = { type: 'booking.accepted', payload: {}, booking };
    expect(notificationText(accepted, 'client')?.title).toBe('Your booking has been accepted!');
    expect(notificationText(accepted, 'provider')).toBeNull();
  });
  it('tells both sides a request expired, only the provider that one waits, and both of the booking ahead', () => {
    const expired = { type: 'booking.expired', payload: { booking: { scheduledFor: '2026-12-01T08:00:00Z' } }, booking };
    expect(notificationText(expired, 'client')).toEqual({
      title: 'Your booking request expired',
      body: 'Pieter did not answer your tiling request in time. You can book another provider.',
    });
    expect(notificationText(expired, 'provider')?.title).toBe('A booking request expired');
    const waiting = { type: 'booking.request_reminder', payload: { scheduledFor: '2026-12-01T08:00:00Z', expiresAt: '2026-11-30T08:00:00Z' }, booking };
    expect(notificationText(waiting, 'provider')?.title).toBe('Naledi is waiting for your answer');
    expect(notificationText(waiting, 'client')).toBeNull();
    const soon = { type: 'booking.reminder', payload: { scheduledFor: '2026-12-01T08:00:00Z', hoursBefore: 1 }, booking };
    expect(notificationText(soon, 'client')?.title).toBe('Tiling in an hour');
    expect(notificationText(soon, 'provider')?.body).toMatch(/^Your tiling for Naledi is on /);
    expect(notificationText({ ...soon, payload: { ...soon.payload, hoursBefore: 24 } }, 'client')?.title).toBe('Tiling in 24 hours');
    expect(notificationText(expired, 'admin')).toBeNull();
  });
  it('says a booking’s time in the marketplace’s zone, Johannesburg unless told another', () => {
    const created = { type: 'booking.created', payload: { booking: { amount: 135000, currency: 'ZAR', scheduledFor: '2026-12-01T08:00:00Z' } }, booking };
    expect(notificationText(created, 'provider')?.body).toMatch(/10:00/);
    expect(notificationText(created, 'provider', 'Africa/Lagos')?.body).toMatch(/09:00/);
  });
  it('tells the other side who cancelled and why, and the one who cancelled that they did', () => {
    const cancelled = (cancelledBy: string, reason: string | null) => ({ type: 'booking.cancelled', payload: { booking: { reason }, cancelledBy }, booking });
    expect(notificationText(cancelled('client', 'Fixed it myself'), 'provider')?.body).toBe('Naledi cancelled the tiling booking. Reason: “Fixed it myself”');
    expect(notificationText(cancelled('client', 'Fixed it myself'), 'client')?.body).toBe(
      'You cancelled the tiling booking with Pieter. Reason: “Fixed it myself”',
    );
    expect(notificationText(cancelled('provider', null), 'client')?.body).toBe('Pieter cancelled the tiling booking.');
    expect(notificationText(cancelled('operator', null), 'client')?.body).toBe('Our team cancelled the tiling booking with Pieter.');
  });
  it('tells the provider of a payout when it is sent and when it arrives, not of the release before it', () => {
    const money = (type: string, status: string) => ({ type, payload: { status, amount: 128250, currency: 'ZAR' }, booking });
    expect(notificationText(money('payment.status_changed', 'RELEASED'), 'provider')).toBeNull();
    expect(notificationText(money('payout.status_changed', 'PENDING'), 'provider')).toBeNull();
    expect(notificationText(money('payout.status_changed', 'PROCESSING'), 'provider')?.title).toBe('Payout sent');
    expect(notificationText(money('payout.status_changed', 'COMPLETED'), 'provider')?.title).toBe('Payout arrived: R1,282.50');
    expect(notificationText(money('payout.status_changed', 'FAILED'), 'provider')?.title).toBe('Payout failed');
    // Both sides read the same title for money into escrow, as toasts and the panel do.
    expect(notificationText(money('payment.status_changed', 'ESCROW'), 'client')?.title).toBe('Payment received and held in escrow');
    expect(notificationText(money('payment.status_changed', 'ESCROW'), 'provider')?.title).toBe('Payment received and held in escrow');
  });
  it('tells only the provider about payouts, and in rands', () => {
    const payout = { type: 'payout.status_changed', payload: { status: 'COMPLETED', amount: 121500, currency: 'ZAR' }, booking };
    expect(notificationText(payout, 'provider')?.body).toBe('R1,215.00 has been paid to your bank account.');
    expect(notificationText(payout, 'client')).toBeNull();
  });
  it('stays quiet about steps nobody needs to hear of', () => {
    expect(notificationText({ type: 'payment.status_changed', payload: { status: 'PAID', amount: 1, currency: 'ZAR' }, booking }, 'client')).toBeNull();
    expect(notificationText({ type: 'test.event', payload: {}, booking }, 'client')).toBeNull();
  });
});
