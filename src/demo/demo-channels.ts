import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { ParsedMail } from 'mailparser';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { DemoOutbox } from './demo-outbox';
import { DEMO_USERS } from './demo-seed';
import { giveDemoPhone, replaceDemoPushSubscription } from './demo-repository';
import { FakePushService, type ReceivedPush } from '../../fakes/fake-push-service';
import { FakeTwilio, type ReceivedMessage } from '../../fakes/fake-twilio';
import { SmtpSink } from '../../fakes/smtp-sink';

/** How long the fake Twilio waits before it reports a text delivered: long enough to see it queued. */
export const DEMO_TEXT_DELIVERED_MS = 1_000;

/** The demo's senders, in South Africa's 087 (non-geographic) range. */
export const DEMO_SMS_FROM = '+27875550100';
export const DEMO_WHATSAPP_FROM = '+27875550101';

/** The demo's one approved WhatsApp template, used for every type: WhatsApp takes only templates from a business that writes first. */
export const DEMO_WHATSAPP_TEMPLATE = { sid: `HX${'d3e0'.repeat(8)}`, text: '{{1}}\n{{2}}\n\nOpen your Marketplace dashboard to answer.' } as const;

export interface DemoChannels {
  /** The server's config with the fakes in place of the providers it was not given. */
  config: Config;
  readonly outbox: DemoOutbox;
  readonly smtp: SmtpSink | null;
  readonly twilio: FakeTwilio | null;
  readonly push: FakePushService;
  /** Gives the seeded users a phone (only while texts go to the fake) and a subscription at the fake push service. */
  seed(knex: Knex): Promise<void>;
  /** Where the fake Twilio really posts its signed status callbacks: this server, once it listens. */
  callbacksTo(baseUrl: string): void;
  stop(): Promise<void>;
}

const nameByEmail = new Map(DEMO_USERS.map((u) => [u.email.toLowerCase(), u.name]));
const nameByPhone = new Map(DEMO_USERS.map((u) => [u.phone, u.name]));

/**
 * Demo mode: the far ends of the delivery channels run inside this process, and everything they
 * receive is kept in the outbox that public/outbox.html shows. An SMTP server (unless SMTP_URL is
 * set), a fake Twilio for SMS and WhatsApp (unless TWILIO_ACCOUNT_SID is set) that reports each text
 * delivered by a signed status callback to our own webhook, and a push service each seeded user is
 * subscribed to, as a phone would be. As with Paystack, a configured provider is always used.
 * Null outside demo mode.
 */
export async function startDemoChannels(config: Config, logger: Logger): Promise<DemoChannels | null> {
  if (!config.demoMode || config.NODE_ENV === 'production') return null;
  const outbox = new DemoOutbox();
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const push = new FakePushService();
    const { hostPort } = await push.start();
    started.push(push);
    let next: Config = { ...config, PUSH_ALLOWED_TEST_HOSTS: [...config.PUSH_ALLOWED_TEST_HOSTS, hostPort] };

    const smtp = config.SMTP_URL ? null : new SmtpSink();
    if (smtp) {
      next = { ...next, SMTP_URL: await smtp.start() };
      started.push(smtp);
    }

    const twilio = config.TWILIO_ACCOUNT_SID ? null : new FakeTwilio(`AC${crypto.randomBytes(16).toString('hex')}`, crypto.randomBytes(24).toString('hex'));
    if (twilio) {
      next = {
        ...next,
        TWILIO_BASE_URL: await twilio.start(),
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_SMS_FROM: DEMO_SMS_FROM,
        TWILIO_WHATSAPP_FROM: DEMO_WHATSAPP_FROM,
        TWILIO_WHATSAPP_TEMPLATES: { '*': DEMO_WHATSAPP_TEMPLATE.sid },
      };
      twilio.defineTemplate(DEMO_WHATSAPP_TEMPLATE.sid, DEMO_WHATSAPP_TEMPLATE.text);
      started.push(twilio);
    }

    const pushOwners = new Map<string, string>();
    const timers = new Set<NodeJS.Timeout>();
    let callbackBase: string | null = null;
    let stopped = false;

    smtp?.onMail((mail) => outbox.add(fromMail(mail)));
    push.onPush((p) => outbox.add(fromPush(p, pushOwners)));
    twilio?.onMessage((m) => {
      const entry = outbox.add(fromText(m));
      // As Twilio does, a moment later: a signed status callback to the message's StatusCallback.
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (stopped) return;
        if (!callbackBase) return outbox.setStatus(entry.id, 'queued (no callback: the server was not listening yet)');
        twilio.postStatus(m.sid, 'delivered', { via: callbackBase }).then(
          (r) => {
            const outcome = (r.body as { outcome?: string } | null)?.outcome;
            outbox.setStatus(entry.id, r.status === 200 ? `delivered (our webhook: ${outcome ?? r.status})` : `callback refused (${r.status})`);
          },
          (err) => {
            outbox.setStatus(entry.id, 'callback failed');
            logger.warn({ code: 'DEMO_CALLBACK_FAILED', err: String(err) }, 'demo Twilio could not post a status callback');
          },
        );
      }, DEMO_TEXT_DELIVERED_MS);
      timers.add(timer);
    });

    logger.info(
      { email: smtp ? next.SMTP_URL : 'configured', texts: twilio ? next.TWILIO_BASE_URL : 'configured', push: hostPort },
      'demo mode: fake email, SMS/WhatsApp and push services running in this process',
    );
    return {
      config: Object.freeze(next),
      outbox,
      smtp,
      twilio,
      push,
      seed: async (knex) => {
        pushOwners.clear();
        for (const u of DEMO_USERS) {
          if (twilio) await giveDemoPhone(knex, u.id, u.phone);
          const s = push.subscribe();
          await replaceDemoPushSubscription(knex, u.id, { endpoint: s.endpoint, ...s.keys });
          pushOwners.set(subscriptionIdOf(s.endpoint), u.name);
        }
      },
      callbacksTo: (baseUrl) => {
        callbackBase = baseUrl;
      },
      stop: async () => {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of started.reverse()) await s.stop();
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
}

const subscriptionIdOf = (endpoint: string) => endpoint.split('/').pop() ?? '';

function fromMail(mail: ParsedMail) {
  const to = [mail.to]
    .flat()
    .flatMap((t) => t?.value ?? [])
    .map((v) => v.address ?? '')
    .filter(Boolean);
  return {
    channel: 'email' as const,
    to: to.join(', '),
    recipient: to.map((a) => nameByEmail.get(a.toLowerCase())).find(Boolean) ?? null,
    title: mail.subject ?? '',
    text: (mail.text ?? '').trim(),
  };
}

function fromPush(p: ReceivedPush, owners: ReadonlyMap<string, string>) {
  return {
    channel: 'push' as const,
    to: `push subscription ${p.subscriptionId}`,
    recipient: owners.get(p.subscriptionId) ?? null,
    title: typeof p.payload.title === 'string' ? p.payload.title : '',
    text: typeof p.payload.body === 'string' ? p.payload.body : '',
  };
}

function fromText(m: ReceivedMessage) {
  const whatsapp = m.to.startsWith('whatsapp:');
  const number = m.to.replace(/^whatsapp:/, '');
  return {
    channel: whatsapp ? ('whatsapp' as const) : ('sms' as const),
    to: number,
    recipient: nameByPhone.get(number) ?? null,
    title: m.contentSid ? `Template ${m.contentSid}` : '',
    text: m.body,
    status: 'queued',
  };
}
