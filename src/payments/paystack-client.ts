import { Agent, request } from 'undici';
import { z } from 'zod';
import type { Logger } from '../logger';

/*
 * The one place the app talks to Paystack. Every response is
 * `{ status, message, data }`; only the parts of `data` we use are validated, leniently
 * (loose objects, amounts that may arrive as strings), and handed back in camelCase.
 */

export type PaystackErrorCode =
  /**
   * The request was sent but no answer came in time. The OUTCOME IS UNKNOWN: Paystack may
   * have queued the transfer or refund, or created the transaction. Never treat this as a
   * failure; find out by verifying (same reference) or by waiting for the webhook.
   */
  | 'PAYSTACK_TIMEOUT'
  /** Paystack answered and said no (HTTP 4xx other than 429, or `status: false`). Nothing was done. */
  | 'PAYSTACK_REJECTED'
  /**
   * Paystack could not be reached or answered with something we cannot use: a network error,
   * HTTP 5xx or 429, a body that is not Paystack's envelope, or a 2xx whose `data` lacks the
   * fields we need. For a write, the outcome is unknown here too.
   */
  | 'PAYSTACK_UNAVAILABLE';

export class PaystackError extends Error {
  constructor(
    readonly code: PaystackErrorCode,
    /** For PAYSTACK_REJECTED, Paystack's own message, unchanged (safe to show a user). */
    message: string,
    readonly details: {
      /** e.g. "POST /transfer"; never the secret, never a body. */
      operation: string;
      /** The HTTP status, when a response arrived. */
      httpStatus?: number;
      /** Paystack's machine-readable `code`, when it sends one (e.g. "invalid_transfer_recipient"). */
      providerCode?: string;
    },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PaystackError';
  }

  get httpStatus(): number | undefined {
    return this.details.httpStatus;
  }

  get operation(): string {
    return this.details.operation;
  }

  get providerCode(): string | undefined {
    return this.details.providerCode;
  }
}

// ---------------------------------------------------------------------------------------------
// Response schemas (lenient: unknown fields pass, amounts may be strings)

/** An integer amount in subunits (cents), given as a number or a numeric string ("5000"). */
const Amount = z.union([z.number(), z.string().trim().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));

const NumericId = z.union([z.number(), z.string().trim().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));

const Text = z.string().min(1);
const Currency = z
  .string()
  .min(1)
  .transform((c) => c.toUpperCase());

const Envelope = z.looseObject({
  status: z.boolean(),
  message: z.string().optional(),
  data: z.unknown().optional(),
  code: z.string().optional(),
});

export const InitializedTransaction = z
  .looseObject({ authorization_url: z.url(), access_code: Text, reference: Text })
  .transform((d) => ({ authorizationUrl: d.authorization_url, accessCode: d.access_code, reference: d.reference }));
export type InitializedTransaction = z.output<typeof InitializedTransaction>;

export const VerifiedTransaction = z
  .looseObject({
    id: NumericId,
    /** success | failed | abandoned | reversed | ongoing | pending | processing | queued */
    status: Text,
    reference: Text,
    amount: Amount,
    currency: Currency,
    paid_at: z.string().nullish(),
    paidAt: z.string().nullish(),
    /** Whatever was sent at initialize; `0` or `""` when nothing was. Narrow it at runtime. */
    metadata: z.unknown(),
    /** Paystack's own charge, in subunits; null until the charge succeeds. */
    fees: Amount.nullish(),
  })
  .transform((d) => ({
    id: d.id,
    status: d.status,
    reference: d.reference,
    amount: d.amount,
    currency: d.currency,
    paidAt: d.paid_at ?? d.paidAt ?? null,
    metadata: d.metadata,
    fees: d.fees ?? null,
  }));
export type VerifiedTransaction = z.output<typeof VerifiedTransaction>;

export const TransferRecipient = z.looseObject({ recipient_code: Text }).transform((d) => ({ recipientCode: d.recipient_code }));
export type TransferRecipient = z.output<typeof TransferRecipient>;

export const InitiatedTransfer = z
  .looseObject({
    transfer_code: Text,
    /** pending (queued), otp (needs finalizing: OTP is on), success, … */
    status: Text,
    reference: Text,
  })
  .transform((d) => ({ transferCode: d.transfer_code, status: d.status, reference: d.reference }));
export type InitiatedTransfer = z.output<typeof InitiatedTransfer>;

export const VerifiedTransfer = z
  .looseObject({
    /** pending | otp | received | success | failed | reversed | abandoned | blocked | rejected */
    status: Text,
    reference: Text,
    transfer_code: Text,
    amount: Amount,
    currency: Currency,
  })
  .transform((d) => ({
    status: d.status,
    reference: d.reference,
    transferCode: d.transfer_code,
    amount: d.amount,
    currency: d.currency,
  }));
export type VerifiedTransfer = z.output<typeof VerifiedTransfer>;

export const RefundRequested = z.looseObject({ status: Text }).transform((d) => ({ status: d.status }));
export type RefundRequested = z.output<typeof RefundRequested>;

