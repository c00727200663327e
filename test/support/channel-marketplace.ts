import { FakeTwilio } from '../../fakes/fake-twilio';
import { FakePushService } from '../../fakes/fake-push-service';
import { SmtpSink } from '../../fakes/smtp-sink';
import { Dispatcher, type DispatcherOptions } from '../../src/channels/dispatcher';
import { PushChannel } from '../../src/channels/push-channel';
import { TextChannel } from '../../src/channels/sms-channel';
import { TwilioClient } from '../../src/channels/twilio-client';
import type { ChannelSender } from '../../src/channels/channel';
import { useMarketplace, type Actor, type Marketplace } from './marketplace';

/** The Twilio account the fake Twilio answers for, and the server's senders on it. */
export const TWILIO_ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
export const TWILIO_AUTH_TOKEN = 'twilio_suite_token_0123456789abcdef';
export const SMS_FROM = '+27870000001';
export const WHATSAPP_FROM = '+27870000002';
/** The address Twilio is given for the server: it sits "behind a proxy" there, not at the address it listens on. */
export const PUBLIC_BASE_URL = 'https://market.example.test';
export const STATUS_CALLBACK = `${PUBLIC_BASE_URL}/api/webhooks/twilio`;

/**
 * The server's own dispatcher ticks rarely, so that each test drives dispatchers with its own
 * clock; its escalation delays are the ones `dispatcher()` is given.
 */
export const DRIVEN_DISPATCH = { DISPATCH_POLL_MS: '60000', ESCALATE_PUSH_AFTER_S: '120', ESCALATE_SMS_AFTER_S: '600' };

export interface ChannelMarketplaceOptions {
  /** Twilio's Messages API: the server is given its account and WhatsApp sender. */
  twilio?: boolean;
  /** A browser vendor's push service: the server may push to it. */
  push?: boolean;
  /** An SMTP server: the server sends its email through it. */
  smtp?: boolean;
  /** The server's other settings, over the fakes' own. */
  env?: Record<string, string>;
}

export interface ChannelMarketplace {
  m: Marketplace;
  twilio: FakeTwilio;
  pushService: FakePushService;
  smtp: SmtpSink;
  /** Where the fakes listen, once started. */
  readonly twilioUrl: string;
  readonly smtpUrl: string;
  /**
   * The real WhatsApp (with these templates) and SMS channels, configured as the server configures
   * them, to the fake: for a server given TWILIO_SMS_FROM and PUBLIC_BASE_URL, where STATUS_CALLBACK is.
   */
  textChannels: (templates?: Record<string, string>) => ChannelSender[];
  /** The real push channel, with the server's VAPID keys, to the fake push service. */
  pushChannel: () => PushChannel;
  /** A dispatcher of the test's own on the server's database, with the escalation delays of DRIVEN_DISPATCH unless `o` says otherwise. */
  dispatcher: (senders: ChannelSender[], o?: Partial<DispatcherOptions>) => Dispatcher;
  /** Providers signed in, each with push turned on in a browser of the fake push service and no stream open, and their push endpoints. */
  awayUsers: (prefix: string, count: number) => Promise<{ users: Actor[]; endpoints: string[] }>;
  /** Something a test made (a channel, a client), closed when that test ends. */
  closeAfterTest: (close: () => Promise<void> | void) => void;
}

/**
 * The marketplace of one describe block with its delivery channels pointed at local fakes of
 * their far ends: each fake asked for is started before the server and stopped after it, and what
 * a test makes with the returned builders is closed after that test.
 */
