import { POLICIES, stepsFor } from '../../src/channels/policies';
import type { DeliveryChannel } from '../../src/contract/vocabulary';
import { afterQuietHours } from '../../src/channels/quiet-hours';
import { planDeliveries } from '../../src/channels/delivery-plan';
import type { ContactRow } from '../../src/channels/delivery-repository';

const delays = { pushAfterS: 120, textAfterS: 600 };
const t0 = new Date('2026-12-07T10:00:00Z');

describe('delivery policies', () => {
  it('a booking request: push after 120 s and WhatsApp after 600 s, both cancelled by reading', () => {
    expect(stepsFor('booking.created', t0, delays)).toEqual([
      { channel: 'push', dueAt: new Date('2026-12-07T10:02:00Z'), unseenOnly: true, urgent: false },
      { channel: 'whatsapp', dueAt: new Date('2026-12-07T10:10:00Z'), unseenOnly: true, urgent: false },
    ]);
  });

  it('payment and payout receipts always by email, at once; announcements in-app and push only', () => {
    for (const type of ['payment.status_changed', 'payout.status_changed']) {
      expect(stepsFor(type, t0, delays)[0]).toEqual({ channel: 'email', dueAt: t0, unseenOnly: false, urgent: false });
    }
    expect(stepsFor('announcement', t0, delays).map((s) => s.channel)).toEqual(['push']);
    expect(POLICIES.announcement.email).toBeUndefined();
    expect(stepsFor('notification.read', t0, delays)).toEqual([]);
  });

  it('quiet hours 22:00-07:00 in Johannesburg hold 23:30 local until 07:00 and leave 12:00 alone', () => {
    const q = { startMin: 22 * 60, endMin: 7 * 60, timeZone: 'Africa/Johannesburg' };
    // 21:30 UTC is 23:30 in Johannesburg (UTC+2).
    expect(afterQuietHours(new Date('2026-12-07T21:30:00Z'), q)).toEqual(new Date('2026-12-08T05:00:00Z'));
    expect(afterQuietHours(new Date('2026-12-07T10:00:00Z'), q)).toEqual(new Date('2026-12-07T10:00:00Z'));
    expect(afterQuietHours(new Date('2026-12-07T04:59:00Z'), q)).toEqual(new Date('2026-12-07T05:00:00Z'));
  });

  it('plans skipped rows with the reason a person reads: muted, turned off, not configured, no address', () => {
    const contact = (c: Partial<ContactRow>): ContactRow => ({
      user_id: 'u',
      email: null,
      phone: null,
      time_zone: null,
      quiet_start_min: null,
      quiet_end_min: null,
      channels: null,
      muted_types: null,
      has_push: true,
      ...c,
    });
    const n = { id: '1', userId: 'u', type: 'booking.created', silent: false, notifiedAt: t0 };
    const plan = (c: ContactRow, configured: DeliveryChannel[] = ['push', 'whatsapp', 'sms', 'email']) =>
      planDeliveries([n], new Map([['u', c]]), new Set(configured), delays).map((d) => [d.channel, d.status, d.reason]);
    expect(plan(contact({ muted_types: ['booking.created'] }))).toEqual([
      ['push', 'skipped', 'muted'],
      ['whatsapp', 'skipped', 'muted'],
    ]);
    expect(plan(contact({ phone: '+27825551234', channels: { 'booking.created': ['sms'] } }))).toEqual([
      ['push', 'skipped', 'turned off in preferences'],
      ['sms', 'queued', null],
    ]);
    expect(plan(contact({}), ['push'])).toEqual([
      ['push', 'queued', null],
      ['whatsapp', 'skipped', 'whatsapp is not configured on this server'],
    ]);
    expect(plan(contact({}))).toEqual([
      ['push', 'queued', null],
      ['whatsapp', 'skipped', 'no phone number'],
    ]);
  });
});
