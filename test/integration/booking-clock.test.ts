import { describeDb, describeSharedDb } from '../support/test-db';
import { startMarketplace, type Actor, type Marketplace } from '../support/marketplace';
import { openStream } from '../support/sse-client';
import { startTestServer, type TestServer } from '../support/test-server';
import { openDatabase } from '../../src/storage/db';
import { up as createBookingTimers } from '../../migrations/20261207000101_create_booking_timers';

const HOUR = 3_600_000;
const MIN = 60_000;

interface StoredEvent {
  id: string;
  type: string;
  audience: string[];
  payload: Record<string, any>;
}

/**
 * Time moves bookings: unanswered requests expire, providers are reminded of waiting requests, both
 * parties of bookings going ahead 24 h and 1 h before. The clock's `now` is moved by the tests; the
 * server's own clock runs hourly here so it never fires behind their back.
 */
describeDb('the booking clock: request expiry and reminders', () => {
  let m: Marketplace;
  beforeAll(async () => {
    m = await startMarketplace({ BOOKING_TIMERS_INTERVAL_MS: '3600000', BOOKING_REQUEST_TTL_HOURS: '24', RECONCILE_INTERVAL_MS: '3600000' });
  });
  afterAll(() => m.stop());
  const knex = () => m.srv.db.database.knex;
  const clock = () => m.srv.running.services.bookingClock;

  /** Events about one booking, of one type, in log order. */
  async function eventsOf(bookingId: string, type: string): Promise<StoredEvent[]> {
    const rows = await knex()('events')
      .where({ type })
      .andWhere((w) => {
        w.whereRaw(`payload->>'bookingId' = ?`, [bookingId]).orWhereRaw(`payload->'booking'->>'id' = ?`, [bookingId]);
      })
      .orderBy('id');
    return rows.map((r: StoredEvent) => ({ ...r, id: String(r.id) }));
  }
  const inbox = async (who: Actor) =>
    (await who.get('/api/notifications').expect(200)).body.notifications as Array<{ type: string; title: string; body: string }>;
  const status = async (id: string) => (await knex()('bookings').where({ id }).first()).status;

  let n = 0;
  function pair(prefix: string) {
    n++;
    return {
      client: m.user(`${prefix}-c${n}`, 'client', { name: 'Thandi', email: `${prefix}${n}@example.co.za` }),
      provider: m.user(`${prefix}-p${n}`, 'provider', { name: 'Sipho' }),
    };
  }
  async function request(prefix: string, scheduledFor: Date) {
    const { client, provider } = pair(prefix);
    await provider.get('/api/me').expect(200);
    const res = await client
      .post('/api/bookings', { providerId: provider.sub, service: 'geyser repair', scheduledFor: scheduledFor.toISOString(), amount: 45_000 })
      .expect(201);
    return { client, provider, id: res.body.id as string, createdAt: Date.parse(res.body.createdAt), scheduledFor };
  }

  it('reminds the provider once halfway to the TTL, then expires the request at the TTL; moves on it are 409 REQUEST_EXPIRED', async () => {
    const b = await request('ttl', new Date(Date.now() + 72 * HOUR));
    const stream = await openStream(m.srv.url, { token: b.provider.token });
    const clientStream = await openStream(m.srv.url, { token: b.client.token });
    try {
      await clock().runOnce(b.createdAt + 12 * HOUR - MIN);
      expect(await eventsOf(b.id, 'booking.request_reminder')).toEqual([]);

      await clock().runOnce(b.createdAt + 12 * HOUR + MIN);
      await clock().runOnce(b.createdAt + 13 * HOUR);
      const reminders = await eventsOf(b.id, 'booking.request_reminder');
      expect(reminders).toHaveLength(1);
      expect(reminders[0].audience).toEqual([`user:${b.provider.sub}`]);
      expect(reminders[0].payload).toEqual({
        bookingId: b.id,
        scheduledFor: b.scheduledFor.toISOString(),
        expiresAt: new Date(b.createdAt + 24 * HOUR).toISOString(),
      });
      expect((await inbox(b.provider))[0]).toEqual(expect.objectContaining({ type: 'booking.request_reminder', title: 'Thandi is waiting for your answer' }));
      expect((await inbox(b.client)).map((x) => x.type)).not.toContain('booking.request_reminder');

      await clock().runOnce(b.createdAt + 24 * HOUR - MIN);
      expect(await status(b.id)).toBe('PENDING');
      await clock().runOnce(b.createdAt + 24 * HOUR + MIN);
      await clock().runOnce(b.createdAt + 30 * HOUR);
      expect(await status(b.id)).toBe('EXPIRED');
      const expired = await eventsOf(b.id, 'booking.expired');
      expect(expired).toHaveLength(1);
      expect(expired[0].audience.sort()).toEqual([`user:${b.client.sub}`, `user:${b.provider.sub}`].sort());
      expect(expired[0].payload).toEqual(
        expect.objectContaining({ previousStatus: 'PENDING', status: 'EXPIRED', booking: expect.objectContaining({ id: b.id, status: 'EXPIRED' }) }),
      );
      expect((await inbox(b.client))[0]).toEqual(expect.objectContaining({ type: 'booking.expired', title: 'Your booking request expired' }));
      expect((await inbox(b.provider))[0]).toEqual(expect.objectContaining({ type: 'booking.expired', title: 'A booking request expired' }));

      // Both live streams hear of it; only the provider hears the reminder.
      await stream.waitFor((s) => s.idsOf('booking.expired').length === 1, 5_000, 'booking.expired on the provider stream');
      expect(stream.idsOf('booking.request_reminder')).toEqual([reminders[0].id]);
      await clientStream.waitFor((s) => s.idsOf('booking.expired').length === 1, 5_000, 'booking.expired on the client stream');
      expect(clientStream.idsOf('booking.request_reminder')).toEqual([]);
    } finally {
      stream.close();
      clientStream.close();
    }

    for (const [who, action] of [
      [b.provider, 'accept'],
      [b.provider, 'reject'],
      [b.client, 'cancel'],
      [b.provider, 'cancel'],
    ] as const) {
      const res = await who.post(`/api/bookings/${b.id}/${action}`, {});
      expect([action, res.status, res.body.error?.code]).toEqual([action, 409, 'REQUEST_EXPIRED']);
    }
    expect(await status(b.id)).toBe('EXPIRED');
    const listed = (await b.client.get(`/api/bookings/${b.id}`).expect(200)).body;
    expect(listed.status).toBe('EXPIRED');
  });

  it('expires a request at its scheduledFor when that comes before the TTL, with the reminder halfway to it', async () => {
    const scheduledFor = new Date(Date.now() + 2 * HOUR);
    const b = await request('soon', scheduledFor);
    const halfway = b.createdAt + (scheduledFor.getTime() - b.createdAt) / 2;
    await clock().runOnce(halfway - MIN);
    expect(await eventsOf(b.id, 'booking.request_reminder')).toEqual([]);
    await clock().runOnce(halfway + MIN);
    expect(await eventsOf(b.id, 'booking.request_reminder')).toHaveLength(1);
    await clock().runOnce(scheduledFor.getTime() - MIN);
    expect(await status(b.id)).toBe('PENDING');
    await clock().runOnce(scheduledFor.getTime() + 1_000);
    expect(await status(b.id)).toBe('EXPIRED');
    expect(await eventsOf(b.id, 'booking.expired')).toHaveLength(1);
    expect(await eventsOf(b.id, 'booking.request_reminder')).toHaveLength(1);
  });

  it('neither reminds nor expires a request that was answered or withdrawn', async () => {
    const accepted = await request('answered', new Date(Date.now() + 72 * HOUR));
    const rejected = await request('answered', new Date(Date.now() + 72 * HOUR));
    const cancelled = await request('answered', new Date(Date.now() + 72 * HOUR));
    await accepted.provider.post(`/api/bookings/${accepted.id}/accept`).expect(200);
    await rejected.provider.post(`/api/bookings/${rejected.id}/reject`, {}).expect(200);
    await cancelled.client.post(`/api/bookings/${cancelled.id}/cancel`, {}).expect(200);
    await clock().runOnce(Date.now() + 30 * HOUR);
    for (const b of [accepted, rejected, cancelled]) {
      expect(await eventsOf(b.id, 'booking.request_reminder')).toEqual([]);
      expect(await eventsOf(b.id, 'booking.expired')).toEqual([]);
    }
    expect([await status(accepted.id), await status(rejected.id), await status(cancelled.id)]).toEqual(['CONFIRMED', 'REJECTED', 'CANCELLED']);
  });

  it('reminds both parties of a paid booking 24 h and 1 h before, each once', async () => {
    const scheduledFor = new Date(Date.now() + 72 * HOUR);
    const b = await request('visit', scheduledFor);
    await b.provider.post(`/api/bookings/${b.id}/accept`).expect(200);
    const pay = await b.client.post(`/api/bookings/${b.id}/payment`).expect(200);
    await m.paystack.completeCharge(pay.body.reference);
    expect((await b.client.get(`/api/bookings/${b.id}`).expect(200)).body).toEqual(
      expect.objectContaining({ status: 'CONFIRMED', payment: expect.objectContaining({ status: 'ESCROW' }) }),
    );
    const at = scheduledFor.getTime();

    await clock().runOnce(at - 24 * HOUR - MIN);
    expect(await eventsOf(b.id, 'booking.reminder')).toEqual([]);
    await clock().runOnce(at - 24 * HOUR + MIN);
    await clock().runOnce(at - 23 * HOUR);
    let reminders = await eventsOf(b.id, 'booking.reminder');
    expect(reminders.map((e) => e.payload.hoursBefore)).toEqual([24]);
    expect(reminders[0].audience.sort()).toEqual([`user:${b.client.sub}`, `user:${b.provider.sub}`].sort());
    expect((await inbox(b.client))[0]).toEqual(expect.objectContaining({ type: 'booking.reminder', title: 'Geyser repair in 24 hours' }));
    expect((await inbox(b.provider))[0]).toEqual(expect.objectContaining({ type: 'booking.reminder', title: 'Geyser repair in 24 hours' }));

    await clock().runOnce(at - HOUR - MIN);
    expect(await eventsOf(b.id, 'booking.reminder')).toHaveLength(1);
    await clock().runOnce(at - HOUR + MIN);
    await clock().runOnce(at - 30 * MIN);
    reminders = await eventsOf(b.id, 'booking.reminder');
    expect(reminders.map((e) => e.payload.hoursBefore)).toEqual([24, 1]);
    expect((await inbox(b.client))[0]).toEqual(expect.objectContaining({ type: 'booking.reminder', title: 'Geyser repair in an hour' }));
    await clock().runOnce(at + HOUR);
    expect(await eventsOf(b.id, 'booking.reminder')).toHaveLength(2);
  });

  it('sends no reminder whose time had passed when the booking was accepted (the demo books an hour ahead)', async () => {
    // 90 minutes ahead: the 24 h reminder is already past, the 1 h one is not.
    const ninety = await request('stale', new Date(Date.now() + 90 * MIN));
    await ninety.provider.post(`/api/bookings/${ninety.id}/accept`).expect(200);
    // An hour ahead (as the helpers and the demo book): both are past.
    const hour = await request('stale', new Date(Date.now() + HOUR));
    await hour.provider.post(`/api/bookings/${hour.id}/accept`).expect(200);
    expect(
      await knex()('booking_timers').whereIn('booking_id', [ninety.id, hour.id]).whereIn('kind', ['visit_24h', 'visit_1h']).select('booking_id', 'kind'),
    ).toEqual([{ booking_id: ninety.id, kind: 'visit_1h' }]);

    await clock().runOnce(Date.now() + 31 * MIN);
    await clock().runOnce(Date.now() + 2 * HOUR);
    expect((await eventsOf(ninety.id, 'booking.reminder')).map((e) => e.payload.hoursBefore)).toEqual([1]);
    expect(await eventsOf(hour.id, 'booking.reminder')).toEqual([]);
  });

  it('drops a 24 h reminder overtaken by the 1 h one (the clock did not run for a day), and reminds no cancelled booking', async () => {
    const scheduledFor = new Date(Date.now() + 72 * HOUR);
    const late = await request('overtaken', scheduledFor);
    await late.provider.post(`/api/bookings/${late.id}/accept`).expect(200);
    const called = await request('overtaken', scheduledFor);
    await called.provider.post(`/api/bookings/${called.id}/accept`).expect(200);
    await called.client.post(`/api/bookings/${called.id}/cancel`, {}).expect(200);

    await clock().runOnce(scheduledFor.getTime() - 30 * MIN);
    expect((await eventsOf(late.id, 'booking.reminder')).map((e) => e.payload.hoursBefore)).toEqual([1]);
    expect(await eventsOf(called.id, 'booking.reminder')).toEqual([]);
  });

  it('accept racing the expiry: exactly one of them wins, for every booking', async () => {
    const bookings = [];
    for (let i = 0; i < 6; i++) bookings.push(await request('race', new Date(Date.now() + 72 * HOUR)));
    const future = Date.now() + 25 * HOUR;
    const [answers] = await Promise.all([Promise.all(bookings.map((b) => b.provider.post(`/api/bookings/${b.id}/accept`))), clock().runOnce(future)]);
    for (const [i, b] of bookings.entries()) {
      const res = answers[i];
      const expired = await eventsOf(b.id, 'booking.expired');
      const accepted = await eventsOf(b.id, 'booking.accepted');
      if (res.status === 200) {
        expect([await status(b.id), expired.length, accepted.length]).toEqual(['CONFIRMED', 0, 1]);
      } else {
        expect([res.status, res.body.error.code]).toEqual([409, 'REQUEST_EXPIRED']);
        expect([await status(b.id), expired.length, accepted.length]).toEqual(['EXPIRED', 1, 0]);
      }
    }
  });

  // Last: it rebuilds the suite's booking_timers table.
  it('gives bookings made before the clock existed the timers they would have had (the migration backfills them)', async () => {
    const pending = await request('before', new Date(Date.now() + 72 * HOUR));
    const confirmed = await request('before', new Date(Date.now() + 72 * HOUR));
    await confirmed.provider.post(`/api/bookings/${confirmed.id}/accept`).expect(200);
    const soon = await request('before', new Date(Date.now() + 30 * MIN));
    await soon.provider.post(`/api/bookings/${soon.id}/accept`).expect(200);
    await knex().schema.dropTable('booking_timers');
    await createBookingTimers(knex());

    const timers = async (id: string) =>
      ((await knex()('booking_timers').where({ booking_id: id }).orderBy('due_at')) as Array<{ kind: string; due_at: Date }>).map((t) => [
        t.kind,
        new Date(t.due_at).getTime(),
      ]);
    expect(await timers(pending.id)).toEqual([
      ['request_reminder', pending.createdAt + 12 * HOUR],
      ['request_expiry', pending.createdAt + 24 * HOUR],
    ]);
    expect(await timers(confirmed.id)).toEqual([
      ['visit_24h', confirmed.scheduledFor.getTime() - 24 * HOUR],
      ['visit_1h', confirmed.scheduledFor.getTime() - HOUR],
    ]);
    expect(await timers(soon.id)).toEqual([]);
    await clock().runOnce(pending.createdAt + 25 * HOUR);
    expect(await status(pending.id)).toBe('EXPIRED');
  });
});

