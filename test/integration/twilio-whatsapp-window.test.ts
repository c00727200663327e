import { describeDb } from '../support/test-db';
import { startMarketplace, type Actor, type Marketplace } from '../support/marketplace';
import { inAnHour } from '../support/booking-time';
import { waitUntil } from '../support/browser';
import { FakeTwilio, WHATSAPP_WINDOW_MS } from '../../fakes/fake-twilio';
import { Dispatcher } from '../../src/channels/dispatcher';
import { TextChannel } from '../../src/channels/sms-channel';
import { TwilioClient } from '../../src/channels/twilio-client';
import type { ChannelSender } from '../../src/channels/channel';

/*
 * WhatsApp's 24-hour customer service window, as Twilio documents it (error 63016): free text we
 * start reaches a person only within 24 hours of their last message to us; outside it Twilio takes
 * the request, then the message fails with 63016 (reported by status callback). An approved
 * template goes at any time. The policy table sends a text by one channel (WhatsApp, or SMS when
 * the person allows only SMS) and has no fallback from one to the other, so a 63016 is recorded
 * on the WhatsApp delivery as failed, with why, and nothing else is sent.
 */

const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
const AUTH_TOKEN = 'twilio_window_token_0123456789abcdef';
const SMS_FROM = '+27870000001';
const WHATSAPP_FROM = '+27870000002';
const TEMPLATE = `HX${'2b'.repeat(16)}`;
const PUBLIC_BASE_URL = 'https://market.example.test';
const STATUS_CALLBACK = `${PUBLIC_BASE_URL}/api/webhooks/twilio`;

