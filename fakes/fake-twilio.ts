import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedMessage {
  sid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  /** The text sent, or for a template the template's text with its variables put in. */
  body: string;
  /** A template's SID and variables (Content API), when the message was one. */
  contentSid: string | null;
  contentVariables: Record<string, string> | null;
  statusCallback: string | null;
  /** `queued` once taken; `failed` (with Twilio's error code) when it could not go, as a free-text WhatsApp message outside the window. */
  status: 'queued' | 'failed';
  errorCode: number | null;
}

/** WhatsApp's customer service window: free text a business starts reaches a person only this long after their last message to it. */
export const WHATSAPP_WINDOW_MS = 24 * 3600_000;

/**
 * Twilio's Messages API as documented: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * form-encoded, HTTP Basic with the account SID and auth token. It keeps every message it took and
 * answers with a Message resource (`sid`, `status: queued`, …), or Twilio's error JSON. It can
 * then post the message's status callback, signed as Twilio signs them (X-Twilio-Signature).
 *
 * WhatsApp's 24-hour customer service window, as Twilio documents it (error 63016): a free-text
 * (`Body`) WhatsApp message reaches the person only within 24 hours of their last message to the
 * business (`inbound`); outside it Twilio still takes the request (201, `queued`), then the message
 * fails with error 63016, which the fake reports at once in a signed `failed` status callback. An
 * approved template (`ContentSid`) goes whether the window is open or not. SMS has no window.
 */
export class FakeTwilio {
  readonly messages: ReceivedMessage[] = [];
  /** Requests refused for bad credentials. */
  unauthorized = 0;
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private refusals: Array<{ status: number; code: number; message: string }> = [];
  private readonly listeners: Array<(m: ReceivedMessage) => void> = [];
  /** Approved templates by Content SID, as the account's Content Template Builder holds them. */
  private readonly templates = new Map<string, string>();
  /** When each WhatsApp address (`whatsapp:+27…`) last wrote to the business. */
  private readonly lastInbound = new Map<string, number>();
  private n = 0;
  /** Where the fake posts the status callbacks it sends by itself (a proxy in front of the server), instead of the StatusCallback's own host. */
  callbacksVia: string | undefined;
  /** Status callbacks the fake sent by itself that did not reach the server (a message per failure). */
  readonly callbackErrors: string[] = [];
  /** The fake's clock, for the window. */
  now: () => number = () => Date.now();

  constructor(
    readonly accountSid: string,
    readonly authToken: string,
  ) {}

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next send is answered with this status and Twilio error code instead of being taken. */
  refuseNext(status: number, code: number, message = 'refused by the fake'): void {
    this.refusals.push({ status, code, message });
  }

  /** An approved template of this account: `text` with `{{1}}`, `{{2}}`… placeholders. */
  defineTemplate(sid: string, text: string): void {
    this.templates.set(sid, text);
  }

  /** The person at `from` (`whatsapp:+27…`) wrote to the business at `at`: free text reaches them for 24 hours. */
  inbound(from: string, at: number = this.now()): void {
    this.lastInbound.set(from, Math.max(at, this.lastInbound.get(from) ?? at));
  }

  /** Whether free text to this WhatsApp address would reach the person now. */
  windowOpen(to: string): boolean {
    const last = this.lastInbound.get(to);
    return last !== undefined && this.now() - last < WHATSAPP_WINDOW_MS;
  }

  /** Called with each message the fake takes and sends on, after it has answered 201 (not one that then failed). */
  onMessage(listener: (m: ReceivedMessage) => void): void {
    this.listeners.push(listener);
  }

  to(address: string): ReceivedMessage[] {
    return this.messages.filter((m) => m.to === address);
  }

