import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The hex HMAC-SHA512 of the body, keyed with the secret key, that Paystack puts in
 * `x-paystack-signature`. Computed here, apart from the server's check, so that the fake signs as
 * Paystack documents it rather than as our verifier expects it.
 */
export function signPaystackBody(rawBody: Buffer | string, secret: string): string {
  return crypto.createHmac('sha512', secret).update(rawBody).digest('hex');
}

/*
 * A local stand-in for api.paystack.co: the six calls the app makes, with Paystack's request
 * checks, response envelopes and messages (../shared/paystack.md §4; messages from Paystack's
 * published error list, PaystackOSS/openapi errors/api-errors.json, where it has one), plus the
 * signed webhooks Paystack would send, fired on demand by the test.
 *
 * It is a fake, not a simulator: it keeps just enough state for the app's flows to be real
 * HTTP end to end, and lets a test inject one failure or delay at a time.
 */

export const DEFAULT_FAKE_SECRET = 'sk_test_local_fake_paystack_key';

export interface FakePaystackOptions {
  /** The key every API call must carry, and that signs the webhooks. */
  secretKey?: string;
  port?: number;
  host?: string;
  /** Where the checkout page is reachable from a browser (defaults to the listening address). */
  publicUrl?: string;
  /** Currencies this "integration" accepts; Paystack answers "Currency not supported by merchant" to others. */
  currencies?: string[];
  /** Bank code → bank name accepted for recipients; others get "Unknown bank code". Defaults to five big ZA banks. */
  banks?: Record<string, string>;
  /** How long a webhook POST may take (Paystack's test mode allows 30 s). */
  webhookTimeoutMs?: number;
  /** One line per request handled and per webhook sent (the standalone runner prints them). */
  log?: (line: string) => void;
}

export interface LoggedRequest {
  method: string;
  /** As received, without the query string (so still URL-encoded). */
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** Whether the request carried the right `Authorization: Bearer <secret>` (the header itself is not kept). */
  authorized: boolean;
}

export interface WebhookResponse {
  status: number;
  /** Parsed JSON when it is JSON, else the text. */
  body: unknown;
}

export interface SentWebhook {
  event: string;
  rawBody: string;
  signature: string;
  response: WebhookResponse;
}

/** One injected outcome for the next matching request. */
export type FailSpec =
  /** Answer this instead of handling the request (nothing is recorded). `body`: an object is sent as JSON, a string as-is. */
  | { status: number; body?: unknown; delayMs?: number }
  /** Handle the request normally, but hold the response back this long (the client may time out meanwhile). */
  | { delayMs: number }
  /** Drop the connection without answering (nothing is recorded). */
  | { reset: true };

export type TransactionStatus = 'abandoned' | 'success' | 'failed' | 'reversed' | 'ongoing' | 'pending';
export type TransferStatus = 'pending' | 'otp' | 'success' | 'failed' | 'reversed';

export interface FakeTransaction {
  id: number;
  reference: string;
  accessCode: string;
  email: string;
  amount: number;
  requestedAmount: number;
  currency: string;
  /** As sent at initialize (undefined when none was). */
  metadata: unknown;
  callbackUrl: string | null;
  status: TransactionStatus;
  createdAt: string;
  paidAt: string | null;
  customer: { id: number; customerCode: string };
  authorizationCode: string | null;
  refunded: number;
}

export interface FakeRecipient {
  id: number;
  recipientCode: string;
  type: string;
  name: string;
  currency: string;
  accountNumber: string;
  bankCode: string;
  bankName: string;
  createdAt: string;
}

export interface FakeTransfer {
  id: number;
  transferCode: string;
  reference: string;
  amount: number;
  currency: string;
  reason: string | null;
  recipient: FakeRecipient;
  status: TransferStatus;
  createdAt: string;
  updatedAt: string;
  transferredAt: string | null;
}

export interface FakeRefund {
  id: number;
  transactionReference: string;
  amount: number;
  currency: string;
  status: 'pending' | 'processed' | 'failed' | 'needs-attention';
  refundReference: string | null;
  createdAt: string;
}

type Reply = { status: number; body: unknown };

const ZA_BANKS: Record<string, string> = {
  '632005': 'Absa Bank Limited, South Africa',
  '470010': 'Capitec Bank Limited',
  '250655': 'First National Bank',
  '198765': 'Nedbank',
  '051001': 'Standard Bank South Africa',
};
const ALL_CURRENCIES = ['NGN', 'GHS', 'ZAR', 'KES', 'USD'];
const RECIPIENT_TYPES = ['nuban', 'ghipss', 'mobile_money', 'basa', 'kepss', 'authorization'];
const INTEGRATION = { id: 100001, is_live: false, business_name: 'Fake Paystack (test)' };
/** Paystack: "only -, ., = and alphanumeric characters are allowed". */
const TRANSACTION_REFERENCE = /^[A-Za-z0-9.=-]+$/;
/** Paystack: lowercase alphanumerics, `-` and `_`; at least 16 (third-party: at most 50). */
const TRANSFER_REFERENCE_CHARS = /^[a-z0-9_-]+$/;
const MAX_BODY = 1024 * 1024;

