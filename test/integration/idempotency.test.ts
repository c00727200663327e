import { describeDb } from '../support/test-db';
import { startMarketplace, type Marketplace } from '../support/marketplace';
import { inAnHour } from '../support/booking-time';

describeDb('Idempotency-Key on POSTs', () => {
  let m: Marketplace;
  beforeAll(async () => {
    m = await startMarketplace();
  });
  afterAll(() => m.stop());
  // Whatever each test did to the money, every cent is accounted for afterwards.
  afterEach(async () => {
    const ledger = await m.user('ledger-auditor', 'admin').get('/api/ledger/summary').expect(200);
    expect(ledger.body.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
    expect(ledger.body.balanced).toBe(true);
  });
  const knex = () => m.srv.db.database.knex;
  const count = async (table: string, where: object = {}) => Number((await knex()(table).where(where).count<{ c: string }[]>('* as c'))[0].c);

  it('a retried POST gets the first answer and does nothing again; another body with the key is a 422', async () => {
    const client = m.user('idem-c', 'client');
    const provider = m.user('idem-p', 'provider');
    await provider.get('/api/me').expect(200);
    const body = { providerId: provider.sub, service: 'painting', scheduledFor: inAnHour(), amount: 99900 };
    const first = await client.post('/api/bookings', body).set('Idempotency-Key', 'book-1');
    const retry = await client.post('/api/bookings', body).set('Idempotency-Key', 'book-1');
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(await count('bookings', { client_id: 'idem-c' })).toBe(1);

    const other = await client.post('/api/bookings', { ...body, amount: 100 }).set('Idempotency-Key', 'book-1');
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await count('bookings', { client_id: 'idem-c' })).toBe(1);

    // Keys belong to their user.
    const someoneElse = m.user('idem-c2', 'client');
    expect((await someoneElse.post('/api/bookings', body).set('Idempotency-Key', 'book-1')).status).toBe(201);

    // A retried move is a replay, not a 409, and publishes one event.
    const id = first.body.id;
    const a1 = await provider.post(`/api/bookings/${id}/accept`).set('Idempotency-Key', 'acc');
    const a2 = await provider.post(`/api/bookings/${id}/accept`).set('Idempotency-Key', 'acc');
    expect([a1.status, a2.status]).toEqual([200, 200]);
    expect(a2.body).toEqual(a1.body);
    expect(await count('events', { type: 'booking.accepted' })).toBe(1);
    // Without the key, the same move again is what it is: an invalid transition.
    expect((await provider.post(`/api/bookings/${id}/accept`)).status).toBe(409);
  });

  it('replays a first answer that was an error, and rejects a malformed key', async () => {
    const client = m.user('idem-e', 'client');
    const bad = { providerId: 'nobody', service: 'x', scheduledFor: inAnHour(), amount: 100 };
    const r1 = await client.post('/api/bookings', bad).set('Idempotency-Key', 'e-1');
    const r2 = await client.post('/api/bookings', bad).set('Idempotency-Key', 'e-1');
    expect([r1.status, r2.status]).toEqual([404, 404]);
    expect(r2.body).toEqual(r1.body);
    const weird = await client.post('/api/bookings', bad).set('Idempotency-Key', 'x'.repeat(300));
    expect(weird.status).toBe(400);
  });
});

describeDb('Idempotency-Key rows expire on schedule', () => {
  it('the retention job deletes stored answers older than 24 h on its own, every PRUNE_INTERVAL_MS, and keeps younger ones', async () => {
    const m = await startMarketplace({ PRUNE_INTERVAL_MS: '1000' });
    try {
      const knex = m.srv.db.database.knex;
      const c = m.user('idem-expiry', 'client');
      await c.get('/api/me').expect(200);
      await knex('idempotency_keys').insert([
        { user_id: c.sub, key: 'old-key', request_hash: 'x', status: 201, body: '{}', created_at: new Date(Date.now() - 25 * 3_600_000) },
        { user_id: c.sub, key: 'young-key', request_hash: 'x', status: 201, body: '{}', created_at: new Date(Date.now() - 23 * 3_600_000) },
      ]);
      const deadline = Date.now() + 10_000;
      while ((await knex('idempotency_keys').where({ key: 'old-key' })).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(await knex('idempotency_keys').where({ user_id: c.sub }).orderBy('key').pluck('key')).toEqual(['young-key']);
    } finally {
      await m.stop();
    }
  });
});
