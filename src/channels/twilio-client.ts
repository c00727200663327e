import { Agent, request } from 'undici';
import { z } from 'zod';

export interface TwilioClientOptions {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  timeoutMs: number;
}

/** An approved template (Twilio's Content API): its SID (`HX…`) and the values of its placeholders. */
export interface TwilioContent {
  sid: string;
  variables: Record<string, string>;
}

/**
 * One message to send: `to` and `from` as Twilio takes them (`+27…`, or `whatsapp:+27…`), and
 * either free text or a template. WhatsApp takes free text only within 24 hours of the person's
 * last message to us; anything we start ourselves outside that window must be a template.
 */
export type TwilioMessage = {
  to: string;
  /** A phone number, or a Messaging Service SID (`MG…`) sent as MessagingServiceSid. */
  from: string;
  statusCallback: string;
} & ({ body: string; content?: undefined } | { content: TwilioContent; body?: undefined });

/** The fields of Twilio's Message resource this server reads. */
export const TwilioMessageResource = z.looseObject({ sid: z.string().min(1), status: z.string() });

/** Twilio's error answer: its own numeric code, a message and the HTTP status. */
export const TwilioErrorBody = z.looseObject({ code: z.number().int().optional(), message: z.string().optional() });

/** Twilio answered with a status other than 2xx: its HTTP status and, if it said one, its error code. */
export class TwilioHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly twilioCode: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'TwilioHttpError';
  }
}

/**
 * Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded,
 * HTTP Basic with the account SID and auth token, on its own keep-alive agent.
 */
export class TwilioClient {
  private readonly agent: Agent;
  private readonly url: string;
  private readonly authorization: string;

  constructor(private readonly o: TwilioClientOptions) {
    this.agent = new Agent({ keepAliveTimeout: 30_000, connections: 16, connect: { timeout: o.timeoutMs } });
    this.url = new URL(`/2010-04-01/Accounts/${encodeURIComponent(o.accountSid)}/Messages.json`, o.baseUrl).href;
    this.authorization = `Basic ${Buffer.from(`${o.accountSid}:${o.authToken}`).toString('base64')}`;
  }

  /** Resolves with the message resource Twilio created; throws TwilioHttpError on a non-2xx answer. */
  async createMessage(m: TwilioMessage): Promise<z.infer<typeof TwilioMessageResource>> {
    const form = new URLSearchParams({ To: m.to, StatusCallback: m.statusCallback });
    if (m.content) {
      form.set('ContentSid', m.content.sid);
      form.set('ContentVariables', JSON.stringify(m.content.variables));
    } else form.set('Body', m.body);
    if (/^MG[0-9a-fA-F]{32}$/.test(m.from)) form.set('MessagingServiceSid', m.from);
    else form.set('From', m.from);
    const res = await request(this.url, {
      method: 'POST',
      headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      dispatcher: this.agent,
      headersTimeout: this.o.timeoutMs,
      bodyTimeout: this.o.timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode > 299) {
      const err = TwilioErrorBody.safeParse(safeJson(text));
      const code = err.success ? (err.data.code ?? null) : null;
      throw new TwilioHttpError(res.statusCode, code, `Twilio answered ${res.statusCode}${code ? ` (code ${code})` : ''}`);
    }
    return TwilioMessageResource.parse(safeJson(text));
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