/** One refund of a transaction, as `GET /refund` lists it. */
export const ListedRefund = z
  .looseObject({
    id: NumericId,
    /** pending | processing | processed | failed | needs-attention */
    status: Text,
    amount: Amount,
    currency: Currency,
  })
  .transform((d) => ({ id: d.id, status: d.status, amount: d.amount, currency: d.currency }));
export type ListedRefund = z.output<typeof ListedRefund>;
const ListedRefunds = z.array(ListedRefund);

/** What a charge's processed refunds add up to, in cents. */
export function processedRefundTotal(refunds: readonly ListedRefund[]): number {
  return refunds.filter((r) => r.status === 'processed').reduce((sum, r) => sum + r.amount, 0);
}

// ---------------------------------------------------------------------------------------------
// Inputs

export interface InitializeTransactionInput {
  email: string;
  /** Integer subunits (cents for ZAR). */
  amount: number;
  currency: string;
  /** Ours, unique per transaction: alphanumerics and `- . =` only. */
  reference: string;
  metadata?: Record<string, unknown>;
  callbackUrl?: string;
}

export interface CreateTransferRecipientInput {
  name: string;
  accountNumber: string;
  bankCode: string;
  currency: string;
}

export interface InitiateTransferInput {
  /** Integer subunits (cents for ZAR). */
  amount: number;
  /** RCP_… */
  recipient: string;
  /** Ours, generated once per payout and reused on every retry: 16–50 chars of [a-z0-9_-]. */
  reference: string;
  reason: string;
  currency: string;
}

export interface RefundInput {
  /** Our transaction reference (Paystack also accepts its numeric id). */
  transaction: string;
  /** Integer subunits; the whole remaining amount when left out. */
  amount?: number;
}

export interface PaystackClient {
  initializeTransaction(input: InitializeTransactionInput): Promise<InitializedTransaction>;
  verifyTransaction(reference: string): Promise<VerifiedTransaction>;
  createTransferRecipient(input: CreateTransferRecipientInput): Promise<TransferRecipient>;
  initiateTransfer(input: InitiateTransferInput): Promise<InitiatedTransfer>;
  verifyTransfer(reference: string): Promise<VerifiedTransfer>;
  refund(input: RefundInput): Promise<RefundRequested>;
  /** Every refund Paystack holds for a transaction (its numeric id, or our reference). */
  listRefunds(transaction: string): Promise<ListedRefund[]>;
  /**
   * Closes the client's kept-alive connections to Paystack once the calls in flight have ended
   * (each within its timeout). Call it when the client's owner shuts down. Idempotent; a call
   * made afterwards fails with PAYSTACK_UNAVAILABLE.
   */
  close(): Promise<void>;
}

export interface PaystackClientOptions {
  /** e.g. https://api.paystack.co (PAYSTACK_BASE_URL) */
  baseUrl: string;
  secretKey: string;
  /** Per call, covering connect, headers and body. */
  timeoutMs: number;
  logger?: Logger;
}

// ---------------------------------------------------------------------------------------------

