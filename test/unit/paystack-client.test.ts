import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FakePaystack, signPaystackBody } from '../../fakes/fake-paystack';
import { createPaystackClient, PaystackError, type PaystackClient } from '../../src/payments/paystack-client';
import { isValidPaystackSignature } from '../../src/payments/webhook-signature';

const KEY = 'sk_test_unit_suite_key_0123456789abcdef';
const WRONG_KEY = 'sk_test_not_the_right_key_987654321';

/** A stand-in for our webhook route: records the raw bytes and headers, answers 200. */
interface Received {
  method: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
}
async function startRecorder(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', headers: req.headers, raw: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/webhooks/paystack`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The PaystackError a promise rejects with (fails the test on anything else). */
async function paystackError(p: Promise<unknown>): Promise<PaystackError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PaystackError);
  return err as PaystackError;
}

let fake: FakePaystack;
let paystack: PaystackClient;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
let n = 0;
const txRef = () => `bk${++n}-${crypto.randomBytes(6).toString('hex')}`;
const payoutRef = () => `payout_${++n}_${crypto.randomBytes(8).toString('hex')}`;
/** Every client a test makes, closed after the suite (each owns its kept-alive connections). */
const made: PaystackClient[] = [];
const client = (over: Partial<Parameters<typeof createPaystackClient>[0]> = {}) => {
  const c = createPaystackClient({ baseUrl: fake.url, secretKey: KEY, timeoutMs: 5_000, ...over });
  made.push(c);
  return c;
};
const lastRequest = () => fake.requests[fake.requests.length - 1];

beforeAll(async () => {
  fake = new FakePaystack({ secretKey: KEY });
  await fake.start();
  recorder = await startRecorder();
  fake.setWebhookTarget(recorder.url);
  paystack = client();
});
afterAll(async () => {
  await Promise.all(made.map((c) => c.close()));
  await fake.stop();
  await recorder.close();
});

async function initialized(amount = 42_000, metadata: Record<string, unknown> | null = { bookingId: '7' }) {
  const reference = txRef();
  await paystack.initializeTransaction({ email: 'client@example.co.za', amount, currency: 'ZAR', reference, metadata: metadata ?? undefined });
  return reference;
}

async function recipient(accountNumber = '0123456789') {
  const { recipientCode } = await paystack.createTransferRecipient({ name: 'Thandi Nkosi', accountNumber, bankCode: '632005', currency: 'ZAR' });
  return recipientCode;
}