describeSharedDb('the booking clock on two instances at once', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ BOOKING_TIMERS_INTERVAL_MS: '3600000' });
    const url = a.db.url!;
    const dbForB = await openDatabase({ databaseUrl: url });
    b = await startTestServer({ BOOKING_TIMERS_INTERVAL_MS: '3600000', DATABASE_URL: url }, { database: dbForB, url, drop: () => dbForB.close() });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('fires each due timer once: one reminder and one expiry per request, however the two split them', async () => {
    const knex = a.db.database.knex;
    const ids: string[] = [];
    expect((await fetch(`${a.url}/api/me`, { headers: { Authorization: `Bearer ${a.token('two-p', 'provider')}` } })).status).toBe(200);
    for (let i = 0; i < 120; i++) {
      const res = await fetch(`${a.url}/api/bookings`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${a.token(`two-c${i % 10}`, 'client')}` },
        body: JSON.stringify({ providerId: 'two-p', service: 'plumbing', scheduledFor: new Date(Date.now() + 72 * HOUR).toISOString(), amount: 10_000 }),
      });
      expect(res.status).toBe(201);
      ids.push(String((await res.json()).id));
    }
    const mine = new Set(ids);
    /** The booking of each event of this type about our bookings, one entry per event. */
    const countOf = async (type: string) =>
      (await knex('events').where({ type }).select<Array<{ payload: Record<string, any> }>>('payload'))
        .map((e) => String(e.payload.bookingId ?? e.payload.booking?.id))
        .filter((id) => mine.has(id));

    const halfway = Date.now() + 12 * HOUR + MIN;
    const [ra, rb] = await Promise.all([a.running.services.bookingClock.runOnce(halfway), b.running.services.bookingClock.runOnce(halfway)]);
    expect(ra.reminded + rb.reminded).toBe(120);
    const reminded = await countOf('booking.request_reminder');
    expect(reminded.sort()).toEqual([...ids].sort());

    const later = Date.now() + 25 * HOUR;
    const [ea, eb] = await Promise.all([a.running.services.bookingClock.runOnce(later), b.running.services.bookingClock.runOnce(later)]);
    expect(ea.expired + eb.expired).toBe(120);
    expect((await countOf('booking.expired')).sort()).toEqual([...ids].sort());
    expect((await countOf('booking.request_reminder')).length).toBe(120);
  });
});
