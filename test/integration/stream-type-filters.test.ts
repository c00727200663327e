import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream } from '../support/sse-client';
import { longPoll, until } from '../support/long-poll';
import type { EventRecord } from '../../src/events/event-types';
import { sampleData } from '../support/sample-events';
import { sleep } from '../support/sleep';

const ids = (body: { events: Array<{ id: string }> }) => body.events.map((e) => e.id);
const idsOf = (events: EventRecord[]) => events.map((e) => e.id);

/*
 * `types=` on polls and streams. Events are published with the server's real type names (a filter
 * names only types the server sends), to one user, interleaved, so that a filter that did nothing,
 * or moved the cursor differently, shows.
 */
describeDb('type filters on polls and streams (types=booking.*,payment.status_changed)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ POLL_INTERVAL_MS: '60000' });
  });
  afterAll(() => srv.stop());

  /** One of each kind for `user`, in this order; returns them by type. */
  async function publishMix(user: string) {
    const out: Record<string, EventRecord> = {};
    for (const type of [
      'booking.created',
      'payout.status_changed',
      'payment.status_changed',
      'notification.read',
      'booking.accepted',
      'announcement',
    ] as const) {
      // Each as the server would send it: every event a test receives is held to the contract.
      [out[type]] = await srv.publish({ type, audience: [`user:${user}`], payload: sampleData(type) });
    }
    return out;
  }
  const poll = (token: string, query: Record<string, string | number>) =>
    request(srv.url).get('/api/events').set('Authorization', `Bearer ${token}`).query(query);

  it('a poll from a cursor the log answers (before this server’s first poll) returns only those types, and moves the cursor as without', async () => {
    const token = srv.token('flora', 'client');
    const start = await srv.settledLastId();
    const mix = await publishMix('flora');
    await publishMix('not-flora');
    const last = await srv.settledLastId();
    const { body } = await poll(token, { after: start, types: 'booking.*,payment.status_changed' });
    expect(ids(body)).toEqual(idsOf([mix['booking.created'], mix['payment.status_changed'], mix['booking.accepted']]));
    expect(body).toEqual(expect.objectContaining({ lastEventId: last, hasMore: false, reset: false }));
    // Paging keeps to the filter: two at a time, and the cursor continues where the page stopped.
    const first = (await poll(token, { after: start, types: 'booking.*,payment.status_changed', limit: 2 })).body;
    expect(ids(first)).toEqual(idsOf([mix['booking.created'], mix['payment.status_changed']]));
    expect(first).toEqual(expect.objectContaining({ hasMore: true, lastEventId: mix['payment.status_changed'].id }));
    const second = (await poll(token, { after: first.lastEventId, types: 'booking.*,payment.status_changed', limit: 2 })).body;
    expect(ids(second)).toEqual([mix['booking.accepted'].id]);
    expect(second.lastEventId).toBe(last);
  });

  it('a poll answered from the recent window filters the same way', async () => {
    const token = srv.token('wendy', 'provider');
    const { body: start } = await poll(token, {});
    const mix = await publishMix('wendy');
    await srv.settledLastId();
    const { body } = await poll(token, { after: start.lastEventId, types: 'payout.status_changed,announcement' });
    expect(ids(body)).toEqual(idsOf([mix['payout.status_changed'], mix['announcement']]));
    expect(body.lastEventId).toBe(await srv.settledLastId());
    // Without the filter, everything (and the announcement's notification.created): the filter is what removed the others.
    const all = (await poll(token, { after: start.lastEventId })).body.events.map((e: { type: string }) => e.type);
    expect(all).toEqual(expect.arrayContaining(Object.keys(mix)));
    expect(all).toContain('notification.created');
  });

  it('a held long poll wakes only for a type it asked for', async () => {
    const token = srv.token('hattie', 'client');
    const { body: start } = await poll(token, {});
    const held = longPoll(srv.url, token, { after: start.lastEventId, wait: 15, types: 'payment.*' });
    await until(() => srv.running.services.heldPolls.counts().held === 1);
    await srv.publish({ type: 'booking.created', audience: ['user:hattie'], payload: sampleData('booking.created') });
    await srv.settledLastId();
    await sleep(150);
    expect(srv.running.services.heldPolls.counts().held).toBe(1);
    const [paid] = await srv.publish({ type: 'payment.status_changed', audience: ['user:hattie'], payload: sampleData('payment.status_changed') });
    const { body } = await held.answer;
    expect(ids(body)).toEqual([paid.id]);
  });

  it('a stream sends only those types, live and on resume, then continues with no gap and no duplicate', async () => {
    const token = srv.token('stella', 'client');
    const start = await srv.settledLastId();
    const before = await publishMix('stella');

    const stream = await openStream(srv.url, { token, lastEventId: start, queryTypes: 'booking.*,announcement' });
    const replayed = idsOf([before['booking.created'], before['booking.accepted'], before['announcement']]);
    await stream.waitForCount(3);
    const live = await publishMix('stella');
    const wanted = [...replayed, ...idsOf([live['booking.created'], live['booking.accepted'], live['announcement']])];
    await stream.waitForCount(6);
    await sleep(100);
    expect(stream.ids).toEqual(wanted);
    expect(stream.events.map((e) => e.type)).toEqual([
      'booking.created',
      'booking.accepted',
      'announcement',
      'booking.created',
      'booking.accepted',
      'announcement',
    ]);
    stream.close();

    // Resuming from the middle with the same filter: the rest of it, once.
    const resumed = await openStream(srv.url, { token, lastEventId: wanted[3], queryTypes: 'booking.*,announcement' });
    await resumed.waitForCount(2);
    await sleep(100);
    expect(resumed.ids).toEqual(wanted.slice(4));
    resumed.close();
  });

  it('a stream with a filter still gets reset for a cursor the server cannot honour', async () => {
    const token = srv.token('rita', 'client');
    const last = await srv.settledLastId();
    const stream = await openStream(srv.url, { token, lastEventId: '99999999999', queryTypes: 'booking.*' });
    await stream.waitFor((s) => s.events.some((e) => e.type === 'reset'));
    expect(stream.events[0]).toEqual({ type: 'reset', id: last, data: { lastEventId: last, reason: 'ahead' } });
    const [b] = await srv.publish(
      { type: 'booking.created', audience: ['user:rita'], payload: sampleData('booking.created') },
      { type: 'payment.status_changed', audience: ['user:rita'], payload: sampleData('payment.status_changed') },
    );
    await stream.waitForCount(1);
    await sleep(100);
    expect(stream.ids).toEqual([b.id]);
    stream.close();
  });

  it.each(['nope', 'booking.nope', 'nope.*', '', 'booking.*,', '*', 'booking', 'Booking.created'])(
    'refuses types=%j with 400 VALIDATION_FAILED on polls and streams',
    async (types) => {
      const token = srv.token('val', 'client');
      const polled = await poll(token, { after: '0', types });
      expect(polled.status).toBe(400);
      expect(polled.body.error.code).toBe('VALIDATION_FAILED');
      const streamed = await fetch(`${srv.url}/api/events/stream?types=${encodeURIComponent(types)}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(streamed.status).toBe(400);
      expect((await streamed.json()).error.code).toBe('VALIDATION_FAILED');
    },
  );
});