describe('Paystack client, happy paths over HTTP against the fake', () => {
  it('initializes a transaction, sending Paystack’s field names with the Bearer key', async () => {
    const reference = txRef();
    const init = await paystack.initializeTransaction({
      email: 'client@example.co.za',
      amount: 135_000,
      currency: 'ZAR',
      reference,
      metadata: { bookingId: '42' },
      callbackUrl: 'http://localhost:5173/paid',
    });
    expect(init).toEqual({ authorizationUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/checkout\/\w+$/), accessCode: expect.any(String), reference });
    expect(init.authorizationUrl.endsWith(init.accessCode)).toBe(true);
    expect(lastRequest()).toEqual({
      method: 'POST',
      path: '/transaction/initialize',
      query: {},
      authorized: true,
      body: {
        email: 'client@example.co.za',
        amount: 135_000,
        currency: 'ZAR',
        reference,
        metadata: { bookingId: '42' },
        callback_url: 'http://localhost:5173/paid',
      },
    });
    expect(fake.transaction(reference)?.status).toBe('abandoned');
  });

  it('verifies a transaction before and after it is paid', async () => {
    const reference = await initialized();
    const before = await paystack.verifyTransaction(reference);
    expect(before).toEqual({
      id: expect.any(Number),
      status: 'abandoned',
      reference,
      amount: 42_000,
      currency: 'ZAR',
      paidAt: null,
      metadata: { bookingId: '7' },
      fees: null,
    });

    expect((await fake.completeCharge(reference)).status).toBe(200);
    const after = await paystack.verifyTransaction(reference);
    // Paystack's fee is known once the charge succeeds.
    expect(after).toEqual({ ...before, status: 'success', paidAt: expect.any(String), fees: expect.any(Number) });
    expect(Number.isNaN(Date.parse(after.paidAt!))).toBe(false);
    expect(lastRequest()).toEqual(expect.objectContaining({ method: 'GET', path: `/transaction/verify/${reference}`, authorized: true }));
  });

  it('passes metadata through untyped: "" when none was sent', async () => {
    const reference = await initialized(5_000, null);
    expect((await paystack.verifyTransaction(reference)).metadata).toBe('');
  });

  it('URL-encodes the reference in the path', async () => {
    const reference = `ref.${++n}=x`;
    await paystack.initializeTransaction({ email: 'a@example.co.za', amount: 100, currency: 'ZAR', reference });
    expect((await paystack.verifyTransaction(reference)).reference).toBe(reference);
    expect(lastRequest().path).toBe(`/transaction/verify/ref.${n}%3Dx`);
  });

  it('creates a basa transfer recipient once per account', async () => {
    const code = await recipient('62000011111');
    expect(code).toMatch(/^RCP_\w+$/);
    expect(lastRequest()).toEqual(
      expect.objectContaining({
        method: 'POST',
        path: '/transferrecipient',
        body: { type: 'basa', name: 'Thandi Nkosi', account_number: '62000011111', bank_code: '632005', currency: 'ZAR' },
      }),
    );
    expect(await recipient('62000011111')).toBe(code);
    expect(await recipient('62000022222')).not.toBe(code);
  });

  it('initiates a transfer from the balance in ZAR, and verifies it as it settles', async () => {
    const rcp = await recipient();
    const reference = payoutRef();
    const t = await paystack.initiateTransfer({ amount: 121_500, recipient: rcp, reference, reason: 'Booking 7', currency: 'ZAR' });
    expect(t).toEqual({ transferCode: expect.stringMatching(/^TRF_\w+$/), status: 'pending', reference });
    expect(lastRequest().body).toEqual({ source: 'balance', amount: 121_500, recipient: rcp, reference, reason: 'Booking 7', currency: 'ZAR' });

    expect(await paystack.verifyTransfer(reference)).toEqual({ status: 'pending', reference, transferCode: t.transferCode, amount: 121_500, currency: 'ZAR' });
    await fake.settleTransfer(reference, 'success');
    expect((await paystack.verifyTransfer(reference)).status).toBe('success');
  });

  it('requests a refund by our reference, whole or partial', async () => {
    const whole = await initialized();
    await fake.completeCharge(whole);
    expect(await paystack.refund({ transaction: whole })).toEqual({ status: 'pending' });
    expect(lastRequest().body).toEqual({ transaction: whole });
    expect(fake.refundsOf(whole)).toEqual([expect.objectContaining({ amount: 42_000, status: 'pending' })]);

    const part = await initialized();
    await fake.completeCharge(part);
    await paystack.refund({ transaction: part, amount: 10_000 });
    expect(lastRequest().body).toEqual({ transaction: part, amount: 10_000 });
    expect(fake.refundsOf(part)).toEqual([expect.objectContaining({ amount: 10_000 })]);
  });
});

