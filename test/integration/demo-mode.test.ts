import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { startMarketplace } from '../support/marketplace';
import { DEMO_USERS, seedDemoUsers } from '../../src/demo/demo-seed';
import { inAnHour } from '../support/booking-time';

describeDb('demo mode', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer({ DEMO_MODE: '1' });
  });
  afterAll(() => srv?.stop());

  it('lists the seeded users, providers with services and an active payout account at the in-process fake', async () => {
    const res = await request(srv.url).get('/api/demo/users').expect(200);
    expect(res.body.users.map((u: { id: string }) => u.id)).toEqual(DEMO_USERS.map((u) => u.id));
    const providers = res.body.users.filter((u: { role: string }) => u.role === 'provider');
    expect(providers).toHaveLength(2);
    for (const p of providers) {
      expect(p.payoutAccount).toBe('active');
      expect(p.services.length).toBeGreaterThan(0);
    }
    expect(new Set(res.body.users.map((u: { role: string }) => u.role))).toEqual(new Set(['client', 'provider', 'admin']));
    // Each recipient code in the database is one the running fake knows, so transfers can go out.
    const rows = await srv.running.services.db
      .knex('users')
      .whereIn(
        'id',
        providers.map((p: { id: string }) => p.id),
      )
      .select('payout_recipient_code');
    for (const r of rows) expect(srv.running.demoPaystack!.fake.recipient(r.payout_recipient_code)).toBeDefined();
  });

  it('mints a working token for a seeded user, and nothing for anyone else', async () => {
    const res = await request(srv.url).post('/api/demo/sessions').send({ userId: 'demo-provider-sipho' }).expect(201);
    expect(res.body.user).toEqual(expect.objectContaining({ id: 'demo-provider-sipho', role: 'provider' }));
    expect(srv.running.services.tokens.verify(res.body.token)).toEqual(expect.objectContaining({ userId: 'demo-provider-sipho', role: 'provider' }));
    const me = await request(srv.url).get('/api/me').set('Authorization', `Bearer ${res.body.token}`).expect(200);
    expect(me.body.payoutAccount.status).toBe('active');

    const unknown = await request(srv.url).post('/api/demo/sessions').send({ userId: 'someone-else' }).expect(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    const invalid = await request(srv.url).post('/api/demo/sessions').send({ userId: 'bad id!', role: 'admin' }).expect(400);
    expect(invalid.body.error.code).toBe('VALIDATION_FAILED');
    await request(srv.url).post('/api/demo/sessions').set('Content-Type', 'text/plain').send('demo-admin').expect(415);
  });

  it('seeding again changes nothing but the recipient codes, which the fake knows again', async () => {
    const knex = srv.running.services.db.knex;
    const before = await knex('users').orderBy('id').select('id', 'role', 'name', 'email', 'services', 'created_at');
    await seedDemoUsers(knex, srv.running.services.paystack, srv.running.services.logger);
    const after = await knex('users').orderBy('id').select('id', 'role', 'name', 'email', 'services', 'created_at');
    expect(after).toEqual(before);
    const codes = await knex('users').whereNotNull('payout_recipient_code').pluck('payout_recipient_code');
    expect(codes).toHaveLength(2);
    for (const c of codes) expect(srv.running.demoPaystack!.fake.recipient(c)).toBeDefined();
  });

  it('resets the demo: bookings, payments and notifications go, users and payout accounts stay, and ids never repeat', async () => {
    const knex = srv.running.services.db.knex;
    const thandi = srv.token('demo-client-thandi', 'client');
    const sipho = srv.token('demo-provider-sipho', 'provider');
    const book = () =>
      request(srv.url)
        .post('/api/bookings')
        .set('Authorization', `Bearer ${thandi}`)
        .send({ providerId: 'demo-provider-sipho', service: 'plumbing', scheduledFor: inAnHour(), amount: 135_000 })
        .expect(201);
    const first = (await book()).body;
    await request(srv.url).post(`/api/bookings/${first.id}/accept`).set('Authorization', `Bearer ${sipho}`).expect(200);
    await request(srv.url).post(`/api/bookings/${first.id}/payment`).set('Authorization', `Bearer ${thandi}`).expect(200);
    expect(Number((await knex('notifications').count({ n: '*' }))[0].n)).toBeGreaterThan(0);
    const usersBefore = await knex('users').orderBy('id').select('id', 'payout_recipient_code');

    // Refused, and nothing wiped: no confirmation, or a body a cross-site form could send.
    expect((await request(srv.url).post('/api/demo/reset').send({}).expect(400)).body.error.code).toBe('VALIDATION_FAILED');
    await request(srv.url).post('/api/demo/reset').set('Content-Type', 'text/plain').send('confirm=reset').expect(415);
    expect(Number((await knex('bookings').count({ n: '*' }))[0].n)).toBeGreaterThan(0);

    await request(srv.url).post('/api/demo/reset').send({ confirm: 'reset' }).expect(200, { reset: true });
    for (const table of ['bookings', 'payments', 'payouts', 'notifications', 'journal_entries']) {
      expect([table, Number((await knex(table).count({ n: '*' }))[0].n)]).toEqual([table, 0]);
    }
    const list = await request(srv.url).get('/api/bookings').set('Authorization', `Bearer ${thandi}`).expect(200);
    expect(list.body.bookings).toEqual([]);
    expect(await knex('users').orderBy('id').select('id', 'payout_recipient_code')).toEqual(usersBefore);

    const again = (await book()).body;
    expect(Number(again.id)).toBeGreaterThan(Number(first.id));
  });

  it('uses a configured Paystack instead of running its own, and registers payout accounts there', async () => {
    const market = await startMarketplace({ DEMO_MODE: '1' });
    try {
      expect(market.srv.running.demoPaystack).toBeNull();
      const registered = market.paystack.requests.filter((r) => r.method === 'POST' && r.path === '/transferrecipient');
      expect(registered).toHaveLength(2);
      expect(registered.every((r) => r.authorized)).toBe(true);
    } finally {
      await market.stop();
    }
  });

  it('has no demo routes when demo mode is off', async () => {
    const plain = await startTestServer();
    try {
      expect(plain.running.services.config.demoMode).toBe(false);
      expect(plain.running.demoPaystack).toBeNull();
      await request(plain.url).get('/api/demo/users').expect(404);
      await request(plain.url).post('/api/demo/sessions').send({ userId: 'demo-admin' }).expect(404);
      await request(plain.url).post('/api/demo/reset').send({ confirm: 'reset' }).expect(404);
    } finally {
      await plain.stop();
    }
  });
});
