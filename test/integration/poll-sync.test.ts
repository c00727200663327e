import request from 'supertest';
import { Client } from 'pg';
import { describeDb, TEST_DB } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { inAnHour } from '../support/booking-time';

interface Envelope {
  id: string;
  type: string;
  data: any;
}

describeDb('GET /api/sync: the caller’s state and the cursor it is consistent with', () => {
  let srv: TestServer;
  beforeAll(async () => {
    // The delivery dispatcher records each notification's deliveries in the background, which
    // would change a notification between the sync and the inbox read compared below.
    srv = await startTestServer({ POLL_INTERVAL_MS: '60000', DISPATCH_POLL_MS: '60000' });
  });
  afterAll(() => srv.stop());

  const get = (token: string, path: string) => request(srv.url).get(path).set('Authorization', `Bearer ${token}`);
  const post = (token: string, path: string, body: object) => request(srv.url).post(path).set('Authorization', `Bearer ${token}`).send(body);
  const book = async (client: string, provider: string) =>
    (await post(client, '/api/bookings', { providerId: provider, service: 'plumbing', scheduledFor: inAnHour(), amount: 25_000 }).expect(201)).body;

  /** Every event for the caller after `cursor`, paged to the end. */
  async function eventsAfter(token: string, cursor: string): Promise<Envelope[]> {
    const out: Envelope[] = [];
    for (;;) {
      const { body } = await get(token, `/api/events?after=${cursor}&limit=500`).expect(200);
      expect(body.reset).toBe(false);
      out.push(...body.events);
      cursor = body.lastEventId;
      if (!body.hasMore) return out;
    }
  }

  it('returns profile, bookings, payments, payouts (providers), unread notifications and the cursor, as the routes show them', async () => {
    const provider = srv.token('sync-p', 'provider', 3600);
    const client = srv.token('sync-c', 'client', 3600);
    await get(provider, '/api/me').expect(200);
    const booking = await book(client, 'sync-p');
    await post(srv.token('ops', 'admin'), '/api/broadcasts', { title: 'Hi', body: 'Welcome', userIds: ['sync-c'] }).expect(202);
    const last = await srv.settledLastId();

    const { body, headers } = await get(client, '/api/sync').expect(200);
    expect(headers['cache-control']).toBe('no-store');
    expect(body.cursor).toBe(last);
    const { unreadCount: _count, ...me } = (await get(client, '/api/me').expect(200)).body;
    expect(body.profile).toEqual(me);
    expect(body.profile).toEqual(expect.objectContaining({ id: 'sync-c', role: 'client' }));
    expect(body.bookings.active).toEqual([(await get(client, `/api/bookings/${booking.id}`).expect(200)).body]);
    expect(body.bookings.recent).toEqual(body.bookings.active);
    expect(body.payments).toEqual({ items: [], nextCursor: null });
    // A client has no payouts, and its sync does not speak of them (as GET /api/payouts refuses it).
    expect(body).not.toHaveProperty('payouts');
    const inbox = (await get(client, '/api/notifications?unread=true&limit=50').expect(200)).body;
    expect(body.notifications).toEqual({ unread: inbox.notifications, unreadCount: inbox.unreadCount, nextCursor: inbox.nextCursor });
    expect(body.notifications.unreadCount).toBeGreaterThanOrEqual(1);
    // The provider sees the same booking from its side.
    const theirs = (await get(provider, '/api/sync').expect(200)).body;
    expect(theirs.bookings.active.map((b: { id: string }) => b.id)).toEqual([booking.id]);
    expect(theirs.profile).toEqual(expect.objectContaining({ id: 'sync-p', role: 'provider', payoutAccount: { status: 'missing' } }));
    expect(theirs.payouts).toEqual({ items: [], nextCursor: null });
    // Nothing after the cursor yet.
    expect(await eventsAfter(client, body.cursor)).toEqual([]);
  });

  it('needs a token', async () => {
    const res = await request(srv.url).get('/api/sync');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('AUTH_REQUIRED');
  });

  it('under concurrent writes, every change is either in the state or after the cursor, never both, never neither', async () => {
    const provider = srv.token('busy-p', 'provider', 3600);
    const client = srv.token('busy-c', 'client', 3600);
    const admin = srv.token('ops', 'admin', 3600);
    await get(provider, '/api/me').expect(200);
    await get(client, '/api/me').expect(200);

    const created: string[] = [];
    let writing = true;
    const writers = (async () => {
      const jobs: Array<Promise<unknown>> = [];
      for (let i = 0; i < 30; i++) {
        jobs.push(book(client, 'busy-p').then((b) => created.push(b.id)));
        jobs.push(post(admin, '/api/broadcasts', { title: `n${i}`, body: 'b', userIds: ['busy-c'] }).expect(202));
        if (jobs.length >= 6) await Promise.all(jobs.splice(0));
      }
      await Promise.all(jobs);
      writing = false;
    })();
    const syncs: any[] = [];
    while (writing) syncs.push((await get(client, '/api/sync').expect(200)).body);
    await writers;
    syncs.push((await get(client, '/api/sync').expect(200)).body);
    await srv.settledLastId();
    const finalUnread = syncs[syncs.length - 1].notifications.unreadCount;
    expect(created).toHaveLength(30);
    expect(syncs.length).toBeGreaterThan(2);

    for (const s of syncs) {
      const after = await eventsAfter(client, s.cursor);
      const inState = new Set<string>(s.bookings.active.map((b: { id: string }) => b.id));
      const later = after.filter((e) => e.type === 'booking.created').map((e) => String(e.data.booking.id));
      expect(later.filter((id) => inState.has(id))).toEqual([]);
      expect([...inState, ...later].sort()).toEqual([...created].sort());
      // Notifications: counted in the state, or announced after the cursor.
      const announced = after.filter((e) => e.type === 'notification.created').map((e) => String(e.data.notification.id));
      const shown = new Set<string>(s.notifications.unread.map((n: { id: string }) => n.id));
      expect(announced.filter((id) => shown.has(id))).toEqual([]);
      expect(s.notifications.unreadCount + announced.length).toBe(finalUnread);
    }
  }, 120_000);

  (TEST_DB === 'postgres' ? it : it.skip)(
    'reads one snapshot: a commit landing while the sync is between its reads is after the cursor and not in the state',
    async () => {
      const client = srv.token('snap-c', 'client', 3600);
      const { body: before } = await get(client, '/api/sync').expect(200);
      // Another connection holds payouts, which the sync reads (with bookings) after the cursor:
      // the sync stops there, its snapshot taken, while an announcement to the user commits.
      const blocker = new Client({ connectionString: srv.db.url });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE payouts IN ACCESS EXCLUSIVE MODE');
        let answered: { status: number; body: unknown } | undefined;
        const response = get(client, '/api/sync').then((r) => (answered = r));
        // Whatever the sync's statement looks like: a backend that waits for the blocker's lock.
        const waiting = async () =>
          (await blocker.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))`)).rows[0].n;
        const deadline = Date.now() + 20_000;
        while ((await waiting()) === 0) {
          if (answered) throw new Error(`the sync answered without waiting: ${answered.status} ${JSON.stringify(answered.body)}`);
          if (Date.now() > deadline) throw new Error('the sync never waited on payouts');
          await new Promise((r) => setTimeout(r, 20));
        }
        const [announcement] = await srv.publish({ type: 'announcement', audience: ['user:snap-c'], payload: { title: 'mid', body: 'sync' } });
        await blocker.query('COMMIT');
        const { body } = await response;
        expect(body.cursor).toBe(before.cursor);
        expect(body.notifications.unreadCount).toBe(before.notifications.unreadCount);
        const after = await eventsAfter(client, body.cursor);
        expect(after.map((e) => e.type)).toEqual(['announcement', 'notification.created']);
        expect(after[0].id).toBe(announcement.id);
        // Applied once: the next sync counts it, with a cursor past it.
        const { body: next } = await get(client, '/api/sync').expect(200);
        expect(next.notifications.unreadCount).toBe(before.notifications.unreadCount + 1);
        expect(await eventsAfter(client, next.cursor)).toEqual([]);
      } finally {
        await blocker.end();
      }
    },
  );
});
