import { cents, NOT_RECEIVED, PAYMENT_BUCKET, summarize } from '../../src/payments/ledger';
import type { LedgerFacts, Offenders } from '../../src/payments/ledger-repository';
import { ListPaymentsQuery, ListPayoutsQuery } from '../../src/payments/money-lists';
import { PaymentStatus } from '../../src/contract/vocabulary';

const none = (): Offenders => ({ count: 0, paymentIds: [], payoutIds: [] });

function facts(over: Partial<LedgerFacts> = {}): LedgerFacts {
  return {
    payments: [],
    payouts: [],
    releasedPayouts: [],
    unknownPaymentStatuses: none(),
    releasedWithoutOnePayout: none(),
    payoutsOverMaximum: { ...none(), rows: [] },
    payoutsForUnreleased: none(),
    nonPositiveAmounts: none(),
    payoutsNotMatchingPayment: none(),
    ...over,
  };
}

describe('ledger summary', () => {
  it('places every payment status: only PENDING, FAILED and EXPIRED were never received', () => {
    expect([...NOT_RECEIVED].sort()).toEqual(['EXPIRED', 'FAILED', 'PENDING']);
    for (const s of PaymentStatus.options) expect(PAYMENT_BUCKET).toHaveProperty(s);
  });

  it('an empty database is balanced, with no currencies', () => {
    const s = summarize(facts(), 0, new Date('2026-01-01T00:00:00Z'));
    expect(s).toEqual(expect.objectContaining({ asOf: '2026-01-01T00:00:00.000Z', feeBps: 0, currencies: {}, balanced: true }));
    expect(s.checks).toHaveLength(6);
  });

  it('sums statuses into buckets per currency, payouts by status, and fees from released payments', () => {
    const s = summarize(
      facts({
        payments: [
          { currency: 'ZAR', status: 'PENDING', total: '1000' },
          { currency: 'ZAR', status: 'FAILED', total: '2000' },
          { currency: 'ZAR', status: 'PAID', total: '5' },
          { currency: 'ZAR', status: 'ESCROW', total: '300' },
          { currency: 'ZAR', status: 'RELEASED', total: '10000' },
          { currency: 'ZAR', status: 'REFUND_PENDING', total: '40' },
          { currency: 'ZAR', status: 'REFUNDED', total: '50' },
          { currency: 'ZAR', status: 'FLAGGED', total: '60' },
          { currency: 'NGN', status: 'ESCROW', total: '7' },
        ],
        payouts: [
          { currency: 'ZAR', status: 'COMPLETED', total: '9000' },
          { currency: 'ZAR', status: 'REVERSED', total: '700' },
        ],
        releasedPayouts: [{ currency: 'ZAR', total: '9700' }],
      }),
      250,
    );
    expect(s.currencies.ZAR).toEqual({
      received: 10_455,
      inEscrow: 305,
      released: 10_000,
      refundPending: 40,
      refunded: 50,
      flagged: 60,
      payouts: { pending: 0, processing: 0, completed: 9_000, failed: 0, reversed: 700 },
      fees: 300,
    });
    expect(s.currencies.NGN).toEqual(expect.objectContaining({ received: 7, inEscrow: 7, fees: 0 }));
    expect(s.balanced).toBe(true);
  });

  it('a payment in an unknown status is received but in no bucket: check (a) fails for its currency', () => {
    const s = summarize(
      facts({
        payments: [
          { currency: 'ZAR', status: 'ESCROW', total: '100' },
          { currency: 'ZAR', status: 'LOST', total: '25' },
        ],
        unknownPaymentStatuses: { count: 1, paymentIds: ['9'], payoutIds: [] },
      }),
      0,
    );
    expect(s.currencies.ZAR.received).toBe(125);
    const a = s.checks.find((c) => c.name === 'received_equals_buckets')!;
    expect(a).toEqual(expect.objectContaining({ ok: false, details: { count: 1, paymentIds: ['9'], payoutIds: [], currencies: ['ZAR'] } }));
    expect(s.balanced).toBe(false);
  });

  it('any offender fails its check and the summary; (c) shows the maximum by payoutAmount', () => {
    const s = summarize(
      facts({
        payoutsOverMaximum: {
          count: 1,
          paymentIds: [],
          payoutIds: ['3'],
          rows: [{ payoutId: '3', paymentId: '4', amount: '42001', paymentAmount: '42001', feeBps: 250 }],
        },
      }),
      250,
    );
    expect(s.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['payout_within_payment_less_fee']);
    expect(s.checks[2].details.payouts).toEqual([{ payoutId: '3', paymentId: '4', amount: 42_001, paymentAmount: 42_001, maximum: 40_950 }]);
    expect(s.balanced).toBe(false);
  });

  it('reads SQL sums exactly, and refuses any it cannot hold exactly', () => {
    expect(cents(null)).toBe(0);
    expect(cents('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => cents('9007199254740993')).toThrow(RangeError);
    expect(() => cents('1.5')).toThrow(RangeError);
  });
});

describe('list queries', () => {
  it.each([
    [{}, { limit: 20 }],
    [{ limit: '1' }, { limit: 1 }],
    [
      { limit: '100', cursor: '42', status: 'ESCROW' },
      { limit: 100, cursor: '42', status: 'ESCROW' },
    ],
  ])('accepts %j', (q, parsed) => {
    expect(ListPaymentsQuery.parse(q)).toEqual(parsed);
  });

  it.each([
    { limit: '0' },
    { limit: '101' },
    { limit: 'x' },
    { cursor: '0' },
    { cursor: '01' },
    { status: 'COMPLETED' },
    { extra: '1' },
    { limit: ['1', '2'] },
  ])('refuses payments query %j', (q) => {
    expect(ListPaymentsQuery.safeParse(q).success).toBe(false);
  });

  it('payout statuses are the payout state machine’s', () => {
    expect(ListPayoutsQuery.safeParse({ status: 'COMPLETED' }).success).toBe(true);
    expect(ListPayoutsQuery.safeParse({ status: 'ESCROW' }).success).toBe(false);
  });
});