describe('Paystack client, failures', () => {
  it('a wrong key is PAYSTACK_REJECTED (401, "Invalid key"), and no error carries either key', async () => {
    const err = await paystackError(client({ secretKey: WRONG_KEY }).verifyTransaction('anything'));
    expect(err).toMatchObject({ code: 'PAYSTACK_REJECTED', message: 'Invalid key', httpStatus: 401, operation: 'GET /transaction/verify/anything' });
    expect(lastRequest().authorized).toBe(false);

    const unreachable = await paystackError(
      createPaystackClient({ baseUrl: 'http://127.0.0.1:1', secretKey: WRONG_KEY, timeoutMs: 2_000 }).verifyTransaction('x'),
    );
    for (const e of [err, unreachable]) {
      const everything = [e.message, e.stack, JSON.stringify(e), JSON.stringify(e.details), String(e.cause), (e.cause as Error | undefined)?.stack].join('\n');
      expect(everything).not.toContain(WRONG_KEY);
      expect(everything).not.toContain(KEY);
    }
  });

  it('Paystack’s 400s are PAYSTACK_REJECTED with Paystack’s message', async () => {
    const reference = await initialized();
    const dup = await paystackError(paystack.initializeTransaction({ email: 'b@example.co.za', amount: 100, currency: 'ZAR', reference }));
    expect(dup).toMatchObject({ code: 'PAYSTACK_REJECTED', message: 'Duplicate Transaction Reference', httpStatus: 400 });

    const noRecipient = await paystackError(
      paystack.initiateTransfer({ amount: 100, recipient: 'RCP_doesnotexist', reference: payoutRef(), reason: 'x', currency: 'ZAR' }),
    );
    expect(noRecipient).toMatchObject({
      code: 'PAYSTACK_REJECTED',
      message: 'Recipient specified is invalid',
      httpStatus: 400,
      providerCode: 'invalid_transfer_recipient',
    });

    const badRef = await paystackError(
      paystack.initiateTransfer({ amount: 100, recipient: await recipient(), reference: 'Payout-With-CAPITALS-123', reason: 'x', currency: 'ZAR' }),
    );
    expect(badRef).toMatchObject({ code: 'PAYSTACK_REJECTED', message: 'Your reference contains illegal special characters' });

    const badBank = await paystackError(paystack.createTransferRecipient({ name: 'A', accountNumber: '0123456789', bankCode: '999999', currency: 'ZAR' }));
    expect(badBank).toMatchObject({ code: 'PAYSTACK_REJECTED', message: 'Unknown bank code', httpStatus: 400 });

    const unknown = await paystackError(paystack.verifyTransfer('payout_not_a_transfer_we_sent'));
    expect(unknown).toMatchObject({ code: 'PAYSTACK_REJECTED', message: 'Transfer not found', httpStatus: 404 });
  });

  it('status:false on a 200 is PAYSTACK_REJECTED too', async () => {
    fake.failNext('POST', '/refund', { status: 200, body: { status: false, message: 'Transaction has been fully reversed' } });
    const err = await paystackError(paystack.refund({ transaction: 'whatever' }));
    expect(err).toMatchObject({ code: 'PAYSTACK_REJECTED', message: 'Transaction has been fully reversed', httpStatus: 200 });
  });

  it.each([
    ['a 500', { status: 500, body: { status: false, message: 'An error occurred' } }, 500],
    ['a 502 HTML page', { status: 502, body: '<html><body>Bad gateway</body></html>' }, 502],
    ['a 429 (rate limited: retry later, not a refusal)', { status: 429, body: { status: false, message: 'Please wait a few minutes and try again.' } }, 429],
    ['a 200 that is not JSON', { status: 200, body: 'OK' }, 200],
    ['a 200 that is not the envelope', { status: 200, body: { ok: true } }, 200],
    ['a 200 whose data lacks what we need', { status: 200, body: { status: true, message: 'Transfer has been queued', data: { status: 'pending' } } }, 200],
  ])('%s is PAYSTACK_UNAVAILABLE', async (_what, spec, httpStatus) => {
    fake.failNext('POST', '/transfer', spec);
    const err = await paystackError(
      paystack.initiateTransfer({ amount: 100, recipient: await recipient(), reference: payoutRef(), reason: 'x', currency: 'ZAR' }),
    );
    expect(err).toMatchObject({ code: 'PAYSTACK_UNAVAILABLE', httpStatus });
  });

  it('a dropped connection or a closed port is PAYSTACK_UNAVAILABLE', async () => {
    fake.failNext('GET', '/transaction/verify', { reset: true });
    expect(await paystackError(paystack.verifyTransaction('abc'))).toMatchObject({ code: 'PAYSTACK_UNAVAILABLE', httpStatus: undefined });
    const closed = createPaystackClient({ baseUrl: 'http://127.0.0.1:1', secretKey: KEY, timeoutMs: 2_000 });
    expect(await paystackError(closed.verifyTransaction('abc'))).toMatchObject({ code: 'PAYSTACK_UNAVAILABLE' });
  });

  it('a slow answer is PAYSTACK_TIMEOUT, and the outcome really is unknown: the transfer went out', async () => {
    const quick = client({ timeoutMs: 200 });
    const rcp = await recipient();
    const reference = payoutRef();
    fake.failNext('POST', '/transfer', { delayMs: 10_000 });
    const started = Date.now();
    const err = await paystackError(quick.initiateTransfer({ amount: 5_000, recipient: rcp, reference, reason: 'x', currency: 'ZAR' }));
    expect(err).toMatchObject({ code: 'PAYSTACK_TIMEOUT', httpStatus: undefined, operation: 'POST /transfer' });
    expect(Date.now() - started).toBeLessThan(5_000);

    // Paystack had queued it: a retry with the same reference is refused, verify tells the truth.
    expect(fake.transfer(reference)?.status).toBe('pending');
    const retry = await paystackError(quick.initiateTransfer({ amount: 5_000, recipient: rcp, reference, reason: 'x', currency: 'ZAR' }));
    expect(retry).toMatchObject({ code: 'PAYSTACK_REJECTED', message: 'Please provide a unique reference. Reference already exists on a transfer' });
    expect(await quick.verifyTransfer(reference)).toEqual(expect.objectContaining({ status: 'pending', reference }));
  });

  it('failNext matches whole path segments: /transfer is not /transferrecipient', async () => {
    fake.failNext('POST', '/transfer', { status: 500, body: {} });
    await expect(recipient('62000033333')).resolves.toMatch(/^RCP_/);
    await expect(
      paystackError(paystack.initiateTransfer({ amount: 1, recipient: 'RCP_x', reference: payoutRef(), reason: 'x', currency: 'ZAR' })),
    ).resolves.toMatchObject({
      httpStatus: 500,
    });
  });

  it('never sends a fractional, zero or negative amount', async () => {
    const before = fake.requests.length;
    for (const amount of [100.5, 0, -100, Number.NaN]) {
      await expect(paystack.initializeTransaction({ email: 'a@example.co.za', amount, currency: 'ZAR', reference: txRef() })).rejects.toThrow(RangeError);
      await expect(paystack.initiateTransfer({ amount, recipient: 'RCP_x', reference: payoutRef(), reason: 'x', currency: 'ZAR' })).rejects.toThrow(RangeError);
    }
    expect(fake.requests.length).toBe(before);
  });
});

