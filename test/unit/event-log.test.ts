import { checkCursor, compareIds, EVENT_ID_PATTERN } from '../../src/events/event-log';
import { channelsFor, isAddressedTo } from '../../src/events/audience';
import { broadcastAudience } from '../../src/broadcasts/broadcast-service';

describe('event ids', () => {
  it('compares decimal ids numerically, beyond float precision', () => {
    expect(compareIds('9', '10')).toBe(-1);
    expect(compareIds('10', '9')).toBe(1);
    expect(compareIds('9007199254740993', '9007199254740992')).toBe(1);
    expect(compareIds('42', '42')).toBe(0);
  });

  it.each(['0', '1', '123456789012345678'])('accepts %s', (id) => expect(EVENT_ID_PATTERN.test(id)).toBe(true));
  it.each(['', '-1', '01', '1.5', '1e3', ' 1', 'abc', '1234567890123456789'])('rejects %j', (id) => expect(EVENT_ID_PATTERN.test(id)).toBe(false));
});

describe('checkCursor', () => {
  const bounds = { lastId: '100', prunedThrough: '40' };
  it('honours a cursor inside the retained log, including both edges', () => {
    expect(checkCursor('40', bounds)).toEqual({ ok: true, after: '40' });
    expect(checkCursor('70', bounds)).toEqual({ ok: true, after: '70' });
    expect(checkCursor('100', bounds)).toEqual({ ok: true, after: '100' });
  });
  it('refuses what it cannot honour, saying why', () => {
    expect(checkCursor('39', bounds)).toEqual({ ok: false, reason: 'pruned' });
    expect(checkCursor('101', bounds)).toEqual({ ok: false, reason: 'ahead' });
    expect(checkCursor('x', bounds)).toEqual({ ok: false, reason: 'malformed' });
  });
  it('treats 0 on a fresh log as "from the beginning"', () => {
    expect(checkCursor('0', { lastId: '0', prunedThrough: '0' })).toEqual({ ok: true, after: '0' });
  });
});

describe('audience', () => {
  it('subscribes a session to its user, its role and everyone', () => {
    expect(channelsFor({ userId: 'u1', role: 'provider' })).toEqual(['user:u1', 'role:provider', 'all']);
  });
  it('matches an event to a session when any channel is shared', () => {
    const mine = channelsFor({ userId: 'u1', role: 'client' });
    expect(isAddressedTo(['user:u1'], mine)).toBe(true);
    expect(isAddressedTo(['role:client'], mine)).toBe(true);
    expect(isAddressedTo(['all'], mine)).toBe(true);
    expect(isAddressedTo(['user:u2', 'role:provider'], mine)).toBe(false);
    expect(isAddressedTo(['user:u10'], mine)).toBe(false);
  });
  it('addresses broadcasts to the listed users once each, a role, or all', () => {
    expect(broadcastAudience({ title: 't', body: 'b', userIds: ['a', 'b', 'a'] })).toEqual(['user:a', 'user:b']);
    expect(broadcastAudience({ title: 't', body: 'b', role: 'client' })).toEqual(['role:client']);
    expect(broadcastAudience({ title: 't', body: 'b', all: true })).toEqual(['all']);
  });
});
