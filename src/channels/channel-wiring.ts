import type { Knex } from 'knex';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { ChannelRegistry } from '../realtime/channel-registry';
import type { Telemetry } from '../ops/telemetry';
import type { ChannelSender } from './channel';
import { Dispatcher } from './dispatcher';
import { EmailChannel } from './email-channel';
import type { DeliveryChannel } from './policies';
import { receiptFacts } from './receipt-repository';
import { PushChannel } from './push-channel';

export interface Channels {
  dispatcher: Dispatcher;
  senders: ReadonlyMap<DeliveryChannel, ChannelSender>;
  stop(): Promise<void>;
}

/** The configured channels and the dispatcher over them; a channel without its settings is off, and says so. */
export function startChannels(o: { config: Config; knex: Knex; registry: ChannelRegistry; telemetry: Telemetry; logger: Logger }): Channels {
  const { config, logger } = o;
  const baseUrl = config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`;
  const senders = new Map<DeliveryChannel, ChannelSender>();
  const email = config.SMTP_URL
    ? new EmailChannel({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, dashboardUrl: new URL('/', baseUrl).href, receiptFor: (id) => receiptFacts(o.knex, id) })
    : null;
  if (email) senders.set('email', email);
  else logger.info({ code: 'EMAIL_NOT_CONFIGURED' }, 'SMTP_URL is not set; email deliveries are recorded as skipped');
  const push = config.vapid ? new PushChannel(o.knex, { vapid: { subject: config.VAPID_SUBJECT, ...config.vapid }, timeoutMs: 10_000 }, logger) : null;
  if (push) senders.set('push', push);
  else logger.warn({ code: 'PUSH_NOT_CONFIGURED' }, 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are not set; push is off');
  const dispatcher = new Dispatcher(o.knex, senders, (userId) => o.registry.hasUser(userId), o.telemetry, logger, {
    delays: { pushAfterS: config.ESCALATE_PUSH_AFTER_S, textAfterS: config.ESCALATE_SMS_AFTER_S },
    pollMs: config.DISPATCH_POLL_MS,
    maxAttempts: config.DELIVERY_MAX_ATTEMPTS,
  });
  dispatcher.start();
  return {
    dispatcher,
    senders,
    stop: async () => {
      await dispatcher.stop();
      email?.close();
      await push?.close();
    },
  };
}
