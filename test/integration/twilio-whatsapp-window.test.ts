import { describeDb } from '../support/test-db';
import type { Actor } from '../support/marketplace';
import {
  DRIVEN_DISPATCH,
  PUBLIC_BASE_URL,
  SMS_FROM,
  TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN,
  WHATSAPP_FROM,
  useChannelMarketplace,
} from '../support/channel-marketplace';
import { inAnHour } from '../support/booking-time';
import { waitUntil } from '../support/browser';
import { WHATSAPP_WINDOW_MS } from '../../fakes/fake-twilio';

/*
 * WhatsApp's 24-hour customer service window, as Twilio documents it (error 63016): free text we
 * start reaches a person only within 24 hours of their last message to us; outside it Twilio takes
 * the request, then the message fails with 63016 (reported by status callback). An approved
 * template goes at any time. The policy table sends a text by one channel (WhatsApp, or SMS when
 * the person allows only SMS) and has no fallback from one to the other, so a 63016 is recorded
 * on the WhatsApp delivery as failed, with why, and nothing else is sent.
 */

const TEMPLATE = `HX${'2b'.repeat(16)}`;

describeDb("WhatsApp's 24-hour window", () => {
  const channels = useChannelMarketplace({ twilio: true, env: { ...DRIVEN_DISPATCH, PUBLIC_BASE_URL, TWILIO_SMS_FROM: SMS_FROM } });
  const { m, twilio, textChannels, dispatcher } = channels;
  let n = 0;
  beforeAll(() => {
    twilio.defineTemplate(TEMPLATE, '{{1}}: {{2}}');
    // The server sits "behind a proxy" at PUBLIC_BASE_URL: the fake's own callbacks go to it directly.
    twilio.callbacksVia = m.srv.url;
  });

  const knex = () => m.srv.db.database.knex;
  const at = (base: Date, seconds: number) => new Date(base.getTime() + seconds * 1000);

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
      fetch(`${channels.twilioUrl}/2010-04-01/Accounts/${TWILIO_ACCOUNT_SID}/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64')}`,
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
