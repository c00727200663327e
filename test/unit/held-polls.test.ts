import { HeldPolls, type HeldPoll } from '../../src/realtime/held-polls';
import { TypesParam } from '../../src/realtime/type-filter';
import type { ChannelName, EventRecord } from '../../src/events/event-types';
import { channelsFor } from '../../src/events/audience';

const event = (id: string, type: string, audience: ChannelName[]): EventRecord => ({ id, type, audience, payload: {}, occurredAt: new Date() });

function poll(userId: string, role: 'client' | 'provider' | 'admin', types?: string) {
  const p = {
    userId,
    channels: channelsFor({ userId, role }),
    types: types === undefined ? undefined : TypesParam.parse(types),
    wakes: 0,
    releases: 0,
    wake: () => p.wakes++,
    release: () => p.releases++,
  };
  return p satisfies HeldPoll;
}

describe('TypesParam (types=)', () => {
  it('expands prefixes against the types the server sends, and keeps exact names', () => {
    const set = TypesParam.parse('booking.*,payment.status_changed');
    expect(set.has('booking.created')).toBe(true);
    expect(set.has('booking.completion_confirmed')).toBe(true);
    expect(set.has('payment.status_changed')).toBe(true);
    expect(set.has('payment.dispute_opened')).toBe(false);
    expect(set.has('payout.status_changed')).toBe(false);
  });

  it.each(['', 'nope', 'booking', 'booking.nope', 'nope.*', '*', 'booking.*,', ',booking.*', 'BOOKING.*', 'booking.* '])('refuses %j', (raw) => {
    expect(TypesParam.safeParse(raw).success).toBe(false);
  });
});

describe('HeldPolls', () => {
  it('wakes, once per run, the polls an event is addressed to (user, role, all), and only those', () => {
    const held = new HeldPolls();
    const ann = poll('ann', 'client');
    const bob = poll('bob', 'provider');
    for (const p of [ann, bob]) expect(held.hold(p, 10)).toBe(true);
    held.dispatch([event('1', 'booking.created', ['user:ann']), event('2', 'booking.created', ['user:ann', 'role:client'])]);
    expect([ann.wakes, bob.wakes]).toEqual([1, 0]);
    held.dispatch([event('3', 'announcement', ['role:provider'])]);
    expect([ann.wakes, bob.wakes]).toEqual([1, 1]);
    held.dispatch([event('4', 'announcement', ['all'])]);
    expect([ann.wakes, bob.wakes]).toEqual([2, 2]);
  });

  it('wakes a filtered poll only for the types it asked for', () => {
    const held = new HeldPolls();
    const p = poll('cat', 'client', 'payment.*');
    held.hold(p, 10);
    held.dispatch([event('1', 'booking.created', ['user:cat'])]);
    expect(p.wakes).toBe(0);
    held.dispatch([event('2', 'booking.created', ['user:cat']), event('3', 'payment.status_changed', ['user:cat'])]);
    expect(p.wakes).toBe(1);
  });

  it('caps held polls per user, gives the slot back on leave (once), and forgets what left', () => {
    const held = new HeldPolls();
    const [a, b, c] = [poll('dee', 'client'), poll('dee', 'client'), poll('dee', 'client')];
    expect(held.hold(a, 2)).toBe(true);
    expect(held.hold(b, 2)).toBe(true);
    expect(held.hold(c, 2)).toBe(false);
    expect(held.hold(poll('eve', 'client'), 2)).toBe(true);
    expect(held.counts()).toEqual({ held: 3, users: 2 });
    held.leave(a);
    held.leave(a);
    expect(held.counts()).toEqual({ held: 2, users: 2 });
    expect(held.hold(c, 2)).toBe(true);
    held.dispatch([event('1', 'booking.created', ['user:dee'])]);
    expect([a.wakes, b.wakes, c.wakes]).toEqual([0, 1, 1]);
  });

  it('releases every held poll on shutdown', () => {
    const held = new HeldPolls();
    const ps = [poll('f', 'client'), poll('g', 'admin')];
    ps.forEach((p) => held.hold(p, 1));
    held.releaseAll();
    expect(ps.map((p) => p.releases)).toEqual([1, 1]);
  });
});