describeDb("WhatsApp's 24-hour window", () => {
  let m: Marketplace;
  let twilio: FakeTwilio;
  let twilioUrl: string;
  let n = 0;
  const stops: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    twilio = new FakeTwilio(ACCOUNT_SID, AUTH_TOKEN);
    twilioUrl = await twilio.start();
    twilio.defineTemplate(TEMPLATE, '{{1}}: {{2}}');
    // The server's own dispatcher ticks rarely: each test drives dispatchers with its own clock.
    m = await startMarketplace({
      DISPATCH_POLL_MS: '60000',
      ESCALATE_PUSH_AFTER_S: '120',
      ESCALATE_SMS_AFTER_S: '600',
      PUBLIC_BASE_URL,
      TWILIO_BASE_URL: twilioUrl,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_SMS_FROM: SMS_FROM,
      TWILIO_WHATSAPP_FROM: WHATSAPP_FROM,
    });
    // The server sits "behind a proxy" at PUBLIC_BASE_URL: the fake's own callbacks go to it directly.
    twilio.callbacksVia = m.srv.url;
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });
  afterAll(async () => {
    await m.stop();
    await twilio.stop();
  });

  const knex = () => m.srv.db.database.knex;
  const deps = () => m.srv.running.services;
  const at = (base: Date, seconds: number) => new Date(base.getTime() + seconds * 1000);

  /** The real WhatsApp and SMS channels, with these WhatsApp templates, to the fake. */
  function textChannels(templates?: Record<string, string>): ChannelSender[] {
    const c = deps().config;
    const client = new TwilioClient({ baseUrl: c.TWILIO_BASE_URL, accountSid: c.TWILIO_ACCOUNT_SID!, authToken: c.TWILIO_AUTH_TOKEN!, timeoutMs: 2_000 });
    stops.push(() => client.close());
    return [
      new TextChannel({ channel: 'whatsapp', client, from: c.TWILIO_WHATSAPP_FROM!, statusCallback: STATUS_CALLBACK, templates }),
      new TextChannel({ channel: 'sms', client, from: c.TWILIO_SMS_FROM!, statusCallback: STATUS_CALLBACK }),
    ];
  }

  function dispatcher(senders: ChannelSender[]): Dispatcher {
    const d = new Dispatcher(knex(), new Map(senders.map((s) => [s.channel, s])), () => false, deps().telemetry, deps().logger, {
      delays: { pushAfterS: 120, textAfterS: 600 },
      pollMs: 60_000,
      maxAttempts: 3,
      retryBaseMs: 10_000,
    });
    stops.push(() => d.stop());
    return d;
  }

  /** A provider with this number, and their unread booking request, due by WhatsApp at +600 s. */
  async function unreadRequest(phone: string): Promise<{ provider: Actor; id: string; createdAt: Date }> {
    n++;
    const client = m.user(`wa-win-c${n}`, 'client', { name: `Thandi ${n}` });
    const provider = m.user(`wa-win-p${n}`, 'provider', { name: `Sipho ${n}` });
    await client.get('/api/me').expect(200);
    await provider.get('/api/me').expect(200);
    await provider.put('/api/me/notification-preferences', { mutedTypes: [], phone }).expect(200);
    await client.post('/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 135000 }).expect(201);
    const inbox = (await provider.get('/api/notifications').expect(200)).body.notifications;
    const request = inbox.find((x: { type: string }) => x.type === 'booking.created');
    return { provider, id: request.id, createdAt: new Date(request.createdAt) };
  }

  const deliveriesOf = (notificationId: string) =>
    knex()('notification_deliveries').where({ notification_id: notificationId }).orderBy('id').select('channel', 'status', 'error_code', 'reason');

  it('without a template, free text outside the window is taken, then fails with 63016: recorded as failed with why, and no SMS instead', async () => {
    const { provider, id, createdAt } = await unreadRequest('+27825550301');
    await dispatcher(textChannels()).runOnce(at(createdAt, 601));
    const [message] = twilio.to('whatsapp:+27825550301');
    expect(message).toEqual(expect.objectContaining({ contentSid: null, status: 'failed', errorCode: 63016 }));
    const failed = await waitUntil('the 63016 callback recorded', async () =>
      (await deliveriesOf(id)).find((r) => r.channel === 'whatsapp' && r.status === 'failed'),
    );
    expect(failed).toEqual({
      channel: 'whatsapp',
      status: 'failed',
      error_code: 'TWILIO_63016',
      reason: expect.stringMatching(/24-hour window.*approved template.*TWILIO_WHATSAPP_TEMPLATES/),
    });
    expect(twilio.callbackErrors).toEqual([]);
    // The person reads why in the app; the policy has no SMS fallback, so nothing else goes.
    const seen = (await provider.get('/api/notifications').expect(200)).body.notifications.find((x: { id: string }) => x.id === id);
    expect(seen.deliveries.map((x: { channel: string; status: string }) => [x.channel, x.status])).toEqual([
      ['push', 'skipped'],
      ['whatsapp', 'failed'],
    ]);
    await dispatcher(textChannels()).runOnce(at(createdAt, 3600));
    expect(twilio.to('+27825550301')).toEqual([]);
    expect(twilio.to('whatsapp:+27825550301')).toHaveLength(1);
    expect((await deliveriesOf(id)).map((r) => r.channel)).toEqual(['push', 'whatsapp']);
  });

  it('with a template, the same request goes as the template and is not failed', async () => {
    const { id, createdAt } = await unreadRequest('+27825550302');
    await dispatcher(textChannels({ '*': TEMPLATE })).runOnce(at(createdAt, 601));
    const sent = twilio.to('whatsapp:+27825550302');
    expect(sent).toEqual([expect.objectContaining({ contentSid: TEMPLATE, status: 'queued', errorCode: null })]);
    expect(await deliveriesOf(id)).toEqual([
      expect.objectContaining({ channel: 'push', status: 'skipped' }),
      { channel: 'whatsapp', status: 'sent', error_code: null, reason: null },
    ]);
  });

  it('the fake keeps the window as Twilio documents it: free text within 24 hours of the last inbound message, templates any time, SMS never held', async () => {
    const send = (to: string, fields: Record<string, string>) =>
      fetch(`${twilioUrl}/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ To: to, From: to.startsWith('whatsapp:') ? `whatsapp:${WHATSAPP_FROM}` : SMS_FROM, ...fields }).toString(),
      }).then(async (r) => {
        const body = (await r.json()) as { sid: string; status: string };
        return [r.status, body.status, twilio.messages.find((x) => x.sid === body.sid)?.errorCode ?? null];
      });
    const to = 'whatsapp:+27825550303';
    const t = Date.now();
    // Taken (201, queued) either way; outside the window it then fails with 63016.
    expect(await send(to, { Body: 'hello' })).toEqual([201, 'queued', 63016]);
    expect(await send(to, { ContentSid: TEMPLATE, ContentVariables: '{"1":"a","2":"b"}' })).toEqual([201, 'queued', null]);
    expect(await send('+27825550303', { Body: 'hello' })).toEqual([201, 'queued', null]);
    twilio.inbound(to, t - WHATSAPP_WINDOW_MS + 60_000);
    expect(await send(to, { Body: 'hello' })).toEqual([201, 'queued', null]);
    const clock = twilio.now;
    try {
      twilio.now = () => t + 60_000;
      expect(await send(to, { Body: 'hello' })).toEqual([201, 'queued', 63016]);
      // A new message from them opens it again.
      twilio.inbound(to);
      expect(await send(to, { Body: 'hello' })).toEqual([201, 'queued', null]);
    } finally {
      twilio.now = clock;
    }
  });
});