  /**
   * Posts the status callback of message `sid` as Twilio does: form-encoded, signed over its
   * StatusCallback URL. `via` is where it actually goes (a proxy in front of the server, whose
   * public URL the StatusCallback is); `sign` replaces the signature (a forger's).
   */
  async postStatus(
    sid: string,
    status: string,
    o: { errorCode?: string; via?: string; signature?: string | null } = {},
  ): Promise<{ status: number; body: unknown }> {
    const m = this.messages.find((x) => x.sid === sid);
    if (!m?.statusCallback) throw new Error(`no message ${sid} with a StatusCallback`);
    const params: Record<string, string> = {
      AccountSid: this.accountSid,
      ApiVersion: '2010-04-01',
      From: m.from ?? '',
      To: m.to,
      MessageSid: sid,
      SmsSid: sid,
      MessageStatus: status,
      SmsStatus: status,
      ...(o.errorCode ? { ErrorCode: o.errorCode } : {}),
    };
    let data = m.statusCallback;
    for (const name of Object.keys(params).sort()) data += name + params[name];
    const signed = crypto.createHmac('sha1', this.authToken).update(data, 'utf8').digest('base64');
    const signature = o.signature === undefined ? signed : o.signature;
    const target = o.via ? new URL(new URL(m.statusCallback).pathname + new URL(m.statusCallback).search, o.via).href : m.statusCallback;
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature === null ? {} : { 'x-twilio-signature': signature }) },
      body: new URLSearchParams(params).toString(),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: res.status, body };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, code: number, message: string) =>
      answer(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
    const path = `/2010-04-01/Accounts/${this.accountSid}/Messages.json`;
    if (req.method !== 'POST' || req.url !== path) return error(404, 20404, 'The requested resource was not found');
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      this.unauthorized++;
      return error(401, 20003, 'Authenticate');
    }
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return error(400, 20001, 'Unsupported content type');
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const to = form.get('To');
    const from = form.get('From');
    const service = form.get('MessagingServiceSid');
    const contentSid = form.get('ContentSid');
    const rawVariables = form.get('ContentVariables');
    if (!to) return error(400, 21604, "A 'To' phone number is required.");
    if (!from && !service) return error(400, 21603, "A 'From' phone number is required.");
    if (rawVariables !== null && !contentSid) return error(400, 21654, 'A ContentSid must be specified if ContentVariables are provided in the request.');
    let contentVariables: Record<string, string> | null = null;
    if (contentSid) {
      const template = this.templates.get(contentSid);
      if (!/^HX[0-9a-fA-F]{32}$/.test(contentSid) || template === undefined) return error(400, 21655, 'The ContentSid is Invalid');
      contentVariables = parseVariables(rawVariables);
      if (!contentVariables) return error(400, 21656, 'The ContentVariables Parameter is invalid');
      const missing = [...template.matchAll(/\{\{(\w+)\}\}/g)].some(([, k]) => contentVariables![k] === undefined);
      if (missing) return error(400, 21656, 'The ContentVariables Parameter is invalid');
    }
    const body = contentSid ? this.templates.get(contentSid)!.replace(/\{\{(\w+)\}\}/g, (_, k: string) => contentVariables![k]) : form.get('Body');
    if (!body) return error(400, 21602, 'Message body is required.');
    if (!/^(whatsapp:)?\+[1-9]\d{6,14}$/.test(to)) return error(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    const refusal = this.refusals.shift();
    if (refusal) return error(refusal.status, refusal.code, refusal.message);
    const sid = `SM${crypto.createHash('md5').update(`${++this.n}:${to}:${Date.now()}`).digest('hex')}`;
    const outsideWindow = to.startsWith('whatsapp:') && !contentSid && !this.windowOpen(to);
    const message: ReceivedMessage = {
      sid,
      to,
      from,
      messagingServiceSid: service,
      body,
      contentSid,
      contentVariables,
      statusCallback: form.get('StatusCallback'),
      status: outsideWindow ? 'failed' : 'queued',
      errorCode: outsideWindow ? 63016 : null,
    };
    this.messages.push(message);
    const now = new Date().toUTCString();
    answer(201, {
      sid,
      account_sid: this.accountSid,
      api_version: '2010-04-01',
      body,
      date_created: now,
      date_updated: now,
      date_sent: null,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from,
      messaging_service_sid: service,
      num_media: '0',
      num_segments: '1',
      price: null,
      price_unit: 'USD',
      status: 'queued',
      to,
      uri: `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}.json`,
    });
    if (outsideWindow) {
      if (message.statusCallback) {
        this.postStatus(sid, 'failed', { errorCode: '63016', via: this.callbacksVia }).then(
          (r) => r.status === 200 || this.callbackErrors.push(`${sid}: the server answered ${r.status}`),
          (err: Error) => this.callbackErrors.push(`${sid}: ${err.message}`),
        );
      }
      return;
    }
    for (const l of this.listeners) l(message);
  }
}

/** ContentVariables as Twilio takes them: a JSON object of placeholder to non-empty text, keys of up to 16 characters without spaces. */
function parseVariables(raw: string | null): Record<string, string> | null {
  if (raw === null) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > 100) return null;
  const valid = entries.every(([k, x]) => /^[^\s]{1,16}$/.test(k) && typeof x === 'string' && x.length > 0 && x.length <= 1600);
  return valid ? (v as Record<string, string>) : null;
}
