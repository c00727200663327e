import { describeDb } from '../support/test-db';
import { startMarketplace, type Actor, type Marketplace } from '../support/marketplace';
import { inAnHour } from '../support/booking-time';

describeDb('booking rules over HTTP: who may do what, and races', () => {
  let m: Marketplace;
  let n = 0;
  beforeAll(async () => {
    m = await startMarketplace();
  });
  afterAll(() => m.stop());

  async function setup() {
    n++;
    const client = m.user(`rc-${n}`, 'client', { email: `rc${n}@example.co.za` });
    const provider = m.user(`rp-${n}`, 'provider', { name: `Provider ${n}` });
    const stranger = m.user(`rs-${n}`, 'client');
    await provider.get('/api/me').expect(200);
    const res = await client.post('/api/bookings', { providerId: provider.sub, service: 'garden', scheduledFor: inAnHour(), amount: 20000 }).expect(201);
    return { client, provider, stranger, id: res.body.id as string };
  }
  const eventsFor = async (id: string) =>
    (await m.srv.db.database.knex('events').whereRaw(`payload->'booking'->>'id' = ?`, [id]).select('type')).map((r: { type: string }) => r.type);

  it('creates a booking only for an existing provider, with valid input', async () => {
    const client = m.user('creator', 'client');
    const base = { providerId: 'nobody', service: 'x', scheduledFor: inAnHour(), amount: 1000 };
    const missing = await client.post('/api/bookings', base);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('PROVIDER_NOT_FOUND');
    // A client is not a provider, whatever id it has.
    await m.user('not-a-provider', 'client').get('/api/me').expect(200);
    expect((await client.post('/api/bookings', { ...base, providerId: 'not-a-provider' })).body.error.code).toBe('PROVIDER_NOT_FOUND');

    for (const bad of [
      { ...base, amount: -5 },
      { ...base, amount: 10.5 },
      { ...base, amount: '1000' },
      { ...base, scheduledFor: '2001-01-01T00:00:00Z' },
      { ...base, scheduledFor: 'tomorrow' },
      { ...base, currency: 'EUR' },
      { ...base, extra: 1 },
      { service: 'x' },
    ]) {
      const res = await client.post('/api/bookings', bad);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    const asProvider = await m.user('prov-x', 'provider').post('/api/bookings', base);
    expect(asProvider.status).toBe(403);
  });

  it('answers 404 to strangers, 403 to the other party, 409 with the current status to invalid moves', async () => {
    const { client, provider, stranger, id } = await setup();
    expect((await stranger.get(`/api/bookings/${id}`)).status).toBe(404);
    expect((await stranger.post(`/api/bookings/${id}/accept`)).status).toBe(404);
    const forbidden = await client.post(`/api/bookings/${id}/accept`);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
    const tooEarly = await provider.post(`/api/bookings/${id}/complete`);
    expect(tooEarly.status).toBe(409);
    expect(tooEarly.body.error).toEqual(expect.objectContaining({ code: 'INVALID_TRANSITION', details: { currentStatus: 'PENDING' } }));
    expect((await client.get(`/api/bookings/${id}`)).body.status).toBe('PENDING');
    expect(await eventsFor(id)).toEqual(['booking.created']);
    // An admin can see it.
    expect((await m.user('adm', 'admin').get(`/api/bookings/${id}`)).status).toBe(200);
  });

  it('needs the payment in escrow before work starts (409 PAYMENT_REQUIRED)', async () => {
    const { provider, id } = await setup();
    await provider.post(`/api/bookings/${id}/accept`).expect(200);
    const res = await provider.post(`/api/bookings/${id}/start`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('PAYMENT_REQUIRED');
  });

  it.each([
    ['accept', 'accept'],
    ['accept', 'cancel'],
  ])('lets exactly one of two racing moves (%s vs %s) win; the other gets 409', async (a, b) => {
    const { client, provider, id } = await setup();
    const actorFor = (action: string): Actor => (action === 'cancel' ? client : provider);
    const results = await Promise.all([actorFor(a).post(`/api/bookings/${id}/${a}`), actorFor(b).post(`/api/bookings/${id}/${b}`)]);
    const statuses = results.map((r) => r.status).sort();
    if (a === 'accept' && b === 'cancel') {
      // Cancel is valid after accept too, so both may win in that order; never two accepts.
      expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    } else {
      expect(statuses).toEqual([200, 409]);
    }
    const events = await eventsFor(id);
    expect(events.filter((t) => t === 'booking.accepted').length).toBeLessThanOrEqual(1);
    expect(events.length).toBe(1 + results.filter((r) => r.status === 200).length);
  });

  it('treats malformed ids as not found, never a 500', async () => {
    const client = m.user('ids', 'client');
    for (const id of ['abc', '-1', '0', '1.5', '99999999999999999999999', "1' OR '1'='1"]) {
      const res = await client.get(`/api/bookings/${encodeURIComponent(id)}`);
      expect(res.status).toBe(404);
    }
    expect((await client.post('/api/bookings/1/explode')).status).toBe(404);
  });

  it('lists the caller’s bookings with cursor paging and a status filter', async () => {
    const client = m.user('lister', 'client');
    const provider = m.user('lister-p', 'provider');
    await provider.get('/api/me').expect(200);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await client.post('/api/bookings', { providerId: provider.sub, service: 's', scheduledFor: inAnHour(), amount: 100 + i }).expect(201)).body.id);
    }
    await provider.post(`/api/bookings/${ids[0]}/reject`, { reason: 'busy' }).expect(200);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { bookings: Array<{ id: string }>; nextCursor: string | null } } = await client
        .get(`/api/bookings?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        .expect(200);
      seen.push(...res.body.bookings.map((b) => b.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const rejected = await provider.get('/api/bookings?status=REJECTED').expect(200);
    expect(rejected.body.bookings).toEqual([expect.objectContaining({ id: ids[0], status: 'REJECTED', reason: 'busy' })]);
    expect((await m.user('other', 'client').get('/api/bookings')).body.bookings).toEqual([]);
  });

  it('lists providers by service and shows the caller’s profile', async () => {
    const p = m.user('svc-p', 'provider', { name: 'Sipho' });
    await p.put('/api/me/services', { services: ['electrical', 'plumbing'] }).expect(200);
    const res = await m.user('browser', 'client').get('/api/providers?service=electrical').expect(200);
    expect(res.body.providers).toEqual([{ id: 'svc-p', name: 'Sipho', services: ['electrical', 'plumbing'] }]);
    const me = await p.get('/api/me').expect(200);
    expect(me.body).toEqual(expect.objectContaining({ id: 'svc-p', role: 'provider', payoutAccount: { status: 'missing' } }));
  });
});