export function createPaystackClient(options: PaystackClientOptions): PaystackClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  // Kept in this closure only: it never appears in an error, a log line or a returned object.
  const authorization = `Bearer ${options.secretKey}`;
  const { timeoutMs, logger } = options;
  const headers = {
    authorization,
    'content-type': 'application/json',
    accept: 'application/json',
    // What fetch sent; an empty User-Agent can look like a bot to the edge in front of an API.
    'user-agent': 'node',
  };
  // The client's own connections, kept alive between calls (undici's defaults: idle ones close
  // after 4 s, or the server's Keep-Alive hint, and never hold the process open); close() ends them.
  const agent = new Agent();
  let closing: Promise<void> | undefined;

  async function call<S extends z.ZodType>(method: 'GET' | 'POST', path: string, schema: S, body?: Record<string, unknown>): Promise<z.output<S>> {
    const operation = `${method} ${path}`;
    const started = Date.now();
    const fail = (code: PaystackErrorCode, message: string, extra: Omit<PaystackError['details'], 'operation'> = {}, cause?: unknown) => {
      logger?.debug({ paystack: { operation, ms: Date.now() - started, code, httpStatus: extra.httpStatus } }, 'Paystack call failed');
      return new PaystackError(code, message, { operation, ...extra }, cause === undefined ? undefined : { cause });
    };

    let httpStatus: number;
    let text: string;
    try {
      // undici's request() on our own agent: no redirect is followed (see the 3xx check below),
      // no compression is asked for, and the connection is kept alive for the next call.
      const res = await request(baseUrl + path, {
        dispatcher: agent,
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // Covers connecting and reading the body too: a response that stalls halfway is a timeout as well.
        signal: AbortSignal.timeout(timeoutMs),
      });
      httpStatus = res.statusCode;
      // Always read to the end (or fail): an unread body would hold the connection.
      text = await res.body.text();
    } catch (err) {
      if (isAbort(err)) {
        // Sent, maybe received and acted on, but unanswered: the outcome is UNKNOWN.
        throw fail('PAYSTACK_TIMEOUT', `Paystack did not answer within ${timeoutMs} ms; the outcome is unknown`, {}, safeCause(err));
      }
      throw fail('PAYSTACK_UNAVAILABLE', 'Could not reach Paystack', {}, safeCause(err));
    }

    if (httpStatus >= 300 && httpStatus < 400) {
      // Never followed: following could carry the key to another host.
      throw fail('PAYSTACK_UNAVAILABLE', `Paystack answered HTTP ${httpStatus}, a redirect, which is not followed`, { httpStatus });
    }
    if (httpStatus >= 500 || httpStatus === 429) {
      throw fail('PAYSTACK_UNAVAILABLE', `Paystack answered HTTP ${httpStatus}`, { httpStatus, providerCode: peekCode(text) });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw fail('PAYSTACK_UNAVAILABLE', `Paystack answered HTTP ${httpStatus} with a body that is not JSON`, { httpStatus });
    }
    const envelope = Envelope.safeParse(json);
    if (!envelope.success) {
      throw fail('PAYSTACK_UNAVAILABLE', `Paystack answered HTTP ${httpStatus} with an unexpected body`, { httpStatus });
    }
    const { status, message, data, code } = envelope.data;
    if (httpStatus >= 400 || !status) {
      throw fail('PAYSTACK_REJECTED', message || `Paystack refused the request (HTTP ${httpStatus})`, { httpStatus, providerCode: code });
    }
    if (httpStatus < 200 || httpStatus >= 300) {
      throw fail('PAYSTACK_UNAVAILABLE', `Paystack answered HTTP ${httpStatus}`, { httpStatus });
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      // Accepted, but we cannot read what was done: for a write that is an unknown outcome.
      const fields = parsed.error.issues.map((i) => i.path.join('.') || '(data)').join(', ');
      throw fail('PAYSTACK_UNAVAILABLE', `Paystack's response lacks the expected fields: ${fields}`, { httpStatus });
    }
    logger?.debug({ paystack: { operation, ms: Date.now() - started, httpStatus } }, 'Paystack call');
    return parsed.data;
  }

  return {
    async initializeTransaction(i) {
      assertAmount(i.amount);
      return call('POST', '/transaction/initialize', InitializedTransaction, {
        email: i.email,
        amount: i.amount,
        currency: i.currency,
        reference: i.reference,
        ...(i.metadata !== undefined && { metadata: i.metadata }),
        ...(i.callbackUrl !== undefined && { callback_url: i.callbackUrl }),
      });
    },
    async verifyTransaction(reference) {
      return call('GET', `/transaction/verify/${pathSegment(reference)}`, VerifiedTransaction);
    },
    async createTransferRecipient(i) {
      return call('POST', '/transferrecipient', TransferRecipient, {
        type: 'basa',
        name: i.name,
        account_number: i.accountNumber,
        bank_code: i.bankCode,
        currency: i.currency,
      });
    },
    async initiateTransfer(i) {
      assertAmount(i.amount);
      return call('POST', '/transfer', InitiatedTransfer, {
        source: 'balance',
        amount: i.amount,
        recipient: i.recipient,
        reference: i.reference,
        reason: i.reason,
        // Paystack defaults to NGN when this is left out.
        currency: i.currency,
      });
    },
    async verifyTransfer(reference) {
      return call('GET', `/transfer/verify/${pathSegment(reference)}`, VerifiedTransfer);
    },
    async refund(i) {
      if (i.amount !== undefined) assertAmount(i.amount);
      return call('POST', '/refund', RefundRequested, {
        transaction: i.transaction,
        ...(i.amount !== undefined && { amount: i.amount }),
      });
    },
    async listRefunds(transaction) {
      return call('GET', `/refund?transaction=${pathSegment(transaction)}&perPage=100`, ListedRefunds);
    },
    close() {
      // Memoized: undici rejects a second close() of an agent that has finished closing.
      return (closing ??= agent.close());
    },
  };
}

/** Money is integer subunits; a float or a negative here is a bug of ours, never sent (the call rejects with a RangeError). */
function assertAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new RangeError(`A Paystack amount must be a positive integer of subunits, not ${amount}`);
  }
}

function pathSegment(value: string): string {
  if (value.length === 0) throw new RangeError('A Paystack reference must not be empty');
  return encodeURIComponent(value);
}

function isAbort(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/** The cause, reduced to what cannot carry a header: its name, message and code. */
function safeCause(err: unknown): unknown {
  if (!(err instanceof Error)) return undefined;
  const inner = (err as { cause?: unknown }).cause;
  const c = inner instanceof Error ? inner : err;
  const e = new Error(c.message);
  e.name = c.name;
  const code = (c as { code?: unknown }).code;
  if (typeof code === 'string') (e as Error & { code?: string }).code = code;
  return e;
}

function peekCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
