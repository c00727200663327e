import type { EventTypeName } from '../../src/contract/event-names';
import type { EventData } from '../../src/contract/events';
import type { ClientBookingView } from '../../src/contract/views';

/*
 * Payloads that match the contract, for suites that publish events themselves (srv.publish) under
 * the server's real type names: what they carry does not matter to those suites, but every event
 * a test receives is held to the AsyncAPI document, so it must be a real event's shape.
 */

const booking = (status: ClientBookingView['status']): ClientBookingView => ({
  id: '1',
  clientId: 'sample-client',
  providerId: 'sample-provider',
  service: 'sample',
  scheduledFor: '2030-01-01T10:00:00.000Z',
  amount: 10_000,
  currency: 'ZAR',
  notes: null,
  status,
  reason: null,
  payment: null,
  createdAt: '2030-01-01T09:00:00.000Z',
  updatedAt: '2030-01-01T09:00:00.000Z',
});

const SAMPLES = {
  announcement: { title: 't', body: 'b' },
  'booking.created': { booking: booking('PENDING'), previousStatus: null, status: 'PENDING' },
  'booking.accepted': { booking: booking('CONFIRMED'), previousStatus: 'PENDING', status: 'CONFIRMED' },
  'payment.status_changed': {
    bookingId: '1',
    paymentId: '1',
    reference: 'ref-1',
    status: 'ESCROW',
    previousStatus: 'PENDING',
    amount: 10_000,
    currency: 'ZAR',
    refundedAmount: 0,
  },
  'payout.status_changed': {
    payoutId: '1',
    bookingId: '1',
    reference: 'po-1',
    status: 'PROCESSING',
    previousStatus: 'PENDING',
    amount: 9_500,
    currency: 'ZAR',
  },
  'notification.read': { ids: ['1'], unreadCount: 0 },
} satisfies { [T in EventTypeName]?: EventData<T> };

export type SampleType = keyof typeof SAMPLES;

/** A payload of `type` as the server would emit it. */
export const sampleData = (type: SampleType): unknown => SAMPLES[type];
