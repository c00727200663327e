import supertest from 'supertest';
import { describeDb } from '../support/test-db';
import type { Actor } from '../support/marketplace';
import { DRIVEN_DISPATCH, useChannelMarketplace } from '../support/channel-marketplace';
import { RecordingChannel } from '../fakes/recording-channel';
import { EmailChannel } from '../../src/channels/email-channel';
import { claimDue } from '../../src/channels/delivery-repository';
import { receiptFacts } from '../../src/channels/receipt-repository';
import { inAnHour } from '../support/booking-time';

describeDb('deliveries beyond the tab', () => {
  const channels = useChannelMarketplace({ push: true, smtp: true, env: DRIVEN_DISPATCH });
  const { m, smtp, pushService, dispatcher, closeAfterTest, pushChannel: push } = channels;
  let n = 0;

  const knex = () => m.srv.db.database.knex;
  const deps = () => m.srv.running.services;
  const at = (base: Date, seconds: number) => new Date(base.getTime() + seconds * 1000);

  function email(): EmailChannel {
    const ch = new EmailChannel({
      smtpUrl: channels.smtpUrl,
      from: 'Marketplace <no-reply@test.local>',
      dashboardUrl: 'http://localhost/',
      receiptFor: (id) => receiptFacts(knex(), id),
    });
    closeAfterTest(() => ch.close());
    return ch;
  }

  async function pair(o: { phone?: string } = {}) {
    n++;
    const client = m.user(`dl-c${n}`, 'client', { name: `Thandi ${n}`, email: `dl-c${n}@example.co.za` });
    const provider = m.user(`dl-p${n}`, 'provider', { name: `Sipho ${n}`, email: `dl-p${n}@example.co.za` });
    await client.get('/api/me').expect(200);
    await provider.get('/api/me').expect(200);
    if (o.phone) await provider.put('/api/me/notification-preferences', { mutedTypes: [], phone: o.phone }).expect(200);
    // The provider's browser turned notifications on.
    const subscription = pushService.subscribe();
    await provider.post('/api/me/push-subscriptions', subscription).expect(201);
    return { client, provider, endpoint: subscription.endpoint };
  }

  const book = async (client: Actor, provider: Actor) =>
    (await client.post('/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 135000 }).expect(201)).body
      .id as string;

  async function notificationOf(actor: Actor, type: string) {
    const inbox = (await actor.get('/api/notifications').expect(200)).body;
    const found = inbox.notifications.find((x: { type: string }) => x.type === type);
    if (!found) throw new Error(`no ${type} notification`);
    return found as { id: string; createdAt: string; deliveries: Array<{ channel: string; status: string; reason: string | null }> };
  }

  it('emails the payment receipt in rands with the reference and booking, and shows the delivery in the inbox, status and metrics', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'dl-receipt', amount: 135000, service: 'roof repair' });
    await m.paystack.completeCharge(c.reference);
    const paid = await notificationOf(c.client, 'payment.status_changed');
    const d = dispatcher([email(), push()]);
    await d.runOnce(new Date());
    const to = smtp.to(await emailOf(c.client));
    expect(to).toHaveLength(1);
    const mail = to[0];
    expect(mail.subject).toBe('Payment received and held in escrow');
    expect(mail.text).toContain('Amount: R1,350.00');
    expect(mail.text).toContain(`Reference: ${c.reference}`);
    expect(mail.text).toContain(`Booking: #${c.id}, roof repair`);
    expect(mail.html).toContain('<th align="left">Amount</th><td>R1,350.00</td>');
    expect(mail.headers.get('x-notification-id')).toBe(paid.id);

    const after = await notificationOf(c.client, 'payment.status_changed');
    expect(after.deliveries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ channel: 'email', status: 'sent', reason: null }),
        // The client never turned notifications on.
        expect.objectContaining({ channel: 'push', status: 'skipped', reason: 'no push subscription' }),
      ]),
    );
    const status = (await m.user('dl-ops', 'admin').get('/api/status').expect(200)).body;
    expect(status.deliveries.byChannel.email.sent).toBeGreaterThanOrEqual(1);
    expect(status.deliveries.sendDelay.samples).toBeGreaterThanOrEqual(1);
    const metrics = await fetch(`${m.srv.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/notification_sends_total\{channel="email",outcome="sent"\} [1-9]/);
    expect(metrics).toMatch(/notification_send_delay_seconds_bucket\{le="[^"]+",channel="email"\}/);
  });

  it('emails the provider a payout receipt with the fee kept and the payout reference', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'dl-payout', amount: 200000, service: 'wiring' });
    await knex()('users').where({ id: c.provider.sub }).update({ email: 'dl-payout-provider@example.co.za' });
    await m.paystack.completeCharge(c.reference);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    await dispatcher([email()]).runOnce(new Date());
    const mails = smtp.to('dl-payout-provider@example.co.za').filter((x) => x.text?.includes('Payout:'));
    expect(mails.length).toBeGreaterThanOrEqual(1);
    expect(mails[0].text).toContain('Booking amount: R2,000.00');
    expect(mails[0].text).toContain('Platform fee: R100.00');
    expect(mails[0].text).toContain('Payout: R1,900.00');
    expect(mails[0].text).toMatch(/Reference: \S+/);
  });

  it('escalates an unread booking request: nothing before 120 s, push after (decrypted at the push service), WhatsApp after 600 s', async () => {
    const { client, provider, endpoint } = await pair({ phone: '+27825550001' });
    await book(client, provider);
    const request = await notificationOf(provider, 'booking.created');
    const t0 = new Date(request.createdAt);
    const whatsapp = new RecordingChannel('whatsapp');
    const d = dispatcher([push(), whatsapp]);
    const mine = (ch: RecordingChannel) => ch.sent.filter((x) => x.notificationId === request.id);
    await d.runOnce(at(t0, 60));
    expect(pushService.to(endpoint)).toHaveLength(0);
    await d.runOnce(at(t0, 121));
    const pushes = pushService.to(endpoint);
    expect(pushes.map((p) => p.payload)).toEqual([
      {
        title: `New booking request from Thandi ${n}`,
        body: expect.stringContaining('plumbing'),
        url: '/provider.html',
        notificationId: request.id,
        type: 'booking.created',
      },
    ]);
    expect(pushes[0].headers.authorization).toContain(`k=${deps().config.vapid!.publicKey}`);
    expect(Number(pushes[0].headers.ttl)).toBeGreaterThan(0);
    expect(mine(whatsapp)).toHaveLength(0);
    await d.runOnce(at(t0, 601));
    expect(mine(whatsapp)).toEqual([expect.objectContaining({ address: '+27825550001' })]);
    await d.runOnce(at(t0, 3600));
    expect(pushService.to(endpoint)).toHaveLength(1);
    expect(mine(whatsapp)).toHaveLength(1);
    const seen = await notificationOf(provider, 'booking.created');
    expect(seen.deliveries.map((x) => [x.channel, x.status])).toEqual([
      ['push', 'sent'],
      ['whatsapp', 'sent'],
    ]);
  });

  it('a request read in time sends nothing beyond the tab', async () => {
    const { client, provider, endpoint } = await pair({ phone: '+27825550002' });
    await book(client, provider);
    const request = await notificationOf(provider, 'booking.created');
    const t0 = new Date(request.createdAt);
    const whatsapp = new RecordingChannel('whatsapp');
    const d = dispatcher([push(), whatsapp]);
    await d.runOnce(at(t0, 30));
    await provider.post(`/api/notifications/${request.id}/read`).expect(200);
    await d.runOnce(at(t0, 700));
    expect(pushService.to(endpoint)).toEqual([]);
    expect(whatsapp.sent.filter((x) => x.notificationId === request.id)).toEqual([]);
    const seen = await notificationOf(provider, 'booking.created');
    expect(seen.deliveries).toEqual([
      expect.objectContaining({ channel: 'push', status: 'skipped', reason: 'read before it was due' }),
      expect.objectContaining({ channel: 'whatsapp', status: 'skipped', reason: 'read before it was due' }),
    ]);
  });

  it('quiet hours hold a request until the morning in the provider’s zone; an urgent cancellation goes at once', async () => {
    const { client, provider, endpoint } = await pair({ phone: '+27825550003' });
    // From an hour ago to three hours ahead, so whenever the test runs the request falls inside them.
    const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Africa/Johannesburg', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(
      new Date(),
    );
    const nowMin = Number(local.find((p) => p.type === 'hour')!.value) * 60 + Number(local.find((p) => p.type === 'minute')!.value);
    const endMin = (nowMin + 180) % 1440;
    const clock = (min: number) => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;
    await provider
      .put('/api/me/notification-preferences', {
        mutedTypes: [],
        quietHours: { start: clock((nowMin + 1440 - 60) % 1440), end: clock(endMin) },
        timeZone: 'Africa/Johannesburg',
      })
      .expect(200);
    const id = await book(client, provider);
    const request = await notificationOf(provider, 'booking.created');
    const t0 = new Date(request.createdAt);
    const whatsapp = new RecordingChannel('whatsapp');
    const d = dispatcher([push(), whatsapp]);
    const pushed = (id: string) => pushService.to(endpoint).filter((p) => p.payload.notificationId === id);
    await d.runOnce(at(t0, 700));
    expect(pushed(request.id)).toEqual([]);
    const held = await notificationOf(provider, 'booking.created');
    expect(held.deliveries.map((x) => [x.channel, x.status, x.reason])).toEqual([
      ['push', 'queued', 'held until quiet hours end'],
      ['whatsapp', 'queued', 'held until quiet hours end'],
    ]);
    await d.runOnce(at(t0, 3 * 3600 + 60));
    expect(pushed(request.id)).toHaveLength(1);
    expect(whatsapp.sent.filter((x) => x.notificationId === request.id)).toHaveLength(1);

    // Cancelled: urgent, so it escalates through the quiet hours.
    await client.post(`/api/bookings/${id}/cancel`).expect(200);
    const cancelled = await notificationOf(provider, 'booking.cancelled');
    await d.runOnce(at(new Date(cancelled.createdAt), 130));
    expect(pushed(cancelled.id)).toHaveLength(1);
  });

  it('preferences: a South African number is stored in E.164, a bad one is 400 and changes nothing; mutedTypes alone keeps the rest', async () => {
    const { provider } = await pair();
    const before = (await provider.get('/api/me/notification-preferences').expect(200)).body;
    expect(before).toEqual({
      mutedTypes: [],
      email: null,
      effectiveEmail: `dl-p${n}@example.co.za`,
      phone: null,
      timeZone: 'Africa/Johannesburg',
      quietHours: null,
      channels: {},
    });
    const set = await provider
      .put('/api/me/notification-preferences', {
        mutedTypes: ['booking.started'],
        phone: '082 555 1234',
        email: 'sipho@example.org',
        timeZone: 'Europe/London',
        quietHours: { start: '22:00', end: '07:00' },
        channels: { 'booking.created': ['push', 'sms'] },
      })
      .expect(200);
    const wanted = {
      mutedTypes: ['booking.started'],
      email: 'sipho@example.org',
      effectiveEmail: 'sipho@example.org',
      phone: '+27825551234',
      timeZone: 'Europe/London',
      quietHours: { start: '22:00', end: '07:00' },
      channels: { 'booking.created': ['push', 'sms'] },
    };
    expect(set.body).toEqual(wanted);
    for (const bad of [
      { phone: '12345' },
      { phone: '+1 555' },
      { phone: 'call me' },
      { timeZone: 'Mars/Olympus' },
      { quietHours: { start: '25:00', end: '07:00' } },
      { channels: { 'booking.created': ['pigeon'] } },
      { email: 'not-an-email' },
    ]) {
      const res = await provider.put('/api/me/notification-preferences', { mutedTypes: [], ...bad });
      expect([res.status, res.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect((await provider.get('/api/me/notification-preferences').expect(200)).body).toEqual(wanted);
    // The old client's body: only its muted types change.
    await provider.put('/api/me/notification-preferences', { mutedTypes: [] }).expect(200);
    expect((await provider.get('/api/me/notification-preferences').expect(200)).body).toEqual({ ...wanted, mutedTypes: [] });
    await provider.put('/api/me/notification-preferences', { mutedTypes: [], phone: null, email: null }).expect(200);
    expect((await provider.get('/api/me/notification-preferences').expect(200)).body).toEqual(
      expect.objectContaining({ phone: null, email: null, effectiveEmail: `dl-p${n}@example.co.za` }),
    );
  });

  it('a user who allows only SMS for requests gets the escalation by SMS', async () => {
    const { client, provider } = await pair();
    await provider.put('/api/me/notification-preferences', { mutedTypes: [], phone: '0825550005', channels: { 'booking.created': ['sms'] } }).expect(200);
    await book(client, provider);
    const request = await notificationOf(provider, 'booking.created');
    const push = new RecordingChannel('push');
    const sms = new RecordingChannel('sms');
    await dispatcher([push, sms]).runOnce(at(new Date(request.createdAt), 601));
    expect(sms.sent.filter((x) => x.notificationId === request.id)).toEqual([expect.objectContaining({ address: '+27825550005' })]);
    expect((await notificationOf(provider, 'booking.created')).deliveries.map((x) => [x.channel, x.status, x.reason])).toEqual([
      ['push', 'skipped', 'turned off in preferences'],
      ['sms', 'sent', null],
    ]);
  });

  it('two dispatchers on one database send each notification once', async () => {
    const { client, provider, endpoint } = await pair({ phone: '+27825550004' });
    for (let i = 0; i < 3; i++) await book(client, provider);
    const inbox = (await provider.get('/api/notifications').expect(200)).body.notifications.filter((x: { type: string }) => x.type === 'booking.created');
    expect(inbox).toHaveLength(3);
    const ids = inbox.map((x: { id: string }) => x.id);
    const a = dispatcher([push()]);
    const b = dispatcher([push()]);
    const later = at(new Date(), 200);
    await Promise.all([a.runOnce(later), b.runOnce(later), a.runOnce(later), b.runOnce(later)]);
    const sent = pushService.to(endpoint).map((p) => String(p.payload.notificationId));
    expect(sent.sort()).toEqual([...ids].sort());
  });

  it('push subscriptions: private, loopback, link-local and plain-http endpoints are 400; a 410 from the push service removes the subscription', async () => {
    const u = m.user(`dl-push-${++n}`, 'provider');
    await u.get('/api/me').expect(200);
    const keys = pushService.subscribe().keys;
    for (const endpoint of [
      'http://push.example.com/x',
      'https://127.0.0.1/x',
      'https://localhost/x',
      'https://10.1.2.3/x',
      'https://192.168.0.10:8443/x',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/x',
      'https://[fe80::1]/x',
      'https://[::ffff:10.0.0.1]/x',
      'https://user:pw@203.0.113.9/x',
      'ftp://push.example.com/x',
      'not a url',
    ]) {
      const res = await u.post('/api/me/push-subscriptions', { endpoint, keys });
      expect([endpoint, res.status, res.body.error?.code]).toEqual([endpoint, 400, 'VALIDATION_FAILED']);
    }
    expect((await u.post('/api/me/push-subscriptions', { endpoint: 'https://93.184.216.34/push/x', keys: { ...keys, p256dh: 'A'.repeat(87) } })).status).toBe(
      400,
    );
    expect(Number((await knex()('push_subscriptions').where({ user_id: u.sub }).count('* as c').first())!.c)).toBe(0);

    const { client, provider, endpoint } = await pair();
    await book(client, provider);
    const request = await notificationOf(provider, 'booking.created');
    pushService.answer(endpoint, 410);
    await dispatcher([push()]).runOnce(at(new Date(request.createdAt), 130));
    expect(await knex()('push_subscriptions').where({ endpoint }).first()).toBeUndefined();
    expect((await notificationOf(provider, 'booking.created')).deliveries).toEqual([
      expect.objectContaining({ channel: 'push', status: 'failed', reason: 'the push subscription has ended; it was removed' }),
      expect.objectContaining({ channel: 'whatsapp', status: 'skipped', reason: 'whatsapp is not configured on this server' }),
    ]);
    // Unsubscribing: the browser's own call; another user's endpoint is not theirs to remove.
    const again = pushService.subscribe();
    await provider.post('/api/me/push-subscriptions', again).expect(201);
    await client.post('/api/me/push-subscriptions', again).expect(201);
    const unsubscribe = (a: Actor) =>
      supertest(m.srv.url).delete('/api/me/push-subscriptions').set('Authorization', `Bearer ${a.token}`).send({ endpoint: again.endpoint });
    await unsubscribe(provider).expect(404);
    await unsubscribe(client).expect(204);
    await unsubscribe(client).expect(404);
  });

  /** The client's email, as the token gave it. */
  const emailOf = async (a: Actor) => String((await knex()('users').where({ id: a.sub }).first('email')).email);

  it('a crash between the provider’s accept and our record is not sent again: the delivery is failed as outcome unknown', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'dl-crash', amount: 50000 });
    await m.paystack.completeCharge(c.reference);
    const address = await emailOf(c.client);
    // Record the deliveries, then claim and send as a dispatcher would, and "crash" before recording.
    const first = dispatcher([email()]);
    await first.ingest();
    const now = new Date();
    const claimed = (await claimDue(knex(), now, { limit: 500, leaseMs: 60_000, cancelledByReading: ['push', 'whatsapp', 'sms'] })).toSend.filter(
      (x) => x.address === address,
    );
    expect(claimed).toHaveLength(1);
    await email().send({
      deliveryId: claimed[0].id,
      notificationId: claimed[0].notification_id,
      userId: claimed[0].user_id,
      type: claimed[0].type,
      title: claimed[0].title,
      body: claimed[0].body,
      data: claimed[0].data ?? {},
      address,
    });
    expect(smtp.to(address)).toHaveLength(1);

    // Another instance (or this one restarted) before the lease ends: leaves it alone.
    const second = dispatcher([email()]);
    await second.runOnce(at(now, 30));
    expect(smtp.to(address)).toHaveLength(1);
    // After the lease: failed, outcome unknown, never sent again.
    await second.runOnce(at(now, 61));
    await second.runOnce(at(now, 3600));
    expect(smtp.to(address)).toHaveLength(1);
    const row = await knex()('notification_deliveries').where({ id: claimed[0].id }).first();
    expect(row).toEqual(expect.objectContaining({ status: 'failed', error_code: 'SEND_OUTCOME_UNKNOWN' }));
  });

  it('a deferred email (4xx) is tried again with backoff; a refused one (5xx) fails with its code', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'dl-retry', amount: 50000 });
    await m.paystack.completeCharge(c.reference);
    const address = await emailOf(c.client);
    const d = dispatcher([email()]);
    const now = new Date();
    smtp.refuseNext(451);
    await d.runOnce(now);
    expect(smtp.to(address)).toHaveLength(0);
    const queued = await knex()('notification_deliveries').where({ address, channel: 'email' }).first();
    expect(queued).toEqual(expect.objectContaining({ status: 'queued', error_code: 'SMTP_DEFERRED', attempts: 1 }));
    expect(new Date(queued.due_at).getTime()).toBe(now.getTime() + 10_000);
    await d.runOnce(at(now, 5));
    expect(smtp.to(address)).toHaveLength(0);
    await d.runOnce(at(now, 11));
    expect(smtp.to(address)).toHaveLength(1);

    const c2 = await m.confirmedBookingWithPayment({ prefix: 'dl-refuse', amount: 50000 });
    await m.paystack.completeCharge(c2.reference);
    smtp.refuseNext(550);
    await d.runOnce(new Date());
    const failed = await knex()('notification_deliveries')
      .where({ address: await emailOf(c2.client), channel: 'email' })
      .first();
    expect(failed).toEqual(expect.objectContaining({ status: 'failed', error_code: 'SMTP_REJECTED' }));
  });
});
