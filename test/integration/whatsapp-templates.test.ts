import { describeDb } from '../support/test-db';
import type { Actor } from '../support/marketplace';
import { STATUS_CALLBACK, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, WHATSAPP_FROM, useChannelMarketplace } from '../support/channel-marketplace';
import { waitUntil } from '../support/browser';
import { TextChannel } from '../../src/channels/sms-channel';
import { TwilioClient } from '../../src/channels/twilio-client';
import { SendRefused } from '../../src/channels/channel';
import { inAnHour } from '../support/booking-time';

/*
 * WhatsApp delivers a message a business starts only as an approved template outside the 24 hours
 * after the person's last message, so a type with a template configured goes as ContentSid and
 * ContentVariables (Twilio's Content API) instead of Body; the fake checks that shape as Twilio
 * documents it and renders the template.
 */

const REQUEST_TEMPLATE = `HX${'1a'.repeat(16)}`;
const UNKNOWN_TEMPLATE = `HX${'ff'.repeat(16)}`;

describeDb('WhatsApp templates', () => {
  const channels = useChannelMarketplace({
    twilio: true,
    env: {
      ESCALATE_PUSH_AFTER_S: '0',
      ESCALATE_SMS_AFTER_S: '1',
      DISPATCH_POLL_MS: '100',
      // Only requests have a template here; acceptances go as free text.
      TWILIO_WHATSAPP_TEMPLATES: JSON.stringify({ 'booking.created': REQUEST_TEMPLATE }),
    },
  });
  const { m, twilio } = channels;
  beforeAll(() => twilio.defineTemplate(REQUEST_TEMPLATE, 'New request. {{1}}: {{2}}. Reply in the app.'));

  const withPhone = async (a: Actor, phone: string) => {
    await a.get('/api/me').expect(200);
    await a.put('/api/me/notification-preferences', { mutedTypes: [], phone }).expect(200);
  };

  it('a type with a template goes as ContentSid and ContentVariables, one without as Body', async () => {
    const client = m.user('wa-c1', 'client', { name: 'Thandi' });
    const provider = m.user('wa-p1', 'provider', { name: 'Sipho' });
    await withPhone(client, '082 555 0201');
    await withPhone(provider, '082 555 0202');
    const b = await client.post('/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 50_000 }).expect(201);

    const request = await waitUntil('the request by WhatsApp', () => twilio.to('whatsapp:+27825550202')[0]);
    const notice = (await provider.get('/api/notifications').expect(200)).body.notifications.find((n: any) => n.type === 'booking.created');
    expect(request).toEqual(
      expect.objectContaining({
        from: `whatsapp:${WHATSAPP_FROM}`,
        contentSid: REQUEST_TEMPLATE,
        contentVariables: { '1': notice.title, '2': notice.body },
        body: `New request. ${notice.title}: ${notice.body}. Reply in the app.`,
      }),
    );

    await provider.post(`/api/bookings/${b.body.id}/accept`).expect(200);
    const accepted = await waitUntil('the acceptance by WhatsApp', () => twilio.to('whatsapp:+27825550201')[0]);
    expect(accepted.contentSid).toBeNull();
    expect(accepted.body).toMatch(/accepted/i);
  }, 30_000);

  it('a template the account does not have is refused (21655) for good, not retried', async () => {
    const client = new TwilioClient({ baseUrl: channels.twilioUrl, accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, timeoutMs: 2_000 });
    try {
      const channel = new TextChannel({
        channel: 'whatsapp',
        client,
        from: WHATSAPP_FROM,
        statusCallback: STATUS_CALLBACK,
        templates: { '*': UNKNOWN_TEMPLATE },
      });
      const sent = channel.send({
        deliveryId: '1',
        notificationId: '1',
        userId: 'u',
        type: 'booking.accepted',
        title: 'Accepted',
        body: 'See you at 10',
        data: {},
        address: '+27825550203',
      });
      await expect(sent).rejects.toBeInstanceOf(SendRefused);
      await expect(sent).rejects.toEqual(expect.objectContaining({ code: 'TWILIO_21655', retryable: false }));
    } finally {
      await client.close();
    }
  });

  it('the fake holds the Content API to its documented shape', async () => {
    const send = (fields: Record<string, string>) =>
      fetch(`${channels.twilioUrl}/2010-04-01/Accounts/${TWILIO_ACCOUNT_SID}/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ To: 'whatsapp:+27825550204', From: `whatsapp:${WHATSAPP_FROM}`, ...fields }).toString(),
      }).then(async (r) => [r.status, (await r.json()).code]);
    expect(await send({ ContentVariables: '{"1":"a"}', Body: 'x' })).toEqual([400, 21654]);
    expect(await send({ ContentSid: 'HX1', ContentVariables: '{}' })).toEqual([400, 21655]);
    expect(await send({ ContentSid: REQUEST_TEMPLATE, ContentVariables: 'not json' })).toEqual([400, 21656]);
    expect(await send({ ContentSid: REQUEST_TEMPLATE, ContentVariables: '{"1":"a","2":""}' })).toEqual([400, 21656]);
    expect(await send({ ContentSid: REQUEST_TEMPLATE, ContentVariables: '{"1":"a"}' })).toEqual([400, 21656]);
    expect(await send({ ContentSid: REQUEST_TEMPLATE, ContentVariables: '{"1":"a","2":"b"}' })).toEqual([201, undefined]);
  });
});
