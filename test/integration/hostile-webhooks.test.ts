import fc from 'fast-check';
import crypto from 'node:crypto';
import { describeDb } from '../support/test-db';
import { PAYSTACK_TEST_KEY, startMarketplace, type Marketplace, type ConfirmedBooking } from '../support/marketplace';
import { signPaystackBody } from '../../fakes/fake-paystack';
import { assertRefusal, badLogLines, expectCode, fingerprint, send, Tally, type Expected, type Fingerprint, type RawRequest } from '../support/hostile-harness';

/*
 * Property: a Paystack webhook moves money only when it is Paystack's signature over exactly
 * these bytes, about a payment or payout of ours, and not seen before. Anything else is refused
 * (401, nothing stored) or recorded and ignored (200, only the delivery row), and neither touches
 * a payment, payout, booking or event, nor calls Paystack.
 */

const RUNS = Number(process.env.HOSTILE_RUNS ?? 40);
const PATH = '/api/webhooks/paystack';
const EVENTS = [
  'charge.success',
  'transfer.success',
  'transfer.failed',
  'transfer.reversed',
  'refund.processed',
  'charge.dispute.create',
  'charge.dispute.resolve',
];

const post = (body: string | Buffer, signature?: string): RawRequest => ({
  method: 'POST',
  path: PATH,
  headers: { 'Content-Type': 'application/json', ...(signature === undefined ? {} : { 'x-paystack-signature': signature }) },
  body,
});

