import { BOOKING_RULES, BookingAction, decideBookingAction, canViewBooking } from '../../src/bookings/booking-state';
import { BookingStatus, CALLED_OFF, PaymentStatus } from '../../src/contract/vocabulary';
import { canMovePayment } from '../../src/payments/payment-state';
import { canMovePayout } from '../../src/payments/payout-state';
import { payoutAmount } from '../../src/payments/escrow';

const booking = (status: BookingStatus) => ({ clientId: 'c1', providerId: 'p1', status });
const client = { userId: 'c1', role: 'client' };
const provider = { userId: 'p1', role: 'provider' };

describe('booking rules', () => {
  it.each([
    ['accept', 'PENDING', provider, 'CONFIRMED'],
    ['reject', 'PENDING', provider, 'REJECTED'],
    ['start', 'CONFIRMED', provider, 'IN_PROGRESS'],
    ['complete', 'IN_PROGRESS', provider, 'COMPLETED'],
    ['cancel', 'PENDING', client, 'CANCELLED'],
    ['cancel', 'CONFIRMED', provider, 'CANCELLED'],
    ['confirm-completion', 'COMPLETED', client, 'COMPLETED'],
  ] as const)('%s from %s by %j → %s', (action, from, actor, to) => {
    expect(decideBookingAction(booking(from), actor, action)).toEqual(expect.objectContaining({ ok: true, to }));
  });

  it('refuses every move not in the table, from every status', () => {
    let allowed = 0;
    for (const action of BookingAction.options) {
      for (const status of BookingStatus.options) {
        const rule = BOOKING_RULES[action];
        for (const actor of [client, provider]) {
          const d = decideBookingAction(booking(status), actor, action);
          const party = actor === client ? 'client' : 'provider';
          const expectOk = rule.from.includes(status) && rule.by.includes(party);
          expect(d.ok).toBe(expectOk);
          if (d.ok) allowed++;
          else if (!rule.by.includes(party)) expect(d.error).toBe('WRONG_PARTY');
          else expect(d.error).toBe(status === 'EXPIRED' ? 'REQUEST_EXPIRED' : 'INVALID_TRANSITION');
        }
      }
    }
    // 9 moves, and the client's dispute from CONFIRMED, IN_PROGRESS and COMPLETED.
    expect(allowed).toBe(12);
  });

  it('makes EXPIRED terminal: no action leaves it, every one refused as REQUEST_EXPIRED, and no action leads to it', () => {
    for (const action of BookingAction.options) {
      expect(BOOKING_RULES[action].from).not.toContain('EXPIRED');
      expect(BOOKING_RULES[action].to).not.toBe('EXPIRED');
      const party = BOOKING_RULES[action].by[0] === 'client' ? client : provider;
      expect(decideBookingAction(booking('EXPIRED'), party, action)).toEqual({ ok: false, error: 'REQUEST_EXPIRED' });
    }
    // Money paid for a booking that will not happen goes back.
    expect([...CALLED_OFF].sort()).toEqual(['CANCELLED', 'EXPIRED', 'REJECTED']);
  });

  it('treats a stranger as not a party (404) and an admin as the wrong party (403)', () => {
    expect(decideBookingAction(booking('PENDING'), { userId: 'x', role: 'client' }, 'accept')).toEqual({ ok: false, error: 'NOT_A_PARTY' });
    expect(decideBookingAction(booking('PENDING'), { userId: 'x', role: 'admin' }, 'accept')).toEqual({ ok: false, error: 'WRONG_PARTY' });
    expect(canViewBooking(booking('PENDING'), { userId: 'x', role: 'provider' })).toBe(false);
    expect(canViewBooking(booking('PENDING'), { userId: 'x', role: 'admin' })).toBe(true);
  });
});

describe('money state machines', () => {
  it('never moves a payment backwards or out of a final state', () => {
    for (const to of PaymentStatus.options) {
      // Released money comes back only through a lost dispute.
      expect(canMovePayment('RELEASED', to)).toBe(to === 'REFUNDED');
      expect(canMovePayment('REFUNDED', to)).toBe(false);
      // A flagged charge waits for an admin: accepted into escrow, or refunded.
      expect(canMovePayment('FLAGGED', to)).toBe(to === 'ESCROW' || to === 'REFUND_PENDING');
      expect(canMovePayment('EXPIRED', to)).toBe(false);
      expect(canMovePayment(to, 'PENDING')).toBe(false);
    }
    expect(canMovePayment('PENDING', 'ESCROW')).toBe(false);
    expect(canMovePayment('PENDING', 'PAID')).toBe(true);
    expect(canMovePayment('PAID', 'ESCROW')).toBe(true);
  });

  it('lets a payout settle before our own transfer call returns, and a success be reversed', () => {
    expect(canMovePayout('PENDING', 'COMPLETED')).toBe(true);
    expect(canMovePayout('COMPLETED', 'PROCESSING')).toBe(false);
    expect(canMovePayout('COMPLETED', 'REVERSED')).toBe(true);
    expect(canMovePayout('FAILED', 'COMPLETED')).toBe(false);
  });

  it('computes the payout in integer cents, the fee rounded up', () => {
    expect(payoutAmount(135000, 0)).toBe(135000);
    expect(payoutAmount(135000, 1000)).toBe(121500);
    expect(payoutAmount(999, 150)).toBe(984);
    expect(Number.isInteger(payoutAmount(12345, 333))).toBe(true);
  });
});