/** A bare local HTTP server for what the fake cannot do: it counts connections and keeps its sockets. */
async function startServer(handler: http.RequestListener) {
  const server = http.createServer(handler);
  const sockets = new Set<Socket>();
  const requests: http.IncomingMessage[] = [];
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage) => requests.push(req));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Server-side sockets still open. */
    sockets,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const VERIFIED = JSON.stringify({
  status: true,
  message: 'Verification successful',
  data: { id: 1, status: 'success', reference: 'r1', amount: 5_000, currency: 'ZAR', paid_at: '2026-01-01T10:00:00.000Z', metadata: '' },
});

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Resolves once `check()` holds, polling; rejects after `ms`. */
async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Paystack client, its connections', () => {
  let servers: Array<{ close(): Promise<void> }> = [];
  const local = async (handler: http.RequestListener) => {
    const s = await startServer(handler);
    servers.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  it.each([301, 302, 303, 307, 308])('a %i redirect is PAYSTACK_UNAVAILABLE with its status, and its Location is never contacted', async (status) => {
    const elsewhere = await local((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(VERIFIED));
    const redirecting = await local((_req, res) =>
      // An envelope that would read as a refusal (or a success) if the body were taken at face value.
      res
        .writeHead(status, { Location: `${elsewhere.url}/transaction/verify/r1`, 'Content-Type': 'application/json' })
        .end('{"status":false,"message":"Moved"}'),
    );
    const c = createPaystackClient({ baseUrl: redirecting.url, secretKey: KEY, timeoutMs: 2_000 });
    try {
      const err = await paystackError(c.verifyTransaction('r1'));
      expect(err).toMatchObject({ code: 'PAYSTACK_UNAVAILABLE', httpStatus: status, operation: 'GET /transaction/verify/r1' });
      expect(redirecting.requests).toHaveLength(1);
      // Give a follower time to get there, then check nothing did.
      await new Promise((r) => setTimeout(r, 100));
      expect(elsewhere.connections()).toBe(0);
      expect(elsewhere.requests).toHaveLength(0);
    } finally {
      await c.close();
    }
  });

  it('sequential calls reuse one kept-alive connection, each with the key, JSON and nothing compressed', async () => {
    const server = await local((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(VERIFIED));
    const c = createPaystackClient({ baseUrl: server.url, secretKey: KEY, timeoutMs: 2_000 });
    try {
      for (let i = 0; i < 5; i++) {
        expect((await c.verifyTransaction('r1')).reference).toBe('r1');
        // undici reuses a socket one event-loop turn after its response (in case the server closes
        // it after all), so a call made in that same turn opens a second one. A server's calls are
        // that far apart anyway: each follows database I/O.
        await nextTurn();
      }
      expect(server.requests).toHaveLength(5);
      expect(server.connections()).toBe(1);
      for (const req of server.requests) {
        expect(req.headers).toMatchObject({ authorization: `Bearer ${KEY}`, accept: 'application/json', 'content-type': 'application/json' });
        expect(req.headers['accept-encoding']).toBeUndefined();
      }
    } finally {
      await c.close();
    }
  });

  it('close() ends the kept-alive connection (the server sees it close); a call after it is PAYSTACK_UNAVAILABLE', async () => {
    const server = await local((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(VERIFIED));
    const c = createPaystackClient({ baseUrl: server.url, secretKey: KEY, timeoutMs: 2_000 });
    await c.verifyTransaction('r1');
    await nextTurn();
    await c.verifyTransaction('r1');
    expect(server.sockets.size).toBe(1);
    await c.close();
    await until(() => server.sockets.size === 0);
    expect(server.connections()).toBe(1);
    await c.close(); // idempotent
    expect(await paystackError(c.verifyTransaction('r1'))).toMatchObject({ code: 'PAYSTACK_UNAVAILABLE', httpStatus: undefined });
    expect(server.connections()).toBe(1);
  });

  it('close() lets a call in flight finish first', async () => {
    const server = await local((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'Content-Type': 'application/json' }).end(VERIFIED), 100);
    });
    const c = createPaystackClient({ baseUrl: server.url, secretKey: KEY, timeoutMs: 2_000 });
    const call = c.verifyTransaction('r1');
    await until(() => server.requests.length === 1);
    await c.close();
    await expect(call).resolves.toMatchObject({ reference: 'r1' });
    await until(() => server.sockets.size === 0);
  });

  it('a body that stalls halfway is PAYSTACK_TIMEOUT: the timeout covers reading the body', async () => {
    const server = await local((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(VERIFIED)) });
      res.write(VERIFIED.slice(0, 20)); // and never the rest
    });
    const c = createPaystackClient({ baseUrl: server.url, secretKey: KEY, timeoutMs: 200 });
    try {
      const started = Date.now();
      const err = await paystackError(c.verifyTransaction('r1'));
      expect(err).toMatchObject({ code: 'PAYSTACK_TIMEOUT', httpStatus: undefined });
      expect(Date.now() - started).toBeLessThan(1_500);
      // The stalled connection is given up, not kept for the next call.
      await until(() => server.sockets.size === 0);
    } finally {
      await c.close();
    }
  });
});

