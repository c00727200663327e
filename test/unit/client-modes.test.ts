import { ClientModeTracker } from '../../src/realtime/client-modes';

describe('ClientModeTracker', () => {
  let now = 0;
  const tracker = (o: { maxSessions?: number; maxSessionsPerUser?: number } = {}) => new ClientModeTracker({ ttlMs: 1_000, now: () => now, ...o });
  beforeEach(() => (now = 0));

  it('counts each session once, in its latest mode', () => {
    const t = tracker();
    expect(t.report('u1', 'tab-aaaaaaaa', 'live')).toBeUndefined();
    t.report('u2', 'tab-bbbbbbbb', 'live');
    expect(t.report('u1', 'tab-aaaaaaaa', 'polling')).toBe('live');
    expect(t.counts()).toEqual({ live: 1, polling: 1, offline: 0 });
  });

  it('keys sessions by user too: the same session id from another user is another session', () => {
    const t = tracker();
    t.report('u1', 'same-session', 'live');
    t.report('u2', 'same-session', 'offline');
    expect(t.counts()).toEqual({ live: 1, polling: 0, offline: 1 });
  });

  it('forgets a session not heard from within the ttl, and keeps one that re-reported', () => {
    const t = tracker();
    t.report('u1', 'quiet-session', 'live');
    t.report('u2', 'chatty-session', 'polling');
    now = 800;
    t.report('u2', 'chatty-session', 'polling');
    now = 1_200;
    expect(t.counts()).toEqual({ live: 0, polling: 1, offline: 0 });
    now = 1_900;
    expect(t.counts()).toEqual({ live: 0, polling: 0, offline: 0 });
  });

  it('bounds memory: per user and in total, the oldest session goes first', () => {
    const t = tracker({ maxSessions: 3, maxSessionsPerUser: 2 });
    t.report('u1', 'u1-first-session', 'live');
    t.report('u1', 'u1-second-session', 'polling');
    t.report('u1', 'u1-third-session', 'offline');
    expect(t.counts()).toEqual({ live: 0, polling: 1, offline: 1 });
    t.report('u2', 'u2-first-session', 'live');
    t.report('u3', 'u3-first-session', 'live');
    // u1's polling session was the oldest of the four.
    expect(t.counts()).toEqual({ live: 2, polling: 0, offline: 1 });
  });
});