export function useChannelMarketplace(o: ChannelMarketplaceOptions): ChannelMarketplace {
  const fakes = {
    twilio: o.twilio ? new FakeTwilio(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN) : undefined,
    pushService: o.push ? new FakePushService() : undefined,
    smtp: o.smtp ? new SmtpSink() : undefined,
  };
  const urls: { twilio?: string; smtp?: string } = {};
  const fakesEnv: Record<string, string> = {};
  beforeAll(async () => {
    if (fakes.twilio) {
      urls.twilio = await fakes.twilio.start();
      Object.assign(fakesEnv, {
        TWILIO_BASE_URL: urls.twilio,
        TWILIO_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN,
        TWILIO_WHATSAPP_FROM: WHATSAPP_FROM,
      });
    }
    if (fakes.pushService) fakesEnv.PUSH_ALLOWED_TEST_HOSTS = (await fakes.pushService.start()).hostPort;
    if (fakes.smtp) fakesEnv.SMTP_URL = urls.smtp = await fakes.smtp.start();
  });
  // Registered after the fakes start and before they stop: the server starts after them and stops before them.
  const m = useMarketplace({ env: () => ({ ...fakesEnv, ...o.env }) });
  const closes: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of closes.splice(0)) await close();
  });
  afterAll(async () => {
    await fakes.twilio?.stop();
    await fakes.pushService?.stop();
    await fakes.smtp?.stop();
  });

  const asked = <T>(fake: T | undefined, name: string): T => {
    if (fake === undefined) throw new Error(`this suite's channel marketplace has no ${name}: ask for it in useChannelMarketplace`);
    return fake;
  };
  const started = (url: string | undefined, name: string): string => {
    if (url === undefined) throw new Error(`the fake ${name} starts in beforeAll: use its address in a hook or a test`);
    return url;
  };
  const services = () => m.srv.running.services;
  const closeAfterTest = (close: () => Promise<void> | void) => void closes.push(close);

  return {
    m,
    get twilio() {
      return asked(fakes.twilio, 'Twilio');
    },
    get pushService() {
      return asked(fakes.pushService, 'push service');
    },
    get smtp() {
      return asked(fakes.smtp, 'SMTP server');
    },
    get twilioUrl() {
      return started(urls.twilio, 'Twilio');
    },
    get smtpUrl() {
      return started(urls.smtp, 'SMTP server');
    },
    textChannels: (templates) => {
      const c = services().config;
      const client = new TwilioClient({ baseUrl: c.TWILIO_BASE_URL, accountSid: c.TWILIO_ACCOUNT_SID!, authToken: c.TWILIO_AUTH_TOKEN!, timeoutMs: 2_000 });
      closeAfterTest(() => client.close());
      return [
        new TextChannel({ channel: 'whatsapp', client, from: c.TWILIO_WHATSAPP_FROM!, statusCallback: STATUS_CALLBACK, templates }),
        new TextChannel({ channel: 'sms', client, from: c.TWILIO_SMS_FROM!, statusCallback: STATUS_CALLBACK }),
      ];
    },
    pushChannel: () => {
      const { config, logger } = services();
      const ch = new PushChannel(m.srv.db.database.knex, { vapid: { subject: config.VAPID_SUBJECT, ...config.vapid! }, timeoutMs: 2_000 }, logger);
      closeAfterTest(() => ch.close());
      return ch;
    },
    dispatcher: (senders, overrides = {}) => {
      const deps = services();
      const d = new Dispatcher(
        m.srv.db.database.knex,
        new Map(senders.map((s) => [s.channel, s])),
        (userId) => deps.registry.hasUser(userId),
        deps.telemetry,
        deps.logger,
        { delays: { pushAfterS: 120, textAfterS: 600 }, pollMs: 60_000, maxAttempts: 3, retryBaseMs: 10_000, ...overrides },
      );
      closeAfterTest(() => d.stop());
      return d;
    },
    awayUsers: async (prefix, count) => {
      const pushService = asked(fakes.pushService, 'push service');
      const users = Array.from({ length: count }, (_, i) => m.user(`${prefix}-${i}`, 'provider'));
      const endpoints: string[] = [];
      for (const u of users) {
        await u.get('/api/me').expect(200);
        const sub = pushService.subscribe();
        await u.post('/api/me/push-subscriptions', sub).expect(201);
        endpoints.push(sub.endpoint);
      }
      return { users, endpoints };
    },
    closeAfterTest,
  };
}