describe('Paystack client, lenient parsing', () => {
  it('coerces amounts and ids sent as strings, and upper-cases the currency', async () => {
    fake.failNext('GET', '/transaction/verify', {
      status: 200,
      body: {
        status: true,
        message: 'Verification successful',
        data: {
          id: '302961',
          status: 'success',
          reference: 'qTPrJoy9Bx',
          amount: '42000',
          currency: 'zar',
          paidAt: '2026-01-01T10:00:00.000Z',
          metadata: 0,
          fees: '1218',
          extra: { x: 1 },
        },
      },
    });
    expect(await paystack.verifyTransaction('qTPrJoy9Bx')).toEqual({
      id: 302961,
      status: 'success',
      reference: 'qTPrJoy9Bx',
      amount: 42_000,
      currency: 'ZAR',
      paidAt: '2026-01-01T10:00:00.000Z',
      metadata: 0,
      fees: 1_218,
    });

    fake.failNext('GET', '/transfer/verify', {
      status: 200,
      body: {
        status: true,
        message: 'Transfer retrieved',
        data: { status: 'success', reference: 'r', transfer_code: 'TRF_1', amount: '5000', currency: 'ZAR' },
      },
    });
    expect((await paystack.verifyTransfer('r')).amount).toBe(5_000);
  });

  it('refuses an amount that is not a whole number of subunits (PAYSTACK_UNAVAILABLE, not a guess)', async () => {
    for (const amount of ['50.25', '', null, 'abc']) {
      fake.failNext('GET', '/transfer/verify', {
        status: 200,
        body: { status: true, message: 'Transfer retrieved', data: { status: 'success', reference: 'r', transfer_code: 'TRF_1', amount, currency: 'ZAR' } },
      });
      expect(await paystackError(paystack.verifyTransfer('r'))).toMatchObject({ code: 'PAYSTACK_UNAVAILABLE' });
    }
  });
});

