import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { waitUntil } from '../support/browser';
import { findDemoUser } from '../../src/demo/demo-seed';
import { DEMO_WHATSAPP_TEMPLATE } from '../../src/demo/demo-channels';
import type { OutboxMessageView } from '../../src/contract/views';
import { inAnHour } from '../support/booking-time';

/*
 * Demo mode with its channels' fakes inside the server: a booking request nobody reads reaches the
 * provider by push and then WhatsApp, receipts go by email, and the outbox endpoint lists what the
 * fakes received. Escalation delays are a second or two here (the demo's own defaults are longer).
 */

const SIPHO = findDemoUser('demo-provider-sipho')!;
const THANDI = findDemoUser('demo-client-thandi')!;

describeDb('the demo outbox', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer({ DEMO_MODE: '1', ESCALATE_PUSH_AFTER_S: '1', ESCALATE_SMS_AFTER_S: '2', DISPATCH_POLL_MS: '100' });
  });
  afterAll(() => srv?.stop());

  const signIn = async (userId: string) => (await request(srv.url).post('/api/demo/sessions').send({ userId }).expect(201)).body.token as string;
  const outbox = async (): Promise<OutboxMessageView[]> => (await request(srv.url).get('/api/demo/outbox').expect(200)).body.messages;
  const newer = (messages: OutboxMessageView[], than: number) => messages.filter((m) => Number(m.id) > than);
  const lastId = async () => Number((await outbox())[0]?.id ?? 0);

  async function requestPlumber(thandi: string): Promise<string> {
    const res = await request(srv.url)
      .post('/api/bookings')
      .set('Authorization', `Bearer ${thandi}`)
      .send({ providerId: SIPHO.id, service: 'plumbing', scheduledFor: inAnHour(), amount: 135_000 })
      .expect(201);
    return res.body.id;
  }

  /** Sipho's notification about booking `id`, with its deliveries. */
  async function siphosNotice(sipho: string, bookingId: string, type = 'booking.created') {
    const res = await request(srv.url).get('/api/notifications').set('Authorization', `Bearer ${sipho}`).expect(200);
    return res.body.notifications.find((n: any) => n.type === type && n.data?.bookingId === bookingId);
  }

  it('a booking request the provider does not read goes by push, then WhatsApp, and the fake reports it delivered by a signed callback', async () => {
    expect(srv.running.demoChannels).not.toBeNull();
    // Texts go to the fake: the server's Twilio is the one inside this process.
    expect(srv.running.services.config.TWILIO_BASE_URL).toBe(`http://127.0.0.1:${new URL(srv.running.services.config.TWILIO_BASE_URL).port}`);
    const since = await lastId();
    const thandi = await signIn(THANDI.id);
    const sipho = await signIn(SIPHO.id);
    const bookingId = await requestPlumber(thandi);

    const whatsapp = await waitUntil(
      'a WhatsApp to Sipho delivered',
      async () => newer(await outbox(), since).find((m) => m.channel === 'whatsapp' && m.to === SIPHO.phone && m.status.startsWith('delivered')),
      15_000,
      100,
    );
    expect(whatsapp.recipient).toBe('Sipho Dlamini');
    // Started by us, so sent as the demo's approved template rather than free text.
    expect(whatsapp.title).toBe(`Template ${DEMO_WHATSAPP_TEMPLATE.sid}`);
    expect(whatsapp.text).toMatch(/New booking request/);
    expect(whatsapp.text).toMatch(/Thandi Nkosi/);
    // Our webhook verified the fake's signature and recorded the outcome.
    expect(whatsapp.status).toBe('delivered (our webhook: delivered)');

    const mine = newer(await outbox(), since).filter((m) => m.recipient === 'Sipho Dlamini');
    const push = mine.find((m) => m.channel === 'push');
    expect(push).toEqual(expect.objectContaining({ title: expect.stringMatching(/New booking request/), status: 'received' }));
    // Newest first: the push came before the WhatsApp.
    expect(Number(push!.id)).toBeLessThan(Number(whatsapp.id));
    // The push was decrypted by the fake with the subscription's keys, so its text is the notification's.
    const notice = await siphosNotice(sipho, bookingId);
    expect(push!.text).toBe(notice.body);
    // Where it went, as the app shows it: the same deliveries the outbox saw arrive.
    await waitUntil('the WhatsApp delivery marked delivered', async () =>
      (await siphosNotice(sipho, bookingId)).deliveries.some((d: any) => d.channel === 'whatsapp' && d.status === 'delivered'),
    );
    const deliveries = (await siphosNotice(sipho, bookingId)).deliveries;
    expect(deliveries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ channel: 'push', status: 'sent' }),
        expect.objectContaining({ channel: 'whatsapp', status: 'delivered' }),
      ]),
    );
    // Nothing of this request went to anyone else, and nothing by SMS (WhatsApp is the text channel).
    expect(newer(await outbox(), since).filter((m) => m.channel === 'sms')).toEqual([]);
  }, 30_000);

  it('read before it is due, a request goes nowhere beyond the app', async () => {
    const since = await lastId();
    const thandi = await signIn(THANDI.id);
    const sipho = await signIn(SIPHO.id);
    const bookingId = await requestPlumber(thandi);
    const notice = await waitUntil('the notification', () => siphosNotice(sipho, bookingId));
    await request(srv.url).post(`/api/notifications/${notice.id}/read`).set('Authorization', `Bearer ${sipho}`).expect(200);
    await waitUntil(
      'push and WhatsApp skipped',
      async () => {
        const d = (await siphosNotice(sipho, bookingId)).deliveries;
        return d.length === 2 && d.every((x: any) => x.status === 'skipped' && x.reason === 'read before it was due');
      },
      15_000,
      100,
    );
    expect(newer(await outbox(), since).filter((m) => m.recipient === 'Sipho Dlamini')).toEqual([]);
  }, 30_000);

  it('a payment sends its receipt by email at once, to the address on the profile, in rands', async () => {
    const since = await lastId();
    const thandi = await signIn(THANDI.id);
    const sipho = await signIn(SIPHO.id);
    const bookingId = await requestPlumber(thandi);
    await request(srv.url).post(`/api/bookings/${bookingId}/accept`).set('Authorization', `Bearer ${sipho}`).expect(200);
    const pay = await request(srv.url).post(`/api/bookings/${bookingId}/payment`).set('Authorization', `Bearer ${thandi}`).expect(200);
    await srv.running.demoPaystack!.fake.completeCharge(pay.body.reference);

    const email = await waitUntil(
      'an email to Thandi',
      async () => newer(await outbox(), since).find((m) => m.channel === 'email' && m.to === THANDI.email),
      15_000,
      100,
    );
    expect(email.recipient).toBe('Thandi Nkosi');
    expect(email.text).toContain('R1,350.00');
    expect(email.text).toContain(`#${bookingId}`);
    expect(email.text).toContain(pay.body.reference);
  }, 30_000);

  it('a reset empties the outbox with the rest of the demo', async () => {
    // Escalations of the tests above still due would arrive after the reset: let them finish first.
    const knex = srv.running.services.db.knex;
    await waitUntil(
      'no delivery queued or sending',
      async () => Number((await knex('notification_deliveries').whereIn('status', ['queued', 'sending']).count<{ n: string }[]>({ n: '*' }))[0].n) === 0,
      20_000,
      100,
    );
    await srv.running.services.dispatcher.idle();
    expect((await outbox()).length).toBeGreaterThan(0);
    await request(srv.url).post('/api/demo/reset').send({ confirm: 'reset' }).expect(200);
    expect(await outbox()).toEqual([]);
  }, 30_000);

  it('states the escalation delays the demo runs with', async () => {
    const res = await request(srv.url).get('/api/demo/outbox').expect(200);
    expect(res.body.escalation).toEqual({ pushAfterS: 1, textAfterS: 2 });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('uses configured providers instead of its fakes', async () => {
    const configured = await startTestServer({
      DEMO_MODE: '1',
      SMTP_URL: 'smtp://127.0.0.1:9',
      TWILIO_ACCOUNT_SID: `AC${'ab'.repeat(16)}`,
      TWILIO_AUTH_TOKEN: 'a-configured-twilio-token',
      TWILIO_SMS_FROM: '+27870000001',
    });
    try {
      const c = configured.running.demoChannels!;
      expect([c.smtp, c.twilio]).toEqual([null, null]);
      expect(configured.running.services.config.SMTP_URL).toBe('smtp://127.0.0.1:9');
      expect(configured.running.services.config.TWILIO_BASE_URL).toBe('https://api.twilio.com');
      // No phone is made up for a real Twilio to text.
      const phones = await configured.running.services.db.knex('notification_preferences').whereNotNull('phone').count<{ n: string }[]>({ n: '*' });
      expect(Number(phones[0].n)).toBe(0);
    } finally {
      await configured.stop();
    }
  }, 90_000);

  it('has no outbox and runs no fakes outside demo mode', async () => {
    const plain = await startTestServer();
    try {
      expect(plain.running.demoChannels).toBeNull();
      expect(plain.running.services.config.SMTP_URL).toBeUndefined();
      await request(plain.url).get('/api/demo/outbox').expect(404);
    } finally {
      await plain.stop();
    }
  }, 90_000);
});
