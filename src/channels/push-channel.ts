import webpush from 'web-push';
import { Agent, request } from 'undici';
import type { Knex } from 'knex';
import type { Logger } from '../logger';
import type { ChannelSender, OutgoingMessage, PushRecipient } from './channel';
import { SendRefused } from './channel';
import { deletePushSubscriptionById, pushSubscriptionsOf } from './push-repository';

export interface PushChannelOptions {
  vapid: { subject: string; publicKey: string; privateKey: string };
  timeoutMs: number;
}

/** The page a click opens: the recipient's own dashboard. */
const DASHBOARD: Record<string, string> = { client: '/client.html', provider: '/provider.html', admin: '/operator.html' };

/** A VAPID token's lifetime (RFC 8292 allows up to 24 h), and how long one is reused before a new one is signed. */
const VAPID_TOKEN_S = 12 * 3600;
const VAPID_REUSE_MS = 6 * 3600_000;

/** Codes of a connection that never opened: nothing reached the push service. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Web Push (RFC 8030, payload encrypted per RFC 8291, VAPID per RFC 8292), to every subscription
 * of the user. web-push builds each request (encryption, VAPID header); it is sent here on our own
 * keep-alive agent, which follows no redirects (an endpoint is a URL a client gave us) and speaks
 * plain http to the test hosts allowed for fakes. A 404 or 410 means the subscription is gone: it
 * is deleted.
 */
export class PushChannel implements ChannelSender {
  readonly channel = 'push' as const;
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connections: 16 });
  /** Authorization per push service origin: signing a token (ES256) was most of a push's CPU. */
  private readonly vapidHeaders = new Map<string, { authorization: string; until: number }>();

  constructor(
    private readonly knex: Knex,
    private readonly o: PushChannelOptions,
    private readonly logger: Logger,
  ) {}

  async send(m: OutgoingMessage): Promise<{ providerRef: string | null }> {
    const { role, subscriptions: subs } = m.push ?? (await this.recipient(m.userId));
    if (!subs.length) throw new SendRefused('NO_PUSH_SUBSCRIPTION', 'no push subscription', false);
    // A title, a short body and where to go: well under the 4 KB push services accept.
    const payload = JSON.stringify({
      title: m.title,
      body: m.body.slice(0, 500),
      url: (role && DASHBOARD[role]) ?? '/',
      notificationId: m.notificationId,
      type: m.type,
    });
    let accepted = 0;
    let gone = 0;
    let retryable: SendRefused | null = null;
    for (const s of subs) {
      try {
        const details = webpush.generateRequestDetails({ endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } }, payload, {
          TTL: 24 * 3600,
          urgency: 'normal',
          topic: `n${m.notificationId}`,
          // Signed here once per origin and reused (no vapidDetails): web-push would sign a token per message.
          headers: { Authorization: this.vapidAuthorization(s.endpoint) },
        });
        const res = await request(details.endpoint, {
          method: 'POST',
          headers: details.headers as Record<string, string>,
          body: details.body ?? undefined,
          dispatcher: this.agent,
          headersTimeout: this.o.timeoutMs,
          bodyTimeout: this.o.timeoutMs,
        });
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode > 299)
          throw Object.assign(new Error(`push service answered ${res.statusCode}`), { statusCode: res.statusCode });
        accepted++;
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        const code = (err as { code?: string }).code;
        if (status === 404 || status === 410) {
          await deletePushSubscriptionById(this.knex, s.id);
          gone++;
          this.logger.info({ code: 'PUSH_SUBSCRIPTION_GONE', userId: m.userId, status }, 'push subscription gone; deleted');
        } else if (status === 429 || (status !== undefined && status >= 500)) {
          retryable = new SendRefused('PUSH_DEFERRED', `the push service answered ${status}`, true);
        } else if (status !== undefined) {
          this.logger.warn({ code: 'PUSH_REFUSED', userId: m.userId, status }, 'a push service refused a message');
        } else if (code && NOT_CONNECTED.has(code)) {
          retryable = new SendRefused('PUSH_UNREACHABLE', 'the push service could not be reached', true);
        } else if (accepted === 0 && subs.length === 1) {
          throw err;
        }
      }
    }
    if (accepted) return { providerRef: `${accepted}/${subs.length}` };
    if (gone === subs.length) throw new SendRefused('PUSH_SUBSCRIPTION_GONE', 'the push subscription has ended; it was removed', false);
    throw retryable ?? new SendRefused('PUSH_REFUSED', 'no push service took the message', false);
  }

  /** Read here when the caller did not read them with the delivery. */
  private async recipient(userId: string): Promise<PushRecipient> {
    const subscriptions = await pushSubscriptionsOf(this.knex, userId);
    return { role: subscriptions[0]?.role ?? null, subscriptions };
  }

  private vapidAuthorization(endpoint: string): string {
    const audience = new URL(endpoint).origin;
    const now = Date.now();
    const cached = this.vapidHeaders.get(audience);
    if (cached && cached.until > now) return cached.authorization;
    const { subject, publicKey, privateKey } = this.o.vapid;
    const { Authorization } = webpush.getVapidHeaders(audience, subject, publicKey, privateKey, 'aes128gcm', Math.floor(now / 1000) + VAPID_TOKEN_S);
    this.vapidHeaders.set(audience, { authorization: Authorization, until: now + VAPID_REUSE_MS });
    return Authorization;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
