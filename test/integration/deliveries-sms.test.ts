import { describeDb } from '../support/test-db';
import type { Actor } from '../support/marketplace';
import {
  DRIVEN_DISPATCH,
  PUBLIC_BASE_URL,
  SMS_FROM,
  STATUS_CALLBACK,
  TWILIO_ACCOUNT_SID,
  WHATSAPP_FROM,
  useChannelMarketplace,
} from '../support/channel-marketplace';
import { FakeTwilio } from '../../fakes/fake-twilio';
import { inAnHour } from '../support/booking-time';

describeDb('SMS and WhatsApp through Twilio', () => {
  // The server sits "behind a proxy" at PUBLIC_BASE_URL: the tests post Twilio's callbacks to it directly.
  const { m, twilio, textChannels, dispatcher } = useChannelMarketplace({
    twilio: true,
    env: { ...DRIVEN_DISPATCH, PUBLIC_BASE_URL, TWILIO_SMS_FROM: SMS_FROM },
  });
  let n = 0;

  const knex = () => m.srv.db.database.knex;
  const at = (base: Date, seconds: number) => new Date(base.getTime() + seconds * 1000);

  async function pair(preferences: object) {
    n++;
    const client = m.user(`sms-c${n}`, 'client', { name: `Thandi ${n}` });
    const provider = m.user(`sms-p${n}`, 'provider', { name: `Sipho ${n}` });
    await client.get('/api/me').expect(200);
    await provider.get('/api/me').expect(200);
    await provider.put('/api/me/notification-preferences', { mutedTypes: [], ...preferences }).expect(200);
    return { client, provider };
  }

  const book = async (client: Actor, provider: Actor) =>
    (await client.post('/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 135000 }).expect(201)).body
      .id as string;

  async function notificationOf(actor: Actor, type: string) {
    const inbox = (await actor.get('/api/notifications').expect(200)).body;
    const found = inbox.notifications.find((x: { type: string }) => x.type === type);
    if (!found) throw new Error(`no ${type} notification`);
    return found as { id: string; createdAt: string; deliveries: Array<{ channel: string; status: string; reason: string | null; attempts: number }> };
  }

  const rowOf = (notificationId: string, channel: string) => knex()('notification_deliveries').where({ notification_id: notificationId, channel }).first();

  /** A provider with this number, who wrote to us on WhatsApp an hour ago, whose unread request has gone by WhatsApp: the message Twilio took. */
  async function requestSentByWhatsApp(phone: string) {
    const { client, provider } = await pair({ phone });
    twilio.inbound(`whatsapp:${phone}`, Date.now() - 3_600_000);
    await book(client, provider);
    const request = await notificationOf(provider, 'booking.created');
    await dispatcher(textChannels()).runOnce(at(new Date(request.createdAt), 601));
    const sent = twilio.to(`whatsapp:${phone}`);
    expect(sent).toHaveLength(1);
    return { provider, request, message: sent[0] };
  }

  it('an unread booking request goes by WhatsApp after ESCALATE_SMS_AFTER_S, to the E.164 number, from the configured sender', async () => {
    const { client, provider } = await pair({ phone: '082 555 0101' });
    // Within 24 hours of their last WhatsApp message to us: free text reaches them.
    twilio.inbound('whatsapp:+27825550101');
    await book(client, provider);
    const request = await notificationOf(provider, 'booking.created');
    const t0 = new Date(request.createdAt);
    const d = dispatcher(textChannels());
    await d.runOnce(at(t0, 599));
    expect(twilio.to('whatsapp:+27825550101')).toEqual([]);
    await d.runOnce(at(t0, 601));
    const sent = twilio.to('whatsapp:+27825550101');
    expect(sent).toEqual([
      {
        sid: expect.stringMatching(/^SM[0-9a-f]{32}$/),
        to: 'whatsapp:+27825550101',
        from: `whatsapp:${WHATSAPP_FROM}`,
        messagingServiceSid: null,
        body: expect.stringMatching(new RegExp(`^New booking request from Thandi ${n}: .*plumbing`)),
        // No template configured: free text.
        contentSid: null,
        contentVariables: null,
        statusCallback: STATUS_CALLBACK,
        status: 'queued',
        errorCode: null,
      },
    ]);
    await d.runOnce(at(t0, 3600));
    expect(twilio.to('whatsapp:+27825550101')).toHaveLength(1);
    expect(await rowOf(request.id, 'whatsapp')).toEqual(
      expect.objectContaining({ status: 'sent', provider_ref: sent[0].sid, address: '+27825550101', attempts: 1 }),
    );
    expect((await notificationOf(provider, 'booking.created')).deliveries.map((x) => [x.channel, x.status])).toEqual([
      ['push', 'skipped'],
      ['whatsapp', 'sent'],
    ]);
    expect(twilio.unauthorized).toBe(0);
  });

  it('a user who allows only SMS for requests gets an SMS from the SMS sender', async () => {
    const { client, provider } = await pair({ phone: '0825550102', channels: { 'booking.created': ['sms'] } });
    await book(client, provider);
    const request = await notificationOf(provider, 'booking.created');
    await dispatcher(textChannels()).runOnce(at(new Date(request.createdAt), 601));
    expect(twilio.to('whatsapp:+27825550102')).toEqual([]);
    const sent = twilio.to('+27825550102');
    expect(sent).toEqual([expect.objectContaining({ from: SMS_FROM, body: expect.stringContaining('plumbing'), statusCallback: STATUS_CALLBACK })]);
    expect(await rowOf(request.id, 'sms')).toEqual(expect.objectContaining({ status: 'sent', provider_ref: sent[0].sid }));
  });

  it('a signed delivered callback marks the delivery delivered, once; an undelivered one fails it with Twilio’s error code', async () => {
    const { provider, request, message } = await requestSentByWhatsApp('+27825550103');
    const first = await twilio.postStatus(message.sid, 'delivered', { via: m.srv.url });
    expect(first).toEqual({ status: 200, body: { received: true, outcome: 'delivered' } });
    const delivered = await rowOf(request.id, 'whatsapp');
    expect(delivered).toEqual(expect.objectContaining({ status: 'delivered', error_code: null }));
    // Twilio retries callbacks, and WhatsApp reports `read` after `delivered`: no further effect.
    expect(await twilio.postStatus(message.sid, 'delivered', { via: m.srv.url })).toEqual({ status: 200, body: { received: true, outcome: 'duplicate' } });
    expect(await twilio.postStatus(message.sid, 'read', { via: m.srv.url })).toEqual({ status: 200, body: { received: true, outcome: 'duplicate' } });
    expect(await twilio.postStatus(message.sid, 'undelivered', { via: m.srv.url, errorCode: '30008' })).toEqual({
      status: 200,
      body: { received: true, outcome: 'duplicate' },
    });
    expect(await rowOf(request.id, 'whatsapp')).toEqual(expect.objectContaining({ status: 'delivered', error_code: null, updated_at: delivered.updated_at }));
    expect((await notificationOf(provider, 'booking.created')).deliveries.find((x) => x.channel === 'whatsapp')).toEqual(
      expect.objectContaining({ status: 'delivered' }),
    );

    const other = await requestSentByWhatsApp('+27825550104');
    expect(await twilio.postStatus(other.message.sid, 'sent', { via: m.srv.url })).toEqual({ status: 200, body: { received: true, outcome: 'ignored' } });
    expect(await twilio.postStatus(other.message.sid, 'undelivered', { via: m.srv.url, errorCode: '30008' })).toEqual({
      status: 200,
      body: { received: true, outcome: 'failed' },
    });
    expect(await rowOf(other.request.id, 'whatsapp')).toEqual(expect.objectContaining({ status: 'failed', error_code: 'TWILIO_30008' }));
  });

  it('a forged, unsigned or wrongly addressed callback is 401 WEBHOOK_SIGNATURE_INVALID and changes nothing', async () => {
    const { request, message } = await requestSentByWhatsApp('+27825550105');
    const before = await rowOf(request.id, 'whatsapp');
    const forger = new FakeTwilio(TWILIO_ACCOUNT_SID, 'not_the_auth_token_0123456789');
    forger.messages.push(message);
    const attempts = [
      await twilio.postStatus(message.sid, 'delivered', { via: m.srv.url, signature: null }),
      await twilio.postStatus(message.sid, 'delivered', { via: m.srv.url, signature: '' }),
      await twilio.postStatus(message.sid, 'delivered', { via: m.srv.url, signature: 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' }),
      await forger.postStatus(message.sid, 'delivered', { via: m.srv.url }),
    ];
    // Signed over the URL the server listens on, not the public one Twilio was given.
    twilio.messages.push({ ...message, sid: `${message.sid}x`, statusCallback: `${m.srv.url}/api/webhooks/twilio` });
    const signedForAnotherUrl = await twilio.postStatus(`${message.sid}x`, 'delivered');
    for (const res of [...attempts, signedForAnotherUrl]) {
      expect([res.status, (res.body as { error?: { code?: string } }).error?.code]).toEqual([401, 'WEBHOOK_SIGNATURE_INVALID']);
    }
    expect(await rowOf(request.id, 'whatsapp')).toEqual(before);
    expect(before.status).toBe('sent');
  });

  it("the callback route answers bodies that are not Twilio's with a 4xx and stores nothing", async () => {
    const post = (headers: Record<string, string>, body: string) => fetch(`${m.srv.url}/api/webhooks/twilio`, { method: 'POST', headers, body });
    const before = await knex()('notification_deliveries').count({ n: '*' }).max({ updated: 'updated_at' }).first();
    const answers = [
      await post({ 'content-type': 'application/json', 'x-twilio-signature': 'x' }, JSON.stringify({ MessageSid: 'SM1', MessageStatus: 'delivered' })),
      await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'MessageSid=SM1&MessageStatus=delivered'),
      await post({ 'content-type': 'text/plain', 'x-twilio-signature': 'x' }, '\u0000\uffff'),
    ];
    for (const res of answers) expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([401, 'WEBHOOK_SIGNATURE_INVALID']);
    const huge = await post({ 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'x' }, `Body=${'a'.repeat(100_000)}`);
    expect([huge.status, ((await huge.json()) as { error: { code: string } }).error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(await knex()('notification_deliveries').count({ n: '*' }).max({ updated: 'updated_at' }).first()).toEqual(before);
  });

  it('a Twilio 4xx fails the delivery with Twilio’s code; a 503 is tried again after the backoff and then sent', async () => {
    const refused = await pair({ phone: '+27825550106' });
    await book(refused.client, refused.provider);
    const request = await notificationOf(refused.provider, 'booking.created');
    const d = dispatcher(textChannels());
    twilio.refuseNext(400, 21610, 'Attempt to send to unsubscribed recipient');
    await d.runOnce(at(new Date(request.createdAt), 601));
    expect(twilio.to('whatsapp:+27825550106')).toEqual([]);
    expect(await rowOf(request.id, 'whatsapp')).toEqual(expect.objectContaining({ status: 'failed', error_code: 'TWILIO_21610', attempts: 1 }));
    await d.runOnce(at(new Date(request.createdAt), 3600));
    expect(twilio.to('whatsapp:+27825550106')).toEqual([]);

    const deferred = await pair({ phone: '+27825550107' });
    twilio.inbound('whatsapp:+27825550107');
    await book(deferred.client, deferred.provider);
    const later = await notificationOf(deferred.provider, 'booking.created');
    const t = at(new Date(later.createdAt), 601);
    twilio.refuseNext(503, 20500, 'Service unavailable');
    await d.runOnce(t);
    expect(twilio.to('whatsapp:+27825550107')).toEqual([]);
    const queued = await rowOf(later.id, 'whatsapp');
    expect(queued).toEqual(expect.objectContaining({ status: 'queued', error_code: 'TWILIO_DEFERRED', attempts: 1 }));
    expect(new Date(queued.due_at).getTime()).toBe(t.getTime() + 10_000);
    await d.runOnce(at(t, 5));
    expect(twilio.to('whatsapp:+27825550107')).toEqual([]);
    await d.runOnce(at(t, 11));
    const sent = twilio.to('whatsapp:+27825550107');
    expect(sent).toHaveLength(1);
    expect(await rowOf(later.id, 'whatsapp')).toEqual(expect.objectContaining({ status: 'sent', provider_ref: sent[0].sid, attempts: 2 }));
  });
});