describeDb('hostile webhooks: bad signatures, other bytes, replays and strangers move nothing', () => {
  let m: Marketplace;
  /** Confirmed, its checkout pending: the payment a forged charge.success would put in escrow. */
  let pending: ConfirmedBooking;
  let amount: number;
  const tally = new Tally();

  beforeAll(async () => {
    m = await startMarketplace();
    pending = await m.confirmedBookingWithPayment({ prefix: 'hw-pending', amount: 42_000 });
    amount = 42_000;
    // Real deliveries of each kind, for the replays: a charge, a transfer, a refund.
    const paid = await m.confirmedBookingWithPayment({ prefix: 'hw-paid', amount: 30_000 });
    await m.paystack.completeCharge(paid.reference);
    await paid.provider.post(`/api/bookings/${paid.id}/start`).expect(200);
    await paid.provider.post(`/api/bookings/${paid.id}/complete`).expect(200);
    await paid.client.post(`/api/bookings/${paid.id}/confirm-completion`).expect(200);
    const payout = await m.srv.db.database.knex('payouts').where({ booking_id: paid.id }).first('reference');
    await m.paystack.settleTransfer(payout.reference, 'success');
    const refunded = await m.confirmedBookingWithPayment({ prefix: 'hw-refund', amount: 20_000 });
    await m.paystack.completeCharge(refunded.reference);
    await refunded.client.post(`/api/bookings/${refunded.id}/cancel`, { reason: 'changed plans' }).expect(200);
    await m.paystack.processRefund(refunded.reference);
    expect(m.paystack.webhooks.map((h) => [h.event, h.response.status])).toEqual([
      ['charge.success', 200],
      ['transfer.success', 200],
      ['charge.success', 200],
      ['refund.processed', 200],
    ]);
  }, 60_000);
  afterAll(async () => {
    console.log(tally.summary(`hostile-webhooks [${process.env.TEST_DB}]`));
    await m?.stop();
  });

  const knex = () => m.srv.db.database.knex;
  const forgedCharge = () =>
    JSON.stringify({ event: 'charge.success', data: { id: 990001, reference: pending.reference, amount, currency: 'ZAR', status: 'success' } });

  /** Runs `arb`; each answer must be `check`ed and every table (but `exclude`) left as it was. */
  async function deliverAll<T>(
    name: string,
    arb: fc.Arbitrary<T>,
    run: (x: T) => Promise<void>,
    o: { exclude?: string[]; numRuns?: number } = {},
  ): Promise<{ before: Fingerprint }> {
    const before = await fingerprint(knex(), o.exclude);
    const logMark = m.srv.logs.length;
    const paystackCalls = m.paystack.requests.length;
    await fc.assert(
      fc.asyncProperty(arb, async (x) => {
        await run(x);
        // The route answers before it settles: what a delivery changes is known once it is settled.
        await m.settled();
        tally.add(name);
        const after = await fingerprint(knex(), o.exclude);
        const changed = Object.keys(after).filter((t) => JSON.stringify(after[t]) !== JSON.stringify(before[t]));
        if (changed.length) throw new Error(`the database changed (${changed.join(', ')}) after ${JSON.stringify(x).slice(0, 300)}`);
      }),
      { numRuns: o.numRuns ?? RUNS },
    );
    expect(badLogLines(m.srv.logs, logMark)).toEqual([]);
    expect(m.paystack.requests.length).toBe(paystackCalls);
    return { before };
  }

  const refused = async (req: RawRequest, exp: Expected = expectCode('WEBHOOK_SIGNATURE_INVALID')) => {
    assertRefusal(req, await send(m.srv.url, req), exp);
  };

  it(`refuses a missing or bad signature, even on a body that would move money: 401, nothing stored (${RUNS} generated)`, async () => {
    const body = fc.oneof(
      fc.constant(forgedCharge()),
      fc.constantFrom(...EVENTS).map((event) => JSON.stringify({ event, data: { reference: pending.reference, amount, status: 'success' } })),
      fc.string({ maxLength: 300 }),
    );
    const signature = (b: string): fc.Arbitrary<string | undefined> =>
      fc.oneof(
        fc.constant(undefined),
        fc.constantFrom('', ' ', 'null', 'sha512=', '0'.repeat(128), 'g'.repeat(128)),
        fc.stringMatching(/^[0-9a-f]{128}$/),
        fc.stringMatching(/^[0-9a-f]{1,127}$/),
        fc.stringMatching(/^[0-9a-f]{129,300}$/),
        // eslint-disable-next-line no-control-regex -- control characters are what the filter keeps out
        fc.string({ maxLength: 200, unit: 'binary-ascii' }).filter((s) => !/[\x00-\x08\x0a-\x1f\x7f]/.test(s)),
        // Right bytes, wrong key: another mode's key, a near miss, the JWT secret.
        fc
          .string({ minLength: 1, maxLength: 60 })
          .filter((k) => k !== PAYSTACK_TEST_KEY)
          .map((k) => signPaystackBody(b, k)),
        fc.constantFrom('sk_live_marketplace_suite_key_0123456789', `${PAYSTACK_TEST_KEY} `, PAYSTACK_TEST_KEY.slice(0, -1)).map((k) => signPaystackBody(b, k)),
        // Right key, wrong MAC: SHA-256, or the right one cut short or padded.
        fc.constant(crypto.createHmac('sha256', PAYSTACK_TEST_KEY).update(b).digest('hex')),
        fc.constant(signPaystackBody(b, PAYSTACK_TEST_KEY).slice(0, 127)),
        fc.constant(`${signPaystackBody(b, PAYSTACK_TEST_KEY)}0`),
        fc.constant(Buffer.from(signPaystackBody(b, PAYSTACK_TEST_KEY), 'hex').toString('base64')),
        // A real signature of one of Paystack's earlier deliveries.
        fc.constantFrom(...m.paystack.webhooks.map((h) => h.signature)),
      );
    await deliverAll(
      'bad signatures',
      body.chain((b) => signature(b).map((s) => ({ b, s }))),
      ({ b, s }) => refused(post(b, s)),
    );
  });

  it(`refuses a valid signature over different bytes (one byte changed, added or dropped, or re-serialised): 401 (${RUNS} generated)`, async () => {
    const mutations = (orig: string): fc.Arbitrary<string> =>
      fc.oneof(
        fc
          .tuple(fc.nat({ max: orig.length - 1 }), fc.string({ minLength: 1, maxLength: 1, unit: 'binary-ascii' }))
          .map(([i, c]) => orig.slice(0, i) + c + orig.slice(i + 1)),
        fc.tuple(fc.nat({ max: orig.length }), fc.string({ minLength: 1, maxLength: 3 })).map(([i, c]) => orig.slice(0, i) + c + orig.slice(i)),
        fc.nat({ max: orig.length - 1 }).map((i) => orig.slice(0, i) + orig.slice(i + 1)),
        fc.constantFrom(
          ` ${orig}`,
          `${orig}\n`,
          JSON.stringify(JSON.parse(orig), null, 2),
          orig.replace(String(amount), String(amount * 100)),
          orig.replace('"ZAR"', '"\\u005AAR"'),
        ),
      );
    await deliverAll(
      'other bytes',
      fc.constant(forgedCharge()).chain((signed) =>
        mutations(signed)
          .filter((sent) => sent !== signed)
          .map((sent) => ({ signed, sent })),
      ),
      ({ signed, sent }) => refused(post(sent, signPaystackBody(signed, PAYSTACK_TEST_KEY))),
    );
  });

  it(`answers a replay of an earlier delivery, once or many times at once, as a duplicate: nothing moves, nothing is stored (${RUNS} generated)`, async () => {
    const earlier = fc.constantFrom(...m.paystack.webhooks);
    await deliverAll('replays', fc.tuple(earlier, fc.integer({ min: 1, max: 4 })), async ([h, times]) => {
      const answers = await Promise.all(Array.from({ length: times }, () => send(m.srv.url, post(h.rawBody, h.signature))));
      for (const a of answers) expect({ status: a.status, body: a.json }).toEqual({ status: 200, body: { received: true, outcome: 'duplicate' } });
    });
  });

  it(`records and ignores a validly signed event about a payment or payout that is not ours: 200, only its delivery row (${RUNS} generated)`, async () => {
    const notOurs = fc.oneof(
      fc.stringMatching(/^[a-z0-9]{6,30}$/),
      fc.constantFrom("' OR '1'='1", '1; DROP TABLE payments; --', 'T'.repeat(500), '', ' ', 'null', '😀', '%', '_'),
      fc.integer().map(String),
      fc.string({ maxLength: 40, unit: 'binary' }),
      // What PostgreSQL cannot store (NUL, lone surrogates): still a 200, never a retried 500.
      fc.constantFrom('\u0000', 'PAY\u0000REF', '\ud800', 'x\udc00y'),
    );
    const event = fc.oneof(fc.constantFrom(...EVENTS), fc.stringMatching(/^[a-z]{1,12}\.[a-z_]{1,12}$/));
    const data = fc
      .record({
        ref: notOurs,
        id: fc.oneof(fc.integer(), fc.string({ maxLength: 12 })),
        extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      })
      .map(({ ref, id, extra }) => ({
        ...extra,
        id,
        reference: ref,
        transaction_reference: ref,
        transaction: { reference: ref },
        transfer_code: `TRF_${ref}`,
        amount,
        currency: 'ZAR',
        status: 'success',
        resolution: 'declined',
      }));
    const deliveriesBefore = await knex()('webhook_deliveries').count<{ c: string }[]>('* as c');
    await deliverAll(
      'strangers',
      fc.tuple(event, data),
      async ([e, d]) => {
        const raw = JSON.stringify({ event: e, data: d });
        const res = await send(m.srv.url, post(raw, signPaystackBody(raw, PAYSTACK_TEST_KEY)));
        expect({ status: res.status, outcome: (res.json as { outcome?: string }).outcome }).toEqual({
          status: 200,
          outcome: expect.stringMatching(/^(recorded|duplicate)$/),
        });
      },
      { exclude: ['webhook_deliveries'] },
    );
    const rows = await knex()('webhook_deliveries').whereNotIn('outcome', ['unknown_reference', 'ignored']).select('outcome', 'event');
    // Only the deliveries of beforeAll moved anything.
    expect(rows.length).toBeLessThanOrEqual(Number(deliveriesBefore[0].c));
  });

  it(`refuses a validly signed body that is not a Paystack envelope, or not JSON: 400, nothing stored (${Math.ceil(RUNS / 2)} generated)`, async () => {
    const notEnvelope = fc.oneof(
      fc
        .jsonValue()
        .filter((v) => {
          const e = v as { event?: unknown; data?: unknown } | null;
          return !(
            e &&
            typeof e === 'object' &&
            !Array.isArray(e) &&
            typeof e.event === 'string' &&
            e.data &&
            typeof e.data === 'object' &&
            !Array.isArray(e.data)
          );
        })
        .map((v) => ({ raw: JSON.stringify(v), code: 'VALIDATION_FAILED' as const })),
      fc
        .string({ minLength: 1, maxLength: 200 })
        .filter((s) => {
          try {
            JSON.parse(s);
            return false;
          } catch {
            return true;
          }
        })
        .map((raw) => ({ raw, code: 'INVALID_JSON' as const })),
    );
    await deliverAll('not envelopes', notEnvelope, async ({ raw, code }) => refused(post(raw, signPaystackBody(raw, PAYSTACK_TEST_KEY)), expectCode(code)), {
      numRuns: Math.ceil(RUNS / 2),
    });
  });
});