const ok = (message: string, data: unknown, status = 200): Reply => ({ status, body: { status: true, message, data } });
const no = (status: number, message: string, extra: Record<string, unknown> = {}): Reply => ({
  status,
  body: { status: false, message, ...extra },
});
const now = () => new Date().toISOString();
const code = (prefix: string) => `${prefix}_${crypto.randomBytes(8).toString('hex').slice(0, 15)}`;
const isPositiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
/** Paystack takes amounts as integers or integer strings ("20000", as in its own docs). */
const toAmount = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
/** A request field as text: a string or number as it is, anything else (an object, a list) as its JSON. */
const asText = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v));
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class FakePaystack {
  readonly secretKey: string;
  /** Every request received, oldest first. */
  readonly requests: LoggedRequest[] = [];
  /** Every webhook posted, oldest first. */
  readonly webhooks: SentWebhook[] = [];

  private server: http.Server | undefined;
  private baseUrl = '';
  private returnLink: ((email: string) => string | undefined) | undefined;
  private webhookTarget: string | undefined;
  private readonly faults: { method: string; pathPrefix: string; spec: FailSpec }[] = [];
  private transferHook: ((reference: string) => Promise<void> | void) | undefined;
  private refundHook: ((transactionReference: string) => Promise<void> | void) | undefined;
  private readonly pendingDelays = new Set<() => void>();
  private nextId = 4_000_000 + crypto.randomInt(1_000_000);

  private readonly transactions = new Map<string, FakeTransaction>();
  private readonly byAccessCode = new Map<string, FakeTransaction>();
  private readonly recipients = new Map<string, FakeRecipient>();
  private readonly transfers = new Map<string, FakeTransfer>();
  private readonly refunds: FakeRefund[] = [];
  private readonly customers = new Map<string, { id: number; customerCode: string }>();

  constructor(private readonly options: FakePaystackOptions = {}) {
    this.secretKey = options.secretKey ?? DEFAULT_FAKE_SECRET;
  }

  // ---------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<{ url: string }> {
    if (this.server) return { url: this.baseUrl };
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent && !res.destroyed) send(res, { status: 500, body: { status: false, message: String(err) } });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const host = this.options.host && this.options.host !== '0.0.0.0' && this.options.host !== '::' ? this.options.host : '127.0.0.1';
    this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return { url: this.baseUrl };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const release of [...this.pendingDelays]) release();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  get url(): string {
    return this.baseUrl;
  }

  // ---------------------------------------------------------------------------------------
  // Test controls

  /** Every API answer (not the checkout page) is held back this long: a slow Paystack. */
  latencyMs = 0;

  /**
   * Awaited after each webhook's answer, before the method that sent it returns (tests wait there
   * for the app to settle it, since the app answers before settling). Not awaited for webhooks
   * sent from inside a transfer or refund hook: the app may be waiting on that very call.
   */
  afterWebhook: ((sent: { rawBody: string; response: WebhookResponse }) => Promise<void>) | undefined;
  private hookDepth = 0;

  /** As if OTP were turned on in the Paystack dashboard: transfers answer `status: "otp"`. */
  transferOtp = false;

  /**
   * The oldest pending refund of this transaction fails (`failed`: the money is back in our
   * balance; `needs-attention`: Paystack needs the customer's bank details), and
   * `refund.<status>` is posted.
   */
  async failRefund(transactionReference: string, status: 'failed' | 'needs-attention' = 'failed'): Promise<WebhookResponse> {
    const t = this.mustTransaction(transactionReference);
    const refund = this.refunds.find((r) => r.transactionReference === transactionReference && r.status === 'pending');
    if (!refund) throw new Error(`FakePaystack: no pending refund for transaction ${transactionReference}`);
    refund.status = status;
    if (status === 'failed') t.refunded -= refund.amount;
    return this.postWebhook(`refund.${status}`, {
      status,
      transaction_reference: t.reference,
      refund_reference: null,
      // A number here, as in Paystack's refund.failed sample (a string in the others).
      amount: refund.amount,
      currency: refund.currency,
      processor: 'mpgs_zen',
      customer: { first_name: null, last_name: null, email: t.email },
      integration: INTEGRATION.id,
      domain: 'test',
      ...(status === 'needs-attention' ? { id: refund.id, customer_note: 'Refund for transaction', merchant_note: 'Refund for transaction' } : {}),
    });
  }

  setWebhookTarget(url: string | undefined): void {
    this.webhookTarget = url;
  }

  /** Where the checkout's "Back to your bookings" leads, by the payer's email (a demo's dashboard). */
  setReturnLink(link: ((email: string) => string | undefined) | undefined): void {
    this.returnLink = link;
  }

  /**
   * The customer pays: the transaction becomes `success` (or `overrides.status`), with the
   * overridden amount/currency if given (so verify reports them too), and a signed
   * `charge.success` is posted to the webhook target. Returns the target's answer.
   */
  async completeCharge(reference: string, overrides: { amount?: number; currency?: string; status?: TransactionStatus } = {}): Promise<WebhookResponse> {
    const t = this.markPaid(reference, overrides);
    return this.postWebhook('charge.success', this.chargeData(t, 'webhook'));
  }

  /** The customer pays, but no webhook is sent (for tests that deliver webhooks themselves). */
  markPaid(reference: string, overrides: { amount?: number; currency?: string; status?: TransactionStatus } = {}) {
    const t = this.mustTransaction(reference);
    if (overrides.amount !== undefined) t.amount = overrides.amount;
    if (overrides.currency !== undefined) t.currency = overrides.currency;
    t.status = overrides.status ?? 'success';
    t.paidAt = now();
    t.authorizationCode ??= code('AUTH');
    return t;
  }

  /** The bank settles a transfer: its state changes and `transfer.<outcome>` is posted. */
  async settleTransfer(reference: string, outcome: 'success' | 'failed' | 'reversed'): Promise<WebhookResponse> {
    const t = this.transfers.get(reference);
    if (!t) throw new Error(`FakePaystack: no transfer with reference ${reference}`);
    t.status = outcome;
    t.updatedAt = now();
    if (outcome !== 'failed') t.transferredAt ??= t.updatedAt;
    return this.postWebhook(`transfer.${outcome}`, this.transferWebhookData(t));
  }

  /** The oldest pending refund of this transaction is processed, and `refund.processed` is posted. */
  async processRefund(transactionReference: string): Promise<WebhookResponse> {
    const t = this.mustTransaction(transactionReference);
    const refund = this.refunds.find((r) => r.transactionReference === transactionReference && r.status === 'pending');
    if (!refund) throw new Error(`FakePaystack: no pending refund for transaction ${transactionReference}`);
    refund.status = 'processed';
    refund.refundReference = String(100_000_000_000 + crypto.randomInt(900_000_000_000));
    if (t.refunded >= t.amount) t.status = 'reversed';
    return this.postWebhook('refund.processed', {
      status: 'processed',
      transaction_reference: t.reference,
      refund_reference: refund.refundReference,
      // A string, as in Paystack's own samples for processed/pending/processing.
      amount: String(refund.amount),
      currency: refund.currency,
      processor: 'mpgs_zen',
      customer: { first_name: null, last_name: null, email: t.email },
      integration: INTEGRATION.id,
      domain: 'test',
    });
  }

  /**
   * Posts `{event, data}` (or `rawBody` verbatim) to the webhook target, signed with the secret
   * unless `signature` is given (use it for wrong or missing signatures: '' sends none).
   */
  async postWebhook(event: string, data: unknown, opts: { signature?: string; rawBody?: string } = {}): Promise<WebhookResponse> {
    const rawBody = opts.rawBody ?? JSON.stringify({ event, data });
    const signature = opts.signature ?? signPaystackBody(rawBody, this.secretKey);
    return this.deliver(event, rawBody, signature);
  }

  /** Sends the last webhook again, byte for byte: what Paystack's retries look like. */
  async resendLastWebhook(): Promise<WebhookResponse> {
    const last = this.webhooks[this.webhooks.length - 1];
    if (!last) throw new Error('FakePaystack: no webhook has been sent yet');
    return this.deliver(last.event, last.rawBody, last.signature);
  }

  /**
   * The next request with this method whose path is `pathPrefix` or below it (whole segments:
   * '/transfer' matches '/transfer' and '/transfer/verify/x', not '/transferrecipient') gets
   * `spec` instead of the normal answer. One-shot; several queue up in order.
   */
  failNext(method: string, pathPrefix: string, spec: FailSpec): void {
    this.faults.push({ method: method.toUpperCase(), pathPrefix: pathPrefix.replace(/\/+$/, ''), spec });
  }

  /**
   * Runs `hook(reference)` after a transfer is queued and before POST /transfer answers, so a
   * test can settle it (and deliver its webhook) while the app still waits for its call.
   */
  onTransferInitiated(hook: ((reference: string) => Promise<void> | void) | undefined): void {
    this.transferHook = hook;
  }

  /**
   * Runs `hook(transactionReference)` after a refund is queued and before POST /refund answers
   * (demo mode uses it to process the refund a moment later, as the bank would).
   */
  onRefundQueued(hook: ((transactionReference: string) => Promise<void> | void) | undefined): void {
    this.refundHook = hook;
  }

  transaction(reference: string): FakeTransaction | undefined {
    return this.transactions.get(reference);
  }

  transfer(reference: string): FakeTransfer | undefined {
    return this.transfers.get(reference);
  }

  recipient(recipientCode: string): FakeRecipient | undefined {
    return [...this.recipients.values()].find((r) => r.recipientCode === recipientCode);
  }

  refundsOf(transactionReference: string): FakeRefund[] {
    return this.refunds.filter((r) => r.transactionReference === transactionReference);
  }

  // ---------------------------------------------------------------------------------------
  // HTTP

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    let raw: string;
    try {
      raw = await readBody(req);
    } catch {
      send(res, no(413, 'Request body too large'));
      return;
    }
    let body: unknown;
    let badJson = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        badJson = true;
      }
    }
    const authorized = req.headers.authorization === `Bearer ${this.secretKey}`;
    this.requests.push({ method, path, query: Object.fromEntries(url.searchParams), body, authorized });

    const fault = this.takeFault(method, path);
    if (fault && 'reset' in fault) {
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault) {
      await this.hold(res, fault.delayMs ?? 0);
      send(res, { status: fault.status, body: fault.body ?? '' });
      return;
    }

    let reply: Reply | { html: string; status?: number } | { redirect: string };
    if (path.startsWith('/checkout/')) {
      reply = await this.checkout(method, path);
    } else {
      const denied = this.checkAuth(req.headers.authorization);
      if (denied) reply = denied;
      else if (badJson) reply = no(400, 'Invalid JSON body');
      else reply = await this.api(method, path, (body ?? {}) as Record<string, unknown>, Object.fromEntries(url.searchParams));
    }
    if (fault) await this.hold(res, fault.delayMs);
    if (this.latencyMs > 0 && !path.startsWith('/checkout/')) await this.hold(res, this.latencyMs);
    if (res.destroyed || res.writableEnded) return;
    this.options.log?.(`${method} ${path} → ${'html' in reply ? (reply.status ?? 200) : 'redirect' in reply ? 303 : reply.status}`);
    if ('html' in reply) {
      res.writeHead(reply.status ?? 200, { 'Content-Type': 'text/html; charset=utf-8' }).end(reply.html);
    } else if ('redirect' in reply) {
      res.writeHead(303, { Location: reply.redirect }).end();
    } else {
      send(res, reply);
    }
  }

  private checkAuth(header: string | undefined): Reply | undefined {
    if (!header) return no(401, 'No Authorization Header was found');
    if (!/^Bearer \S+$/.test(header)) return no(401, 'Format is Authorization Bearer [secret key]');
    if (header !== `Bearer ${this.secretKey}`) return no(401, 'Invalid key');
    return undefined;
  }

  private async api(method: string, path: string, b: Record<string, unknown>, query: Record<string, string>): Promise<Reply> {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return no(400, 'Invalid JSON body');
    const verify = /^\/(transaction|transfer)\/verify\/([^/]+)$/.exec(path);
    if (method === 'GET' && verify) {
      let reference: string;
      try {
        reference = decodeURIComponent(verify[2]);
      } catch {
        return no(400, 'Invalid reference');
      }
      return verify[1] === 'transaction' ? this.verifyTransaction(reference) : this.verifyTransfer(reference);
    }
    if (method === 'POST' && path === '/transaction/initialize') return this.initialize(b);
    if (method === 'POST' && path === '/transferrecipient') return this.createRecipient(b);
    if (method === 'POST' && path === '/transfer') return this.initiateTransfer(b);
    if (method === 'POST' && path === '/refund') return this.createRefund(b);
    if (method === 'GET' && path === '/refund') return this.listRefunds(query);
    return no(404, `FakePaystack does not implement ${method} ${path}`);
  }

  private initialize(b: Record<string, unknown>): Reply {
    const email = str(b.email);
    if (!email) return no(400, 'Email is not allowed to be empty');
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return no(400, 'Invalid Email Address Passed');
    const amount = toAmount(b.amount);
    if (amount === undefined || !Number.isSafeInteger(amount)) return no(400, 'Invalid Amount Sent');
    if (amount <= 0) return no(400, 'You must specify a valid amount');
    const currency = b.currency === undefined ? (this.options.currencies ?? ['ZAR'])[0] : str(b.currency);
    if (!currency || !(this.options.currencies ?? ALL_CURRENCIES).includes(currency)) {
      return no(400, 'Currency not supported by merchant');
    }
    const reference = b.reference === undefined ? code('T').replace('_', '') : str(b.reference);
    if (!reference || !TRANSACTION_REFERENCE.test(reference)) return no(400, 'Invalid character in transaction reference');
    if (this.transactions.has(reference)) return no(400, 'Duplicate Transaction Reference');
    if (b.metadata !== undefined && (typeof b.metadata !== 'object' || b.metadata === null) && typeof b.metadata !== 'string') {
      return no(400, 'Invalid metadata');
    }
    const callbackUrl = b.callback_url === undefined ? null : str(b.callback_url);
    if (callbackUrl === undefined) return no(400, 'Invalid callback_url');

    const accessCode = crypto.randomBytes(8).toString('hex').slice(0, 15);
    const t: FakeTransaction = {
      id: this.id(),
      reference,
      accessCode,
      email,
      amount,
      requestedAmount: amount,
      currency,
      metadata: b.metadata,
      callbackUrl,
      // What Paystack's verify reports for an initialized transaction nobody has paid yet.
      status: 'abandoned',
      createdAt: now(),
      paidAt: null,
      customer: this.customer(email),
      authorizationCode: null,
      refunded: 0,
    };
    this.transactions.set(reference, t);
    this.byAccessCode.set(accessCode, t);
    return ok('Authorization URL created', {
      authorization_url: `${this.publicUrl()}/checkout/${accessCode}`,
      access_code: accessCode,
      reference,
    });
  }

  private verifyTransaction(reference: string): Reply {
    const t = this.transactions.get(reference);
    if (!t) return no(404, 'Transaction reference not found');
    return ok('Verification successful', this.chargeData(t, 'verify'));
  }

  private createRecipient(b: Record<string, unknown>): Reply {
    const type = str(b.type);
    if (!type || !RECIPIENT_TYPES.includes(type)) return no(400, 'Invalid type');
    const name = str(b.name);
    if (!name) return no(400, 'Name is required');
    const accountNumber = str(b.account_number);
    if (!accountNumber) return no(400, 'Account number is required');
    if (!/^\d{6,20}$/.test(accountNumber)) return no(400, 'Account number is invalid');
    const bankCode = str(b.bank_code);
    if (!bankCode) return no(400, 'bank_code is required');
    const banks = this.options.banks ?? ZA_BANKS;
    const bankName = banks[bankCode];
    if (!bankName) return no(400, 'Unknown bank code');
    const currency = b.currency === undefined ? 'NGN' : str(b.currency);
    if (!currency || !ALL_CURRENCIES.includes(currency)) return no(400, 'Currency not supported by merchant');
    if (type === 'basa' && currency !== 'ZAR') return no(400, 'Currency not supported for this recipient type');

    // Paystack answers an account it already has with that recipient instead of a new one.
    const key = `${type}:${bankCode}:${accountNumber}`;
    const existing = this.recipients.get(key);
    if (existing) return ok('Transfer recipient created successfully', this.recipientData(existing));
    const r: FakeRecipient = {
      id: this.id(),
      recipientCode: code('RCP'),
      type,
      name,
      currency,
      accountNumber,
      bankCode,
      bankName,
      createdAt: now(),
    };
    this.recipients.set(key, r);
    return ok('Transfer recipient created successfully', this.recipientData(r), 201);
  }

  private async initiateTransfer(b: Record<string, unknown>): Promise<Reply> {
    if (b.source !== 'balance') return no(400, 'Invalid source');
    const amount = toAmount(b.amount);
    if (amount === undefined || !isPositiveInt(amount)) return no(400, 'Invalid amount passed.');
    const recipientCode = str(b.recipient);
    const recipient = recipientCode ? this.recipient(recipientCode) : undefined;
    if (!recipient) {
      return no(400, 'Recipient specified is invalid', {
        meta: { nextStep: 'Provide a valid recipient. Ensure you are passing the recipient code in the recipient param' },
        type: 'validation_error',
        code: 'invalid_transfer_recipient',
      });
    }
    // Paystack's default when currency is left out.
    const currency = b.currency === undefined ? 'NGN' : str(b.currency);
    if (!currency || !ALL_CURRENCIES.includes(currency)) return no(400, 'Currency not supported by merchant');
    if (currency !== recipient.currency) return no(400, 'Recipient currency does not match transfer currency');
    const reference = b.reference === undefined ? `trf_${crypto.randomBytes(12).toString('hex')}` : asText(b.reference);
    if (!TRANSFER_REFERENCE_CHARS.test(reference)) return no(400, 'Your reference contains illegal special characters');
    if (reference.length < 16 || reference.length > 50) return no(400, 'Reference must be between 16 and 50 characters');
    // Paystack refuses a reused reference rather than sending twice (its error list's wording).
    if (this.transfers.has(reference)) return no(400, 'Please provide a unique reference. Reference already exists on a transfer');
    const reason = b.reason === undefined || b.reason === null ? null : asText(b.reason);

    const at = now();
    const t: FakeTransfer = {
      id: this.id(),
      transferCode: code('TRF'),
      reference,
      amount,
      currency,
      reason,
      recipient,
      // With OTP turned on in the dashboard, every transfer waits for an OTP that no API call can give.
      status: this.transferOtp ? 'otp' : 'pending',
      createdAt: at,
      updatedAt: at,
      transferredAt: null,
    };
    this.transfers.set(reference, t);
    if (this.transferHook) await this.inHook(() => this.transferHook!(reference));
    return ok(this.transferOtp ? 'Transfer requires OTP to continue' : 'Transfer has been queued', {
      transfersessionid: [],
      transfertrials: [],
      domain: 'test',
      amount: t.amount,
      currency: t.currency,
      reference: t.reference,
      source: 'balance',
      source_details: null,
      reason: t.reason,
      status: t.status,
      failures: null,
      transfer_code: t.transferCode,
      titan_code: null,
      transferred_at: t.transferredAt,
      id: t.id,
      integration: INTEGRATION.id,
      request: this.id(),
      // A numeric id here, unlike the object in webhooks and verify.
      recipient: recipient.id,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    });
  }

  private verifyTransfer(reference: string): Reply {
    const t = this.transfers.get(reference);
    if (!t) return no(404, 'Transfer not found');
    return ok('Transfer retrieved', {
      amount: t.amount,
      createdAt: t.createdAt,
      currency: t.currency,
      domain: 'test',
      failures: null,
      id: t.id,
      integration: INTEGRATION.id,
      reason: t.reason,
      reference: t.reference,
      source: 'balance',
      source_details: null,
      status: t.status,
      titan_code: null,
      transfer_code: t.transferCode,
      request: t.id + 1,
      transferred_at: t.transferredAt,
      updatedAt: t.updatedAt,
      recipient: this.recipientData(t.recipient),
      session: { provider: null, id: null },
      fee_charged: 0,
      fees_breakdown: null,
      gateway_response: null,
    });
  }

  private listRefunds(query: Record<string, string>): Reply {
    const ref = query.transaction;
    const t = ref === undefined ? undefined : (this.transactions.get(ref) ?? [...this.transactions.values()].find((x) => String(x.id) === ref));
    const refunds = ref === undefined ? this.refunds : t ? this.refundsOf(t.reference) : [];
    return ok(
      'Refunds retrieved',
      refunds.map((r) => ({
        id: r.id,
        integration: INTEGRATION.id,
        domain: 'test',
        transaction: t?.id ?? this.transactions.get(r.transactionReference)?.id,
        dispute: null,
        amount: r.amount,
        deducted_amount: r.status === 'processed' ? r.amount : 0,
        currency: r.currency,
        channel: null,
        fully_deducted: r.status === 'processed',
        refunded_by: 'test@example.com',
        refunded_at: r.status === 'processed' ? r.createdAt : null,
        expected_at: r.createdAt,
        settlement: null,
        customer_note: `Refund for transaction ${r.transactionReference}`,
        merchant_note: `Refund for transaction ${r.transactionReference}`,
        createdAt: r.createdAt,
        status: r.status,
      })),
    );
  }

  private async createRefund(b: Record<string, unknown>): Promise<Reply> {
    const ref = b.transaction === undefined || b.transaction === null ? undefined : asText(b.transaction);
    if (!ref) return no(400, 'Transaction is required');
    const t = this.transactions.get(ref) ?? [...this.transactions.values()].find((x) => String(x.id) === ref);
    if (!t) return no(404, 'Transaction reference not found');
    if (t.status === 'reversed' || t.refunded >= t.amount) return no(400, 'Transaction has been fully reversed');
    if (t.status !== 'success') return no(400, 'Cannot refund a transaction that was not successful');
    const remaining = t.amount - t.refunded;
    let amount = remaining;
    if (b.amount !== undefined) {
      const a = toAmount(b.amount);
      if (a === undefined || !isPositiveInt(a)) return no(400, 'Invalid Amount Sent');
      if (a > remaining) return no(400, 'Refund amount cannot be more than the transaction amount');
      amount = a;
    }
    t.refunded += amount;
    const at = now();
    const refund: FakeRefund = {
      id: this.id(),
      transactionReference: t.reference,
      amount,
      currency: t.currency,
      status: 'pending',
      refundReference: null,
      createdAt: at,
    };
    this.refunds.push(refund);
    if (this.refundHook) await this.inHook(() => this.refundHook!(t.reference));
    return ok('Refund has been queued for processing', {
      transaction: {
        id: t.id,
        domain: 'test',
        reference: t.reference,
        amount: t.amount,
        paid_at: t.paidAt,
        channel: 'card',
        currency: t.currency,
        authorization: { exp_month: null, exp_year: null, account_name: null },
        customer: { international_format_phone: null },
        plan: {},
        subaccount: { currency: null },
        split: {},
        order_id: null,
        paidAt: t.paidAt,
        pos_transaction_data: null,
        source: null,
        fees_breakdown: null,
      },
      integration: INTEGRATION.id,
      deducted_amount: 0,
      channel: null,
      merchant_note: `Refund for transaction ${t.reference}`,
      customer_note: `Refund for transaction ${t.reference}`,
      status: refund.status,
      refunded_by: 'fake@paystack.test',
      expected_at: new Date(Date.now() + 9 * 86_400_000).toISOString(),
      currency: refund.currency,
      domain: 'test',
      amount: refund.amount,
      fully_deducted: false,
      id: refund.id,
      createdAt: at,
      updatedAt: at,
    });
  }

  /** A tiny stand-in for checkout.paystack.com, for demos: a Pay button that completes the charge. */
  private async checkout(method: string, path: string): Promise<{ html: string; status?: number } | { redirect: string }> {
    const m = /^\/checkout\/([A-Za-z0-9]+)(\/pay)?$/.exec(path);
    const t = m ? this.byAccessCode.get(m[1]) : undefined;
    if (!m || !t) return { status: 404, html: page('Not found', '<p>No such checkout.</p>') };
    const amount = `${esc(t.currency)} ${(t.amount / 100).toFixed(2)}`;
    if (method === 'POST' && m[2]) {
      if (t.status !== 'success') {
        let delivered: boolean;
        try {
          const r = await this.completeCharge(t.reference);
          delivered = r.status >= 200 && r.status < 300;
        } catch {
          delivered = false;
        }
        if (t.callbackUrl) return { redirect: withQuery(t.callbackUrl, { trxref: t.reference, reference: t.reference }) };
        return {
          html: page(
            'Payment approved',
            `<p>You paid <strong>${amount}</strong>. The money is held safely until you confirm the work is done.</p>
${delivered ? '<p>Your bookings page shows it as paid in a moment.</p>' : '<p>Your bookings page shows it as paid once the marketplace has checked the payment.</p>'}
${this.backLink(t)}
<p><small>Reference ${esc(t.reference)}. No money moves: this is a practice checkout for the demo.</small></p>`,
          ),
        };
      }
      if (t.callbackUrl) return { redirect: withQuery(t.callbackUrl, { trxref: t.reference, reference: t.reference }) };
      return { html: page('Payment approved', `<p>This payment of ${amount} was already approved.</p>${this.backLink(t)}`) };
    }
    if (method !== 'GET') return { status: 405, html: page('Not allowed', '') };
    const paid = t.status === 'success';
    return {
      html: page(
        'Pay for your booking',
        `<p>${esc(t.email)} pays <strong>${amount}</strong></p>
${paid ? `<p>This payment was already approved.</p>${this.backLink(t)}` : `<form method="post" action="/checkout/${esc(t.accessCode)}/pay"><button type="submit">Pay ${amount}</button></form>`}
<p><small>Reference ${esc(t.reference)}. No money moves: this is a practice checkout for the demo.</small></p>`,
      ),
    };
  }

  /**
   * Closes the tab the dashboard opened for the checkout, which leaves the person on their
   * bookings; a tab the script may not close goes to the dashboard instead.
   */
  private backLink(t: FakeTransaction): string {
    const href = this.returnLink?.(t.email);
    if (!href) return '';
    return `<p><a class="button" id="back" href="${esc(href)}">Back to your bookings</a></p>
<script>document.getElementById('back').addEventListener('click', function (e) { e.preventDefault(); var to = this.href; window.close(); setTimeout(function () { location.href = to; }, 200); });</script>`;
  }

  // ---------------------------------------------------------------------------------------
  // Payloads

  private chargeData(t: FakeTransaction, shape: 'webhook' | 'verify'): Record<string, unknown> {
    const paid = t.status === 'success' || t.status === 'reversed';
    return {
      id: t.id,
      domain: 'test',
      status: t.status,
      reference: t.reference,
      receipt_number: null,
      amount: t.amount,
      message: null,
      gateway_response: paid ? 'Successful' : 'The transaction was not completed',
      paid_at: t.paidAt,
      created_at: t.createdAt,
      channel: 'card',
      currency: t.currency,
      ip_address: '127.0.0.1',
      // As sent at initialize; Paystack's samples show 0 (webhook) or "" (verify) when none was.
      metadata: t.metadata === undefined ? (shape === 'webhook' ? 0 : '') : t.metadata,
      log: null,
      fees: paid ? Math.round(t.amount * 0.029) : null,
      fees_split: null,
      customer: {
        id: t.customer.id,
        first_name: null,
        last_name: null,
        email: t.email,
        customer_code: t.customer.customerCode,
        phone: null,
        metadata: null,
        risk_action: 'default',
        international_format_phone: null,
      },
      authorization: t.authorizationCode
        ? {
            authorization_code: t.authorizationCode,
            bin: '408408',
            last4: '4081',
            exp_month: '12',
            exp_year: '2030',
            channel: 'card',
            card_type: 'visa ',
            bank: 'TEST BANK',
            country_code: 'ZA',
            brand: 'visa',
            reusable: true,
            signature: `SIG_${t.authorizationCode.slice(5)}`,
            account_name: null,
          }
        : {},
      plan: {},
      split: {},
      subaccount: {},
      order_id: null,
      paidAt: t.paidAt,
      createdAt: t.createdAt,
      requested_amount: t.requestedAmount,
      pos_transaction_data: null,
      source: null,
      fees_breakdown: null,
      ...(shape === 'verify' && { transaction_date: t.createdAt, plan_object: {}, connect: null }),
    };
  }

  private recipientData(r: FakeRecipient): Record<string, unknown> {
    return {
      active: true,
      createdAt: r.createdAt,
      currency: r.currency,
      description: null,
      domain: 'test',
      email: null,
      id: r.id,
      integration: INTEGRATION.id,
      metadata: null,
      name: r.name,
      recipient_code: r.recipientCode,
      type: r.type,
      updatedAt: r.createdAt,
      is_deleted: false,
      isDeleted: false,
      details: {
        authorization_code: null,
        account_number: r.accountNumber,
        account_name: null,
        bank_code: r.bankCode,
        bank_name: r.bankName,
      },
    };
  }

  private transferWebhookData(t: FakeTransfer): Record<string, unknown> {
    // Paystack's samples: camelCase timestamps and an empty session on success,
    // snake_case and a provider session on failed/reversed.
    const settledElsewhere = t.status === 'failed' || t.status === 'reversed';
    return {
      amount: t.amount,
      currency: t.currency,
      domain: 'test',
      failures: null,
      id: t.id,
      integration: INTEGRATION,
      reason: t.reason,
      reference: t.reference,
      source: 'balance',
      source_details: null,
      status: t.status,
      titan_code: null,
      transfer_code: t.transferCode,
      transferred_at: t.transferredAt,
      ...(settledElsewhere ? { created_at: t.createdAt, updated_at: t.updatedAt } : { createdAt: t.createdAt, updatedAt: t.updatedAt }),
      recipient: {
        active: true,
        currency: t.recipient.currency,
        description: null,
        domain: 'test',
        email: null,
        id: t.recipient.id,
        integration: INTEGRATION.id,
        metadata: null,
        name: t.recipient.name,
        recipient_code: t.recipient.recipientCode,
        type: t.recipient.type,
        is_deleted: false,
        details: {
          authorization_code: null,
          account_number: t.recipient.accountNumber,
          account_name: null,
          bank_code: t.recipient.bankCode,
          bank_name: t.recipient.bankName,
        },
      },
      session: settledElsewhere ? { provider: 'nip', id: String(crypto.randomInt(1e9, 1e10 - 1)) } : { provider: null, id: null },
      fee_charged: 0,
      gateway_response: null,
    };
  }

  // ---------------------------------------------------------------------------------------
  // Helpers

  private async deliver(event: string, rawBody: string, signature: string): Promise<WebhookResponse> {
    if (!this.webhookTarget) throw new Error('FakePaystack: call setWebhookTarget(url) before sending webhooks');
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (signature !== '') headers['x-paystack-signature'] = signature;
    let res: Response;
    try {
      res = await fetch(this.webhookTarget, {
        method: 'POST',
        headers,
        body: rawBody,
        signal: AbortSignal.timeout(this.options.webhookTimeoutMs ?? 30_000),
      });
    } catch (err) {
      const why = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      this.options.log?.(`webhook ${event} → ${this.webhookTarget} failed: ${why}`);
      throw new Error(`FakePaystack: could not deliver ${event} to ${this.webhookTarget}: ${why}`, { cause: err });
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    const response = { status: res.status, body };
    this.webhooks.push({ event, rawBody, signature, response });
    this.options.log?.(`webhook ${event} → ${this.webhookTarget}: HTTP ${res.status}`);
    if (this.afterWebhook && this.hookDepth === 0) await this.afterWebhook({ rawBody, response });
    return response;
  }

  private async inHook(run: () => Promise<void> | void): Promise<void> {
    this.hookDepth++;
    try {
      await run();
    } finally {
      this.hookDepth--;
    }
  }

  private takeFault(method: string, path: string): FailSpec | undefined {
    const i = this.faults.findIndex((f) => f.method === method && (path === f.pathPrefix || path.startsWith(`${f.pathPrefix}/`) || f.pathPrefix === ''));
    return i < 0 ? undefined : this.faults.splice(i, 1)[0].spec;
  }

  /** Waits `ms`, or less if the client hangs up or the fake stops. */
  private hold(res: http.ServerResponse, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        res.off('close', release);
        this.pendingDelays.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      res.on('close', release);
      this.pendingDelays.add(release);
    });
  }

  private mustTransaction(reference: string): FakeTransaction {
    const t = this.transactions.get(reference);
    if (!t) throw new Error(`FakePaystack: no transaction with reference ${reference}`);
    return t;
  }

  private customer(email: string): { id: number; customerCode: string } {
    let c = this.customers.get(email);
    if (!c) {
      c = { id: this.id(), customerCode: code('CUS') };
      this.customers.set(email, c);
    }
    return c;
  }

  private id(): number {
    return this.nextId++;
  }

  private publicUrl(): string {
    return (this.options.publicUrl ?? this.baseUrl).replace(/\/+$/, '');
  }
}

function send(res: http.ServerResponse, r: { status: number; body: unknown }): void {
  if (res.destroyed || res.writableEnded) return;
  const isText = typeof r.body === 'string';
  res
    .writeHead(r.status, { 'Content-Type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8' })
    .end(isText ? (r.body as string) : JSON.stringify(r.body));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('too large'));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function withQuery(url: string, q: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
  return u.toString();
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}.button{display:inline-block;text-decoration:none}button,.button{font-size:1.1rem;padding:.6rem 2rem;background:#0ba4db;color:#fff;border:0;border-radius:6px;cursor:pointer}</style>
</head><body><h1>${esc(title)}</h1>
${body}
</body></html>`;
}
