import { describeDb } from '../support/test-db';
import { startMarketplace, type Actor, type Marketplace } from '../support/marketplace';
import { openStream, type TestStream } from '../support/sse-client';
import { insertPersonalNotifications } from '../../src/notifications/notification-repository';
import { inAnHour } from '../support/booking-time';

describeDb('notification inbox', () => {
  let m: Marketplace;
  let n = 0;
  const streams: TestStream[] = [];
  beforeAll(async () => {
    m = await startMarketplace();
  });
  afterEach(() => streams.splice(0).forEach((s) => s.close()));
  afterAll(() => m.stop());

  async function pair() {
    n++;
    const client = m.user(`nc-${n}`, 'client', { name: `Naledi ${n}`, email: `nc${n}@example.co.za` });
    const provider = m.user(`np-${n}`, 'provider', { name: `Pieter ${n}` });
    await client.get('/api/me').expect(200);
    await provider.get('/api/me').expect(200);
    return { client, provider };
  }
  const book = async (client: Actor, provider: Actor) =>
    (await client.post('/api/bookings', { providerId: provider.sub, service: 'tiling', scheduledFor: inAnHour(), amount: 135000 }).expect(201)).body
      .id as string;

  it('a user offline during five events finds five unread notifications, with text for their side', async () => {
    const { client, provider } = await pair();
    const ids = [await book(client, provider), await book(client, provider), await book(client, provider), await book(client, provider)];
    await provider.post(`/api/bookings/${ids[3]}/accept`).expect(200);
    await provider.post(`/api/bookings/${ids[0]}/accept`).expect(200);
    await provider.post(`/api/bookings/${ids[1]}/reject`, { reason: 'fully booked' }).expect(200);
    await provider.post(`/api/bookings/${ids[2]}/accept`).expect(200);
    await client.post(`/api/bookings/${ids[2]}/cancel`, { reason: 'Found someone closer' }).expect(200);

    // The provider was told of four requests and one cancellation.
    const pInbox = (await provider.get('/api/notifications').expect(200)).body;
    expect(pInbox.unreadCount).toBe(5);
    const request = pInbox.notifications.find((x: { type: string }) => x.type === 'booking.created');
    expect(request).toEqual(expect.objectContaining({ title: `New booking request from Naledi ${n}`, readAt: null, silent: false }));
    expect(request.body).toMatch(/tiling on .*, R1,350\.00$/);
    // Told who cancelled, and why.
    const cancelled = pInbox.notifications.find((x: { type: string }) => x.type === 'booking.cancelled');
    expect(cancelled.body).toBe(`Naledi ${n} cancelled the tiling booking. Reason: “Found someone closer”`);

    const cInbox = (await client.get('/api/notifications?unread=true').expect(200)).body;
    expect(cInbox.unreadCount).toBe(5);
    expect(cInbox.notifications.map((x: { type: string }) => x.type)).toEqual([
      'booking.cancelled',
      'booking.accepted',
      'booking.rejected',
      'booking.accepted',
      'booking.accepted',
    ]);
    expect(cInbox.notifications[1].title).toBe('Your booking has been accepted!');
    expect(cInbox.notifications[2].body).toContain('fully booked');
    expect((await client.get('/api/me')).body.unreadCount).toBe(5);

    // Paging newest first.
    const page1 = (await client.get('/api/notifications?limit=3').expect(200)).body;
    const page2 = (await client.get(`/api/notifications?limit=3&before=${page1.nextCursor}`).expect(200)).body;
    expect([...page1.notifications, ...page2.notifications].map((x: { id: string }) => x.id)).toEqual(cInbox.notifications.map((x: { id: string }) => x.id));
    expect(page2.nextCursor).toBeNull();
  });

  it('reading in one session updates the count in another live session; others cannot read mine', async () => {
    const { client, provider } = await pair();
    await book(client, provider);
    await book(client, provider);
    const tab = await openStream(m.srv.url, { token: provider.token });
    const phone = await openStream(m.srv.url, { token: provider.token });
    streams.push(tab, phone);
    const inbox = (await provider.get('/api/notifications').expect(200)).body;
    expect(inbox.unreadCount).toBe(2);

    const stranger = m.user('nosy', 'provider');
    expect((await stranger.post(`/api/notifications/${inbox.notifications[0].id}/read`)).status).toBe(404);
    expect((await client.post(`/api/notifications/${inbox.notifications[0].id}/read`)).status).toBe(404);

    const read = await provider.post(`/api/notifications/${inbox.notifications[0].id}/read`).expect(200);
    expect(read.body).toEqual({ unreadCount: 1 });
    for (const s of [tab, phone]) {
      await s.waitFor((x) => x.events.some((e) => e.type === 'notification.read'), 5_000, 'notification.read');
      expect(s.events.find((e) => e.type === 'notification.read')!.data.data).toEqual({ ids: [inbox.notifications[0].id], unreadCount: 1 });
    }
    // The same event is in the log for pollers.
    const polled = (await provider.get('/api/events?after=0&limit=500').expect(200)).body.events;
    expect(polled.filter((e: { type: string }) => e.type === 'notification.read')).toHaveLength(1);

    expect((await provider.post('/api/notifications/read-all').expect(200)).body).toEqual({ unreadCount: 0 });
    // Reading again changes nothing and announces nothing.
    expect((await provider.post('/api/notifications/read-all').expect(200)).body).toEqual({ unreadCount: 0 });
  });

  it('announcements by role reach exactly that role, as one row, read per user', async () => {
    const admin = m.user('boss', 'admin');
    const c = m.user('ann-c', 'client');
    const p = m.user('ann-p', 'provider');
    await c.get('/api/me').expect(200);
    await p.get('/api/me').expect(200);
    const cs = await openStream(m.srv.url, { token: c.token });
    const ps = await openStream(m.srv.url, { token: p.token });
    streams.push(cs, ps);
    const before = Number((await m.srv.db.database.knex('notifications').count<{ c: string }[]>('* as c'))[0].c);
    const sent = await admin.post('/api/broadcasts', { title: 'Load shedding', body: 'Stage 4 tonight', role: 'provider' }).expect(202);
    const after = Number((await m.srv.db.database.knex('notifications').count<{ c: string }[]>('* as c'))[0].c);
    expect(after - before).toBe(1);

    await ps.waitFor((s) => s.events.some((e) => e.type === 'notification.created'), 5_000, 'notification.created');
    const pInbox = (await p.get('/api/notifications').expect(200)).body;
    expect(pInbox.notifications[0]).toEqual(expect.objectContaining({ type: 'announcement', title: 'Load shedding', readAt: null }));
    const cInbox = (await c.get('/api/notifications').expect(200)).body;
    expect(cInbox.notifications.some((x: { title: string }) => x.title === 'Load shedding')).toBe(false);
    expect(cs.events.some((e) => e.type === 'notification.created')).toBe(false);

    const other = m.user('ann-p2', 'provider');
    await other.get('/api/me').expect(200); // joined after the announcement: not in their inbox
    expect((await other.get('/api/notifications')).body.notifications).toEqual([]);

    expect((await p.post(`/api/notifications/${pInbox.notifications[0].id}/read`).expect(200)).body.unreadCount).toBe(pInbox.unreadCount - 1);
    const again = (await p.get('/api/notifications').expect(200)).body.notifications[0];
    expect(again.readAt).not.toBeNull();
    expect(sent.body.eventId).toMatch(/^\d+$/);
  });

  it('preferences silence the right types, but still store them', async () => {
    const { client, provider } = await pair();
    expect((await client.get('/api/me/notification-preferences').expect(200)).body).toEqual(expect.objectContaining({ mutedTypes: [] }));
    await client.put('/api/me/notification-preferences', { mutedTypes: ['booking.rejected'] }).expect(200);
    const a = await book(client, provider);
    const b = await book(client, provider);
    await provider.post(`/api/bookings/${a}/accept`).expect(200);
    await provider.post(`/api/bookings/${b}/reject`).expect(200);
    const inbox = (await client.get('/api/notifications').expect(200)).body.notifications;
    expect(inbox.map((x: { type: string; silent: boolean }) => [x.type, x.silent])).toEqual([
      ['booking.rejected', true],
      ['booking.accepted', false],
    ]);
    expect((await client.put('/api/me/notification-preferences', { mutedTypes: ['Not A Type'] })).status).toBe(400);
  });

  it('several notifications to one user in one transaction: each with the count after it; muted ones silent; unknown users none', async () => {
    const u = m.user('batch-u', 'client');
    await u.get('/api/me').expect(200);
    await u.put('/api/me/notification-preferences', { mutedTypes: ['announcement'] }).expect(200);
    const before = (await u.get('/api/notifications').expect(200)).body.unreadCount as number;
    const to = ['user:batch-u', 'user:batch-nobody'] as const;
    const written = await m.srv.publish(
      { type: 'announcement', audience: [...to], payload: { title: 'first', body: 'one' } },
      { type: 'announcement', audience: [...to], payload: { title: 'second', body: 'two' } },
    );
    const created = written.filter((e) => e.type === 'notification.created');
    expect(created.map((e) => e.audience)).toEqual([['user:batch-u'], ['user:batch-u']]);
    const payloads = created.map((e) => e.payload as { notification: { title: string; silent: boolean }; unreadCount: number });
    expect(payloads.map((p) => [p.notification.title, p.notification.silent, p.unreadCount])).toEqual([
      ['first', true, before + 1],
      ['second', true, before + 2],
    ]);
    const inbox = (await u.get('/api/notifications').expect(200)).body;
    expect(inbox.unreadCount).toBe(before + 2);
    expect(inbox.notifications.slice(0, 2).map((x: { title: string }) => x.title)).toEqual(['second', 'first']);
    expect(await m.srv.db.database.knex('notifications').where({ user_id: 'batch-nobody' }).first()).toBeUndefined();
  });
  it('writes a personal notification by looking its recipient up, not by scanning every user or preference', async () => {
    const knex = m.srv.db.database.knex;
    await knex.raw(`INSERT INTO users (id, role) SELECT 'plan-' || g, 'client' FROM generate_series(1, 5000) g ON CONFLICT DO NOTHING`);
    await knex.raw(
      `INSERT INTO notification_preferences (user_id, muted_types) SELECT 'plan-' || g, '{booking.created}' FROM generate_series(1, 5000, 2) g ON CONFLICT DO NOTHING`,
    );
    await knex.raw('ANALYZE users');
    await knex.raw('ANALYZE notification_preferences');
    // The statement exactly as the app sends it, caught on its way out, then explained.
    const sent: Array<{ sql: string; bindings: unknown[] }> = [];
    const catchIt = (q: { sql: string; bindings: unknown[] }) => sent.push(q);
    knex.on('query', catchIt);
    try {
      await insertPersonalNotifications(knex, [{ userId: 'plan-42', type: 'announcement', title: 't', body: 'b', data: {} }]);
    } finally {
      knex.removeListener('query', catchIt);
    }
    const [{ sql, bindings }] = sent;
    type PlanNode = { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] };
    const scansOf = (plan: PlanNode, into: string[] = []): string[] => {
      if (plan['Relation Name']) into.push(`${plan['Node Type']} ${plan['Relation Name']}`);
      for (const child of plan.Plans ?? []) scansOf(child, into);
      return into;
    };
    const custom = (await knex.raw(`EXPLAIN (FORMAT JSON) ${sql.replace(/\$\d+/g, '?')}`, bindings as never[])).rows[0]['QUERY PLAN'][0].Plan;
    // It is a prepared statement, so after a few runs PostgreSQL may plan it without its values.
    const generic = await knex.transaction(async (trx) => {
      await trx.raw('SET LOCAL plan_cache_mode = force_generic_plan');
      await trx.raw(`PREPARE plan_probe AS ${sql}`);
      // EXECUTE takes no bind parameters: the same values, as literals.
      const [input, count] = bindings as [string, number];
      const { rows } = await trx.raw(`EXPLAIN (FORMAT JSON) EXECUTE plan_probe('${input.replace(/'/g, "''")}', ${Number(count)})`);
      await trx.raw('DEALLOCATE plan_probe');
      return rows[0]['QUERY PLAN'][0].Plan;
    });
    for (const plan of [custom, generic]) {
      expect(scansOf(plan)).toContain('Index Scan users');
      expect(scansOf(plan).filter((x) => x.startsWith('Seq Scan'))).toEqual([]);
    }
  });
});