describe('webhook signatures', () => {
  const body = Buffer.from(JSON.stringify({ event: 'charge.success', data: { id: 1, reference: 'abc', amount: 15000 } }));
  const good = signPaystackBody(body, KEY);

  it('signs as lowercase hex HMAC-SHA512 of the exact bytes', () => {
    expect(good).toMatch(/^[0-9a-f]{128}$/);
    expect(good).toBe(crypto.createHmac('sha512', KEY).update(body).digest('hex'));
    expect(signPaystackBody(body.toString('utf8'), KEY)).toBe(good);
    expect(isValidPaystackSignature(body, good, KEY)).toBe(true);
  });

  it('rejects, without throwing, every signature that is not exactly right', () => {
    const changed = Buffer.from(body);
    changed[10] ^= 1;
    const cases: [string, Buffer, string | undefined, string][] = [
      ['a changed byte', changed, good, KEY],
      ['re-serialised JSON with different spacing', Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1)), good, KEY],
      ['a wrong key', body, good, WRONG_KEY],
      ['a missing header', body, undefined, KEY],
      ['an empty header', body, '', KEY],
      ['a non-hex header of the right length', body, 'z'.repeat(128), KEY],
      ['a header one character short', body, good.slice(0, -1), KEY],
      ['a header one byte long', body, `${good}00`, KEY],
      ['a SHA-256-sized header', body, good.slice(0, 64), KEY],
      ['a multi-byte header of the right length', body, 'é'.repeat(128), KEY],
      ['a signature of another body', body, signPaystackBody('{}', KEY), KEY],
      ['an empty secret', body, signPaystackBody(body, ''), ''],
    ];
    for (const [what, raw, header, secret] of cases) {
      let result: boolean | undefined;
      expect(() => {
        result = isValidPaystackSignature(raw, header, secret);
      }).not.toThrow();
      expect({ what, result }).toEqual({ what, result: false });
    }
    expect(() => isValidPaystackSignature('not a buffer' as unknown as Buffer, good, KEY)).not.toThrow();
    expect(isValidPaystackSignature(undefined as unknown as Buffer, good, KEY)).toBe(false);
  });
});

