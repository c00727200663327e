import { openDatabase } from '../../src/storage/db';
import { describeSharedDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream } from '../support/sse-client';
import { longPoll, until } from '../support/long-poll';
import { CommitListener } from '../../src/events/commit-listener';
import { createLogger } from '../../src/logger';
import { adminQuery } from '../support/postgres-admin';

describeSharedDb('several instances on one PostgreSQL (LISTEN/NOTIFY wakes the others)', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    // A minute between fallback polls: whatever arrives sooner came through NOTIFY.
    a = await startTestServer({ RELAY_POLL_MS: '60000' });
    const url = a.db.url!;
    const dbForB = await openDatabase({ databaseUrl: url });
    b = await startTestServer({ RELAY_POLL_MS: '60000', DATABASE_URL: url }, { database: dbForB, url, drop: () => dbForB.close() });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('a user streaming from instance B receives, in order, what instance A published, also after B’s listener is killed', async () => {
    const stream = await openStream(b.url, { token: b.token('roamer', 'client') });
    const first = [];
    for (let i = 0; i < 20; i++) first.push((await a.publish({ type: 'test.event', audience: ['user:roamer'], payload: { i } }))[0].id);
    await stream.waitForCount(20, 10_000);
    expect(stream.ids).toEqual(first);

    const pid = b.running.services.listener!.backendPid;
    expect(pid).toEqual(expect.any(Number));
    await adminQuery(`SELECT pg_terminate_backend(${Number(pid)})`);
    const second = [];
    for (let i = 0; i < 5; i++) second.push((await a.publish({ type: 'test.event', audience: ['user:roamer'], payload: { i } }))[0].id);
    await stream.waitForCount(25, 10_000);
    expect(stream.ids).toEqual([...first, ...second]);
    expect(b.running.services.listener!.backendPid).not.toBe(pid);
    stream.close();
  });

  it('a stream resumes on the other instance with the same ids', async () => {
    const token = a.token('mover', 'provider');
    const onA = await openStream(a.url, { token });
    const [e1] = await a.publish({ type: 'test.event', audience: ['user:mover'], payload: {} });
    await onA.waitForCount(1);
    onA.close();
    const [e2] = await b.publish({ type: 'test.event', audience: ['user:mover'], payload: {} });
    const [e3] = await a.publish({ type: 'test.event', audience: ['user:mover'], payload: {} });
    const onB = await openStream(b.url, { token, lastEventId: e1.id });
    await onB.waitForCount(2);
    expect(onB.ids).toEqual([e2.id, e3.id]);
    onB.close();
  });

  it('a poll held on instance B answers as soon as instance A commits an event for its user', async () => {
    const token = a.token('phone', 'client');
    const after = await b.settledLastId();
    await a.publish({ type: 'test.event', audience: ['user:not-phone'], payload: {} });
    const poll = longPoll(b.url, token, { after, wait: 20 });
    await until(() => b.running.services.heldPolls.counts().held === 1, 5_000, 'the poll to be held on B');
    const [e] = await a.publish({ type: 'test.event', audience: ['user:phone'], payload: { from: 'A' } });
    const { status, body, tookMs } = await poll.answer;
    expect(status).toBe(200);
    expect(body.events.map((x: { id: string }) => x.id)).toEqual([e.id]);
    expect(body.events[0].data).toEqual({ from: 'A' });
    expect(body.lastEventId).toBe(e.id);
    // RELAY_POLL_MS is a minute: only NOTIFY can have woken it this soon.
    expect(tookMs).toBeLessThan(10_000);
  });

  it('wakes an instance for the others\u2019 commits, not for its own (it has already poked its relay)', async () => {
    const wakes: string[] = [];
    const listener = new CommitListener(a.db.url!, () => wakes.push('wake'), createLogger('silent'), a.running.services.config.INSTANCE_ID);
    await listener.start();
    wakes.length = 0; // the catch-up wake every (re)connect makes
    try {
      await a.publish({ type: 'test.event', audience: ['user:nobody'], payload: {} });
      await b.publish({ type: 'test.event', audience: ['user:nobody'], payload: {} });
      const deadline = Date.now() + 5_000;
      while (wakes.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // NOTIFYs arrive in commit order: one from A (skipped) then one from B; give a stray one time to show.
      await new Promise((r) => setTimeout(r, 300));
      expect(wakes).toEqual(['wake']);
    } finally {
      await listener.stop();
    }
  });
});
