import type { ChannelSender, OutgoingMessage } from './channel';
import { SendRefused } from './channel';
import { TwilioHttpError, type TwilioClient } from './twilio-client';

export interface TextChannelOptions {
  channel: 'sms' | 'whatsapp';
  client: TwilioClient;
  /** The sender: an E.164 number or a Messaging Service SID. */
  from: string;
  /** Where Twilio posts the message's status changes (POST /api/webhooks/twilio at our public URL). */
  statusCallback: string;
  /** WhatsApp only: the approved template (Content SID) per notification type, `*` for any other type. */
  templates?: Readonly<Record<string, string>>;
}

/** Codes of a connection that never opened: nothing reached Twilio. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Long enough for a request and its booking, short enough to stay within a few SMS segments. */
const MAX_BODY = 480;

/**
 * SMS or WhatsApp through Twilio's Messages API, to the user's E.164 number (`whatsapp:+27…` for
 * WhatsApp). A WhatsApp message goes as the type's approved template when one is configured
 * (TWILIO_WHATSAPP_TEMPLATES), since WhatsApp delivers free text we start only within 24 hours of
 * the person's last message to us. Twilio's message SID becomes the delivery's provider reference, which its status
 * callbacks name. A 4xx is Twilio refusing this message (failed with its code); a 429, a 5xx or a
 * connection that never opened is tried again.
 */
export class TextChannel implements ChannelSender {
  readonly channel: 'sms' | 'whatsapp';

  constructor(private readonly o: TextChannelOptions) {
    this.channel = o.channel;
  }

  async send(m: OutgoingMessage): Promise<{ providerRef: string | null }> {
    const wa = this.channel === 'whatsapp';
    const address = (n: string) => (wa && n.startsWith('+') ? `whatsapp:${n}` : n);
    const template = wa ? (this.o.templates?.[m.type] ?? this.o.templates?.['*']) : undefined;
    const common = { to: address(m.address), from: address(this.o.from), statusCallback: this.o.statusCallback };
    try {
      const message = await this.o.client.createMessage(
        template
          ? // {{1}} the title, {{2}} the text: Twilio refuses an empty variable (21656), so a text-less notification repeats its title.
            { ...common, content: { sid: template, variables: { '1': clip(m.title), '2': clip(m.body || m.title) } } }
          : { ...common, body: clip(`${m.title}: ${m.body}`) },
      );
      return { providerRef: message.sid };
    } catch (err) {
      throw refusal(err) ?? err;
    }
  }
}

const clip = (text: string) => (text.length > MAX_BODY ? `${text.slice(0, MAX_BODY - 1)}…` : text);

/** What Twilio told us about a message it did not take; null when it may have taken it. */
function refusal(err: unknown): SendRefused | null {
  if (err instanceof TwilioHttpError) {
    if (err.statusCode === 429 || err.statusCode >= 500) return new SendRefused('TWILIO_DEFERRED', err.message, true);
    return new SendRefused(err.twilioCode ? `TWILIO_${err.twilioCode}` : `TWILIO_HTTP_${err.statusCode}`, err.message, false);
  }
  const code = (err as { code?: string }).code;
  if (code && NOT_CONNECTED.has(code)) return new SendRefused('TWILIO_UNREACHABLE', 'Twilio could not be reached', true);
  return null;
}