describe('the fake’s webhooks reach their target, signed', () => {
  const since = () => {
    const start = recorder.received.length;
    return () => recorder.received.slice(start);
  };
  const json = (r: Received) => JSON.parse(r.raw.toString('utf8')) as { event: string; data: Record<string, any> };

  it('charge.success: the realistic payload, signed with the secret key over the raw body', async () => {
    const reference = await initialized(42_000, { bookingId: '99', note: 'ünïcode' });
    const got = since();
    const res = await fake.completeCharge(reference);
    expect(res).toEqual({ status: 200, body: { received: true } });

    const [hook] = got();
    expect(got()).toHaveLength(1);
    expect(hook.method).toBe('POST');
    expect(hook.headers['content-type']).toBe('application/json');
    expect(isValidPaystackSignature(hook.raw, hook.headers['x-paystack-signature'] as string, KEY)).toBe(true);
    expect(isValidPaystackSignature(hook.raw, hook.headers['x-paystack-signature'] as string, WRONG_KEY)).toBe(false);
    const { event, data } = json(hook);
    expect(event).toBe('charge.success');
    expect(data).toEqual(
      expect.objectContaining({
        id: fake.transaction(reference)!.id,
        status: 'success',
        reference,
        amount: 42_000,
        currency: 'ZAR',
        paid_at: expect.any(String),
        channel: 'card',
        metadata: { bookingId: '99', note: 'ünïcode' },
        customer: expect.objectContaining({ email: 'client@example.co.za', customer_code: expect.stringMatching(/^CUS_/) }),
        authorization: expect.objectContaining({ authorization_code: expect.stringMatching(/^AUTH_/), last4: expect.any(String) }),
      }),
    );
  });

  it('completeCharge overrides change what verify reports, not only the webhook', async () => {
    const reference = await initialized();
    const got = since();
    await fake.completeCharge(reference, { amount: 100, currency: 'USD' });
    expect(json(got()[0]).data).toEqual(expect.objectContaining({ amount: 100, currency: 'USD' }));
    expect(await paystack.verifyTransaction(reference)).toEqual(expect.objectContaining({ amount: 100, currency: 'USD', status: 'success' }));
  });

  it('transfer.success / failed / reversed carry the transfer, its recipient and Paystack’s mixed casing', async () => {
    const rcp = await recipient();
    const refs = [payoutRef(), payoutRef()];
    for (const reference of refs) await paystack.initiateTransfer({ amount: 7_000, recipient: rcp, reference, reason: 'Booking', currency: 'ZAR' });
    const got = since();
    await fake.settleTransfer(refs[0], 'success');
    await fake.settleTransfer(refs[0], 'reversed');
    await fake.settleTransfer(refs[1], 'failed');
    const hooks = got().map(json);
    expect(hooks.map((h) => [h.event, h.data.reference, h.data.status])).toEqual([
      ['transfer.success', refs[0], 'success'],
      ['transfer.reversed', refs[0], 'reversed'],
      ['transfer.failed', refs[1], 'failed'],
    ]);
    for (const r of got()) expect(isValidPaystackSignature(r.raw, r.headers['x-paystack-signature'] as string, KEY)).toBe(true);
    expect(hooks[0].data).toEqual(
      expect.objectContaining({
        transfer_code: fake.transfer(refs[0])!.transferCode,
        amount: 7_000,
        currency: 'ZAR',
        createdAt: expect.any(String),
        integration: expect.objectContaining({ id: expect.any(Number) }),
        recipient: expect.objectContaining({ recipient_code: rcp, type: 'basa', details: expect.objectContaining({ bank_code: '632005' }) }),
      }),
    );
    expect(hooks[1].data).toEqual(
      expect.objectContaining({ created_at: expect.any(String), transferred_at: expect.any(String), session: { provider: 'nip', id: expect.any(String) } }),
    );
    expect(fake.transfer(refs[1])?.status).toBe('failed');
  });

  it('refund.processed sends the amount as a string, and the transaction becomes reversed', async () => {
    const reference = await initialized(30_000);
    await fake.completeCharge(reference);
    await paystack.refund({ transaction: reference });
    const got = since();
    expect((await fake.processRefund(reference)).status).toBe(200);
    const { event, data } = json(got()[0]);
    expect(event).toBe('refund.processed');
    expect(data).toEqual(
      expect.objectContaining({
        status: 'processed',
        transaction_reference: reference,
        amount: '30000',
        currency: 'ZAR',
        refund_reference: expect.any(String),
      }),
    );
    expect((await paystack.verifyTransaction(reference)).status).toBe('reversed');
    await expect(fake.processRefund(reference)).rejects.toThrow(/no pending refund/);
  });

  it('postWebhook crafts bad signatures and malformed bodies; resendLastWebhook repeats the exact bytes', async () => {
    const got = since();
    await fake.postWebhook('charge.success', { id: 1 }, { signature: 'abc' });
    await fake.postWebhook('charge.success', { id: 2 }, { signature: '' });
    await fake.postWebhook('charge.success', null, { rawBody: '{"event": "charge.success", ' });
    await fake.resendLastWebhook();
    const [bad, none, malformed, again] = got();
    expect(bad.headers['x-paystack-signature']).toBe('abc');
    expect(isValidPaystackSignature(bad.raw, 'abc', KEY)).toBe(false);
    expect(none.headers['x-paystack-signature']).toBeUndefined();
    expect(malformed.raw.toString()).toBe('{"event": "charge.success", ');
    expect(isValidPaystackSignature(malformed.raw, malformed.headers['x-paystack-signature'] as string, KEY)).toBe(true);
    expect(again.raw.equals(malformed.raw)).toBe(true);
    expect(again.headers['x-paystack-signature']).toBe(malformed.headers['x-paystack-signature']);
  });

  it('the checkout page’s Pay button completes the charge and redirects to the callback URL', async () => {
    const reference = txRef();
    const init = await paystack.initializeTransaction({
      email: 'demo@example.co.za',
      amount: 25_000,
      currency: 'ZAR',
      reference,
      callbackUrl: 'http://localhost:5173/bookings/1?tab=pay',
    });
    const page = await fetch(init.authorizationUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('ZAR 250.00');

    const got = since();
    const paid = await fetch(`${init.authorizationUrl}/pay`, { method: 'POST', redirect: 'manual' });
    expect(paid.status).toBe(303);
    const location = new URL(paid.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('http://localhost:5173/bookings/1');
    expect(Object.fromEntries(location.searchParams)).toEqual({ tab: 'pay', trxref: reference, reference });
    expect(got().map((r) => json(r).event)).toEqual(['charge.success']);
    expect(fake.transaction(reference)?.status).toBe('success');
  });
});
