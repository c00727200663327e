import type { Knex } from 'knex';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Telemetry } from '../metrics/telemetry';
import type { ChannelSender } from './channel';
import { Dispatcher } from './dispatcher';
import { EmailChannel } from './email-channel';
import type { DeliveryChannel } from '../contract/vocabulary';
import { receiptFacts } from './receipt-repository';
import { PushChannel } from './push-channel';
import { TextChannel } from './sms-channel';
import { TwilioClient } from './twilio-client';
import { TWILIO_WEBHOOK_PATH } from './twilio-webhook-routes';

export interface Channels {
  dispatcher: Dispatcher;
  senders: ReadonlyMap<DeliveryChannel, ChannelSender>;
  stop(): Promise<void>;
}

/**
 * The configured channels and the dispatcher over them; a channel without its settings is off, and
 * says so. The dispatcher runs once started (jobs.ts), when DISPATCH_ENABLED.
 */
export function buildChannels(o: {
  config: Config;
  knex: Knex; /** Whether the user is live on this instance: a stream open or a long poll held. */
  isLive: (userId: string) => boolean;
  telemetry: Telemetry;
  logger: Logger;
}): Channels {
  const { config, logger } = o;
  const baseUrl = config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`;
  const senders = new Map<DeliveryChannel, ChannelSender>();
  const email = config.SMTP_URL
    ? new EmailChannel({
        smtpUrl: config.SMTP_URL,
        from: config.MAIL_FROM,
        dashboardUrl: new URL('/', baseUrl).href,
        receiptFor: (id) => receiptFacts(o.knex, id),
      })
    : null;
  if (email) senders.set('email', email);
  else logger.info({ code: 'EMAIL_NOT_CONFIGURED' }, 'SMTP_URL is not set; email deliveries are recorded as skipped');
  const push = config.vapid ? new PushChannel(o.knex, { vapid: { subject: config.VAPID_SUBJECT, ...config.vapid }, timeoutMs: 10_000 }, logger) : null;
  if (push) senders.set('push', push);
  else logger.warn({ code: 'PUSH_NOT_CONFIGURED' }, 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are not set; push is off');
  const twilio =
    config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN && (config.TWILIO_SMS_FROM || config.TWILIO_WHATSAPP_FROM)
      ? new TwilioClient({ baseUrl: config.TWILIO_BASE_URL, accountSid: config.TWILIO_ACCOUNT_SID, authToken: config.TWILIO_AUTH_TOKEN, timeoutMs: 10_000 })
      : null;
  const statusCallback = new URL(TWILIO_WEBHOOK_PATH, baseUrl).href;
  for (const [channel, from] of [
    ['whatsapp', config.TWILIO_WHATSAPP_FROM],
    ['sms', config.TWILIO_SMS_FROM],
  ] as const) {
    if (twilio && from)
      senders.set(
        channel,
        new TextChannel({ channel, client: twilio, from, statusCallback, templates: channel === 'whatsapp' ? config.TWILIO_WHATSAPP_TEMPLATES : undefined }),
      );
    else
      logger.info(
        { code: `${channel.toUpperCase()}_NOT_CONFIGURED` },
        `TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_${channel.toUpperCase()}_FROM are not all set; ${channel} deliveries are recorded as skipped`,
      );
  }
  const dispatcher = new Dispatcher(o.knex, senders, o.isLive, o.telemetry, logger, {
    delays: { pushAfterS: config.ESCALATE_PUSH_AFTER_S, textAfterS: config.ESCALATE_SMS_AFTER_S },
    pollMs: config.DISPATCH_POLL_MS,
    maxAttempts: config.DELIVERY_MAX_ATTEMPTS,
    retryBaseMs: config.DELIVERY_RETRY_BASE_MS,
  });
  return {
    dispatcher,
    senders,
    stop: async () => {
      await dispatcher.stop();
      email?.close();
      await push?.close();
      await twilio?.close();
    },
  };
}
